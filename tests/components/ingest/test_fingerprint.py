"""The data fingerprint: every file at any depth, never through a link, and a TFDS
dataset's prepared files rather than the working directory."""

import os

import pytest
from tensorflow_datasets.testing import test_utils as tfds_test_utils

from components.ingest import data_fingerprint


class FingerprintProbe(tfds_test_utils.DummyDataset):
    """A three-example TFDS dataset, registered as `fingerprint_probe`, prepared offline."""


def test_every_file_at_any_depth_counts(tmp_path):
    deep = tmp_path / "daisy" / "a" / "b" / "c" / "photo.jpg"
    deep.parent.mkdir(parents=True)
    deep.write_bytes(b"12345")
    (tmp_path / "daisy" / "top.jpg").write_bytes(b"1")
    first = data_fingerprint.tree_fingerprint(str(tmp_path))
    assert first == data_fingerprint.tree_fingerprint(str(tmp_path))
    deep.write_bytes(b"123456")
    assert data_fingerprint.tree_fingerprint(str(tmp_path)) != first
    os.symlink(tmp_path, tmp_path / "daisy" / "loop")  # a link to the root is listed, never followed
    assert data_fingerprint.tree_fingerprint(str(tmp_path)) != first
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        data_fingerprint.data_fingerprint(str(tmp_path / "no_such_folder"))


def test_an_archive_is_fingerprinted_by_the_file_itself(tmp_path):
    archive = tmp_path / "photos.tgz"
    archive.write_bytes(b"x" * 10)
    first = data_fingerprint.data_fingerprint(str(archive))
    archive.write_bytes(b"x" * 11)
    assert data_fingerprint.data_fingerprint(str(archive)) != first


def test_tfds_fingerprints_the_prepared_dataset_not_the_working_directory(tmp_path, monkeypatch):
    data_dir = tmp_path / "tfds"
    monkeypatch.chdir(tmp_path)
    first = data_fingerprint.data_fingerprint("tfds:fingerprint_probe", str(data_dir))
    prepared = data_dir / "fingerprint_probe" / "1.0.0"
    assert first == "fingerprint_probe:1.0.0:" + data_fingerprint.tree_fingerprint(str(prepared))
    (tmp_path / "unrelated.txt").write_text("the working directory is not the data")
    assert data_fingerprint.data_fingerprint("tfds:fingerprint_probe", str(data_dir)) == first
    record = next(p for p in prepared.iterdir() if "tfrecord" in p.name)
    record.write_bytes(record.read_bytes() + b"\0")
    assert data_fingerprint.data_fingerprint("tfds:fingerprint_probe", str(data_dir)) != first
