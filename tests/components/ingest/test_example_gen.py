"""The ExampleGen executor, run for real through Beam on generated files."""

import json

import pytest

from components import features
from components.ingest import executor
from tests.helpers import imagefiles as images
from tests.helpers.example_gen import SPLITS, read_split, run_executor, write_files


def test_every_file_is_ingested_quarantined_or_skipped(tmp_path):
    root = tmp_path / "photos"
    good = {f"daisy/{name}": data for name, data in images.good_files().items()}
    good.update({f"roses/r{i}.jpg": images.jpeg(seed=100 + i) for i in range(20)})
    bad = {f"tulips/{name}": data for name, (data, _) in images.bad_files().items()}
    skipped = {
        "LICENSE.txt": b"photo credits\n",
        "tulips/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "daisy/Thumbs.db": b"\xd0\xcf",
    }
    write_files(root, {**good, **bad, **skipped})

    report = run_executor(root, tmp_path / "out")

    assert report["files_seen"] == len(good) + len(bad) + len(skipped) == 40
    assert report["ingested_total"] == len(good)
    assert report["files_seen"] == report["ingested_total"] + len(report["quarantined"]) + len(report["skipped"])
    reasons = {q["path"]: q["reason"] for q in report["quarantined"]}
    assert set(reasons) == set(bad)
    for name, (_, reason) in images.bad_files().items():
        assert reasons[f"tulips/{name}"].startswith(reason)
    assert {s["path"] for s in report["skipped"]} == set(skipped)
    per_class = {c: sum(report["ingested"][s][c] for s in SPLITS) for c in features.TF_FLOWERS_CLASSES}
    assert per_class == {"dandelion": 0, "daisy": 11, "tulips": 0, "sunflowers": 0, "roses": 20}

    rows = {}
    for split in SPLITS:
        split_rows = read_split(tmp_path / "out", split)
        assert len(split_rows) == sum(report["ingested"][split].values())
        rows.update(split_rows)
    assert set(rows) == set(good)
    for filename, (label, data) in rows.items():
        assert data == good[filename]  # the file's bytes, untouched
        assert label == features.TF_FLOWERS_CLASSES.index(filename.split("/")[0])
    # The sidecar later spans' duplicate check and the drift gate read: every photo written, and only those
    # (a bad file is never "kept", so the same bad bytes in a later span are quarantined again, not skipped).
    import hashlib

    from components.ingest import spans

    sidecar = {row["filename"]: row for row in spans.read_rows(str(tmp_path / "out"))}
    assert set(sidecar) == set(good)
    for filename, row in sidecar.items():
        assert row["sha256"] == hashlib.sha256(good[filename]).hexdigest()
        assert (row["bytes"], row["label"], row["span"]) == (len(good[filename]), rows[filename][0], 0)


def test_too_many_quarantined_fails_naming_the_files(tmp_path):
    root = tmp_path / "photos"
    write_files(root, {f"daisy/d{i}.jpg": images.jpeg(seed=i) for i in range(10)})
    write_files(root, {"daisy/broken.jpg": b"not a photo at all\n"})
    expected = r"(?s)1 of 11 files quarantined \(9.1%\).*daisy/broken.jpg: not an image \(text file\)"
    with pytest.raises(executor.TooManyQuarantinedError, match=expected):
        run_executor(root, tmp_path / "out", max_fraction=0.05)
    # The report is written before the run fails, for the person fixing the data.
    with open(tmp_path / "out" / executor.REPORT_FILE) as f:
        assert json.load(f)["quarantined"] == [{"path": "daisy/broken.jpg", "reason": "not an image (text file)"}]


def test_adding_photos_never_moves_a_photo_to_another_split(tmp_path):
    root = tmp_path / "photos"
    classes = ("daisy", "roses")
    photos = {f"{c}/p{i}.jpg": images.jpeg(16, 16, seed=k * 100 + i) for k, c in enumerate(classes) for i in range(30)}
    write_files(root, photos)
    run_executor(root, tmp_path / "first")
    before = {name: split for split in SPLITS for name in read_split(tmp_path / "first", split)}
    added = {
        f"{c}/new{i}.jpg": images.jpeg(16, 16, seed=500 + k * 100 + i)
        for k, c in enumerate(("daisy", "tulips"))
        for i in range(30)
    }
    write_files(root, added)
    run_executor(root, tmp_path / "second")
    after = {name: split for split in SPLITS for name in read_split(tmp_path / "second", split)}
    assert len(before) == 60 and len(after) == 120
    assert {name: after[name] for name in before} == before
    counts = {split: list(after.values()).count(split) for split in SPLITS}
    assert counts["train"] > counts["eval"] and counts["train"] > counts["test"]
    assert 0.65 < counts["train"] / 120 < 0.95
