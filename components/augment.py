"""Random augmentation for training: the tutorial's set, on batches, in one warp.

A chain is named by a spec string, big_vision style:

    "flip(horizontal_and_vertical)|rotate(0.2)|zoom(0.1)|contrast(0.2)"

Each op keeps the meaning of its tutorial counterpart:

| op                 | tutorial                                   | parameter                     |
|--------------------|--------------------------------------------|-------------------------------|
| flip(mode)         | RandomFlip                                 | horizontal, vertical, horizontal_and_vertical |
| rotate(f)          | RandomRotation(f)                          | fraction of a full turn, +-f  |
| zoom(f)            | RandomZoom(f)                              | +-f; positive zooms out       |
| crop(pad)          | pad by `pad`, random crop back (tf.image)  | pixels                        |
| rot90              | tf.image.rot90 with a random k             | -                             |
| central_crop(f)    | tf.image.central_crop, resized back        | kept fraction                 |
| contrast(f)        | RandomContrast(f)                          | factor in [1-f, 1+f]          |
| brightness(d)      | tf.image.stateless_random_brightness, clip | delta in [-d, d]              |
| saturation(lo, hi) | tf.image.stateless_random_saturation       | factor in [lo, hi]            |
| grayscale(p)       | tf.image.rgb_to_grayscale                  | probability per image         |
| invert(p)          | the tutorial's RandomInvert layer          | probability per image         |

Why it is fast: all geometric ops (flip, rotate, zoom, crop, rot90, central
crop) are composed into one 3x3 matrix per image, and the batch is warped once
by `ImageProjectiveTransformV3` (bilinear, reflect fill as Keras' default),
instead of once per op. Likewise all colour ops (contrast, brightness,
saturation, grayscale, invert) are affine in RGB, so they compose into one 3x3
matrix and bias per image: one batched matmul and a single clip to [0, 1] at the
end (the tutorial clips after each op; here only the final values are clipped).
Every image draws its own parameters.

Why it is reproducible: every draw is a stateless random op seeded from
`(seed, step)`, so the same seed gives the same batches and every step (hence
every epoch) differs.
"""

from __future__ import annotations

import dataclasses
import math
import re

import tensorflow as tf

DEFAULT_SPEC = "flip(horizontal_and_vertical)|rotate(0.2)"
FULL_SPEC = (
    "flip(horizontal_and_vertical)|rotate(0.2)|zoom(0.1)|crop(6)|"
    "contrast(0.2)|brightness(0.2)|saturation(0.8,1.2)|invert(0.05)"
)

_GEOMETRIC = ("flip", "rotate", "zoom", "crop", "rot90", "central_crop")
_COLOUR = ("contrast", "brightness", "saturation", "grayscale", "invert")
_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
_OP_RE = re.compile(r"^([a-z_0-9]+)(?:\((.*)\))?$")


@dataclasses.dataclass(frozen=True)
class Op:
    name: str
    args: tuple = ()


def parse_spec(spec: str) -> tuple[Op, ...]:
    """`"flip(horizontal)|rotate(0.2)"` to ops; a clear error for a bad spec."""
    ops = []
    for part in filter(None, (p.strip() for p in spec.split("|"))):
        match = _OP_RE.match(part)
        if not match:
            raise ValueError(f"augmentation spec: cannot parse {part!r} in {spec!r}")
        name, raw = match.group(1), match.group(2)
        if name not in _GEOMETRIC + _COLOUR:
            raise ValueError(
                f"augmentation spec: unknown op {name!r}; known: {', '.join(_GEOMETRIC + _COLOUR)}"
            )
        args = tuple(a.strip() for a in raw.split(",")) if raw else ()
        if name == "flip":
            args = args or ("horizontal_and_vertical",)
            if args[0] not in _FLIP_MODES:
                raise ValueError(f"augmentation spec: flip mode must be one of {_FLIP_MODES}, got {args[0]!r}")
        else:
            try:
                args = tuple(float(a) for a in args)
            except ValueError:
                raise ValueError(f"augmentation spec: {part!r} takes numbers") from None
        _check_arity(name, args, part)
        ops.append(Op(name, args))
    return tuple(ops)


def _check_arity(name: str, args: tuple, part: str) -> None:
    wanted = {"flip": 1, "rot90": 0, "saturation": 2}.get(name, 1)
    if len(args) != wanted:
        raise ValueError(f"augmentation spec: {part!r} takes {wanted} argument(s)")


def _affine(rows: list[list[tf.Tensor]]) -> tf.Tensor:
    """Per-image 3x3 matrices [batch, 3, 3] from a nested list of [batch] tensors."""
    return tf.stack([tf.stack(row, axis=-1) for row in rows], axis=-2)


