"""A .zip of class folders is read as a .tgz is: the same rules, every member judged
from the central directory before a byte is inflated, never more bytes inflated
than declared, and a damaged zip refused in one sentence."""

import os
import tarfile
import time
import tracemalloc
import zipfile

import pytest

from components import features
from components.ingest import data_fingerprint, sources
from components.ingest.sources import archives, tar_stream
from components.ingest.sources.entry import QUARANTINED
from pipeline import configs
from tests.helpers import imagefiles as images
from tests.helpers import zipfiles
from tests.helpers.example_gen import SPLITS, read_split, run_executor

ROOT = "flower_photos"
BOMB_BYTES = 5_000_000  # zeros: deflate packs them about 1000:1


def _sample_files():
    files = []
    for folder, _, names in os.walk(configs.SAMPLE_DATA):
        for name in sorted(names):
            full = os.path.join(folder, name)
            files.append((full, "flower_photos_sample/" + os.path.relpath(full, configs.SAMPLE_DATA)))
    return sorted(files, key=lambda f: f[1])


def _splits(out_dir):
    return {split: read_split(out_dir, split) for split in SPLITS}


def test_the_sample_as_a_zip_gives_the_examples_of_the_tgz_and_the_folder(tmp_path):
    zipped, tarred = tmp_path / "sample.zip", tmp_path / "sample.tgz"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf, tarfile.open(tarred, "w:gz") as tar:
        for full, name in _sample_files():
            zf.write(full, name)
            tar.add(full, name)
    reports = {kind: run_executor(source, tmp_path / kind)
               for kind, source in (("zip", zipped), ("tgz", tarred), ("folder", configs.SAMPLE_DATA))}
    rows = {kind: _splits(tmp_path / kind) for kind in reports}
    assert rows["zip"] == rows["tgz"] == rows["folder"]  # filenames, labels, bytes, and each photo's split
    assert sum(len(split) for split in rows["zip"].values()) == 400
    assert {name.split("/")[0] for split in rows["zip"].values() for name in split} == {
        "daisy", "dandelion", "roses", "sunflowers", "tulips"}
    for kind, report in reports.items():
        assert (report["files_seen"], report["ingested_total"], report["quarantined"], report["skipped"]) == (
            400, 400, [], []), kind
        assert report["ingested"] == reports["folder"]["ingested"], kind


def _photo(seed):
    return images.jpeg(seed=seed)


@pytest.fixture
def hostile(tmp_path):
    """A macOS-made zip of flower photos, with one member of every hostile kind."""
    path = tmp_path / "flower_photos.zip"
    members = {
        "__MACOSX/": b"", "__MACOSX/._flower_photos": b"\x00\x05\x16\x07",
        f"{ROOT}/": b"", f"{ROOT}/.DS_Store": b"\x00\x00\x00\x01Bud1", "README.txt": b"flower photos\n",
        f"{ROOT}/daisy/": b"", f"{ROOT}/daisy/d0.jpg": _photo(0), f"{ROOT}/daisy/._d0.jpg": b"\x00\x05\x16\x07",
        "__MACOSX/flower_photos/daisy/._d0.jpg": b"\x00\x05\x16\x07",
        f"{ROOT}/daisy/d1.jpg": _photo(1), f"{ROOT}/roses/r0.jpg": _photo(10),
        f"{ROOT}/roses/sub/deeper/r1.jpg": _photo(11),
        f"{ROOT}/notes.jpg": _photo(20),
        f"{ROOT}/daisy/../../escape.jpg": _photo(21),
        "/etc/absolute.jpg": _photo(22),
        f"{ROOT}\\daisy\\backslash.jpg": _photo(23),
        "C:/windows/drive.jpg": _photo(24),
        f"{ROOT}/roses/huge.jpg": _photo(25),
        f"{ROOT}/roses/liar.jpg": _photo(26),
        f"{ROOT}/roses/shrunk.jpg": _photo(27),
        f"{ROOT}/tulips/secret.jpg": _photo(28),
        f"{ROOT}/tulips/flipped.jpg": _photo(29),
        f"{ROOT}/tulips/copy_a.jpg": _photo(30),
        f"{ROOT}/tulips/copy_b.jpg": _photo(31),
    }
    zipfiles.write_zip(path, members)
    zipfiles.add_symlink(path, f"{ROOT}/daisy/link.jpg", "/etc/passwd")
    zipfiles.add_zeros(path, f"{ROOT}/daisy/bomb.jpg", BOMB_BYTES)
    zipfiles.patch_entry(path, f"{ROOT}/roses/huge.jpg", size=features.MAX_FILE_BYTES + 1)
    zipfiles.patch_entry(path, f"{ROOT}/roses/liar.jpg", size=100)  # inflates to thousands
    zipfiles.patch_entry(path, f"{ROOT}/roses/shrunk.jpg", size=len(_photo(27)) + 1)  # one byte short
    zipfiles.patch_entry(path, f"{ROOT}/tulips/secret.jpg", flags=1)
    zipfiles.patch_entry(path, f"{ROOT}/tulips/flipped.jpg", crc=12345)
    zipfiles.repoint_entry(path, f"{ROOT}/tulips/copy_b.jpg", like=f"{ROOT}/tulips/copy_a.jpg")
    return path


