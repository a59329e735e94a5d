"""`<output>/run_summary.json` and its lines on the console, from the run's record
(`pipeline.report.finished_run`, the one read of ML Metadata after the DAG)."""

from __future__ import annotations

import json
import os
from typing import Any

from components.ingest import executor
from pipeline import configs
from pipeline.report import finished_run, nightly, page

SUMMARY_FILE = "run_summary.json"


def summarize(config: configs.RunConfig, run: finished_run.FinishedRun, wall_seconds: float) -> dict[str, Any]:
    """run_summary.json (and the statistics page) from the run's record, printed for a person too."""
    summary: dict[str, Any] = {"data": config.data, "output": os.path.abspath(config.output), "run_id": run.run_id}
    if run.ingest:
        summary["classes"] = run.ingest.get("class_names")
        summary["vocabulary"] = run.ingest.get("vocabulary") or None
        summary["counts"] = executor.counts_by_split(run.ingest)
        summary["ingest_report"] = run.ingest_report_path
    summary["eval_accuracy"] = run.eval_accuracy
    if config.patience > 0:
        summary["eval_accuracy_note"] = (
            f"optimistic: early stopping (--patience {config.patience}) chose the epoch on this split; "
            "test accuracy is untouched"
        )
    summary["test_accuracy"] = run.test_accuracy
    if run.curves_png:
        summary["curves"] = run.curves_png
    statistics_page = page.write_statistics(config, run)
    if statistics_page:
        summary["statistics_html"] = statistics_page
    summary["blessed"] = run.blessed
    summary["blessing"] = run.blessing(config.min_accuracy)
    summary["pushed_model"] = run.pushed_model
    summary.update(nightly.nightly(config, run))
    summary["stage_seconds"] = {name: node["seconds"] for name, node in run.nodes.items()}
    summary["stage_state"] = {name: node["state"] for name, node in run.nodes.items()}
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
        f"blessed:         {'yes' if summary['blessed'] else 'no'}"
        + (f" ({summary['blessing']})" if summary.get("blessing") else ""),
        f"pushed model:    {summary['pushed_model'] or 'not pushed'}",
        *nightly.format_lines(summary),
        "stage seconds:   "
        + ", ".join(f"{k} {v}" for k, v in summary["stage_seconds"].items()),
        f"curves:          {summary.get('curves')}",
        f"statistics:      {summary.get('statistics_html')}",
        f"summary:         {os.path.join(summary['output'], SUMMARY_FILE)}",
    ]
    return "\n".join(lines)
