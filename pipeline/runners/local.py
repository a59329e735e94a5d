"""Run the DAG with LocalDagRunner; then read the finished run once (`pipeline.report.finished_run`), and
`pipeline.report.run_summary` says what it did."""

from __future__ import annotations

import datetime
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from tfx import v1 as tfx

from components import vocabulary
from components.ingest import executor, sources
from pipeline import configs, paths
from pipeline import pipeline as pipeline_lib
from pipeline.report import finished_run, run_summary
from pipeline.runners import output_guard


def discover_classes(data: str, schema_dir: str, tfds_data_dir: str | None = None) -> tuple[str, ...]:
    """The vocabulary an output's first run pins (`components.vocabulary`): a TFDS
    dataset's own names, else from the source's class folders."""
    if sources.is_tfds(data):
        import tensorflow_datasets as tfds

        builder = tfds.builder(data[len(sources.TFDS_PREFIX) :], data_dir=tfds_data_dir)
        return tuple(builder.info.features["label"].names)
    from components.ingest import spans

    folders = [spans.span_source(data, span) for span, _ in spans.span_folders(data)] or [data]
    found = [c for f in folders for c in sources.class_folders(sources.list_entries(f))]
    # A schema folder of the user's own without a vocabulary: flower folders still get the tf_flowers order.
    return vocabulary.first_run_names(found, schema_dir, paths.SCHEMA_DIR)


def resolve_vocabulary(config: configs.RunConfig) -> vocabulary.Vocabulary:
    """The output's pinned label vocabulary; pinned now on its first run."""
    return vocabulary.resolve(
        config.output, config.classes,
        lambda: discover_classes(config.data, config.schema_dir, config.tfds_data_dir),
    )


OnFinished = Callable[[finished_run.FinishedRun], None]


def run(config: configs.RunConfig, stop_after: str | None = None, enable_cache: bool = True,
        on_finished: OnFinished | None = None) -> dict[str, Any]:
    """Run the pipeline (or its ingest part) and write a summary JSON.

    After the DAG, succeeded or failed, the run is read from ML Metadata once
    into a `FinishedRun`, handed to `on_finished` (the report is built from it)
    before a failure is raised again.

    The run holds its output (`output_guard`): a second run into it, or a run
    of another source, is refused before any work. The summary describes this
    run only, found by its own run id: an earlier run's summary is removed
    first, and a run that fails before the DAG starts writes none.
    """
    with output_guard.hold(config.output, "run" if stop_after is None else "ingest"):
        output_guard.check_source(config.output, config.data)
        return _run_held(config, stop_after, enable_cache, on_finished)


def new_run_id() -> str:
    """The pipeline run's id (its `pipeline_run` context's name in ML Metadata)."""
    return f"{datetime.datetime.now().isoformat()}-{os.getpid()}"


def run_dag(pipeline, run_id: str) -> None:
    """LocalDagRunner on `pipeline`, with the run id given here instead of one it makes up."""
    from tfx.dsl.compiler import compiler, constants
    from tfx.dsl.components.base import base_component
    from tfx.orchestration.portable import runtime_parameter_utils

    for component in pipeline.components:  # as LocalDagRunner.run does before it compiles
        if isinstance(component, base_component.BaseComponent):
            component._resolve_pip_dependencies(pipeline.pipeline_info.pipeline_root)  # noqa: SLF001
    ir = compiler.Compiler().compile(pipeline)
    runtime_parameter_utils.substitute_runtime_parameter(ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    tfx.orchestration.LocalDagRunner().run_with_ir(ir)


def _run_held(config: configs.RunConfig, stop_after: str | None, enable_cache: bool,
              on_finished: OnFinished | None) -> dict[str, Any]:
    os.makedirs(config.output, exist_ok=True)
    summary_path = os.path.join(config.output, run_summary.SUMMARY_FILE)
    if os.path.exists(summary_path):
        os.remove(summary_path)
    started = time.time()
    vocab = resolve_vocabulary(config)
    pipeline = pipeline_lib.create_pipeline(
        config,
        vocab.names,
        vocabulary_file=vocab.path,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path
        ),
        stop_after=stop_after,
        enable_cache=enable_cache,
    )
    run_id = new_run_id()
    failure = None
    try:
        run_dag(pipeline, run_id)
    except Exception as err:  # noqa: BLE001 - summarised below, then re-raised
        failure = err
    # After a failure, what can still be read is reported, and the failure raised.
    finished = _unless_failed(failure, lambda: finished_run.read(config.metadata_path, run_id),
                              finished_run.FinishedRun(run_id=run_id))
    summary = _unless_failed(failure, lambda: run_summary.summarize(config, finished, time.time() - started))
    if on_finished is not None:
        on_finished(finished)
    if failure is not None:
        raise failure
    return summary


def _unless_failed(failure: BaseException | None, read: Callable[[], Any], default: Any = None) -> Any:
    """`read()`; after a failed run, `default` when it raises too."""
    try:
        return read()
    except Exception:
        if failure is None:
            raise
        logging.getLogger(__name__).exception("reading the failed run")
        return default


def ingest(config: configs.RunConfig, on_finished: OnFinished | None = None) -> dict[str, Any]:
    """ExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator and the gate.

    The ingest report is copied to `config.output` even when the run fails, so
    the person fixing the data finds every bad file listed there.
    """
    import shutil

    with output_guard.hold(config.output, "ingest"):
        report_path = os.path.join(config.output, executor.REPORT_FILE)
        if os.path.exists(report_path):
            os.remove(report_path)
        finished: list[finished_run.FinishedRun] = []
        try:
            run(config, stop_after="AnomaliesGate", on_finished=finished.append)
        except executor.IngestRejectedError as err:
            with open(report_path, "w") as f:
                json.dump(err.report, f, indent=2, sort_keys=True)
            raise
        finally:
            # ExampleGen succeeded (validation may still have failed): its report is an artifact.
            if finished and on_finished is not None:
                on_finished(finished[0])
            ingested = finished[0].ingest_report_path if finished else None
            if ingested is not None and not os.path.exists(report_path):
                shutil.copy(ingested, report_path)
        return finished_run.read_json(report_path)
