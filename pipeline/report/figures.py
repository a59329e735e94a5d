"""The report's pictures, as data: URIs: augmentation preview, curves, confusion matrix, mistakes.

The confusion matrix and the misclassified photos come from the Trainer's
serving model (`Format-Serving`, signature `serving_images`) run on the test
split exactly as ExampleGen wrote it (raw image bytes, label, filename), so they
show what a client of the pushed model would get.
"""

from __future__ import annotations

import base64
import io
import itertools
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from components import features

MAX_MISCLASSIFIED = 48
# Test examples the report scores (confusion matrix, mistakes); a larger split is counted beyond them.
MAX_SCORED = 2000
THUMBNAIL = 128


def data_uri(blob: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(blob).decode('ascii')}"


def png_file(path: str) -> str | None:
    if not path or not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "rb") as f:
        return data_uri(f.read(), "image/png")


def iter_split(examples_uri: str, split: str) -> Iterator[dict[str, Any]]:
    """ExampleGen's records of one split, one at a time: image bytes, label, filename."""
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*")))
    for raw in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        feature = tf.train.Example.FromString(raw.numpy()).features.feature
        yield {
            "image": feature[features.IMAGE_KEY].bytes_list.value[0],
            "label": int(feature[features.LABEL_KEY].int64_list.value[0]),
            "filename": feature[features.FILENAME_KEY].bytes_list.value[0].decode("utf-8", "replace"),
        }


def read_split(examples_uri: str, split: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The first `limit` records of one split (all of them when None)."""
    return list(itertools.islice(iter_split(examples_uri, split), limit))


def preview_tiles(encoded: bytes, spec: str, seed: int) -> list[str]:
    """Nine augmented copies of one photo, each its own PNG (the `flowers preview` grid, cut up)."""
    from components.trainer.augment import preview

    gap = 4
    size = features.IMAGE_SIZE
    grid = preview.augmentation_grid(encoded, spec, seed, rows=3, gap=gap).numpy()
    tiles = []
    for row in range(3):
        for col in range(3):
            tile = grid[row * (size + gap): row * (size + gap) + size, col * (size + gap): col * (size + gap) + size]
            tiles.append(data_uri(tf.io.encode_png(tile).numpy(), "image/png"))
    return tiles


def _thumbnail(encoded: bytes) -> str:
    from PIL import Image

    image = Image.open(io.BytesIO(encoded)).convert("RGB")
    image.thumbnail((THUMBNAIL, THUMBNAIL))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return data_uri(out.getvalue(), "image/jpeg")


def test_predictions(model_uri: str, examples_uri: str, class_names: list[str], batch: int = 32) -> dict[str, Any]:
    """Confusion matrix (rows: true class, columns: predicted) and the misclassified photos."""
    serve = tf.saved_model.load(os.path.join(model_uri, "Format-Serving")).signatures["serving_images"]
    return score_records(serve, iter_split(examples_uri, "test"), class_names, batch)


def score_records(serve, records: Iterable[dict[str, Any]], class_names: list[str], batch: int = 32,
                  limit: int = MAX_SCORED) -> dict[str, Any]:
    """The first `limit` records through `serve`, a batch at a time; the rest are only counted.

    Memory holds one batch and the thumbnails of the first MAX_MISCLASSIFIED mistakes, whatever the split's size.
    """
    matrix = np.zeros((len(class_names), len(class_names)), dtype=int)
    misclassified: list[dict[str, Any]] = []
    counts = {"seen": 0, "wrong": 0}

    def score(chunk: list[dict[str, Any]]) -> None:
        out = serve(image_bytes=tf.constant([r["image"] for r in chunk]))
        names = [n.decode() for n in out["labels"].numpy()[0]]
        for record, probabilities in zip(chunk, out["probabilities"].numpy(), strict=True):
            predicted = class_names.index(names[int(probabilities.argmax())])
            matrix[record["label"], predicted] += 1
            if predicted == record["label"]:
                continue
            counts["wrong"] += 1
            if len(misclassified) < MAX_MISCLASSIFIED:
                misclassified.append({"image": _thumbnail(record["image"]), "filename": record["filename"],
                                      "true": class_names[record["label"]], "predicted": class_names[predicted],
                                      "score": round(float(probabilities.max()), 3)})

    chunk: list[dict[str, Any]] = []
    for record in records:
        counts["seen"] += 1
        if counts["seen"] > limit:
            continue  # counted, never kept
        chunk.append(record)
        if len(chunk) == batch:
            score(chunk)
            chunk = []
    if chunk:
        score(chunk)
    return {"matrix": matrix.tolist(), "image": confusion_png(matrix, class_names), "test_images": counts["seen"],
            "scored_images": min(counts["seen"], limit), "misclassified": misclassified,
            "misclassified_total": counts["wrong"]}


def confusion_png(matrix: np.ndarray, class_names: list[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(1.2 * len(class_names) + 2, 1.1 * len(class_names) + 1.5))
    axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    axis.set_yticks(range(len(class_names)), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    peak = matrix.max() or 1
    for (row, col), value in np.ndenumerate(matrix):
        axis.text(col, row, str(value), ha="center", va="center", color="white" if value > peak / 2 else "black")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=90)
    plt.close(figure)
    return data_uri(out.getvalue(), "image/png")
