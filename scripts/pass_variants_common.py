"""What the pass variants share (scripts/bench_pass_variants.py): the batch, the draws, the corner arithmetic."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402

from components.trainer.augment import fused, warp  # noqa: E402

SIZE, BATCH, PIXELS, SEED = 180, 32, 180 * 180, 0
OPS = fused.parse_spec(fused.FULL_SPEC)
GEOMETRY_OPS = fused.parse_spec("rotate(0.2)|zoom(0.1)")
jit = tf.function(jit_compile=True)


def _setup(images, keys, epoch, ops=OPS, planar_mean=True):
    """The draws as the pass makes them: geometric matrices [b, 3, 3], colour matrix and bias."""
    draws, geometric, colours = fused._draws(keys, epoch, SEED, ops)
    matrix = fused.geometry(tuple(ops[i] for i in geometric), [draws[i] for i in geometric], SIZE)
    if planar_mean:
        mean = fused._channel_means(images)
    else:
        mean = tf.reduce_mean(tf.cast(images, tf.float32), axis=[1, 2]) * (1.0 / 255.0)
    colour, bias = fused.colour(tuple(ops[i] for i in colours), [draws[i] for i in colours], mean)
    return matrix, colour, bias


def _colour_after(pixels, colour, bias):
    """float [b, pixels, 3] in 0-255 -> the colour map as the earlier pass applies it, [b, h, w, 3]."""
    return tf.reshape(warp.apply_colour(pixels * (1.0 / 255.0), colour, bias), [-1, SIZE, SIZE, 3])


def _bilinear(corner, wx, wy):
    """corner(i) is the value at corner i (tl, tr, bl, br); each used once."""
    return (corner(0) * ((1 - wx) * (1 - wy)) + corner(1) * (wx * (1 - wy))
            + corner(2) * ((1 - wx) * wy) + corner(3) * (wx * wy))



@jit
def _coords(matrix):
    return warp._corners(matrix, SIZE)


@jit
def _gather_values(images, colour, bias, y0, y1, x0, x1, wx, wy):
    pairs = [(y0, x0), (y0, x1), (y1, x0), (y1, x1)]

    def corner(i):
        index = tf.stack(pairs[i], axis=-1)
        return tf.cast(tf.gather_nd(images, index, batch_dims=1), tf.float32)

    return _colour_after(_bilinear(corner, wx[..., None], wy[..., None]), colour, bias)


_setup_program = jit(_setup)
_unpack = tf.function(lambda words: warp.unpack(words, SIZE), jit_compile=True)
