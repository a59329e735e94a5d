"""What TFX's cache keys on for our two inputs from outside: the photos and the schema.

TFX reuses a step's earlier output when the step's inputs and settings are
unchanged. Two inputs come from outside the pipeline, so their fingerprints go
into the settings, computed by a driver where the step runs (locally, or in the
container on Vertex), never where a spec is compiled:

- the data: every file under a folder, whatever its depth; the archive file
  for a `.tgz`, and for a `.zip` its central directory too (every member's
  name, sizes and CRC, so a changed photo changes it even at the same file size
  and time); the prepared files of a `tfds:` dataset;
- the curated schema: the file's content.

A file's fingerprint is its path below the root, size and modification time in
nanoseconds, as TFX's own file fingerprints use size and time; the schema, a few
kilobytes, is fingerprinted by its content.
"""

from __future__ import annotations

import hashlib
import os
import posixpath

import tensorflow as tf

from components import uris
from components.ingest import sources
from components.ingest.sources import zip_reader

FINGERPRINT_FORMAT = "sha256:{}"


def _stat_line(path: str, name: str) -> str:
    if uris.is_remote(path):
        stat = tf.io.gfile.stat(path)
        size, mtime_ns = stat.length, stat.mtime_nsec
    else:  # never follows a symbolic link (ingestion quarantines links unread)
        stat = os.lstat(path)
        size, mtime_ns = stat.st_size, stat.st_mtime_ns
    return f"{name}\t{size}\t{mtime_ns}\n"


def _walk(root: str, onerror):
    if uris.is_remote(root):
        return tf.io.gfile.walk(root, onerror=onerror)
    return os.walk(root, onerror=onerror)


def tree_fingerprint(root: str) -> str:
    """sha256 over (relative path, size, mtime) of every file below `root`, at any depth.

    A folder or file that cannot be listed or read is part of the fingerprint by
    name (ingestion reports it), so it neither hides nor fails the step.
    """
    if not tf.io.gfile.isdir(root):
        raise FileNotFoundError(f"data folder {root} does not exist or is not a folder")
    lines = []
    for folder, _, files in _walk(root, lambda err: lines.append(f"unlisted\t{err}\n")):
        for name in files:
            path = posixpath.join(folder, name)
            relative = posixpath.relpath(path, root)
            try:
                lines.append(_stat_line(path, relative))
            except (tf.errors.OpError, OSError) as err:
                lines.append(f"{relative}\tunreadable\t{type(err).__name__}\n")
    digest = hashlib.sha256()
    for line in sorted(lines):
        digest.update(line.encode("utf-8", "surrogateescape"))
    return FINGERPRINT_FORMAT.format(digest.hexdigest())


def file_fingerprint(path: str) -> str:
    """sha256 of a (small) file's content."""
    with tf.io.gfile.GFile(path, "rb") as f:
        return FINGERPRINT_FORMAT.format(hashlib.sha256(f.read()).hexdigest())


def _tfds_fingerprint(name: str, data_dir: str | None) -> str:
    """The prepared files of a TFDS dataset (prepared first, where the step runs)."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir or None)
    builder.download_and_prepare()
    return f"{name}:{builder.version}:" + tree_fingerprint(str(builder.data_dir))


def _zip_directory(path: str) -> bytes:
    """The zip's central directory (bounded by `features.MAX_ZIP_DIRECTORY_BYTES`),
    or a word for one that cannot be read (ingestion reports why)."""
    with tf.io.gfile.GFile(path, "rb") as f:
        try:
            return zip_reader.directory_bytes(f)
        except (OSError, ValueError) as err:
            return f"unreadable zip\t{err}".encode()


def data_fingerprint(source: str, tfds_data_dir: str | None = None) -> str:
    """The fingerprint of everything ExampleGen reads from `source`."""
    if sources.is_tfds(source):
        return _tfds_fingerprint(source[len(sources.TFDS_PREFIX) :], tfds_data_dir)
    if sources.is_archive(source):
        if not tf.io.gfile.exists(source):
            raise FileNotFoundError(f"archive {source} does not exist")
        digest = hashlib.sha256(_stat_line(source, source).encode())
        if zip_reader.is_zip(source):
            digest.update(_zip_directory(source))
        return FINGERPRINT_FORMAT.format(digest.hexdigest())
    return tree_fingerprint(source)