UNSAFE = "unsafe path in archive (absolute, with '..' or a backslash): not read"
LIAR = "damaged or crafted zip member: it inflates past the 100 bytes its directory entry declares; not read further"
OVERLAP = "its data overlaps another member's or the central directory (how zip bombs are built): not read"


def _expected_quarantine():
    return {
        f"{ROOT}/notes.jpg": "not in a class folder (expected <root>/<class>/<file>)",
        f"{ROOT}/daisy/../../escape.jpg": UNSAFE,
        "/etc/absolute.jpg": UNSAFE,
        f"{ROOT}\\daisy\\backslash.jpg": UNSAFE,
        "C:/windows/drive.jpg": UNSAFE,
        f"{ROOT}/daisy/link.jpg": "symbolic link: not followed (it could point outside the data root)",
        f"{ROOT}/roses/huge.jpg": "file too large: 20000001 bytes, above the 20000000-byte limit; not read",
        f"{ROOT}/roses/liar.jpg": LIAR,
        f"{ROOT}/roses/shrunk.jpg": (f"damaged zip member: it holds {len(_photo(27))} bytes, not the "
                                     f"{len(_photo(27)) + 1} its directory entry declares"),
        f"{ROOT}/tulips/secret.jpg": "encrypted (a password-protected zip member): not read",
        f"{ROOT}/tulips/flipped.jpg": (
            "damaged zip member: CRC check failed (its bytes are not those it was zipped with)"),
        f"{ROOT}/tulips/copy_a.jpg": OVERLAP,
        f"{ROOT}/tulips/copy_b.jpg": OVERLAP,
    }


def _bomb_reason(path):
    with zipfile.ZipFile(path) as zf:
        compressed = zf.getinfo(f"{ROOT}/daisy/bomb.jpg").compress_size
    return (f"zip bomb: {compressed} compressed bytes declare {BOMB_BYTES} ({BOMB_BYTES // compressed}:1, above "
            "the 100:1 limit for a zip member): not read")


SKIPPED = ["README.txt", "__MACOSX/._flower_photos", "__MACOSX/flower_photos/daisy/._d0.jpg",
           f"{ROOT}/.DS_Store", f"{ROOT}/daisy/._d0.jpg"]


def test_a_hostile_macos_zip_keeps_its_root_and_reports_every_member(hostile, tmp_path):
    assert archives.archive_root(str(hostile)) == ROOT  # __MACOSX/, README.txt and unsafe names do not count
    report = run_executor(hostile, tmp_path / "out")
    expected = _expected_quarantine()
    expected[f"{ROOT}/daisy/bomb.jpg"] = _bomb_reason(hostile)
    assert {q["path"]: q["reason"] for q in report["quarantined"]} == expected
    assert sorted(s["path"] for s in report["skipped"]) == SKIPPED
    rows = {name: row for split in SPLITS for name, row in read_split(tmp_path / "out", split).items()}
    assert sorted(rows) == ["daisy/d0.jpg", "daisy/d1.jpg", "roses/r0.jpg", "roses/sub/deeper/r1.jpg"]
    assert rows["roses/sub/deeper/r1.jpg"] == (features.TF_FLOWERS_CLASSES.index("roses"), _photo(11))
    assert report["ingested_total"] == 4 and len(expected) == 14 and len(SKIPPED) == 5
    assert report["files_seen"] == 23 == report["ingested_total"] + len(expected) + len(SKIPPED)


