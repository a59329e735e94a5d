"""The one reader of ML Metadata: what each component of a run did, for the console as each finishes, and
once for a finished run (`pipeline.report.finished_run`, from which the summary and the report are built).

Every figure a person sees after a run comes from the run's own executions and
artifacts in the store, found by the run's id, never from an earlier run's.
"""

from __future__ import annotations

from typing import Any


def _store(metadata_path: str):
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    return metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path))


def latest_run(store, run_started: float | None = None, run_id: str | None = None):
    """The pipeline_run context named `run_id`; without one, the newest (started at `run_started` or later)."""
    runs = store.get_contexts_by_type("pipeline_run")
    if run_id is not None:
        named = [c for c in runs if c.name == run_id]
        if not named:
            raise RuntimeError(f"the metadata store has no pipeline run {run_id}")
        return named[0]
    if run_started is not None:
        runs = [c for c in runs if c.create_time_since_epoch >= int(run_started * 1000)]
    if not runs:
        raise RuntimeError("the metadata store has no pipeline run" + (" of this run" if run_started else ""))
    return max(runs, key=lambda c: c.create_time_since_epoch)


def read_run(metadata_path: str, run_started: float | None = None,
             run_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Per component of the run `run_id` (else the latest, started at `run_started` or later): state, seconds,
    outputs."""
    from ml_metadata.proto import metadata_store_pb2

    store = _store(metadata_path)
    run_context = latest_run(store, run_started, run_id)
    executions = {e.id: e for e in store.get_executions_by_context(run_context.id)}
    node_of = {}
    for node in store.get_contexts_by_type("node"):
        for execution in store.get_executions_by_context(node.id):
            if execution.id in executions:
                node_of[execution.id] = node.name.split(".", 1)[-1]
    events = store.get_events_by_execution_ids(list(executions))
    # A resolver node records what it resolved as INTERNAL_OUTPUT events, a component as OUTPUT.
    output_events = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.INTERNAL_OUTPUT)
    artifact_ids = {e.artifact_id for e in events}
    artifacts = {a.id: a for a in store.get_artifacts_by_id(list(artifact_ids))}
    types = {t.id: t.name for t in store.get_artifact_types()}
    result: dict[str, dict[str, Any]] = {}
    for execution_id, execution in sorted(executions.items()):
        name = node_of.get(execution_id, str(execution_id))
        state = metadata_store_pb2.Execution.State.Name(execution.last_known_state)
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0
        outputs, inputs = {}, {}
        for event in events:
            if event.execution_id == execution_id and event.type in output_events:
                artifact = artifacts[event.artifact_id]
                outputs[types[artifact.type_id]] = artifact
            elif event.execution_id == execution_id and event.type == metadata_store_pb2.Event.INPUT:
                artifact = artifacts[event.artifact_id]
                inputs.setdefault(types[artifact.type_id], []).append(artifact)
        result[name] = {
            "execution_id": execution_id,
            "state": state,
            "seconds": round(seconds, 1),
            "started": execution.create_time_since_epoch / 1000.0,
            "ended": execution.last_update_time_since_epoch / 1000.0,
            "outputs": outputs,
            "inputs": inputs,
        }
    return result


def output(nodes: dict[str, Any], node: str, type_name: str):
    return nodes.get(node, {}).get("outputs", {}).get(type_name)
