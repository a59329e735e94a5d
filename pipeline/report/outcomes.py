"""What a finished component produced, in a few words, read from its output artifacts.

`ExampleGen  3,670 photos -> train 2,931 / eval 360 / test 379, 2 quarantined`
is built here from the metadata store and the files the artifacts hold, the
same sources the run summary and the report read (`pipeline.report.finished_run`), live, as each
component finishes.
"""

from __future__ import annotations

import os
from typing import Any

from components.ingest import executor
from components.trainer import curves
from components.validation import anomalies_gate
from pipeline import metadata
from pipeline.report.finished_run import read_json, split_names

# The console's and the report's name of a node, where TFX's id is not the one people know.
DISPLAY_NAMES = {"FileBasedExampleGen": "ExampleGen", "latest_blessed_model_resolver": "Resolver",
                 "previous_span_examples": "DriftBaseline", "span_window": "SpanWindow",
                 "latest_model_resolver": "WarmStart"}


def display_name(node: str) -> str:
    return DISPLAY_NAMES.get(node, node)


def ingest_line(report: dict[str, Any]) -> str:
    counts = executor.counts_by_split(report)
    quarantined = counts.pop("quarantined")
    splits = " / ".join(f"{split} {n:,}" for split, n in counts.items())
    return f"{report['ingested_total']:,} photos -> {splits}, {quarantined:,} quarantined"


def describe_outputs(node: str, outputs: dict[str, Any]) -> str:
    """A few words on what `outputs` (artifact type name -> MLMD artifact) hold."""
    if node == "latest_model_resolver":
        return "warm start from " + outputs["Model"].uri if "Model" in outputs else "no model yet: a cold start"
    if node == "latest_blessed_model_resolver":
        return "baseline: the latest blessed model" if "Model" in outputs else "no blessed model yet"
    if node in ("span_window", "previous_span_examples"):
        return "resolved"
    if "Examples" in outputs and "TransformGraph" not in outputs:
        report = read_json(os.path.join(outputs["Examples"].uri, executor.REPORT_FILE))
        if report:
            return ingest_line(report)
    if "TransformGraph" in outputs:
        splits = split_names(outputs["Examples"]) if "Examples" in outputs else []
        return "transform graph" + (", transformed " + ", ".join(splits) if splits else "")
    if "ExampleStatistics" in outputs:
        return "statistics of " + ", ".join(split_names(outputs["ExampleStatistics"]))
    if "Schema" in outputs:
        return "schema imported"
    if "ExampleAnomalies" in outputs:
        artifact = outputs["ExampleAnomalies"]
        found = len(anomalies_gate.describe_anomalies(artifact.uri, split_names(artifact)))
        return f"{found} anomal{'y' if found == 1 else 'ies'}" if found else "no anomalies"
    if "ModelRun" in outputs:
        metrics = read_json(os.path.join(outputs["ModelRun"].uri, curves.METRICS_FILE)) or {}
        epochs = len(metrics.get("history", {}).get("loss", []))
        test = metrics.get("test_accuracy")
        return f"{epochs} epochs" + ("" if test is None else f", test accuracy {test:.3f}")
    if "ModelBlessing" in outputs:
        blessed = outputs["ModelBlessing"].custom_properties["blessed"].int_value
        return "blessed" if blessed else "not blessed"
    if "PushedModel" in outputs:
        pushed = outputs["PushedModel"].custom_properties
        if pushed["pushed"].int_value:
            return "pushed " + pushed["pushed_destination"].string_value
        return "not pushed"
    if node == "AnomaliesGate":
        return "passed"
    if node == "DriftGate":
        return "passed" + drift_words(outputs)
    return "done"


def drift_words(outputs: dict[str, Any]) -> str:
    """`, image p = 0.31 / label p = 1 against span 2` from the gate's figures, or nothing."""
    value = outputs.get("String")
    figures = read_json(value.uri) if value is not None else None
    if not figures or not figures.get("p_value"):
        return ""
    shown = " / ".join(f"{k} p = {v:.2g}" for k, v in sorted(figures["p_value"].items()))
    return f", {shown} against span {figures['previous_span']}" + (" (accepted)" if figures.get("over") else "")


def describer(metadata_path: str):
    """describe(node) for a StageView: reads the node's outputs in the latest run."""

    def describe(node: str) -> str:
        outputs = metadata.read_run(metadata_path).get(node, {}).get("outputs", {})
        return describe_outputs(node, outputs)

    return describe
