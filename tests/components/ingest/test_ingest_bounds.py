"""ExampleGen on files that must not end a run or fool the user: sizes, read errors,
names that are not UTF-8, byte-identical copies, macOS archives, a single class."""

import io
import os
import tarfile

import pytest

from components import features
from components.ingest import executor
from tests.helpers import imagefiles as images
from tests.helpers.example_gen import SPLITS, read_split, run_executor, write_files


def _all_rows(out_dir):
    rows = {}
    for split in SPLITS:
        rows.update(read_split(out_dir, split))
    return rows


def test_folder_bounds_errors_names_and_duplicates(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    photo = images.jpeg(seed=1)
    files = {f"roses/r{i}.jpg": images.jpeg(seed=10 + i) for i in range(4)}
    files.update({"daisy/a.jpg": photo, "daisy/b_copy.jpg": photo, "roses/z_copy.jpg": photo})  # two labels
    files.update({"daisy/c.jpg": images.jpeg(seed=5), "daisy/c_copy.jpg": images.jpeg(seed=5)})  # one label
    files.update({"daisy/locked.jpg": images.jpeg(seed=2), "daisy/frames.gif": images.gif_with_frames(101)})
    files.update({"tulips/locked_dir/t.jpg": images.jpeg(seed=3)})
    write_files(root, files)
    with open(root / "daisy" / "huge.jpg", "wb") as f:  # sparse: the size is known, nothing is stored
        f.truncate(features.MAX_FILE_BYTES + 1)
    latin1 = images.jpeg(seed=4)
    with open(os.path.join(os.fsencode(root), b"daisy", b"caf\xe9.jpg"), "wb") as f:  # not UTF-8
        f.write(latin1)

    # Root reads anything, so permission errors are simulated where the OS would raise them.
    real_open, real_scandir = os.open, os.scandir

    def failing_open(path, *args, **kwargs):
        if isinstance(path, (str, bytes)) and os.fsdecode(path).endswith("locked.jpg"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    def failing_scandir(path="."):
        if isinstance(path, (str, bytes)) and os.fsdecode(path).endswith("locked_dir"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "open", failing_open)
    monkeypatch.setattr(os, "scandir", failing_scandir)

    report = run_executor(root, tmp_path / "out")

    quarantined = {q["path"]: q["reason"] for q in report["quarantined"]}
    assert quarantined == {
        "daisy/huge.jpg": "file too large: 20000001 bytes, above the 20000000-byte limit; not read",
        "daisy/locked.jpg": "not readable: Permission denied",
        "daisy/frames.gif": "GIF with more than 100 frames (the frame limit)",
        "tulips/locked_dir/": "folder not readable (Permission denied): its files were not listed",
        # The same photo under daisy/ and roses/: no label can be trusted, every copy is quarantined.
        "daisy/a.jpg": "label conflict: byte-identical to daisy/b_copy.jpg, roses/z_copy.jpg",
        "daisy/b_copy.jpg": "label conflict: byte-identical to daisy/a.jpg, roses/z_copy.jpg",
        "roses/z_copy.jpg": "label conflict: byte-identical to daisy/a.jpg, daisy/b_copy.jpg",
    }
    assert report["skipped"] == [
        {"path": "daisy/c_copy.jpg", "reason": "duplicate: byte-identical to daisy/c.jpg, which is kept"},
    ]
    assert report["duplicates"] == 1 and report["label_conflicts"] == 3
    rows = _all_rows(tmp_path / "out")
    assert sorted(rows) == ["daisy/c.jpg", "daisy/caf\\xe9.jpg"] + [f"roses/r{i}.jpg" for i in range(4)]
    assert rows["daisy/caf\\xe9.jpg"][1] == latin1  # read through its real name, bytes untouched
    assert report["ingested_total"] == 6 and len(quarantined) == 7
    assert report["files_seen"] == 14 == report["ingested_total"] + len(quarantined) + len(report["skipped"])


def test_a_label_conflict_names_five_other_copies_at_most():
    from components.ingest import beam_graph

    copies = [(f"c{i}/p.jpg", f"photos/c{i}/p.jpg") for i in range(8)]  # (filename, path) by content hash
    dropped = dict(beam_graph._copies_to_drop(("sha256", copies), {}))
    assert len(dropped) == 8
    others = ", ".join(f"c{i}/p.jpg" for i in range(1, 6))
    assert dropped["photos/c0/p.jpg"] == ("quarantined", f"label conflict: byte-identical to {others} and 2 more")
    same_class = [("daisy/b.jpg", "b"), ("daisy/a.jpg", "a"), ("daisy/c.jpg", "c")]
    kept = "duplicate: byte-identical to daisy/a.jpg, which is kept"
    out = list(beam_graph._copies_to_drop(("sha256", same_class), {}))
    # Only what to drop: the kept copy is recorded by the writer once it is written (test_example_gen.py).
    assert dict(out) == {"b": ("skipped", kept), "c": ("skipped", kept)}


def _tar_add(tar, name, data=b""):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_macos_archive_keeps_its_classes_and_bounds_members(tmp_path):
    path = tmp_path / "flower_photos.tgz"
    with tarfile.open(path, "w:gz") as tar:
        _tar_add(tar, "._flower_photos", b"\x00\x05\x16\x07")
        _tar_add(tar, ".DS_Store", b"\x00\x00\x00\x01Bud1")
        _tar_add(tar, "README.txt", b"Flower photos\n")
        _tar_add(tar, "__MACOSX/flower_photos/daisy/._d0.jpg", b"\x00\x05\x16\x07")
        for i in range(3):
            _tar_add(tar, f"flower_photos/daisy/d{i}.jpg", images.jpeg(seed=i))
            _tar_add(tar, f"flower_photos/roses/r{i}.jpg", images.jpeg(seed=10 + i))
        _tar_add(tar, "flower_photos/roses/huge.jpg", bytes(features.MAX_FILE_BYTES + 1))

    report = run_executor(path, tmp_path / "out")

    per_class = {c: sum(report["ingested"][s][c] for s in SPLITS) for c in ("daisy", "roses")}
    assert per_class == {"daisy": 3, "roses": 3}
    assert sorted(_all_rows(tmp_path / "out")) == [f"daisy/d{i}.jpg" for i in range(3)] + [
        f"roses/r{i}.jpg" for i in range(3)
    ]
    assert report["quarantined"] == [
        {
            "path": "flower_photos/roses/huge.jpg",
            "reason": "file too large: 20000001 bytes, above the 20000000-byte limit; not read",
        }
    ]
    assert sorted(s["path"] for s in report["skipped"]) == [
        ".DS_Store", "._flower_photos", "README.txt", "__MACOSX/flower_photos/daisy/._d0.jpg"
    ]
    assert report["files_seen"] == 11


def test_one_class_with_images_stops_the_run_naming_it(tmp_path):
    root = tmp_path / "photos"
    write_files(root, {f"daisy/d{i}.jpg": images.jpeg(seed=i) for i in range(3)})
    with pytest.raises(executor.TooFewClassesError) as err:
        run_executor(root, tmp_path / "out")  # all five flower names, one class of photos
    assert str(err.value).startswith("1 class with images (daisy: 3 images), but a classifier needs at least two")
    assert err.value.report["ingested_total"] == 3
    assert isinstance(err.value, executor.IngestRejectedError)


def test_the_command_line_exits_1_with_one_sentence(tmp_path, monkeypatch, capsys):
    from pipeline import cli
    from pipeline.runners import local

    def one_class_run(config, **kwargs):
        raise executor.TooFewClassesError("1 class with images (daisy: 3 images), but ...", {})

    monkeypatch.setattr(local, "run", one_class_run)
    assert cli.main(["run", "--output", str(tmp_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert "flowers run: the pipeline failed: 1 class with images (daisy: 3 images), but ..." in err
