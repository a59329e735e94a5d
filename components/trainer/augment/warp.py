"""One bilinear, reflect-filled affine warp and one colour affine, for a batch.

TensorFlow's `ImageProjectiveTransformV3` is slow for a 180x180 bilinear warp
on the CPU, and XLA cannot compile it there. The same
warp written as index arithmetic and four gathers is plain TensorFlow that XLA
compiles and fuses with the colour map that follows (docs/benchmarks.md has the
figures). The source stays uint8: the gathers move a quarter of the bytes
float32 would, and the interpolation happens in float32 registers.

Two forms: `warp_bilinear` (+ `apply_colour`), a loop over output values, and
`warp_colour_packed` (+ `unpack`), a loop over output pixels with the colour
map inside, the faster on the full set (the Trainer's default; figures in
docs/benchmarks.md).

Conventions: pixel centres sit at integer coordinates; an image spans
[-0.5, size - 0.5]. Outside it, coordinates are reflected about those edges
(`d c b a | a b c d | d c b a`, Keras' `fill_mode="reflect"`).
"""

from __future__ import annotations

import tensorflow as tf


def _reflect(coords: tf.Tensor, size: int) -> tf.Tensor:
    """Mirror coordinates that fall outside [-0.5, size - 0.5] back inside, once.

    One reflection covers every coordinate within one image size of an edge,
    which is all the tutorial's ops reach (a rotation, even with zoom(0.9),
    stays inside); anything further is clamped to the edge. Cheaper than a
    periodic `floormod` (measured 5-8% on the whole pass), same values inside.
    """
    low = tf.where(coords < -0.5, -1.0 - coords, coords)
    high = tf.where(low > size - 0.5, 2.0 * size - 1.0 - low, low)
    return tf.clip_by_value(high, -0.5, size - 0.5)


def _snap(coords: tf.Tensor) -> tf.Tensor:
    """Coordinates within 1e-3 of a pixel centre become exact, so whole-pixel moves
    (flips, quarter turns, crop shifts) copy pixels instead of blending them."""
    nearest = tf.round(coords)
    return tf.where(tf.abs(coords - nearest) < 1e-3, nearest, coords)


def _corners(matrices: tf.Tensor, size: int):
    """Per output pixel, [batch, size * size] each: the source rows y0, y1 and
    columns x0, x1 of the four bilinear corners (int32) and the weights wx, wy."""
    axis = tf.range(size, dtype=tf.float32)
    ys, xs = tf.meshgrid(axis, axis, indexing="ij")
    xs, ys = tf.reshape(xs, [1, -1]), tf.reshape(ys, [1, -1])
    rows = [[matrices[:, r, c][:, None] for c in range(3)] for r in range(2)]
    source_x = rows[0][0] * xs + rows[0][1] * ys + rows[0][2]
    source_y = rows[1][0] * xs + rows[1][1] * ys + rows[1][2]
    sx = _reflect(_snap(source_x), size)
    sy = _reflect(_snap(source_y), size)
    x0, y0 = tf.floor(sx), tf.floor(sy)
    # floor is -1 in the half pixel outside the low edge, [-0.5, 0): both corners
    # are then pixel 0 (its mirror image), so the second corner comes from the
    # unclamped floor, not from the clamped first one.
    x0f, y0f = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x0i, y0i = tf.maximum(x0f, 0), tf.maximum(y0f, 0)
    x1i, y1i = tf.clip_by_value(x0f + 1, 0, size - 1), tf.clip_by_value(y0f + 1, 0, size - 1)
    return y0i, y1i, x0i, x1i, sx - x0, sy - y0


def _square_size(images: tf.Tensor) -> int:
    size = images.shape[1]
    if size is None or images.shape[2] != size:
        raise ValueError(f"the warp needs square images of static size, got {images.shape}")
    return size


def warp_bilinear(images: tf.Tensor, matrices: tf.Tensor) -> tf.Tensor:
    """Warp uint8 [batch, size, size, 3] by output-to-input matrices [batch, 3, 3].

    Returns float32 [batch, size, size, 3] in the source's value range (0-255).
    The size must be static (it is: Transform fixes it).
    """
    batch = tf.shape(images)[0]
    size = _square_size(images)
    y0i, y1i, x0i, x1i, wx, wy = _corners(matrices, size)
    wx, wy = wx[..., None], wy[..., None]

    def pick(yi, xi):
        # gather_nd over [batch, size, size, 3] with per-image (y, x) pairs ran
        # faster under XLA here than a gather on the flattened batch.
        return tf.cast(tf.gather_nd(images, tf.stack([yi, xi], axis=-1), batch_dims=1), tf.float32)

    top_left, top_right = pick(y0i, x0i), pick(y0i, x1i)
    bottom_left, bottom_right = pick(y1i, x0i), pick(y1i, x1i)
    top = top_left + (top_right - top_left) * wx
    bottom = bottom_left + (bottom_right - bottom_left) * wx
    out = top + (bottom - top) * wy
    return tf.reshape(out, [batch, size, size, 3])


