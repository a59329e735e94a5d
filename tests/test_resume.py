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
    assert killed["Trainer"]["state"] == "RUNNING"
    half_written = killed["Trainer"]["outputs"]["Model"]
    assert store.get_artifacts_by_id([half_written.id])[0].state != metadata_store_pb2.Artifact.LIVE

    config = configs.RunConfig(output=output, epochs=1, min_accuracy=0.0)
    summary = local_runner.run(config)
    states = summary["stage_state"]
    for node in ("FileBasedExampleGen", "StatisticsGen", "ExampleValidator", "Transform"):
        assert states[node] == "CACHED", states
    assert states["Trainer"] == "COMPLETE" and states["Pusher"] == "COMPLETE"

    resumed = local_runner.read_run(os.path.join(output, "metadata.sqlite"))
    new_model = resumed["Trainer"]["outputs"]["Model"]
    assert new_model.id != half_written.id
    assert store.get_artifacts_by_id([new_model.id])[0].state == metadata_store_pb2.Artifact.LIVE
    evaluator_inputs = [
        e.artifact_id for e in store.get_events_by_execution_ids([resumed["Evaluator"]["execution_id"]])
        if e.type == metadata_store_pb2.Event.INPUT
    ]
    assert new_model.id in evaluator_inputs and half_written.id not in evaluator_inputs
