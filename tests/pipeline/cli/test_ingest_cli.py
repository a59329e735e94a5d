"""`flowers ingest` on a folder of bad files: a clear failure, every file listed."""

import json
import os

from pipeline import cli
from tests.helpers import imagefiles


def test_ingest_lists_every_bad_file_and_fails_clearly(tmp_path, capsys):
    data = tmp_path / "photos"
    (data / "daisy").mkdir(parents=True)
    (data / "roses").mkdir()
    for name, blob in imagefiles.good_files().items():
        (data / "daisy" / name).write_bytes(blob)
    for name, (blob, _) in imagefiles.bad_files().items():
        (data / "roses" / name).write_bytes(blob)
    for i in range(2):  # a second class with images, or the run stops
        (data / "roses" / f"good{i}.jpg").write_bytes(imagefiles.jpeg(seed=50 + i))
    (data / "LICENSE.txt").write_text("photo credits")
    output = tmp_path / "out"

    assert cli.main(["ingest", "--data", str(data), "--output", str(output)]) == 1

    err = capsys.readouterr().err
    assert err.startswith("flowers ingest: ExampleGen failed: 6 of 19 files quarantined (31.6%), above the 1.0% limit")
    assert f"log: {output / 'logs' / 'run.log'}" in err and f"report: {output / 'report.html'}" in err
    assert "roses/empty.jpg: empty file (0 bytes)" in err
    with open(os.path.join(output, "ingest_report.json")) as f:
        report = json.load(f)
    assert report["files_seen"] == 20
    assert report["ingested_total"] == len(imagefiles.good_files()) + 2 == 13
    assert {q["path"] for q in report["quarantined"]} == {f"roses/{n}" for n in imagefiles.bad_files()}
    assert report["skipped"] == [{"path": "LICENSE.txt", "reason": "dataset metadata, not an image"}]

    # With a limit that allows them, the same folder is ingested and validated.
    assert cli.main(["ingest", "--data", str(data), "--output", str(output), "--max-quarantined", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "ExampleGen        13 photos -> train " in out and ", 6 quarantined   " in out
    assert f"report:          {output / 'report.html'}" in out