# The per-pixel pass packs each output pixel's three channels into one int64,
# 21 bits a channel. The scale is a multiple of 255, so whole uint8 values
# (flips, crops, quarter turns) pack exactly; any other value is rounded to
# 1 / PACK_SCALE (under 5e-7), far below the 1/255 a uint8 step is.
PACK_BITS = 21
PACK_SCALE = 255 * 8192


def warp_colour_packed(images: tf.Tensor, matrices: tf.Tensor, matrix=None, bias=None) -> tf.Tensor:
    """Warp, colour map and clip uint8 [batch, size, size, 3], one packed int64 per pixel out.

    The same bilinear warp as `warp_bilinear` followed by `apply_colour`
    (A [batch, 3, 3] on values in [0, 1], b [batch, 3]; none: no colour map),
    written so that XLA makes it one loop over output *pixels*: each of the
    12 source bytes is its own one-byte gather, used once, so XLA fuses every
    gather, and the colour map mixes channels in registers. Written with a
    [batch, size, size, 3] float output instead, XLA emits one loop over output
    *values* and redoes the coordinates and gathers for each channel, and a
    colour map after it is a separate pass. `unpack` turns the words into
    float32; it must be compiled apart (`components.trainer.augment.fused` does), or XLA
    fuses it back into a loop over values.
    """
    size = _square_size(images)
    y0i, y1i, x0i, x1i, wx, wy = _corners(matrices, size)
    weights = [(y0i, x0i, (1.0 - wx) * (1.0 - wy)), (y0i, x1i, wx * (1.0 - wy)),
               (y1i, x0i, (1.0 - wx) * wy), (y1i, x1i, wx * wy)]
    channels = [interpolate_channel(images, weights, c, tf.float32) for c in range(3)]
    return pack(channels, matrix, bias)


def interpolate_channel(images: tf.Tensor, weights, channel: int, dtype) -> tf.Tensor:
    """Sum over (rows, columns, weight) corners of weight x the channel's byte there, in `dtype`:
    one one-byte gather per corner."""

    def pick(yi, xi):
        index = tf.stack([yi, xi, tf.fill(tf.shape(yi), channel)], axis=-1)
        return tf.cast(tf.gather_nd(images, index, batch_dims=1), dtype)

    return tf.add_n([pick(yi, xi) * w for yi, xi, w in weights])


def pack(channels: list[tf.Tensor], matrix=None, bias=None) -> tf.Tensor:
    """Three channels [batch, pixels] in 0-255 -> colour-mapped, clipped, packed int64 words."""
    word = None
    for c in range(3):
        if matrix is None:
            value = channels[c] * (PACK_SCALE / 255.0)
        else:
            value = tf.add_n([channels[k] * (matrix[:, c, k:k + 1] * (PACK_SCALE / 255.0)) for k in range(3)])
            value = value + bias[:, c:c + 1] * PACK_SCALE
        part = tf.cast(tf.clip_by_value(value, 0.0, PACK_SCALE) + 0.5, tf.int64)
        part = tf.bitwise.left_shift(part, PACK_BITS * c)
        word = part if word is None else tf.bitwise.bitwise_or(word, part)
    return word


def unpack(words: tf.Tensor, size: int) -> tf.Tensor:
    """`warp_colour_packed`'s int64 [batch, size * size] to float32 [batch, size, size, 3] in [0, 1]."""
    shifts = tf.constant([0, PACK_BITS, 2 * PACK_BITS], tf.int64)
    values = tf.bitwise.bitwise_and(tf.bitwise.right_shift(words[..., None], shifts), (1 << PACK_BITS) - 1)
    return tf.reshape(tf.cast(values, tf.float32) * (1.0 / PACK_SCALE), [-1, size, size, 3])


def apply_colour(images: tf.Tensor, matrix: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """x -> clip(A x + b, 0, 1) per pixel, A [batch, 3, 3], b [batch, 3]; clipped once."""
    shape = tf.shape(images)
    flat = tf.reshape(images, [shape[0], -1, 3])
    flat = tf.linalg.matmul(flat, matrix, transpose_b=True) + bias[:, None, :]
    return tf.reshape(tf.clip_by_value(flat, 0.0, 1.0), shape)
