"""Run the DAG with LocalDagRunner and summarise what it did from the metadata store."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from tfx import v1 as tfx

from components import example_gen, reports, sources
from pipeline import configs, nightly_summary
from pipeline import pipeline as pipeline_lib

SUMMARY_FILE = "run_summary.json"
ACCURACY_METRIC = "sparse_categorical_accuracy"


def resolve_classes(data: str, tfds_data_dir: str | None = None) -> tuple[str, ...]:
    """The label vocabulary of a source, fixed before the pipeline is built."""
    from components import labels

    if sources.is_tfds(data):
        import tensorflow_datasets as tfds

        builder = tfds.builder(data[len(sources.TFDS_PREFIX) :], data_dir=tfds_data_dir)
        return tuple(builder.info.features["label"].names)
    from components import spans

    folders = [spans.span_source(data, span) for span, _ in spans.span_folders(data)] or [data]
    return labels.class_names_for([c for f in folders for c in sources.class_folders(sources.list_entries(f))])


def run(config: configs.RunConfig, stop_after: str | None = None, enable_cache: bool = True) -> dict[str, Any]:
    """Run the pipeline (or its ingest part) and write a summary JSON.

    The summary describes this run only: an earlier run's summary is removed
    first, and a run that fails before the DAG starts writes none.
    """
    os.makedirs(config.output, exist_ok=True)
    summary_path = os.path.join(config.output, SUMMARY_FILE)
    if os.path.exists(summary_path):
        os.remove(summary_path)
    started = time.time()
    class_names = resolve_classes(config.data, config.tfds_data_dir)
    pipeline = pipeline_lib.create_pipeline(
        config,
        class_names,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path
        ),
        stop_after=stop_after,
        enable_cache=enable_cache,
    )
    failure = None
    try:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as err:  # noqa: BLE001 - summarised below, then re-raised
        failure = err
    try:
        summary = summarize(config, time.time() - started, run_started=started)
    except Exception:
        if failure is None:
            raise
        summary = None
    if failure is not None:
        raise failure
    return summary


def _latest_run(store, run_started: float | None):
    runs = store.get_contexts_by_type("pipeline_run")
    if run_started is not None:
        runs = [c for c in runs if c.create_time_since_epoch >= int(run_started * 1000)]
    if not runs:
        raise RuntimeError("the metadata store has no pipeline run" + (" of this run" if run_started else ""))
    return max(runs, key=lambda c: c.create_time_since_epoch)


def read_run(metadata_path: str, run_started: float | None = None) -> dict[str, dict[str, Any]]:
    """Per component of the latest run (started at `run_started` or later): state, seconds, outputs."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path)
    store = metadata_store.MetadataStore(connection)
    run_context = _latest_run(store, run_started)
    executions = {e.id: e for e in store.get_executions_by_context(run_context.id)}
    node_of = {}
    for node in store.get_contexts_by_type("node"):
        for execution in store.get_executions_by_context(node.id):
            if execution.id in executions:
                node_of[execution.id] = node.name.split(".", 1)[-1]
    events = store.get_events_by_execution_ids(list(executions))
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
            if event.execution_id == execution_id and event.type == metadata_store_pb2.Event.OUTPUT:
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


def _read_json(path: str) -> dict[str, Any] | None:
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _eval_accuracy(evaluation_uri: str) -> float | None:
    """The candidate model's accuracy on the whole eval split.

    With a baseline, TFMA names the models (`candidate`, `baseline`) and adds a
    diff metric under the same name: only the non-baseline model's own value counts.
    """
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.writers import eval_config_writer

    eval_config = eval_config_writer.load_eval_run(evaluation_uri)[0]
    candidates = {spec.name for spec in eval_config.model_specs if not spec.is_baseline}
    for record in tfma.load_metrics(evaluation_uri):
        if record.slice_key.single_slice_keys:
            continue
        for key_and_value in record.metric_keys_and_values:
            key = key_and_value.key
            if key.name == ACCURACY_METRIC and not key.is_diff and key.model_name in candidates:
                return round(key_and_value.value.double_value.value, 4)
    return None


