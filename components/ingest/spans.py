"""Nightly spans: `<root>/span-<N>/<class>/<file>`, one span ingested per run.

A folder whose entries are all `span-<N>` folders is a span root. ExampleGen's
input pattern is then `span-{SPAN}/*`: TFX's driver resolves the newest span,
and its number and fingerprint are recorded in ML Metadata with the examples
artifact. Only that span's folder is read; the earlier spans' examples are
earlier artifacts, which the Trainer's window resolves from ML Metadata.

Every examples artifact holds a small sidecar, `content_sha256.jsonl`: the
SHA-256, `filename`, size in bytes and label of each photo it wrote (about 130
bytes a photo). A photo that reappears byte-identical in a later span is found
against the accepted earlier spans' sidecars, never by reading their photos
again; the drift gate reads its labels and sizes from there.

In a span's examples, `filename` is `span-<N>/<class>/<file>`, unique across
spans; the split is still the hash of `<class>/<file>`, so a photo keeps its
split whichever span it arrives in. A flat folder, an archive and `tfds:` are
one span, span 0, with `filename` `<class>/<file>` as before.
"""

from __future__ import annotations

import json
import os
import posixpath
import re

from components import uris

SPAN_PREFIX = "span-"
SPAN_PATTERN = SPAN_PREFIX + "{SPAN}/*"
HASHES_FILE = "content_sha256.jsonl"
_SPAN_DIR = re.compile(r"^span-(\d+)$")


def _listdir(root: str) -> list[tuple[str, bool]]:
    """(name, is a folder) for each entry of `root`; [] when it is not a folder."""
    if uris.is_remote(root):
        import tensorflow as tf

        if not tf.io.gfile.isdir(root):
            return []
        return [(n.rstrip("/"), tf.io.gfile.isdir(posixpath.join(root, n))) for n in tf.io.gfile.listdir(root)]
    if not os.path.isdir(root) or os.path.islink(root):
        return []
    try:
        names = os.listdir(root)
    except OSError:
        return []
    return [(n, os.path.isdir(os.path.join(root, n)) and not os.path.islink(os.path.join(root, n))) for n in names]


def span_folders(root: str) -> list[tuple[int, str]]:
    """[(span number, folder name)] sorted by span, when `root` is a span root; else [].

    A span root holds at least one `span-<N>` folder and, hidden entries aside,
    nothing else.
    """
    found = []
    for name, is_dir in _listdir(root):
        if name.startswith("."):
            continue
        match = _SPAN_DIR.match(name)
        if not (match and is_dir):
            return []
        found.append((int(match.group(1)), name))
    return sorted(found)


def is_span_root(source: str) -> bool:
    return bool(span_folders(source))


def span_source(root: str, span: int) -> str:
    """The folder of span `span` below a span root."""
    for number, name in span_folders(root):
        if number == span:
            return uris.join(root, name)
    raise FileNotFoundError(f"span {span} not found under {root}")


def filename_prefix(root: str, span: int) -> str:
    """What a span's examples put before `<class>/<file>`: `span-<N>/` as the folder is named."""
    return os.path.basename(span_source(root, span).rstrip("/")) + "/"


def _earlier_sidecar_patterns(examples_uri: str) -> list[str]:
    """Where the sidecars of this pipeline's other ExampleGen runs are, on KFP v2 / Vertex only.

    There the step has no ML Metadata to ask which spans were accepted (see
    `earlier_hashes`). LocalDagRunner: `<root>/FileBasedExampleGen/examples/<execution id>/`;
    Vertex (and its dry run): `<root>/<job id>/FileBasedExampleGen.../examples/`.
    """
    uri = examples_uri.rstrip("/")
    parent, leaf = posixpath.split(uri)
    job_dir, task = posixpath.split(parent)
    root = posixpath.dirname(job_dir)
    return [
        posixpath.join(parent, "*", HASHES_FILE),
        posixpath.join(root, "*", task, leaf, HASHES_FILE),
    ]


def read_rows(examples_uri: str) -> list[dict]:
    """The sidecar's rows of one examples artifact ([] when it has none)."""
    import tensorflow as tf

    path = posixpath.join(examples_uri.rstrip("/"), HASHES_FILE)
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def earlier_hashes(examples_uri: str, span: int, accepted_uris: list[str] | None = None) -> dict[str, str]:
    """sha256 -> `filename` of every photo kept in an earlier span of this pipeline.

    `accepted_uris`: the newest examples artifact of each accepted span below
    `span`, which ExampleGen's driver reads from ML Metadata (`components.lineage`)
    and puts into the step's settings, so they are in its cache key. Without
    them (a KFP v2 spec, whose pre-cache hook has no metadata store), every
    sidecar of the pipeline root is read, rejected spans' included.
    """
    import tensorflow as tf

    if accepted_uris is not None:
        paths = {posixpath.join(u.rstrip("/"), HASHES_FILE) for u in accepted_uris}
    else:
        own = posixpath.join(examples_uri.rstrip("/"), HASHES_FILE)
        paths = set()
        for pattern in _earlier_sidecar_patterns(examples_uri):
            paths.update(p for p in tf.io.gfile.glob(pattern) if p != own)
    result: dict[str, str] = {}
    for path in sorted(paths):
        for row in read_rows(posixpath.dirname(path)):
            if row["span"] < span:
                result.setdefault(row["sha256"], row["filename"])
    return result


def write_hashes(examples_uri: str, span: int, kept: list[tuple]) -> None:
    """The sidecar: one `{"span", "sha256", "filename", "bytes", "label"}` line per photo written."""
    import tensorflow as tf

    with tf.io.gfile.GFile(posixpath.join(examples_uri, HASHES_FILE), "w") as f:
        for digest, filename, size, label in sorted(kept):
            row = {"span": span, "sha256": digest, "filename": filename, "bytes": size, "label": label}
            f.write(json.dumps(row) + "\n")
