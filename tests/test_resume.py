"""A run killed during training resumes from the Trainer, never from a half-written artifact."""

import os
import signal
import subprocess
import sys
import time

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from pipeline import configs, local_runner


def _store(path):
    return metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(path))


def _kill_when_training(process, output, timeout=600):
    """SIGKILL the run once the Trainer has written its first TensorBoard event."""
    model_runs = os.path.join(output, "tfx", "Trainer", "model_run")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the run ended (rc {process.returncode}) before it could be killed")
        for _root, _, files in os.walk(model_runs):
            if any(f.startswith("events.out") for f in files):
                process.send_signal(signal.SIGKILL)
                process.wait()
                return
        time.sleep(0.5)
    process.kill()
    raise AssertionError("training never started")


def test_killed_run_resumes_from_the_trainer(tmp_path):
    output = str(tmp_path / "out")
    args = ["run", "--output", output, "--epochs", "30", "--min-accuracy", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=configs.REPO_ROOT,
    )
    _kill_when_training(process, output)

    store = _store(os.path.join(output, "metadata.sqlite"))
    killed = local_runner.read_run(os.path.join(output, "metadata.sqlite"))
    assert killed["Transform"]["state"] == "COMPLETE"
    assert killed["Trainer"]["state"] == "RUNNING"  # never finished, never published
    half_written = {a.id for a in store.get_artifacts_by_type("Model")}
    assert all(a.state != metadata_store_pb2.Artifact.LIVE for a in store.get_artifacts_by_type("Model"))

    config = configs.RunConfig(output=output, epochs=1, min_accuracy=0.0)
    summary = local_runner.run(config)
    states = summary["stage_state"]
    for node in ("FileBasedExampleGen", "StatisticsGen", "ExampleValidator", "Transform"):
        assert states[node] == "CACHED", states
    assert states["Trainer"] == "COMPLETE" and states["Pusher"] == "COMPLETE"

    resumed = local_runner.read_run(os.path.join(output, "metadata.sqlite"))
    live = [a for a in store.get_artifacts_by_type("Model") if a.state == metadata_store_pb2.Artifact.LIVE]
    assert [a.id for a in live] == [resumed["Trainer"]["outputs"]["Model"].id]
    assert live[0].id not in half_written
    evaluator_inputs = {
        e.artifact_id
        for e in store.get_events_by_execution_ids([resumed["Evaluator"]["execution_id"]])
        if e.type == metadata_store_pb2.Event.INPUT
    }
    assert live[0].id in evaluator_inputs and not (half_written & evaluator_inputs)
