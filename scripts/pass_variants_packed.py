"""The second round of pass variants (issue 23): flat gathers, lerps, 10-bit words, planes, pieces alone."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
from pass_variants_common import (  # noqa: E402
    OPS,
    PIXELS,
    SEED,
    SIZE,
    _setup,
    _unpack,
    jit,
)

from components.trainer.augment import fused, warp  # noqa: E402


def _weights(wx, wy):
    return [(1.0 - wx) * (1.0 - wy), wx * (1.0 - wy), (1.0 - wx) * wy, wx * wy]


def _flat_corners(images, matrix):
    """The four corners' flat byte offsets into the whole batch (channel 0), and the weights."""
    y0, y1, x0, x1, wx, wy = warp._corners(matrix, SIZE)
    base = tf.range(tf.shape(images)[0])[:, None] * PIXELS
    top, bottom = base + y0 * SIZE, base + y1 * SIZE
    return [(top + x0) * 3, (top + x1) * 3, (bottom + x0) * 3, (bottom + x1) * 3], _weights(wx, wy)


def _flat_channels(flat, offsets, weights):
    """Per channel, the weighted sum of the four corners' bytes (one 1-D gather each)."""
    return [tf.add_n([tf.cast(tf.gather(flat, o + c), tf.float32) * w
                      for o, w in zip(offsets, weights, strict=True)]) for c in range(3)]


def _flat_interpolated(images, keys, epoch):
    """The four corners by flat 1-D gathers, weighted per channel; with the colour map's matrix and bias."""
    matrix, colour, bias = _setup(images, keys, epoch)
    offsets, weights = _flat_corners(images, matrix)
    return _flat_channels(tf.reshape(images, [-1]), offsets, weights), colour, bias


@jit
def _flat_words(images, keys, epoch):
    return warp.pack(*_flat_interpolated(images, keys, epoch))


def pixel_flat(images, keys, epoch):
    return _unpack(_flat_words(images, keys, epoch))


@jit
def _lerp_words(images, keys, epoch):
    matrix, colour, bias = _setup(images, keys, epoch)
    y0, y1, x0, x1, wx, wy = warp._corners(matrix, SIZE)

    def channel(c):
        def pick(yi, xi):
            index = tf.stack([yi, xi, tf.fill(tf.shape(yi), c)], axis=-1)
            return tf.cast(tf.gather_nd(images, index, batch_dims=1), tf.float32)
        top = pick(y0, x0) + (pick(y0, x1) - pick(y0, x0)) * wx
        bottom = pick(y1, x0) + (pick(y1, x1) - pick(y1, x0)) * wx
        return top + (bottom - top) * wy

    return warp.pack([channel(c) for c in range(3)], colour, bias)


def pixel_lerp(images, keys, epoch):
    return _unpack(_lerp_words(images, keys, epoch))


# 10 bits a channel in one int32, scale 255 * 4: whole uint8 values exact, others rounded to 1/1020.
B32, S32 = 10, 1020


def _pack32(channels, colour, bias):
    word = None
    for c in range(3):
        value = tf.add_n([channels[k] * (colour[:, c, k:k + 1] * (S32 / 255.0)) for k in range(3)])
        part = tf.cast(tf.clip_by_value(value + bias[:, c:c + 1] * S32, 0.0, S32) + 0.5, tf.int32)
        part = tf.bitwise.left_shift(part, B32 * c)
        word = part if word is None else tf.bitwise.bitwise_or(word, part)
    return word


@jit
def _words32(images, keys, epoch):
    return _pack32(*_flat_interpolated(images, keys, epoch))


@jit
def _unpack32(words):
    shifts = tf.constant([0, B32, 2 * B32], tf.int32)
    values = tf.bitwise.bitwise_and(tf.bitwise.right_shift(words[..., None], shifts), (1 << B32) - 1)
    return tf.reshape(tf.cast(values, tf.float32) * (1.0 / S32), [-1, SIZE, SIZE, 3])


def pixel_pack32(images, keys, epoch):
    return _unpack32(_words32(images, keys, epoch))


@jit
def _three_planes(images, keys, epoch):
    channels, colour, bias = _flat_interpolated(images, keys, epoch)
    return tuple(tf.clip_by_value(tf.add_n([channels[k] * (colour[:, c, k:k + 1] / 255.0) for k in range(3)])
                                  + bias[:, c:c + 1], 0.0, 1.0) for c in range(3))


@jit
def _interleave(r, g, b):
    return tf.reshape(tf.stack([r, g, b], axis=-1), [-1, SIZE, SIZE, 3])


def pixel_multi_output(images, keys, epoch):
    return _interleave(*_three_planes(images, keys, epoch))


@jit
def _warp_words(images, keys, epoch):
    channels, colour, bias = _flat_interpolated(images, keys, epoch)
    return warp.pack(channels), colour, bias


@jit
def _unpack_colour(words, colour, bias):
    pixels = tf.reshape(warp.unpack(words, SIZE), [-1, PIXELS, 3])
    return tf.reshape(warp.apply_colour(pixels, colour, bias), [-1, SIZE, SIZE, 3])


def pixel_colour_after(images, keys, epoch):
    """The interpolated image materialized once (packed), the colour map applied while unpacking."""
    return _unpack_colour(*_warp_words(images, keys, epoch))



def pixel_words_only(images, keys, epoch):
    return augment_first(images, keys, epoch)


augment_first = jit(lambda images, keys, epoch: fused.packed_pass(images, keys, epoch, SEED, OPS))
_words_fixed = None


def unpack_only(images, keys, epoch):
    global _words_fixed
    if _words_fixed is None:
        _words_fixed = augment_first(images, keys, epoch)
    return _unpack(_words_fixed)
