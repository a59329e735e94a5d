"""Local paths and remote URIs: the one test that tells them apart.

A remote URI (`gs://`, `s3://`, `hdfs://`, TensorFlow's `ram://`) is read
through `tf.io.gfile`; a local path through `os`, which lets ingestion refuse
links and special files before it reads a byte.
"""

from __future__ import annotations

import os
import posixpath


def is_remote(path: str) -> bool:
    """True for a URI with a scheme (`gs://bucket/x`), False for a local path."""
    return "://" in path


def join(root: str, *names: str) -> str:
    """`root/names...` with `/` for a URI and the local separator for a path."""
    return posixpath.join(root, *names) if is_remote(root) else os.path.join(root, *names)
