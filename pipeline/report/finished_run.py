"""One read of a finished run: what its components left, from ML Metadata and the artifacts' files.

After the DAG ends (or fails), `read` reads the store once, for the run's own
id, and gathers what the console summary, `run_summary.json` and `report.html`
show into one `FinishedRun`; none of them reads the store again.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from components.ingest import executor
from components.trainer import curves
from pipeline import metadata

ACCURACY_METRIC = "sparse_categorical_accuracy"


def read_json(path: str) -> dict[str, Any] | None:
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def split_names(artifact: Any) -> list[str]:
    """The splits of an MLMD artifact (`["train", "eval"]`)."""
    for properties in (artifact.properties, artifact.custom_properties):
        if "split_names" in properties:
            return json.loads(properties["split_names"].string_value)
    return []


def eval_accuracies(evaluation_uri: str) -> tuple[float | None, float | None]:
    """The candidate model's accuracy on the whole eval split, and the baseline's (None without one).

    With a baseline, TFMA names the models (`candidate`, `baseline`) and adds a
    diff metric under the same name: only each model's own value counts.
    """
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.writers import eval_config_writer

    eval_config = eval_config_writer.load_eval_run(evaluation_uri)[0]
    baselines = {spec.name for spec in eval_config.model_specs if spec.is_baseline}
    found: dict[bool, float] = {}
    for record in tfma.load_metrics(evaluation_uri):
        if record.slice_key.single_slice_keys:
            continue
        for key_and_value in record.metric_keys_and_values:
            key = key_and_value.key
            if key.name == ACCURACY_METRIC and not key.is_diff:
                found.setdefault(key.model_name in baselines, round(key_and_value.value.double_value.value, 4))
    return found.get(False), found.get(True)


@dataclasses.dataclass(frozen=True)
class FinishedRun:
    """A run as its components left it; the empty record is a run that never reached the DAG."""

    run_id: str | None = None
    # Per node (TFX's id): state, seconds, inputs and outputs (`pipeline.metadata.read_run`).
    nodes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    examples_uri: str | None = None  # ExampleGen's TFRecords of raw photo bytes
    ingest: dict[str, Any] | None = None  # ExampleGen's ingest report
    statistics_uri: str | None = None
    statistics_splits: list[str] = dataclasses.field(default_factory=list)
    anomalies_uri: str | None = None
    anomalies_splits: list[str] = dataclasses.field(default_factory=list)
    model_uri: str | None = None  # the Trainer's model (Format-Serving inside)
    model_run_uri: str | None = None
    metrics: dict[str, Any] | None = None  # the Trainer's metrics.json: history, test accuracy
    eval_accuracy: float | None = None
    baseline_accuracy: float | None = None  # the latest blessed model's, when the Evaluator had one
    evaluated: bool = False
    blessed: bool = False
    pushed_model: str | None = None
    drift: dict[str, Any] | None = None  # the drift gate's figures

    @property
    def ingest_report_path(self) -> str | None:
        return os.path.join(self.examples_uri, executor.REPORT_FILE) if self.examples_uri else None

    @property
    def test_accuracy(self) -> float | None:
        test = (self.metrics or {}).get("test_accuracy")
        return None if test is None else round(test, 4)

    @property
    def curves_png(self) -> str | None:
        path = os.path.join(self.model_run_uri, curves.CURVES_FILE) if self.model_run_uri else None
        return path if path and os.path.exists(path) else None

    def blessing(self, min_accuracy: float) -> str | None:
        """Why the Evaluator blessed the model or not (`eval accuracy 0.29 against the threshold 0.3: below
        it`); None when it did not run."""
        if not self.evaluated:
            return None
        accuracy, baseline = self.eval_accuracy, self.baseline_accuracy
        said = f"eval accuracy {accuracy} against the threshold {min_accuracy}"
        if self.blessed:
            return said + ("" if baseline is None else f", and no lower than the latest blessed model's {baseline}")
        if accuracy is None or accuracy < min_accuracy:
            return said + ": below it"
        if baseline is not None and accuracy < baseline:
            return said + f": lower than the latest blessed model's {baseline}"
        return said + ": the Evaluator's validation failed"

    def inputs(self, node: str, type_name: str) -> list[Any]:
        return self.nodes.get(node, {}).get("inputs", {}).get(type_name, [])


def read(metadata_path: str, run_id: str | None = None, run_started: float | None = None) -> FinishedRun:
    """The run `run_id` (else the latest started at `run_started` or later), read once; the empty record when
    the store holds no such run (it failed before its first component)."""
    if not os.path.exists(metadata_path):
        return FinishedRun(run_id=run_id)
    try:
        nodes = metadata.read_run(metadata_path, run_started, run_id)
    except RuntimeError:
        return FinishedRun(run_id=run_id)
    return from_nodes(nodes, run_id)


def from_nodes(nodes: dict[str, dict[str, Any]], run_id: str | None = None) -> FinishedRun:
    """The record of a run whose nodes `metadata.read_run` returned: its artifacts' files read here."""

    def output(node: str, type_name: str):
        return metadata.output(nodes, node, type_name)

    examples, statistics = output("FileBasedExampleGen", "Examples"), output("StatisticsGen", "ExampleStatistics")
    anomalies, model_run = output("ExampleValidator", "ExampleAnomalies"), output("Trainer", "ModelRun")
    model, evaluation = output("Trainer", "Model"), output("Evaluator", "ModelEvaluation")
    blessing, pushed = output("Evaluator", "ModelBlessing"), output("Pusher", "PushedModel")
    drift = output("DriftGate", "String")
    accuracy, baseline = eval_accuracies(evaluation.uri) if evaluation else (None, None)
    pushed_to = None
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        pushed_to = pushed.custom_properties["pushed_destination"].string_value
    return FinishedRun(
        run_id=run_id,
        nodes=nodes,
        examples_uri=examples.uri if examples else None,
        ingest=read_json(os.path.join(examples.uri, executor.REPORT_FILE)) if examples else None,
        statistics_uri=statistics.uri if statistics else None,
        statistics_splits=split_names(statistics) if statistics else [],
        anomalies_uri=anomalies.uri if anomalies else None,
        anomalies_splits=split_names(anomalies) if anomalies else [],
        model_uri=model.uri if model else None,
        model_run_uri=model_run.uri if model_run else None,
        metrics=read_json(os.path.join(model_run.uri, curves.METRICS_FILE)) if model_run else None,
        eval_accuracy=accuracy,
        baseline_accuracy=baseline,
        evaluated=blessing is not None,
        blessed=bool(blessing.custom_properties["blessed"].int_value) if blessing else False,
        pushed_model=pushed_to,
        drift=read_json(drift.uri) if drift else None,
    )
