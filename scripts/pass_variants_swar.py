"""The second round of pass variants (issue 23): three 21-bit lanes in one int64 word (SIMD within a register)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
from pass_variants_common import (  # noqa: E402
    PIXELS,
    SIZE,
    _setup,
    _unpack,
    jit,
)
from pass_variants_packed import (  # noqa: E402
    _pack32,
    _unpack32,
    _weights,
)

from components.trainer.augment import warp  # noqa: E402

# SWAR: each source pixel one int64 word, its channels in 21-bit lanes; the four corners'
# words times integer weights that sum to 8192 (255 x 8192 < 2^21: no lane overflows), so a
# pixel is four gathers and four multiplies, not twelve of each.
LANE, WSCALE = 21, 8192


@jit
def _swar_source(images, keys, epoch):
    matrix, colour, bias = _setup(images, keys, epoch)
    x = tf.cast(images, tf.int64)
    words = x[..., 0] | tf.bitwise.left_shift(x[..., 1], LANE) | tf.bitwise.left_shift(x[..., 2], 2 * LANE)
    return tf.reshape(words, [-1]), matrix, colour, bias


def _swar_channels(words, matrix, batch):
    y0, y1, x0, x1, wx, wy = warp._corners(matrix, SIZE)
    base = tf.range(batch)[:, None] * PIXELS
    top, bottom = base + y0 * SIZE, base + y1 * SIZE
    offsets = [top + x0, top + x1, bottom + x0, bottom + x1]
    total = tf.add_n([tf.gather(words, o) * tf.cast(w * WSCALE + 0.5, tf.int64)
                      for o, w in zip(offsets, _weights(wx, wy), strict=True)])
    mask = (1 << LANE) - 1
    return [tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(total, LANE * c), mask), tf.float32)
            * (1.0 / WSCALE) for c in range(3)]


@jit
def _swar_words(words, matrix, colour, bias):
    return warp.pack(_swar_channels(words, matrix, tf.shape(matrix)[0]), colour, bias)


@jit
def _swar_words32(words, matrix, colour, bias):
    return _pack32(_swar_channels(words, matrix, tf.shape(matrix)[0]), colour, bias)


def pixel_swar(images, keys, epoch):
    return _unpack(_swar_words(*_swar_source(images, keys, epoch)))


def pixel_swar_pack32(images, keys, epoch):
    return _unpack32(_swar_words32(*_swar_source(images, keys, epoch)))


@jit
def _swar_fused(images, keys, epoch):
    words, matrix, colour, bias = _swar_source.python_function(images, keys, epoch)
    return warp.pack(_swar_channels(words, matrix, tf.shape(matrix)[0]), colour, bias)


def pixel_swar_one_program(images, keys, epoch):
    """The source words computed inside the warp's program (XLA may refuse or recompute them)."""
    return _unpack(_swar_fused(images, keys, epoch))


@jit
def _swar_total(words, matrix):
    """The interpolated image, materialized once: one int64 of three 21-bit lanes per output pixel."""
    y0, y1, x0, x1, wx, wy = warp._corners(matrix, SIZE)
    base = tf.range(tf.shape(matrix)[0])[:, None] * PIXELS
    top, bottom = base + y0 * SIZE, base + y1 * SIZE
    offsets = [top + x0, top + x1, bottom + x0, bottom + x1]
    return tf.add_n([tf.gather(words, o) * tf.cast(w * WSCALE + 0.5, tf.int64)
                     for o, w in zip(offsets, _weights(wx, wy), strict=True)])


@jit
def _lanes_colour(total, colour, bias):
    """Lanes -> colour map -> clip -> float32 [b, h, w, 3] in [0, 1]: a loop over values without gathers."""
    shifts = tf.constant([0, LANE, 2 * LANE], tf.int64)
    lanes = tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(total[..., None], shifts), (1 << LANE) - 1),
                    tf.float32) * (1.0 / (255.0 * WSCALE))
    return tf.reshape(warp.apply_colour(lanes, colour, bias), [-1, SIZE, SIZE, 3])


@jit
def _lanes_colour_unrolled(total, colour, bias):
    mask = (1 << LANE) - 1
    lanes = [tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(total, LANE * k), mask), tf.float32)
             for k in range(3)]
    scale = 1.0 / (255.0 * WSCALE)
    out = [tf.clip_by_value(tf.add_n([lanes[k] * (colour[:, c, k:k + 1] * scale) for k in range(3)])
                            + bias[:, c:c + 1], 0.0, 1.0) for c in range(3)]
    return tf.reshape(tf.stack(out, axis=-1), [-1, SIZE, SIZE, 3])


