"""Run the DAG with LocalDagRunner; `pipeline.report.summary` then says what it did."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from tfx import v1 as tfx

from components.ingest import executor, sources
from pipeline import configs, metadata
from pipeline import pipeline as pipeline_lib
from pipeline.report import run_summary


def resolve_classes(data: str, tfds_data_dir: str | None = None) -> tuple[str, ...]:
    """The label vocabulary of a source, fixed before the pipeline is built."""
    from components import features

    if sources.is_tfds(data):
        import tensorflow_datasets as tfds

        builder = tfds.builder(data[len(sources.TFDS_PREFIX) :], data_dir=tfds_data_dir)
        return tuple(builder.info.features["label"].names)
    from components.ingest import spans

    folders = [spans.span_source(data, span) for span, _ in spans.span_folders(data)] or [data]
    return features.class_names_for([c for f in folders for c in sources.class_folders(sources.list_entries(f))])


def run(config: configs.RunConfig, stop_after: str | None = None, enable_cache: bool = True) -> dict[str, Any]:
    """Run the pipeline (or its ingest part) and write a summary JSON.

    The summary describes this run only: an earlier run's summary is removed
    first, and a run that fails before the DAG starts writes none.
    """
    os.makedirs(config.output, exist_ok=True)
    summary_path = os.path.join(config.output, run_summary.SUMMARY_FILE)
    if os.path.exists(summary_path):
        os.remove(summary_path)
    started = time.time()
    class_names = resolve_classes(config.data, config.tfds_data_dir)
    pipeline = pipeline_lib.create_pipeline(
        config,
        class_names,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path
        ),
        stop_after=stop_after,
        enable_cache=enable_cache,
    )
    failure = None
    try:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as err:  # noqa: BLE001 - summarised below, then re-raised
        failure = err
    try:
        summary = run_summary.summarize(config, time.time() - started, run_started=started)
    except Exception:
        if failure is None:
            raise
        summary = None
    if failure is not None:
        raise failure
    return summary


def ingest(config: configs.RunConfig) -> dict[str, Any]:
    """ExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator and the gate.

    The ingest report is copied to `config.output` even when the run fails, so
    the person fixing the data finds every bad file listed there.
    """
    import shutil

    started = time.time()
    report_path = os.path.join(config.output, executor.REPORT_FILE)
    if os.path.exists(report_path):
        os.remove(report_path)
    try:
        run(config, stop_after="AnomaliesGate")
    except executor.IngestRejectedError as err:
        with open(report_path, "w") as f:
            json.dump(err.report, f, indent=2, sort_keys=True)
        raise
    finally:
        # ExampleGen succeeded (validation may still have failed): its report is an artifact.
        examples = metadata.published_examples(config.metadata_path, started)
        if examples is not None and not os.path.exists(report_path):
            shutil.copy(os.path.join(examples.uri, executor.REPORT_FILE), report_path)
    return run_summary.read_json(report_path)