def test_no_member_is_inflated_past_its_declared_size(tmp_path):
    """A member declaring 1000 bytes over 50 MB of deflated zeros (whose ratio looks honest)
    is stopped at 1001 bytes; the bomb and the oversized member are never inflated at all."""
    path = tmp_path / "bombs.zip"
    zipfiles.write_zip(path, {f"{ROOT}/daisy/d0.jpg": _photo(0), f"{ROOT}/roses/r0.jpg": _photo(1)})
    zipfiles.add_zeros(path, f"{ROOT}/roses/liar.jpg", 50_000_000)
    zipfiles.add_zeros(path, f"{ROOT}/roses/bomb.jpg", 19_000_000)
    zipfiles.add_zeros(path, f"{ROOT}/roses/huge.jpg", 30_000_000)
    zipfiles.patch_entry(path, f"{ROOT}/roses/liar.jpg", size=1000)
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    started = time.process_time()
    read = list(archives.iter_archive(str(path), ROOT, with_bytes=True))
    cpu = time.process_time() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 3_000_000 and cpu < 5  # a 1 MiB chunk of compressed input at most, never 50 MB out
    reasons = {e.path.rsplit("/", 1)[1]: e.reason for e, _ in read if e.verdict == QUARANTINED}
    assert reasons["liar.jpg"] == LIAR.replace("100 bytes", "1000 bytes")
    assert reasons["bomb.jpg"].startswith("zip bomb: ") and reasons["huge.jpg"].startswith("file too large: 30000000")
    assert sorted(e.filename for e, data in read if data is not None) == ["daisy/d0.jpg", "roses/r0.jpg"]


NOT_A_ZIP = "not a zip archive, or a truncated one (no end of central directory record)"


@pytest.mark.parametrize("damage", ["truncated", "not_a_zip", "bad_directory"])
def test_a_damaged_zip_is_one_sentence(tmp_path, damage):
    path = tmp_path / "photos.zip"
    zipfiles.write_zip(path, {f"{ROOT}/daisy/d{i}.jpg": _photo(i) for i in range(3)})
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not_a_zip":
        path.write_bytes(b"these are not photos\n" * 100)
    else:
        at = data.rfind(b"PK\x01\x02")
        path.write_bytes(data[:at] + b"XX" + data[at + 2:])
    expected = "damaged zip (central directory entry 3 is not one)" if damage == "bad_directory" else NOT_A_ZIP
    with pytest.raises(tar_stream.ArchiveError) as err:
        sources.list_entries(str(path))
    assert str(err.value) == expected


def test_the_directory_is_bounded_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "many.zip"
    zipfiles.write_zip(path, {f"{ROOT}/daisy/{i:05d}.jpg": b"" for i in range(3000)})
    monkeypatch.setattr(features, "MAX_ZIP_ENTRIES", 2999)
    with pytest.raises(tar_stream.ArchiveError, match=r"^zip of 3000 entries, above the 2999-entry limit"):
        sources.list_entries(str(path))
    monkeypatch.setattr(features, "MAX_ZIP_ENTRIES", 3000)
    assert len(sources.list_entries(str(path))) == 3000
    monkeypatch.setattr(features, "MAX_ZIP_DIRECTORY_BYTES", 100_000)
    with pytest.raises(tar_stream.ArchiveError, match=r"^zip central directory of \d+ bytes, above the 100000-byte"):
        sources.list_entries(str(path))


def test_the_command_line_refuses_a_truncated_zip_in_one_sentence(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "photos.zip"
    zipfiles.write_zip(path, {f"{ROOT}/daisy/d{i}.jpg": _photo(i) for i in range(3)})
    path.write_bytes(path.read_bytes()[:-30])
    result = subprocess.run([sys.executable, "-m", "pipeline", "ingest", "--data", str(path), "--output",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"flowers ingest: --data {path}: cannot be read as an archive ({NOT_A_ZIP}); accepted: a folder of class "
        "folders (<root>/<class>/<image file>), a .tgz, .tar.gz, .tar or .zip of one, or tfds:tf_flowers.\n")


def test_the_fingerprint_of_a_zip_follows_its_bytes(tmp_path):
    path = tmp_path / "photos.zip"
    zipfiles.write_zip(path, {f"{ROOT}/daisy/d0.jpg": _photo(0)}, method=zipfile.ZIP_STORED)
    first = data_fingerprint.data_fingerprint(str(path))
    assert data_fingerprint.data_fingerprint(str(path)) == first
    size, stamp = path.stat().st_size, path.stat().st_mtime_ns
    zipfiles.write_zip(path, {f"{ROOT}/daisy/d0.jpg": _photo(1)[: len(_photo(0))].ljust(len(_photo(0)), b"\0")},
                       method=zipfile.ZIP_STORED)
    os.utime(path, ns=(stamp, stamp))  # same size, same time: only the bytes differ
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (size, stamp)
    assert data_fingerprint.data_fingerprint(str(path)) != first
