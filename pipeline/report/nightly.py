"""The nightly part of run_summary.json: the span ingested, the window trained on,
the warm start and the drift figures, read from ML Metadata."""

from __future__ import annotations

import json
from typing import Any


def _span(artifact) -> int:
    from components import lineage

    return lineage.span_of(artifact)


def _drift(nodes: dict[str, Any]) -> dict[str, Any] | None:
    import tensorflow as tf

    value = nodes.get("DriftGate", {}).get("outputs", {}).get("String")
    if value is None or not tf.io.gfile.exists(value.uri):
        return None
    with tf.io.gfile.GFile(value.uri) as f:
        return json.loads(f.read())


def nightly(config, nodes: dict[str, Any], report: dict | None, metrics: dict | None) -> dict[str, Any]:
    """`span`, `window` (spans and training examples), `warm_start` and `drift`."""
    trainer_inputs = nodes.get("Trainer", {}).get("inputs", {})
    # The window the run trained on; in a run that stops after Transform, the one Transform read.
    windowed = trainer_inputs.get("Examples") or nodes.get("Transform", {}).get("inputs", {}).get("Examples", [])
    window = sorted(_span(a) for a in windowed)
    base = trainer_inputs.get("Model", [])
    result: dict[str, Any] = {
        "span": report.get("span", 0) if report else None,
        "window": {
            "spans": window or None,
            "requested": config.spans or "all",
            "train_examples": metrics.get("train_examples") if metrics else None,
        },
        "warm_start": {
            "requested": bool(config.warm_start),
            "from_model": base[0].uri if base and config.warm_start else None,
        },
        "drift": _drift(nodes),
    }
    if result["drift"] is not None and config.accept_drift:
        result["drift"]["accepted"] = True
    return result


def format_lines(summary: dict[str, Any]) -> list[str]:
    """The console lines of a span-root run (none for a single-span source)."""
    window = summary.get("window") or {}
    drift = summary.get("drift") or {}
    lines = []
    if summary.get("span"):
        lines.append(f"span:            {summary['span']}, window {window.get('spans')} "
                     f"({window.get('train_examples')} training examples)")
    warm = summary.get("warm_start") or {}
    if warm.get("requested"):
        lines.append(f"warm start:      {warm.get('from_model') or 'none yet (cold start)'}")
    if drift.get("p_value"):
        figures = ", ".join(f"{k} p = {v:.2g} (change {drift['distance'].get(k)})" for k, v in drift["p_value"].items())
        lines.append(f"drift:           against span {drift['previous_span']}: {figures}, "
                     f"significance {drift['significance']:g}"
                     + (", accepted" if drift.get("accepted") and drift.get("over") else ""))
    return lines
