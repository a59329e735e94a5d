import io
import os
import tarfile

import pytest

from components import features
from components.ingest import sources
from components.ingest.sources import archives
from components.ingest.sources.entry import QUARANTINED, SKIPPED
from tests.helpers import imagefiles as images


def _write(path, data: bytes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


@pytest.fixture
def messy_folder(tmp_path):
    root = tmp_path / "photos"
    _write(root / "daisy" / "a.jpg", images.jpeg(seed=1))
    _write(root / "daisy" / "nested" / "b.jpg", images.jpeg(seed=2))
    _write(root / "roses" / "c.JPG", images.jpeg(seed=3))
    _write(root / "roses" / ".DS_Store", b"\x00\x01")
    _write(root / "LICENSE.txt", b"credits\n")
    _write(root / "stray.jpg", images.jpeg(seed=4))
    _write(root / ".hidden" / "d.jpg", images.jpeg(seed=5))
    os.makedirs(root / "empty_class")
    outside = tmp_path / "secret.jpg"
    _write(outside, images.jpeg(seed=6))
    os.symlink(outside, root / "daisy" / "link.jpg")
    os.symlink(tmp_path, root / "roses" / "loop")
    return str(root)


def test_folder_rules(messy_folder):
    entries = {e.path: e for e in sources.iter_folder(messy_folder)}
    assert entries["daisy/a.jpg"].filename == "daisy/a.jpg" and entries["daisy/a.jpg"].verdict is None
    assert entries["daisy/nested/b.jpg"].class_name == "daisy"
    assert entries["roses/c.JPG"].filename == "roses/c.JPG"
    assert entries["roses/.DS_Store"].verdict == SKIPPED
    assert entries["LICENSE.txt"].verdict == SKIPPED
    assert entries[".hidden/d.jpg"].verdict == SKIPPED
    assert entries["stray.jpg"].verdict == QUARANTINED
    assert "not in a class folder" in entries["stray.jpg"].reason
    for link in ("daisy/link.jpg", "roses/loop"):
        assert entries[link].verdict == QUARANTINED
        assert entries[link].reason.startswith("symbolic link")
    assert len(entries) == 9  # the link's target and the looped folder are never read
    assert sources.class_folders(list(entries.values())) == ["daisy", "roses"]


def _add(tar, name, data=b"", kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = linkname
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def test_archive_rules(tmp_path):
    path = str(tmp_path / "photos.tgz")
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "flower_photos/", kind=tarfile.DIRTYPE)
        _add(tar, "flower_photos/LICENSE.txt", b"credits")
        _add(tar, "flower_photos/tulips/t.jpg", images.jpeg())
        _add(tar, "flower_photos/tulips/../../escape.jpg", images.jpeg())
        _add(tar, "/etc/passwd.jpg", images.jpeg())
        _add(tar, "flower_photos/tulips/link.jpg", kind=tarfile.SYMTYPE, linkname="/etc/passwd")
    assert archives.archive_root(path) == "flower_photos"  # unsafe names are not a root
    entries = {e.path: (e, data) for e, data in archives.iter_archive(path, "flower_photos", with_bytes=True)}
    entry, data = entries["flower_photos/tulips/t.jpg"]
    assert entry.filename == "tulips/t.jpg" and data == images.jpeg()
    assert entries["flower_photos/LICENSE.txt"][0].verdict == SKIPPED
    for unsafe in ("flower_photos/tulips/../../escape.jpg", "/etc/passwd.jpg"):
        assert entries[unsafe][0].verdict == QUARANTINED
        assert entries[unsafe][0].reason.startswith("unsafe path")
        assert entries[unsafe][1] is None
    assert entries["flower_photos/tulips/link.jpg"][0].reason.startswith("symbolic link")
    assert len(entries) == 5


def test_archive_root_is_found(tmp_path):
    path = str(tmp_path / "p.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "./flower_photos/daisy/x.jpg", images.jpeg())
    assert archives.archive_root(path) == "flower_photos"
    [(entry, _)] = list(archives.iter_archive(path, "flower_photos"))
    assert entry.filename == "daisy/x.jpg"


def test_archive_root_ignores_hidden_and_metadata_entries(tmp_path):
    path = str(tmp_path / "mac.tgz")
    with tarfile.open(path, "w:gz") as tar:
        for name in ("._flower_photos", ".DS_Store", "README.md", "LICENSE", "Thumbs.db"):
            _add(tar, name, b"meta")
        _add(tar, "__MACOSX/flower_photos/daisy/._x.jpg", b"fork")
        _add(tar, "flower_photos/daisy/x.jpg", images.jpeg())
    assert archives.archive_root(path) == "flower_photos"
    entries = {e.path: e for e, _ in archives.iter_archive(path, "flower_photos")}
    assert entries["flower_photos/daisy/x.jpg"].filename == "daisy/x.jpg"
    assert [p for p, e in entries.items() if e.verdict == SKIPPED] == [
        "._flower_photos", ".DS_Store", "README.md", "LICENSE", "Thumbs.db", "__MACOSX/flower_photos/daisy/._x.jpg"
    ]


def test_a_broken_archive_is_one_quarantined_entry_not_a_crash(tmp_path):
    path = tmp_path / "photos.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for i in range(3):
            _add(tar, f"flower_photos/daisy/d{i}.jpg", images.photo(300, 300, seed=i).tobytes())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # in the middle of the second photo
    read = list(archives.iter_archive(str(path), "flower_photos", with_bytes=True))
    *good, (broken, blob) = read
    assert [e.filename for e, _ in good] == ["daisy/d0.jpg"]
    assert broken.path == "flower_photos/daisy/d1.jpg" and broken.verdict == QUARANTINED and blob is None
    assert broken.reason.startswith("not readable: the archive breaks here")


def test_remote_files_are_measured_before_they_are_read(monkeypatch):
    import tensorflow as tf


    root = "ram://sizes_test"
    photo = images.jpeg()
    for name, data in {"daisy/a.jpg": photo, "daisy/big.jpg": b"x" * (len(photo) + 1)}.items():
        tf.io.gfile.makedirs(f"{root}/daisy")
        with tf.io.gfile.GFile(f"{root}/{name}", "wb") as f:
            f.write(data)
    monkeypatch.setattr(features, "MAX_FILE_BYTES", len(photo))
    read = {entry.path: (entry, data) for entry, data in sources.iter_with_bytes(root)}
    assert read["daisy/a.jpg"][1] == photo
    big, data = read["daisy/big.jpg"]
    assert data is None
    assert big.reason == f"file too large: {len(photo) + 1} bytes, above the {len(photo)}-byte limit; not read"