def pixel_swar3(images, keys, epoch):
    """Three programs: source words (+ draws), the interpolated image (4 word gathers a pixel),
    then lanes, colour map and clip as a loop over values (a matmul)."""
    words, matrix, colour, bias = _swar_source(images, keys, epoch)
    return _lanes_colour(_swar_total(words, matrix), colour, bias)


def pixel_swar3_unrolled(images, keys, epoch):
    """The same, the colour map written out as 9 multiply-adds instead of a matmul."""
    words, matrix, colour, bias = _swar_source(images, keys, epoch)
    return _lanes_colour_unrolled(_swar_total(words, matrix), colour, bias)


@jit
def _words32_nd(images, keys, epoch):
    matrix, colour, bias = _setup(images, keys, epoch)
    y0i, y1i, x0i, x1i, wx, wy = warp._corners(matrix, SIZE)
    weights = [(y0i, x0i, (1.0 - wx) * (1.0 - wy)), (y0i, x1i, wx * (1.0 - wy)),
               (y1i, x0i, (1.0 - wx) * wy), (y1i, x1i, wx * wy)]
    return _pack32([warp.interpolate_channel(images, weights, c, tf.float32) for c in range(3)], colour, bias)


def pixel_pack32_nd(images, keys, epoch):
    return _unpack32(_words32_nd(images, keys, epoch))


@jit
def _swar_source_nd(images, keys, epoch):
    matrix, colour, bias = _setup(images, keys, epoch)
    x = tf.cast(images, tf.int64)
    words = x[..., 0] | tf.bitwise.left_shift(x[..., 1], LANE) | tf.bitwise.left_shift(x[..., 2], 2 * LANE)
    return words, matrix, colour, bias


def _swar_total_nd_fn(words, matrix):
    y0, y1, x0, x1, wx, wy = warp._corners(matrix, SIZE)
    pairs = [(y0, x0), (y0, x1), (y1, x0), (y1, x1)]
    return tf.add_n([tf.gather_nd(words, tf.stack(p, axis=-1), batch_dims=1) * tf.cast(w * WSCALE + 0.5, tf.int64)
                     for p, w in zip(pairs, _weights(wx, wy), strict=True)])


_swar_total_nd = jit(_swar_total_nd_fn)


@jit
def _swar_nd_packed(words, matrix, colour, bias):
    total = _swar_total_nd_fn(words, matrix)
    mask = (1 << LANE) - 1
    lanes = [tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(total, LANE * k), mask), tf.float32)
             * (1.0 / WSCALE) for k in range(3)]
    return _pack32(lanes, colour, bias)


def pixel_swar3_nd(images, keys, epoch):
    words, matrix, colour, bias = _swar_source_nd(images, keys, epoch)
    return _lanes_colour(_swar_total_nd(words, matrix), colour, bias)


def pixel_swar_nd_pack32(images, keys, epoch):
    return _unpack32(_swar_nd_packed(*_swar_source_nd(images, keys, epoch)))


_swar_cache = {}


def swar_source_only(images, keys, epoch):
    return _swar_source_nd(images, keys, epoch)[0]


def swar_total_only(images, keys, epoch):
    if "src" not in _swar_cache:
        _swar_cache["src"] = _swar_source_nd(images, keys, epoch)
    words, matrix, _, _ = _swar_cache["src"]
    return _swar_total_nd(words, matrix)


@jit
def _coords_sum(images, keys, epoch):
    matrix, _, _ = _setup(images, keys, epoch)
    y0, y1, x0, x1, wx, wy = warp._corners(matrix, SIZE)
    return tf.cast(y0 + y1 + x0 + x1, tf.float32) + wx + wy


def coords_only(images, keys, epoch):
    """The coordinates, corners and weights alone (no gathers), one float per pixel out."""
    return _coords_sum(images, keys, epoch)


@jit
def _gathers_sum(images, keys, epoch):
    """Twelve one-byte gathers a pixel at fixed, cheap coordinates (no warp arithmetic)."""
    p = tf.range(PIXELS)[None, :] + 0 * tf.cast(keys, tf.int32)[:, None]
    y, x = p // SIZE, p % SIZE
    y1, x1 = tf.minimum(y + 1, SIZE - 1), tf.minimum(x + 1, SIZE - 1)
    weights = [(y, x, 0.25), (y, x1, 0.25), (y1, x, 0.25), (y1, x1, 0.25)]
    return tf.add_n([warp.interpolate_channel(images, weights, c, tf.float32) for c in range(3)])


def gathers_only(images, keys, epoch):
    return _gathers_sum(images, keys, epoch)
