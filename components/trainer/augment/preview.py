"""One photo as training sees it: the Transform step's preprocessing, the uint8 cache, then the augmentation
of epochs 0, 1, ..., tiled into a grid (`flowers preview`, and the report's tiles)."""

from __future__ import annotations

import tensorflow as tf

from components import features
from components.trainer.augment import fused
from components.transform import preprocessing


def augmentation_grid(encoded: bytes, spec: str, seed: int, rows: int = 3, gap: int = 4) -> tf.Tensor:
    """uint8 [H, W, 3]: the photo as training sees it in rows x rows epochs, white gaps.

    The photo goes through the Transform step's preprocessing and the uint8
    cache, then the augmentation of epochs 0, 1, ... with its filename's key.
    """
    from components.trainer import input_pipeline
    from components.trainer.augment import per_image_random

    image = input_pipeline.to_uint8(preprocessing.preprocess_encoded(tf.constant([encoded])))
    count = rows * rows
    batch = tf.repeat(image, count, axis=0)
    keys = tf.repeat(per_image_random.filename_key(tf.constant(["preview"])), count)
    out = fused.augment_batch(batch, keys, tf.range(count, dtype=tf.int64), seed, fused.parse_spec(spec))
    size = features.IMAGE_SIZE
    padded = tf.pad(out, [[0, 0], [0, gap], [0, gap], [0, 0]], constant_values=1.0)
    grid = tf.reshape(padded, [rows, rows, size + gap, size + gap, 3])
    grid = tf.reshape(tf.transpose(grid, [0, 2, 1, 3, 4]), [rows * (size + gap), rows * (size + gap), 3])
    return tf.cast(tf.round(grid[:-gap, :-gap] * 255.0), tf.uint8)
