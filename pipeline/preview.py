"""`flowers preview`: one photo under the training augmentation, as a 3x3 grid PNG."""

from __future__ import annotations

import argparse
import os

import tensorflow as tf

from components import augment, preprocessing, sources
from pipeline.console import Console


def first_photo(data: str) -> tuple[str, bytes]:
    """The first usable photo of a folder or archive source, in listing order."""
    from components import image_check

    for entry, blob in sources.iter_with_bytes(data):
        if entry.verdict is None:
            try:
                image_check.check_image(blob)
            except image_check.NotAnImageError:
                continue
            return entry.path, blob
    raise FileNotFoundError(f"no usable photo in {data}")


def augmentation_grid(encoded: bytes, spec: str, seed: int, rows: int = 3, gap: int = 4) -> tf.Tensor:
    """uint8 [H, W, 3]: the photo as training sees it in rows x rows epochs, white gaps.

    The photo goes through the Transform step's preprocessing and the uint8
    cache, then the augmentation of epochs 0, 1, ... with its filename's key.
    """
    from components import input_pipeline, random_hash

    image = input_pipeline.to_uint8(preprocessing.preprocess_encoded(tf.constant([encoded])))
    count = rows * rows
    batch = tf.repeat(image, count, axis=0)
    keys = tf.repeat(random_hash.filename_key(tf.constant(["preview"])), count)
    out = augment.augment_batch(batch, keys, tf.range(count, dtype=tf.int64), seed, augment.parse_spec(spec))
    size = preprocessing.IMAGE_SIZE
    padded = tf.pad(out, [[0, 0], [0, gap], [0, gap], [0, 0]], constant_values=1.0)
    grid = tf.reshape(padded, [rows, rows, size + gap, size + gap, 3])
    grid = tf.reshape(tf.transpose(grid, [0, 2, 1, 3, 4]), [rows * (size + gap), rows * (size + gap), 3])
    return tf.cast(tf.round(grid[:-gap, :-gap] * 255.0), tf.uint8)


def write_preview(data: str, output: str, spec: str, seed: int) -> str:
    path, encoded = first_photo(data)
    png = tf.io.encode_png(augmentation_grid(encoded, spec, seed))
    parent = os.path.dirname(output)
    if parent:
        tf.io.gfile.makedirs(parent)
    tf.io.write_file(output, png)
    return path


def main(args: argparse.Namespace, console: Console) -> int:
    from pipeline import configs

    spec = args.augmentation or augment.FULL_SPEC
    source = write_preview(args.data, args.output, spec, configs.RunConfig.seed if args.seed is None else args.seed)
    console.line(f"{args.output}: {source} under {spec}")
    return 0
