"""`<output>/run_summary.json`: what a run did, read from ML Metadata, and its lines on the console."""

from __future__ import annotations

import json
import os
from typing import Any

from components.ingest import executor
from components.trainer import curves
from pipeline import configs, metadata
from pipeline.report import nightly

SUMMARY_FILE = "run_summary.json"
ACCURACY_METRIC = "sparse_categorical_accuracy"


def read_json(path: str) -> dict[str, Any] | None:
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def eval_accuracy(evaluation_uri: str) -> float | None:
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


def summarize(config: configs.RunConfig, wall_seconds: float, run_started: float | None = None,
              run_id: str | None = None) -> dict[str, Any]:
    """run_summary.json from the metadata store (the run `run_id`), printed for a person too."""
    nodes = metadata.read_run(config.metadata_path, run_started, run_id)

    def output(node: str, type_name: str):
        return metadata.output(nodes, node, type_name)

    summary: dict[str, Any] = {"data": config.data, "output": os.path.abspath(config.output), "run_id": run_id}
    examples = output("FileBasedExampleGen", "Examples")
    report = read_json(os.path.join(examples.uri, executor.REPORT_FILE)) if examples else None
    if report:
        summary["classes"] = report.get("class_names")
        summary["vocabulary"] = report.get("vocabulary") or None
        summary["counts"] = executor.counts_by_split(report)
        summary["ingest_report"] = os.path.join(examples.uri, executor.REPORT_FILE)
    evaluation = output("Evaluator", "ModelEvaluation")
    summary["eval_accuracy"] = eval_accuracy(evaluation.uri) if evaluation else None
    if config.patience > 0:
        summary["eval_accuracy_note"] = (
            f"optimistic: early stopping (--patience {config.patience}) chose the epoch on this split; "
            "test accuracy is untouched"
        )
    model_run = output("Trainer", "ModelRun")
    metrics = read_json(os.path.join(model_run.uri, curves.METRICS_FILE)) if model_run else None
    test_accuracy = metrics.get("test_accuracy") if metrics else None
    summary["test_accuracy"] = None if test_accuracy is None else round(test_accuracy, 4)
    curves_png = os.path.join(model_run.uri, curves.CURVES_FILE) if model_run else None
    if curves_png and os.path.exists(curves_png):
        summary["curves"] = curves_png
    statistics = output("StatisticsGen", "ExampleStatistics")
    if statistics:
        summary["statistics_html"] = curves.statistics_html(
            statistics.uri, os.path.join(config.output, "statistics.html")
        )
    blessing = output("Evaluator", "ModelBlessing")
    summary["blessed"] = bool(blessing.custom_properties["blessed"].int_value) if blessing else False
    pushed = output("Pusher", "PushedModel")
    pushed_dir = None
    if pushed and pushed.custom_properties["pushed"].int_value:
        pushed_dir = pushed.custom_properties["pushed_destination"].string_value
    summary["pushed_model"] = pushed_dir
    summary.update(nightly.nightly(config, nodes, report, metrics))
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
        *([f"classes:         {', '.join(f'{i} {name}' for i, name in enumerate(summary['classes']))}"
           + (f" ({summary['vocabulary']})" if summary.get("vocabulary") else "")] if summary.get("classes") else []),
        "images:          "
        + ", ".join(f"{k} {v}" for k, v in counts.items()),
        f"eval accuracy:   {summary['eval_accuracy']}"
        + (f" ({summary['eval_accuracy_note']})" if summary.get("eval_accuracy_note") else ""),
        f"test accuracy:   {summary['test_accuracy']}",
        f"blessed:         {'yes' if summary['blessed'] else 'no'}",
        f"pushed model:    {summary['pushed_model'] or 'not pushed'}",
        *nightly.format_lines(summary),
        "stage seconds:   "
        + ", ".join(f"{k} {v}" for k, v in summary["stage_seconds"].items()),
        f"curves:          {summary.get('curves')}",
        f"statistics:      {summary.get('statistics_html')}",
        f"summary:         {os.path.join(summary['output'], 'run_summary.json')}",
    ]
    return "\n".join(lines)
