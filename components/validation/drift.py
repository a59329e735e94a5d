"""Drift before training: the new span's statistics against the previous span's.

Two figures, from StatisticsGen's output (all splits together):
- `label`: the L-infinity distance between the two label distributions (the
  largest difference in a class's share), TFDV's `infinity_norm` comparator;
  its threshold is the `drift_comparator` of `label` in the curated schema.
- `image`: the relative change of the mean encoded size of a photo in bytes,
  |new / previous - 1|; its threshold is `image_mean_bytes_relative_change` in
  `drift.json` beside the schema (TFDV has no comparator for a bytes feature's
  size). TFDV computes no image width or height statistics here, so size in
  pixels is not compared.

Over a threshold the run stops before Transform with one sentence naming the
feature, the distance and the threshold, unless `--accept-drift` (the figures
are then kept, with `accepted: true`). Without a previous span (the first
night, a flat folder, an archive or `tfds:`: span 0) there is nothing to
compare and the gate passes.
"""

import json
import os
from typing import Any, TypedDict

from tfx import v1 as tfx
from tfx.types import artifact_utils

from components import features

DRIFT_CONFIG_FILE = "drift.json"
DEFAULT_IMAGE_BYTES_CHANGE = 0.5
DEFAULT_LABEL_LINF = 0.25


class DataDriftError(RuntimeError):
    pass


def _split_stats(statistics_uri: str, split_names: list[str]):
    import tensorflow as tf
    import tensorflow_data_validation as tfdv

    for split in split_names:
        path = os.path.join(statistics_uri, f"Split-{split}", "FeatureStats.pb")
        if tf.io.gfile.exists(path):
            yield tfdv.load_stats_binary(path).datasets[0]


def summarize_statistics(statistics_uri: str, split_names: list[str]) -> dict[str, Any]:
    """{"labels": {label: count}, "mean_image_bytes": float, "examples": n} over all splits."""
    labels: dict[str, float] = {}
    total_bytes = 0.0
    images = 0
    for dataset in _split_stats(statistics_uri, split_names):
        for feature in dataset.features:
            name = feature.path.step[0] if feature.path.step else feature.name
            if name == features.LABEL_KEY:
                for value in feature.string_stats.top_values:
                    labels[value.value] = labels.get(value.value, 0.0) + value.frequency
            elif name == features.IMAGE_KEY:
                count = feature.bytes_stats.common_stats.num_non_missing
                total_bytes += feature.bytes_stats.avg_num_bytes * count
                images += count
    return {
        "labels": {k: int(v) for k, v in sorted(labels.items())},
        "mean_image_bytes": round(total_bytes / images, 1) if images else None,
        "examples": images,
    }


def label_linf(current: dict[str, int], previous: dict[str, int]) -> float:
    """The largest difference in a label's share between two label counts."""
    total_now, total_before = sum(current.values()) or 1, sum(previous.values()) or 1
    keys = set(current) | set(previous)
    return max((abs(current.get(k, 0) / total_now - previous.get(k, 0) / total_before) for k in keys), default=0.0)


def thresholds(schema_uri: str, drift_config: str) -> dict[str, float]:
    """The label threshold from the schema's drift_comparator, the image one from drift.json."""
    import tensorflow as tf
    from tfx.utils import io_utils

    schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema_uri))
    label = DEFAULT_LABEL_LINF
    for feature in schema.feature:
        if feature.name == features.LABEL_KEY and feature.drift_comparator.HasField("infinity_norm"):
            label = feature.drift_comparator.infinity_norm.threshold
    image = DEFAULT_IMAGE_BYTES_CHANGE
    if drift_config and tf.io.gfile.exists(drift_config):
        with tf.io.gfile.GFile(drift_config) as f:
            image = float(json.load(f).get("image_mean_bytes_relative_change", image))
    return {"label": float(label), "image": float(image)}


def compare(current: dict[str, Any], previous: dict[str, Any], limits: dict[str, float]) -> dict[str, Any]:
    """The drift figures and which of them is over its threshold."""
    figures = {"label": round(label_linf(current["labels"], previous["labels"]), 4)}
    if current["mean_image_bytes"] and previous["mean_image_bytes"]:
        figures["image"] = round(abs(current["mean_image_bytes"] / previous["mean_image_bytes"] - 1.0), 4)
    over = [name for name, value in figures.items() if value > limits[name]]
    return {"distance": figures, "threshold": limits, "over": over}


_MEASURES = {
    "label": "the label distribution's L-infinity distance",
    "image": "the mean image byte size's relative change",
}


def drift_sentence(result: dict[str, Any]) -> str:
    name = result["over"][0]
    others = "".join(
        f"; {other} too ({result['distance'][other]} over {result['threshold'][other]})" for other in result["over"][1:]
    )
    return (
        f"Data drift in span {result['span']} against span {result['previous_span']}: feature {name}, "
        f"{_MEASURES[name]} {result['distance'][name]} is over the threshold {result['threshold'][name]}{others}; "
        "the run stops before Transform (rerun with --accept-drift to train on it anyway)."
    )


class DriftOutput(TypedDict):
    drift: str  # the figures as JSON, for the run summary


@tfx.dsl.components.component
def DriftGate(
    statistics: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    baseline: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics] = None,
    accept_drift: tfx.dsl.components.Parameter[int] = 0,
    drift_config: tfx.dsl.components.Parameter[str] = "",
) -> DriftOutput:
    """Fails the run when the new span drifted from the previous one, unless accepted."""
    span = int(statistics.span or 0)
    result: dict[str, Any] = {"span": span, "previous_span": None, "accepted": bool(accept_drift)}
    base_span = int(baseline.span or 0) if baseline is not None else None
    if baseline is not None and base_span < span:
        current = summarize_statistics(statistics.uri, artifact_utils.decode_split_names(statistics.split_names))
        previous = summarize_statistics(baseline.uri, artifact_utils.decode_split_names(baseline.split_names))
        result.update(compare(current, previous, thresholds(schema.uri, drift_config)))
        result.update(previous_span=base_span, current=current, previous=previous)
        if result["over"] and not accept_drift:
            raise DataDriftError(drift_sentence(result))
    return {"drift": json.dumps(result, sort_keys=True)}
