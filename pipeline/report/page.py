"""`<output>/report.html`: one self-contained page that explains a run, failed runs too.

Everything comes from this run's artifacts in the metadata store (never from
an earlier run's), is rendered by the jinja2 template `templates/report.html`,
and every picture is inlined as a data: URI, so the page loads nothing from
anywhere. Counts carry element ids (`count-train`, `count-train-daisy`, ...).
"""

from __future__ import annotations

import datetime
import logging
import os
from typing import Any

from components.ingest import executor, sources
from components.trainer import curves
from pipeline import configs, metadata
from pipeline.report import figures, nightly, outcomes

REPORT_FILE = "report.html"
_log = logging.getLogger(__name__)


def _preview(config: configs.RunConfig, examples) -> dict[str, Any] | None:
    try:
        records = figures.read_split(examples.uri, "train", limit=1) if examples is not None else []
        if records:
            source, encoded = records[0]["filename"], records[0]["image"]
        elif not sources.is_tfds(config.data):
            source, encoded = sources.first_photo(config.data)
        else:
            return None
        return {"source": source, "spec": config.augmentation,
                "tiles": figures.preview_tiles(encoded, config.augmentation, config.seed)}
    except Exception:  # noqa: BLE001 - a missing picture must not lose the rest of the report
        _log.exception("augmentation preview for the report")
        return None


def _ingest(nodes, error) -> dict[str, Any] | None:
    if isinstance(error, executor.IngestRejectedError):
        return error.report
    examples = metadata.output(nodes, "FileBasedExampleGen", "Examples")
    if examples is None:
        return None
    return outcomes.read_json(os.path.join(examples.uri, executor.REPORT_FILE))


def _training(nodes: dict[str, Any], class_names: list[str]) -> dict[str, Any]:
    model_run = metadata.output(nodes, "Trainer", "ModelRun")
    model = metadata.output(nodes, "Trainer", "Model")
    examples = metadata.output(nodes, "FileBasedExampleGen", "Examples")
    result: dict[str, Any] = {}
    if model_run is not None:
        result["curves"] = figures.png_file(os.path.join(model_run.uri, curves.CURVES_FILE))
        result["metrics"] = outcomes.read_json(os.path.join(model_run.uri, curves.METRICS_FILE))
    if model is not None and examples is not None and class_names:
        try:
            result["test"] = figures.test_predictions(model.uri, examples.uri, class_names)
        except Exception:  # noqa: BLE001
            _log.exception("test predictions for the report")
    return result


def _serving(config: configs.RunConfig, summary: dict[str, Any] | None) -> dict[str, Any] | None:
    if not summary or not summary.get("pushed_model"):
        return None
    base = os.path.abspath(config.serving_dir)
    return {
        "model": summary["pushed_model"],
        "docker": f"docker run -p 8501:8501 -v {base}:/models/flowers -e MODEL_NAME=flowers tensorflow/serving",
        "curl": "curl -d '{\"signature_name\": \"serving_images\", \"instances\": "
                "[{\"b64\": \"'\"$(base64 -w0 photo.jpg)\"'\"}]}' http://localhost:8501/v1/models/flowers:predict",
    }


def gather(config: configs.RunConfig, command: str, started: float, summary: dict[str, Any] | None,
           error: BaseException | None, failed_stage: str | None, log_path: str | None) -> dict[str, Any]:
    """Everything the template shows, for this run only."""
    nodes = metadata.run_nodes(config.metadata_path, started, (summary or {}).get("run_id"))
    ingest = _ingest(nodes, error)
    class_names = list(ingest["class_names"]) if ingest else []
    anomalies_artifact = metadata.output(nodes, "ExampleValidator", "ExampleAnomalies")
    page: dict[str, Any] = {
        "command": command,
        "data": config.data,
        "output": os.path.abspath(config.output),
        "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "failed": error is not None,
        "failed_stage": failed_stage,
        "error": str(error) if error is not None else None,
        "log_path": log_path,
        "class_names": class_names,
        "ingest": ingest,
        "counts": executor.counts_by_split(ingest) if ingest else None,
        "anomalies": outcomes.anomalies(anomalies_artifact) if anomalies_artifact else None,
        "preview": _preview(config, metadata.output(nodes, "FileBasedExampleGen", "Examples")),
        "stages": [
            {"name": outcomes.display_name(name), "state": node["state"], "seconds": node["seconds"]}
            for name, node in nodes.items()
        ],
        "min_accuracy": config.min_accuracy,
        "summary": summary,
        "serving": _serving(config, summary),
        # span, window, warm start and drift figures of a span-root run (pipeline.report.nightly)
        "nightly": nightly.format_lines(summary) if summary else [],
    }
    page["splits"] = [s for s in page["counts"] or {} if s != "quarantined"]
    page.update({"curves": None, "metrics": None, "test": None})
    page.update(_training(nodes, class_names) if command == "run" else {})
    return page


def render(page: dict[str, Any]) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["thousands"] = lambda n: f"{n:,}"
    return environment.get_template("report.html").render(page=page)


def write_report(config: configs.RunConfig, command: str, started: float, summary: dict[str, Any] | None = None,
                 error: BaseException | None = None, failed_stage: str | None = None,
                 log_path: str | None = None) -> str:
    """Write `<output>/report.html`; return its path."""
    page = gather(config, command, started, summary, error, failed_stage, log_path)
    path = os.path.join(config.output, REPORT_FILE)
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(page))
    return path
