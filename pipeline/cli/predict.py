"""Classify image files with a pushed serving model, one JSON line per file."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

from components import features
from components.ingest import image_check
from components.ingest.sources import local_files
from components.ingest.sources.entry import LINK_REASON, too_large_reason
from pipeline import paths
from pipeline.cli.console import Console


def read_image(path: str) -> bytes:
    """A file's bytes within ingestion's size limit, or RefusedFileError with the
    reason. A local file is opened as ingestion opens one (`local_files`: no
    link followed, a regular file only, so `/dev/zero` or a FIFO is refused, not
    read forever); a remote one is measured before it is read."""
    if "://" not in path:
        try:
            return local_files.read_file(path, features.MAX_FILE_BYTES)
        except local_files.RefusedFileError as err:
            if str(err) == LINK_REASON:
                raise local_files.RefusedFileError("symbolic link: not followed (name the file it points to)") from None
            raise
    size = tf.io.gfile.stat(path).length
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read(features.MAX_FILE_BYTES + 1) if size <= features.MAX_FILE_BYTES else b""
    if size > features.MAX_FILE_BYTES or len(data) > features.MAX_FILE_BYTES:
        raise local_files.RefusedFileError(too_large_reason(max(size, len(data))))
    return data


def predict_files(model_path: str, files: list[str]) -> Iterator[dict[str, Any]]:
    """Each file through `serving_images`; a bad file gives an `error` line."""
    model_dir = paths.resolve_model_dir(model_path)
    model = tf.saved_model.load(model_dir)
    if "serving_images" not in model.signatures:
        from pipeline.cli.validate import UsageError

        raise UsageError(f"--model {model_path}: the SavedModel {model_dir} has no serving_images signature "
                         f"(it has: {', '.join(sorted(model.signatures)) or 'none'}); accepted: a model pushed "
                         "by flowers run.")
    serve = model.signatures["serving_images"]
    for path in files:
        try:
            out = serve(image_bytes=tf.constant([read_image(path)]))
        except local_files.RefusedFileError as err:
            yield {"file": path, "error": str(err)}
            continue
        except (OSError, tf.errors.OpError) as err:
            message = getattr(err, "message", None) or str(err)
            yield {"file": path, "error": image_check.clean_tf_message(message)}
            continue
        probabilities = out["probabilities"].numpy()[0]
        names = [n.decode() for n in out["labels"].numpy()[0]]
        best = int(probabilities.argmax())
        yield {
            "file": path,
            "label": names[best],
            "score": round(float(probabilities[best]), 4),
            "probabilities": {n: round(float(p), 4) for n, p in zip(names, probabilities, strict=False)},
        }


def main(args: argparse.Namespace, console: Console) -> int:
    """One JSON line per file; exit 1 when any file failed."""
    failed = 0
    for line in predict_files(args.model, args.files):
        failed += "error" in line
        console.line(json.dumps(line))
    if failed:
        console.error(f"flowers predict: {failed} of {len(args.files)} files failed (see their error lines).")
    return 1 if failed else 0
