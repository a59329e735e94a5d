"""A run killed during training, then started again with the identical command, resumes from the
Trainer: ExampleGen and Transform come from the cache, never a half-written artifact is used."""

import json
import os
import signal
import subprocess
import sys
import time

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from pipeline import cli, configs, metadata


def _store(path):
    return metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(path))


def _kill_when_training(process, output, timeout=600):
    """SIGKILL the run once the Trainer has written its first TensorBoard event (fit has begun)."""
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


def _states_by_node(store) -> dict[str, list[str]]:
    """Every execution of every node, both runs, oldest first: {node: [state, ...]}."""
    states = {}
    for node in store.get_contexts_by_type("node"):
        executions = sorted(store.get_executions_by_context(node.id), key=lambda e: e.id)
        states[node.name.split(".", 1)[-1]] = [
            metadata_store_pb2.Execution.State.Name(e.last_known_state) for e in executions
        ]
    return states


def test_killed_run_rerun_identically_resumes_from_the_trainer(tmp_path):
    output = str(tmp_path / "out")
    # Two epochs: the first (uint8 cache filled, augmentation compiled) lasts many seconds, so
    # the kill, within 0.5 s of fit's start, lands inside it.
    args = ["run", "--output", output, "--epochs", "2", "--min-accuracy", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=configs.REPO_ROOT,
    )
    _kill_when_training(process, output)
    store_path = os.path.join(output, "metadata.sqlite")

    store = _store(store_path)
    killed = metadata.read_run(store_path)
    assert killed["Transform"]["state"] == "COMPLETE"
    assert killed["Trainer"]["state"] == "RUNNING"  # never finished, never published
    assert "Evaluator" not in killed and "Pusher" not in killed
    model_runs = os.path.join(output, "tfx", "Trainer", "model_run")
    assert not [f for _, _, files in os.walk(model_runs) for f in files if f == "metrics.json"]  # killed in fit
    # What the killed Trainer left: its own output folders, and no Model published in ML Metadata.
    half_written = set(os.listdir(model_runs))
    assert str(killed["Trainer"]["execution_id"]) in half_written
    assert not [a for a in store.get_artifacts_by_type("Model") if a.state == metadata_store_pb2.Artifact.LIVE]

    assert cli.main(args) == 0  # the identical command
    with open(os.path.join(output, "run_summary.json")) as f:
        summary = json.load(f)
    assert summary["blessed"] is True
    assert os.path.isfile(os.path.join(summary["pushed_model"], "saved_model.pb"))

    # ML Metadata: the killed run's execution, then the rerun's, per node.
    states = _states_by_node(store)
    for node in ("FileBasedExampleGen", "StatisticsGen", "ExampleValidator", "Transform"):
        assert states[node] == ["COMPLETE", "CACHED"], (node, states)
    assert states["Trainer"] == ["RUNNING", "COMPLETE"], states
    assert states["Evaluator"] == ["COMPLETE"] and states["Pusher"] == ["COMPLETE"], states

    resumed = metadata.read_run(store_path)
    assert resumed["Trainer"]["execution_id"] != killed["Trainer"]["execution_id"]
    assert resumed["Transform"]["outputs"]["TransformGraph"].id == killed["Transform"]["outputs"]["TransformGraph"].id
    live = [a for a in store.get_artifacts_by_type("Model") if a.state == metadata_store_pb2.Artifact.LIVE]
    assert [a.id for a in live] == [resumed["Trainer"]["outputs"]["Model"].id]
    assert os.path.basename(live[0].uri) == str(resumed["Trainer"]["execution_id"])
    assert os.path.basename(live[0].uri) not in half_written  # a new folder, not the killed run's
    evaluator_inputs = {
        e.artifact_id
        for e in store.get_events_by_execution_ids([resumed["Evaluator"]["execution_id"]])
        if e.type == metadata_store_pb2.Event.INPUT
    }
    assert live[0].id in evaluator_inputs
