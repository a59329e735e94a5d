"""`<output>/report.html`: one self-contained page that explains a run, failed runs too.

Everything comes from the run's record (`finished_run.FinishedRun`, the one read
of its artifacts in the metadata store), is rendered by the jinja2 template
`templates/report.html`, and every picture is inlined as a data: URI, so the
page loads nothing from anywhere and works with no network. It opens with the
outcome (blessed or not and why, or which stage stopped the run; the
accuracies; the pushed model). Counts carry element ids (`count-train`,
`count-train-daisy`, ...), the statistics view its own (`stat-...`,
`pipeline.report.feature_stats`); `statistics.html` is that view on a page of its own.
"""

from __future__ import annotations

import datetime
import logging
import os
from typing import Any

from components.ingest import executor
from components.validation import anomalies_gate
from pipeline import configs
from pipeline.report import feature_stats, figures, finished_run, nightly, outcomes

REPORT_FILE = "report.html"
_log = logging.getLogger(__name__)


def _preview(config: configs.RunConfig, run: finished_run.FinishedRun) -> dict[str, Any] | None:
    """The first training photo as ExampleGen wrote it, under the Trainer's augmentation."""
    try:
        records = figures.read_split(run.examples_uri, "train", limit=1) if run.examples_uri else []
        if not records:
            return None
        return {"source": records[0]["filename"], "spec": config.augmentation,
                "tiles": figures.preview_tiles(records[0]["image"], config.augmentation, config.seed)}
    except Exception:  # noqa: BLE001 - a missing picture must not lose the rest of the report
        _log.exception("augmentation preview for the report")
        return None


def _training(run: finished_run.FinishedRun, class_names: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"metrics": run.metrics}
    if run.model_run_uri is not None:
        result["curves"] = figures.png_file(run.curves_png)
    if run.model_uri is not None and run.examples_uri is not None and class_names:
        try:
            result["test"] = figures.test_predictions(run.model_uri, run.examples_uri, class_names)
        except Exception:  # noqa: BLE001
            _log.exception("test predictions for the report")
    return result


def _serving(config: configs.RunConfig, pushed_model: str | None) -> dict[str, Any] | None:
    if not pushed_model:
        return None
    base = os.path.abspath(config.serving_dir)
    return {
        "model": pushed_model,
        "docker": f"docker run -p 8501:8501 -v {base}:/models/flowers -e MODEL_NAME=flowers tensorflow/serving",
        "curl": "curl -d '{\"signature_name\": \"serving_images\", \"instances\": "
                "[{\"b64\": \"'\"$(base64 -w0 photo.jpg)\"'\"}]}' http://localhost:8501/v1/models/flowers:predict",
    }


def outcome(config: configs.RunConfig, command: str, run: finished_run.FinishedRun, error: BaseException | None,
            failed_stage: str | None) -> dict[str, Any]:
    """The page's first lines: blessed or not and why (or which stage stopped the run), the accuracies, the
    pushed model."""
    stopped = f"{failed_stage or 'the pipeline'} failed" if error is not None else None
    blessing = run.blessing(config.min_accuracy)
    if command == "ingest":
        headline = f"Stopped: {stopped}" if stopped else "Ingested and validated: no anomalies"
    elif blessing is None:
        stopper = failed_stage or "the pipeline"
        headline = f"Not blessed: {stopper} stopped the run before the Evaluator" if stopped else \
            "Not blessed: the Evaluator did not run"
    else:
        headline = ("Blessed: " if run.blessed else "Not blessed: ") + blessing
        headline += f"; then {stopped}" if stopped else ""
    return {"headline": headline, "ok": error is None and (run.blessed or command == "ingest"),
            "eval_accuracy": run.eval_accuracy, "test_accuracy": run.test_accuracy,
            "pushed_model": run.pushed_model}


def gather(config: configs.RunConfig, command: str, run: finished_run.FinishedRun | None,
           error: BaseException | None, failed_stage: str | None, log_path: str | None) -> dict[str, Any]:
    """Everything the template shows, for this run only (`run` None: it failed before the DAG)."""
    run = run or finished_run.FinishedRun()
    ingest = error.report if isinstance(error, executor.IngestRejectedError) else run.ingest
    class_names = list(ingest["class_names"]) if ingest else []
    page: dict[str, Any] = {
        "command": command,
        "data": config.data,
        "output": os.path.abspath(config.output),
        "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "failed": error is not None,
        "failed_stage": failed_stage,
        "error": str(error) if error is not None else None,
        "log_path": log_path,
        "outcome": outcome(config, command, run, error, failed_stage),
        "class_names": class_names,
        "ingest": ingest,
        "counts": executor.counts_by_split(ingest) if ingest else None,
        "anomalies": (anomalies_gate.describe_anomalies(run.anomalies_uri, run.anomalies_splits)
                      if run.anomalies_uri else None),
        "statistics": statistics(run, class_names),
        "preview": _preview(config, run),
        "stages": [
            {"name": outcomes.display_name(name), "state": node["state"], "seconds": node["seconds"]}
            for name, node in run.nodes.items()
        ],
        "serving": _serving(config, run.pushed_model),
        # span, window, warm start and drift figures of a span-root run (pipeline.report.nightly)
        "nightly": nightly.format_lines(nightly.nightly(config, run)) if run.nodes else [],
    }
    page["splits"] = [s for s in page["counts"] or {} if s != "quarantined"]
    page.update({"curves": None, "metrics": None, "test": None})
    page.update(_training(run, class_names) if command == "run" else {})
    return page


def statistics(run: finished_run.FinishedRun, class_names: list[str]) -> dict[str, Any] | None:
    if not run.statistics_uri:
        return None
    return feature_stats.view(feature_stats.load(run.statistics_uri, run.statistics_splits), class_names)


def render(page: dict[str, Any], template: str = REPORT_FILE) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["thousands"] = lambda n: f"{n:,}"
    return environment.get_template(template).render(page=page)


def _write(path: str, html: str) -> str:
    with open(path, "w", encoding="utf-8") as f:
        f.write(html)
    return path


def write_statistics(config: configs.RunConfig, run: finished_run.FinishedRun) -> str | None:
    """`<output>/statistics.html`: the statistics view on a page of its own; None when StatisticsGen did not
    run."""
    ingest = run.ingest or {}
    view = statistics(run, list(ingest.get("class_names", [])))
    if view is None:
        return None
    page = {"data": config.data, "statistics": view, "statistics_uri": run.statistics_uri,
            "report": os.path.abspath(os.path.join(config.output, REPORT_FILE))}
    return _write(os.path.join(config.output, feature_stats.STATISTICS_FILE), render(page, "statistics.html"))


def write_report(config: configs.RunConfig, command: str, run: finished_run.FinishedRun | None,
                 error: BaseException | None = None, failed_stage: str | None = None,
                 log_path: str | None = None) -> str:
    """Write `<output>/report.html` from the run's record; return its path."""
    page = gather(config, command, run, error, failed_stage, log_path)
    return _write(os.path.join(config.output, REPORT_FILE), render(page))
