"""`flowers run` and `flowers ingest`: the DAG on LocalDagRunner, stage by stage, then the report.

The console shows a line per component and live progress (`pipeline.cli.stage_lines`);
everything the libraries print goes to `<output>/logs/run.log`. Success or
failure, the run ends with `<output>/report.html`. A failure names the failing
component and the log file, and exits 1.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from components import vocabulary
from components.ingest import executor
from components.trainer import input_pipeline, run_fn, warm_start
from components.validation import anomalies_gate, drift
from pipeline.cli import preflight, settings, stage_lines
from pipeline.cli.console import Console
from pipeline.report import finished_run, outcomes, page, run_summary
from pipeline.runners import local

# Failures whose message is already written for a person (and lists what to fix).
_EXPLAINED = (executor.IngestRejectedError, anomalies_gate.DataAnomaliesError,
              input_pipeline.CacheDiskSpaceError, drift.DataDriftError, warm_start.WarmStartError,
              vocabulary.VocabularyError, run_fn.WindowTooSmallError)


def explain(error: BaseException) -> str:
    if isinstance(error, _EXPLAINED):
        return str(error)
    first = (str(error).strip().splitlines() or [""])[0][:300]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def main(args: argparse.Namespace, console: Console) -> int:
    config = settings.config_from_args(args)
    view = stage_lines.StageView(console, outcomes.describer(config.metadata_path), args.listed_files)
    summary: dict[str, Any] | None = None
    finished: list[finished_run.FinishedRun] = []  # the run as read once after its DAG, for the report
    error = failed = None
    view.attach()
    try:
        if args.command == "ingest":
            local.ingest(config, on_finished=finished.append)
        else:
            summary = local.run(config, on_finished=finished.append)
    except Exception as err:  # noqa: BLE001 - reported below, with the log's path
        logging.getLogger(__name__).exception("flowers %s failed", args.command)
        error, failed = err, view.fail()
    finally:
        view.detach()
    if preflight.is_disk_full(error):  # no report either: there is no room to write it
        console.error(preflight.disk_full_message(args.command, config.output, console.log_path, failed))
        return 1
    report_path = _write_report(config, args.command, finished[-1] if finished else None, error, failed,
                                console.log_path)
    if error is not None:
        console.error(f"flowers {args.command}: {failed or 'the pipeline'} failed: {explain(error)}")
        console.error(f"log: {console.log_path}")
        if report_path:
            console.error(f"report: {report_path}")
        return 1
    if summary is not None:
        console.line(run_summary.format_summary(summary))
    else:
        console.line(f"ingest report:   {os.path.join(config.output, executor.REPORT_FILE)}")
    console.line(f"log:             {console.log_path}")
    console.line(f"report:          {report_path}")
    return 0


def _write_report(config, command, run, error, failed, log) -> str | None:
    try:
        return page.write_report(config, command, run, error, failed, log)
    except Exception:  # noqa: BLE001 - the run's own outcome matters more than its page
        logging.getLogger(__name__).exception("cannot write the report")
        return None
