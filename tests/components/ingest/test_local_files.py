"""A folder file is read through its own descriptor: a symbolic link, a FIFO or a
linked folder swapped in after the listing is quarantined, never followed or waited on."""

import os

import pytest

from components import features
from components.ingest import sources
from components.ingest.sources import local_files
from components.ingest.sources.entry import QUARANTINED, link
from tests.helpers import imagefiles as images


@pytest.fixture
def listed(tmp_path):
    root = tmp_path / "photos"
    for rel in ("daisy/a.jpg", "daisy/b.jpg", "roses/deep/c.jpg", "roses/r.jpg"):
        os.makedirs(root / os.path.dirname(rel), exist_ok=True)
        (root / rel).write_bytes(images.jpeg(seed=len(rel)))
    (tmp_path / "secret.jpg").write_bytes(images.jpeg(seed=99))
    return root, {e.path: e for e in sources.iter_folder(str(root))}


def test_files_swapped_after_listing_are_quarantined_unread(listed, tmp_path):
    root, entries = listed
    secret = tmp_path / "secret.jpg"
    os.remove(root / "daisy" / "a.jpg")
    os.symlink(secret, root / "daisy" / "a.jpg")  # a link in place of a listed photo
    os.remove(root / "daisy" / "b.jpg")
    os.mkfifo(root / "daisy" / "b.jpg")  # a FIFO: a plain open would wait for a writer forever
    os.rename(root / "roses" / "deep", tmp_path / "deep")
    os.symlink(tmp_path / "deep", root / "roses" / "deep")  # a linked folder above a listed photo
    read = {path: sources.read_folder_item(str(root), entry) for path, entry in entries.items()}
    reasons = {path: e.reason for path, (e, data) in read.items() if e.verdict == QUARANTINED}
    assert reasons == {
        "daisy/a.jpg": link("daisy/a.jpg").reason,
        "daisy/b.jpg": "not a regular file (a FIFO): not read",
        "roses/deep/c.jpg": link("roses/deep/c.jpg").reason,
    }
    assert all(data is None for path, (_, data) in read.items() if path in reasons)
    assert read["roses/r.jpg"][1] == images.jpeg(seed=len("roses/r.jpg"))
    assert len(read) == 4


def test_size_is_measured_on_the_open_file_and_reads_stop_at_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    with open(path, "wb") as f:  # sparse: nothing is stored
        f.truncate(features.MAX_FILE_BYTES + 1)
    with pytest.raises(local_files.RefusedFileError) as err:
        local_files.read_file(str(path), features.MAX_FILE_BYTES)
    assert str(err.value) == "file too large: 20000001 bytes, above the 20000000-byte limit; not read"
    with pytest.raises(local_files.RefusedFileError, match=r"^not a regular file \(a character device\): not read$"):
        local_files.read_file("/dev/zero", features.MAX_FILE_BYTES)
    with pytest.raises(local_files.RefusedFileError, match=r"^not readable: No such file or directory$"):
        local_files.read_file(str(tmp_path / "gone.jpg"), features.MAX_FILE_BYTES)

    sizes = []  # a file that grows after it was measured: read up to limit + 1 bytes, then refused
    real_read = os.read
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((0o100644, 0, 0, 1, 0, 0, 10, 0, 0, 0)))
    monkeypatch.setattr(os, "read", lambda fd, n: sizes.append(n) or real_read(fd, n))
    with pytest.raises(local_files.RefusedFileError, match="file too large: 20000001 bytes"):
        local_files.read_file(str(path), features.MAX_FILE_BYTES)
    assert sum(sizes) == features.MAX_FILE_BYTES + 1
