"""A finished run is read from ML Metadata once: the console summary, run_summary.json, statistics.html and
report.html are all built from that one record, and the report's preview photo comes from ExampleGen's
examples, never from the source again."""

import json
import os
import shutil

from components.ingest import sources
from pipeline import cli, metadata
from pipeline.report import figures
from pipeline.runners import local
from tests.conftest import EPOCHS, MIN_ACCURACY


def test_the_cli_reads_a_finished_run_once(first_run, tmp_path, monkeypatch):
    config, summary = first_run
    # The sample run's store and pinned files in an output of its own; its artifacts stay where they are.
    output = tmp_path / "out"
    output.mkdir()
    for name in os.listdir(config.output):
        if os.path.isfile(os.path.join(config.output, name)) and not name.startswith("."):
            shutil.copy(os.path.join(config.output, name), output / name)
    stores, reads = [], []
    store, read_run = metadata._store, metadata.read_run
    monkeypatch.setattr(metadata, "_store", lambda path: stores.append(path) or store(path))
    monkeypatch.setattr(metadata, "read_run", lambda *a, **k: reads.append(a) or read_run(*a, **k))
    # The DAG has run: `run` goes on from its end, with the sample run's id.
    monkeypatch.setattr(local, "new_run_id", lambda: summary["run_id"])
    monkeypatch.setattr(local, "run_dag", lambda pipeline, run_id: None)

    def no_source(data):
        raise AssertionError(f"the source {data} was read again")

    monkeypatch.setattr(sources, "first_photo", no_source)
    args = ["run", "--output", str(output), "--epochs", str(EPOCHS), "--min-accuracy", str(MIN_ACCURACY)]
    assert cli.main(args) == 0

    assert (len(reads), stores) == (1, [str(output / "metadata.sqlite")])
    with open(output / "run_summary.json") as f:
        again = json.load(f)
    keys = ("run_id", "classes", "counts", "eval_accuracy", "test_accuracy", "blessed", "blessing", "pushed_model",
            "span", "window", "stage_seconds", "stage_state")
    assert {k: again[k] for k in keys} == {k: summary[k] for k in keys}
    assert again["statistics_html"] == str(output / "statistics.html")
    report = (output / "report.html").read_text()
    assert report.count('id="stat-examples-') == 3 and report.count('alt="augmented copy') == 9
    first_train = figures.read_split(os.path.dirname(summary["ingest_report"]), "train", limit=1)[0]
    assert f"<p>{first_train['filename']} under <code>" in report
