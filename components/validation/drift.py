"""Drift before training: the new span against the previous accepted span.

Each span's examples artifact carries a sidecar (`components.ingest.spans`): a
row per photo written, with its label and its size in bytes. The gate tests
the two spans for a difference that chance alone would hardly give
(`components.validation.drift_stats`), so its decision accounts for how many
photos each span holds:
- `label`: are the two label distributions the same? (a permutation test of
  the chi-square statistic);
- `image`: is the photos' typical size in bytes the same? (a permutation test
  of the difference in mean log size).
A test whose p-value is below the significance in `drift.json` beside the
schema (read when the pipeline is built, its content in the gate's settings and
so in its cache key) stops the run before Transform with one sentence naming
the feature, the p-value and the significance, unless `--accept-drift` (the
figures are then kept, with `accepted: true`). The summary also shows each
figure's size: the largest change in a class's share (`label`) and the
relative change of the mean photo size (`image`). `docs/benchmarks.md`
("Drift") gives the false-stop and detection rates by span size.

Without a previous accepted span (the first night, a flat folder, an archive or
`tfds:`: span 0) there is nothing to compare and the gate passes. The gate's
`examples` input is the span it judges: a passed gate is what makes the span
accepted (`components.lineage`).
"""

import json
import os
from typing import Any, TypedDict

from tfx import v1 as tfx

DRIFT_CONFIG_FILE = "drift.json"


class DataDriftError(RuntimeError):
    pass


def read_span(examples_uri: str, class_names: list[str] | None = None) -> dict[str, Any]:
    """{"labels": {class: count}, "sizes": [bytes, ...]} from a span's sidecar (its written photos)."""
    from components.ingest import spans

    labels: dict[str, int] = {}
    sizes: list[int] = []
    for row in spans.read_rows(examples_uri):
        label = row.get("label")
        name = class_names[label] if class_names and label is not None and label < len(class_names) else (
            row["filename"].split("/")[-2] if "/" in row["filename"] else str(label))
        labels[name] = labels.get(name, 0) + 1
        if row.get("bytes") is not None:
            sizes.append(int(row["bytes"]))
    return {"labels": dict(sorted(labels.items())), "sizes": sizes}


def label_linf(current: dict[str, int], previous: dict[str, int]) -> float:
    """The largest difference in a label's share between two label counts."""
    total_now, total_before = sum(current.values()) or 1, sum(previous.values()) or 1
    keys = set(current) | set(previous)
    return max((abs(current.get(k, 0) / total_now - previous.get(k, 0) / total_before) for k in keys), default=0.0)


def _mean(sizes: list[int]) -> float | None:
    return round(sum(sizes) / len(sizes), 1) if sizes else None


def settings(config_text: str) -> dict[str, float]:
    """The gate's settings from drift.json's text: `significance` (per test)."""
    from components.validation import drift_stats

    values = json.loads(config_text) if config_text.strip() else {}
    return {"significance": float(values.get("significance", drift_stats.DEFAULT_SIGNIFICANCE))}


def read_config(schema_dir: str) -> str:
    """drift.json's text beside the schema; "" (the defaults) when there is none."""
    import tensorflow as tf

    path = os.path.join(schema_dir, DRIFT_CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return ""
    with tf.io.gfile.GFile(path) as f:
        text = f.read()
    settings(text)  # a broken file fails when the pipeline is built, not at night
    return text


def compare(current: dict[str, Any], previous: dict[str, Any], significance: float) -> dict[str, Any]:
    """The tests' p-values, which are below the significance, and the size of each change."""
    from components.validation import drift_stats

    result = drift_stats.decide(current, previous, significance)
    result["distance"] = {"label": round(label_linf(current["labels"], previous["labels"]), 4)}
    now, before = _mean(current["sizes"]), _mean(previous["sizes"])
    if now and before:
        result["distance"]["image"] = round(abs(now / before - 1.0), 4)
    return result


_MEASURES = {
    "label": "the label distribution",
    "image": "the photos' size in bytes",
}


def drift_sentence(result: dict[str, Any]) -> str:
    name = result["over"][0]
    others = "".join(f"; {other} too (p = {result['p_value'][other]:.2g})" for other in result["over"][1:])
    return (
        f"Data drift in span {result['span']} against span {result['previous_span']}: feature {name}, "
        f"{_MEASURES[name]} changed (p = {result['p_value'][name]:.2g}, below the significance "
        f"{result['significance']:g}; change {result['distance'].get(name)}){others}; "
        "the run stops before Transform (rerun with --accept-drift to train on it anyway)."
    )


class DriftOutput(TypedDict):
    drift: str  # the figures as JSON, for the run summary


@tfx.dsl.components.component
def DriftGate(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    baseline: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples] = None,
    accept_drift: tfx.dsl.components.Parameter[int] = 0,
    drift_config: tfx.dsl.components.Parameter[str] = "",
    code_fingerprint: tfx.dsl.components.Parameter[str] = "",
) -> DriftOutput:
    """Fails the run when the new span drifted from the previous accepted one, unless accepted."""
    del code_fingerprint  # in the settings so that the cache key follows this code
    span = int(examples.span or 0)
    result: dict[str, Any] = {"span": span, "previous_span": None, "accepted": bool(accept_drift)}
    base_span = int(baseline.span or 0) if baseline is not None else None
    if baseline is not None and base_span < span:
        names = _class_names(examples)
        current, previous = read_span(examples.uri, names), read_span(baseline.uri, names)
        result.update(compare(current, previous, settings(drift_config)["significance"]))
        result.update(
            previous_span=base_span,
            current={"labels": current["labels"], "mean_image_bytes": _mean(current["sizes"]),
                     "examples": len(current["sizes"])},
            previous={"labels": previous["labels"], "mean_image_bytes": _mean(previous["sizes"]),
                      "examples": len(previous["sizes"])},
        )
        if result["over"] and not accept_drift:
            raise DataDriftError(drift_sentence(result))
    return {"drift": json.dumps(result, sort_keys=True)}


def _class_names(examples) -> list[str] | None:
    if examples.has_custom_property("class_names"):
        return json.loads(examples.get_string_custom_property("class_names"))
    return None
