"""`flowers bench --warp`: one augmentation pass on a batch, by implementation.

A batch of 32 uint8 180x180 photos-sized arrays, timed call after call in this
process, the implementations taking turns over three rounds: TensorFlow's own
warp kernel (`ImageProjectiveTransformV3`, bilinear, reflect), the four-gather
warp of `components.trainer.augment.warp` with and without XLA, and the whole augmentation pass
(`components.trainer.augment.fused`, every op) with and without XLA.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from typing import Any

import numpy as np
import tensorflow as tf

from components.trainer.augment import fused, warp

BATCH, SIZE, CALLS = 32, 180, 30


def _rotations(seed: int) -> tf.Tensor:
    angle = tf.random.stateless_uniform([BATCH], [seed, 1], -0.4 * math.pi, 0.4 * math.pi)
    cos, sin, centre = tf.cos(angle), tf.sin(angle), (SIZE - 1) / 2.0
    zero, one = tf.zeros([BATCH]), tf.ones([BATCH])
    rows = [[cos, -sin, centre - cos * centre + sin * centre],
            [sin, cos, centre - sin * centre - cos * centre], [zero, zero, one]]
    return tf.stack([tf.stack(row, axis=-1) for row in rows], axis=-2)


def run_warp_bench(output: str) -> dict[str, Any]:
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (BATCH, SIZE, SIZE, 3), dtype=np.uint8))
    keys, epochs = tf.range(BATCH, dtype=tf.int64), tf.zeros([BATCH], tf.int64)

    def kernel(matrices):
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=tf.cast(images, tf.float32), transforms=tf.reshape(matrices, [BATCH, 9])[:, :8],
            output_shape=[SIZE, SIZE], fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")

    def gathers(matrices):
        return warp.warp_bilinear(images, matrices)

    full_xla = fused.make_augmenter(fused.FULL_SPEC, 0, SIZE, batch_size=BATCH)
    full_plain = fused.make_augmenter(fused.FULL_SPEC, 0, SIZE, xla=False)
    calls = {
        "tf_kernel_rotation": tf.function(kernel),
        "gather_rotation_fallback": tf.function(gathers),
        "gather_rotation_xla": tf.function(gathers, jit_compile=True),
        "full_pass_fallback": lambda _: full_plain(images, keys, epochs),
        "full_pass_xla": lambda _: full_xla(images, keys, epochs),
    }
    matrices = [_rotations(i) for i in range(CALLS)]
    for call in calls.values():
        call(matrices[0]).numpy()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(3):
        for name, call in calls.items():
            started = time.perf_counter()
            for m in matrices:
                out = call(m)
            out.numpy()
            samples[name].append(CALLS * BATCH / (time.perf_counter() - started))
    rates = {name: statistics.median(values) for name, values in samples.items()}
    report: dict[str, Any] = {name: round(rate, 1) for name, rate in rates.items()}
    report.update({
        "ratio_gather_xla_over_tf_kernel": round(rates["gather_rotation_xla"] / rates["tf_kernel_rotation"], 2),
        "ratio_full_xla_over_fallback": round(rates["full_pass_xla"] / rates["full_pass_fallback"], 2),
        "rounds": {name: [round(v, 1) for v in values] for name, values in samples.items()},
        "batch": BATCH, "size": SIZE, "augmentation": fused.FULL_SPEC,
    })
    with open(output, "w") as f:
        json.dump(report, f, indent=2)
    return report