def _geometry(ops, batch: int, size: tf.Tensor, seeds) -> tf.Tensor:
    """One output-to-input matrix per image, composing every geometric op.

    Coordinates are centred on the image centre, so each op is a linear map and
    the composition is a product; the centring is undone at the end.
    """
    one = tf.ones([batch])
    zero = tf.zeros([batch])
    eye = _affine([[one, zero, zero], [zero, one, zero], [zero, zero, one]])
    matrix = eye
    for op, seed in zip(ops, seeds, strict=False):
        if op.name == "flip":
            sx = sy = one
            if op.args[0] in ("horizontal", "horizontal_and_vertical"):
                sx = _random_sign(seed, batch)
            if op.args[0] in ("vertical", "horizontal_and_vertical"):
                sy = _random_sign(tf.random.experimental.stateless_fold_in(seed, 1), batch)
            step = _affine([[sx, zero, zero], [zero, sy, zero], [zero, zero, one]])
        elif op.name in ("rotate", "rot90"):
            if op.name == "rotate":
                limit = op.args[0] * 2.0 * math.pi
                angle = tf.random.stateless_uniform([batch], seed, -limit, limit)
            else:
                k = tf.random.stateless_uniform([batch], seed, 0, 4, dtype=tf.int32)
                angle = tf.cast(k, tf.float32) * (math.pi / 2.0)
            cos, sin = tf.cos(angle), tf.sin(angle)
            step = _affine([[cos, -sin, zero], [sin, cos, zero], [zero, zero, one]])
        elif op.name in ("zoom", "central_crop"):
            if op.name == "zoom":
                scale = 1.0 + tf.random.stateless_uniform([batch], seed, -op.args[0], op.args[0])
            else:
                scale = op.args[0] * one
            step = _affine([[scale, zero, zero], [zero, scale, zero], [zero, zero, one]])
        else:  # crop: pad by n, random crop back = a shift of up to n pixels
            pad = op.args[0]
            shift = tf.random.stateless_uniform(
                [2, batch], seed, -pad, pad + 1.0
            )
            shift = tf.floor(shift)
            step = _affine([[one, zero, shift[0]], [zero, one, shift[1]], [zero, zero, one]])
        matrix = tf.linalg.matmul(matrix, step)
    centre = (tf.cast(size, tf.float32) - 1.0) / 2.0
    to_centre = _affine([[one, zero, -centre * one], [zero, one, -centre * one], [zero, zero, one]])
    from_centre = _affine([[one, zero, centre * one], [zero, one, centre * one], [zero, zero, one]])
    return tf.linalg.matmul(tf.linalg.matmul(from_centre, matrix), to_centre)


def _random_sign(seed, batch: int) -> tf.Tensor:
    coin = tf.random.stateless_uniform([batch], seed) < 0.5
    return tf.where(coin, -1.0, 1.0)


# Luma weights of tf.image.rgb_to_grayscale.
_LUMA = (0.2989, 0.5870, 0.1140)


def _colour_affine(ops, seeds, batch, channel_mean):
    """Compose the colour ops into one per-image affine map on RGB: x -> A x + b.

    Every colour op is affine in the pixel values (contrast around the image's
    own channel means, brightness, saturation and grayscale as a channel mix,
    invert), so a chain of them is one 3x3 matrix and one bias per image, applied
    in a single batched matmul and clipped to [0, 1] once at the end. The mean
    that contrast pivots on is tracked through the chain exactly.
    """
    eye = tf.eye(3, batch_shape=[batch])
    luma = tf.constant([_LUMA] * 3)  # every output channel takes the luma of the input
    matrix, bias = eye, tf.zeros([batch, 3])
    for op, seed in zip(ops, seeds, strict=True):
        if op.name == "contrast":
            factor = tf.random.stateless_uniform([batch], seed, 1.0 - op.args[0], 1.0 + op.args[0])[:, None]
            mean = tf.linalg.matvec(matrix, channel_mean) + bias
            matrix = factor[:, :, None] * matrix
            bias = factor * bias + (1.0 - factor) * mean
            continue
        if op.name == "brightness":
            bias = bias + tf.random.stateless_uniform([batch], seed, -op.args[0], op.args[0])[:, None]
            continue
        if op.name == "saturation":
            amount = tf.random.stateless_uniform([batch], seed, op.args[0], op.args[1])
        else:  # grayscale and invert happen to an image with probability p
            chosen = tf.random.stateless_uniform([batch], seed) < op.args[0]
            if op.name == "invert":
                sign = tf.where(chosen, -1.0, 1.0)[:, None]
                matrix = sign[:, :, None] * matrix
                bias = sign * bias + tf.cast(chosen, tf.float32)[:, None]
                continue
            amount = tf.where(chosen, 0.0, 1.0)
        mix = amount[:, None, None] * eye + (1.0 - amount)[:, None, None] * luma
        matrix = tf.linalg.matmul(mix, matrix)
        bias = tf.linalg.matvec(mix, bias)
    return matrix, bias


def augment_batch(images: tf.Tensor, seed: tf.Tensor, spec: str | tuple[Op, ...]) -> tf.Tensor:
    """Augment a float batch [batch, h, w, 3] in [0, 1]; same shape and range out.

    `seed` is a shape-[2] integer tensor; each image gets its own draw.
    """
    ops = parse_spec(spec) if isinstance(spec, str) else spec
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=max(len(ops), 1))
    geometric = [(op, seeds[i]) for i, op in enumerate(ops) if op.name in _GEOMETRIC]
    if geometric:
        batch = tf.shape(images)[0]
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        tf.debugging.assert_equal(height, width, message="augmentation expects square images")
        matrix = _geometry([op for op, _ in geometric], batch, height, [s for _, s in geometric])
        matrix = matrix / matrix[:, 2:3, 2:3]
        transforms = tf.reshape(matrix, [-1, 9])[:, :8]
        images = tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=transforms,
            output_shape=tf.stack([height, width]),
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="REFLECT",
        )
    colour = [(op, seeds[i]) for i, op in enumerate(ops) if op.name in _COLOUR]
    if colour:
        shape = tf.shape(images)
        flat = tf.reshape(images, [shape[0], -1, 3])
        matrix, bias = _colour_affine(
            [op for op, _ in colour], [s for _, s in colour], shape[0], tf.reduce_mean(flat, axis=1)
        )
        flat = tf.linalg.matmul(flat, matrix, transpose_b=True) + bias[:, None, :]
        images = tf.reshape(tf.clip_by_value(flat, 0.0, 1.0), shape)
    return images
