"""The nightly part of run_summary.json: the span ingested, the window trained on,
the warm start and the drift figures, from the run's record (`pipeline.report.finished_run`)."""

from __future__ import annotations

from typing import Any


def nightly(config, run) -> dict[str, Any]:
    """`span`, `window` (spans and training examples), `warm_start` and `drift` of a `FinishedRun`."""
    from components import lineage

    # The window the run trained on; in a run that stops after Transform, the one Transform read.
    windowed = run.inputs("Trainer", "Examples") or run.inputs("Transform", "Examples")
    window = sorted(lineage.span_of(a) for a in windowed)
    base = run.inputs("Trainer", "Model")
    result: dict[str, Any] = {
        "span": run.ingest.get("span", 0) if run.ingest else None,
        "window": {
            "spans": window or None,
            "requested": config.spans or "all",
            "train_examples": run.metrics.get("train_examples") if run.metrics else None,
        },
        "warm_start": {
            "requested": bool(config.warm_start),
            "from_model": base[0].uri if base and config.warm_start else None,
        },
        "drift": dict(run.drift) if run.drift is not None else None,
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