def summarize(config: configs.RunConfig, wall_seconds: float, run_started: float | None = None) -> dict[str, Any]:
    """run_summary.json from the metadata store, printed for a person too."""
    nodes = read_run(config.metadata_path, run_started)

    def output(node: str, type_name: str):
        return nodes.get(node, {}).get("outputs", {}).get(type_name)

    summary: dict[str, Any] = {"data": config.data, "output": os.path.abspath(config.output)}
    examples = output("FileBasedExampleGen", "Examples")
    report = _read_json(os.path.join(examples.uri, example_gen.REPORT_FILE)) if examples else None
    if report:
        summary["counts"] = example_gen.counts_by_split(report)
        summary["ingest_report"] = os.path.join(examples.uri, example_gen.REPORT_FILE)
    evaluation = output("Evaluator", "ModelEvaluation")
    summary["eval_accuracy"] = _eval_accuracy(evaluation.uri) if evaluation else None
    if config.patience > 0:
        summary["eval_accuracy_note"] = (
            f"optimistic: early stopping (--patience {config.patience}) chose the epoch on this split; "
            "test accuracy is untouched"
        )
    model_run = output("Trainer", "ModelRun")
    metrics = _read_json(os.path.join(model_run.uri, reports.METRICS_FILE)) if model_run else None
    test_accuracy = metrics.get("test_accuracy") if metrics else None
    summary["test_accuracy"] = None if test_accuracy is None else round(test_accuracy, 4)
    curves = os.path.join(model_run.uri, reports.CURVES_FILE) if model_run else None
    if curves and os.path.exists(curves):
        summary["curves"] = curves
    statistics = output("StatisticsGen", "ExampleStatistics")
    if statistics:
        summary["statistics_html"] = reports.statistics_html(
            statistics.uri, os.path.join(config.output, "statistics.html")
        )
    blessing = output("Evaluator", "ModelBlessing")
    summary["blessed"] = bool(blessing.custom_properties["blessed"].int_value) if blessing else False
    pushed = output("Pusher", "PushedModel")
    pushed_dir = None
    if pushed and pushed.custom_properties["pushed"].int_value:
        pushed_dir = pushed.custom_properties["pushed_destination"].string_value
    summary["pushed_model"] = pushed_dir
    summary.update(nightly_summary.nightly(config, nodes, report, metrics))
    summary["stage_seconds"] = {name: node["seconds"] for name, node in nodes.items()}
    summary["stage_state"] = {name: node["state"] for name, node in nodes.items()}
    summary["wall_seconds"] = round(wall_seconds, 1)
    with open(os.path.join(config.output, SUMMARY_FILE), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    counts = summary.get("counts", {})
    lines = [
        f"data:            {summary['data']}",
        "images:          "
        + ", ".join(f"{k} {v}" for k, v in counts.items()),
        f"eval accuracy:   {summary['eval_accuracy']}"
        + (f" ({summary['eval_accuracy_note']})" if summary.get("eval_accuracy_note") else ""),
        f"test accuracy:   {summary['test_accuracy']}",
        f"blessed:         {'yes' if summary['blessed'] else 'no'}",
        f"pushed model:    {summary['pushed_model'] or 'not pushed'}",
        *nightly_summary.format_lines(summary),
        "stage seconds:   "
        + ", ".join(f"{k} {v}" for k, v in summary["stage_seconds"].items()),
        f"curves:          {summary.get('curves')}",
        f"statistics:      {summary.get('statistics_html')}",
        f"summary:         {os.path.join(summary['output'], 'run_summary.json')}",
    ]
    return "\n".join(lines)


def ingest(config: configs.RunConfig) -> dict[str, Any]:
    """ExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator and the gate.

    The ingest report is copied to `config.output` even when the run fails, so
    the person fixing the data finds every bad file listed there.
    """
    import shutil

    started = time.time()
    report_path = os.path.join(config.output, example_gen.REPORT_FILE)
    if os.path.exists(report_path):
        os.remove(report_path)
    try:
        run(config, stop_after="AnomaliesGate")
    except example_gen.IngestRejectedError as err:
        with open(report_path, "w") as f:
            json.dump(err.report, f, indent=2, sort_keys=True)
        raise
    finally:
        # ExampleGen succeeded (validation may still have failed): its report is an artifact.
        examples = _published_examples(config.metadata_path, started)
        if examples is not None and not os.path.exists(report_path):
            shutil.copy(os.path.join(examples.uri, example_gen.REPORT_FILE), report_path)
    return _read_json(report_path)


def _published_examples(metadata_path: str, run_started: float):
    """ExampleGen's output in the run started at `run_started`, never an earlier run's."""
    try:
        return read_run(metadata_path, run_started).get("FileBasedExampleGen", {}).get("outputs", {}).get("Examples")
    except RuntimeError:
        return None
