"""Random augmentation for training: the tutorial's set, on batches, in one pass.

A chain is named by a spec string, big_vision style:

    "flip(horizontal_and_vertical)|rotate(0.2)|zoom(0.1)|contrast(0.2)"

Each op keeps the meaning of its tutorial counterpart. The ops, their
parameters and meanings, and what each contributes to the pass are registered
once, in `components.trainer.augment.registry` (`python -m components.trainer.augment.registry` prints
the table).

One pass per batch: all geometric ops are composed into one output-to-input
matrix per image, and the uint8 batch is warped once (`components.trainer.augment.warp`:
bilinear, reflect fill, four corners). All colour ops are affine in RGB, so
they compose into one 3x3 matrix and bias per image, applied right after the
warp. The whole pass is compiled by XLA where XLA runs (`make_augmenter`), and
falls back to the same ops without XLA, with a logged reason, where it does not.

Two variants compute the same values from the same draws. "pixel" (the
default): one loop over output pixels that reads the 12 corner bytes, warps,
colour-maps and clips each pixel in registers and packs its three channels into
an int64 (21 bits each), then a second XLA program unpacks them to float32;
the values are rounded to 1/(255 * 8192) on the way (under 5e-7; whole uint8
values stay exact). "values": the earlier form, one loop over output values
(each channel redoes the pixel's coordinates and gathers) and the colour map
as a 3x3 matmul after it; about half the speed (docs/benchmarks.md) on a
chain with colour ops, but on TensorFlow 2.21 the faster one for a chain
without them, so `make_augmenter` picks it there ("auto", `auto_variant`).

Where fusing changes a detail of the tutorial:
- One fill mode for the whole warp (reflect), so the padding that `crop(n)`
  brings into view is reflected image content, not the tutorial's zeros.
- Colour is clipped to [0, 1] once, at the end, not after each op, so values
  differ from the tutorial's only where an intermediate value saturated.
- Contrast pivots on the channel means of the image before the warp (the
  tutorial: after its rotation; the reflect fill keeps the two close), tracked
  exactly through the colour chain, which runs after the warp whatever its
  place in the spec.

Reproducible: every draw is a hash of (seed, image key, epoch)
(`components.trainer.augment.per_image_random`), so an image's augmentation in an epoch does not
depend on its batch, its order or the machine that augments it.
"""

from __future__ import annotations

import dataclasses
import logging

import tensorflow as tf

from components.trainer import xla_flags
from components.trainer.augment import per_image_random, registry, warp
from components.trainer.augment.spec_parser import DEFAULT_SPEC, FULL_SPEC, Op, parse_spec

__all__ = [
    "DEFAULT_SPEC", "FULL_SPEC", "VARIANTS", "Augmenter", "Op", "augment_batch", "make_augmenter", "parse_spec",
    "pass_parameters",
]

# "pixel": one loop over output pixels, colour inside, packed (the default);
# "values": the earlier loop over output values, colour as a matmul after it.
VARIANTS = ("pixel", "values")

_DRAWS_PER_OP = 2

# XLA's CPU flags (e.g. 512-bit vectors on an AVX-512 CPU) are process-wide: they are set where a
# process starts (`components.trainer.xla_flags`), never by importing this module.
_tf_version = xla_flags.tf_version


def geometry(ops: tuple[Op, ...], draws: list[tf.Tensor], size: int) -> tf.Tensor:
    """One output-to-input matrix [batch, 3, 3] per image, composing every geometric op."""
    one = tf.ones_like(draws[0][:, 0])
    zero = tf.zeros_like(one)
    centre = (size - 1.0) / 2.0
    matrix = registry.affine([[one, zero, centre * one], [zero, one, centre * one], [zero, zero, one]])
    for op, u in zip(ops, draws, strict=True):
        matrix = tf.linalg.matmul(matrix, registry.REGISTRY[op.name].contribution(op, u, one, zero))
    to_centre = registry.affine([[one, zero, -centre * one], [zero, one, -centre * one], [zero, zero, one]])
    return tf.linalg.matmul(matrix, to_centre)


def colour(ops: tuple[Op, ...], draws: list[tf.Tensor], channel_mean: tf.Tensor):
    """Compose the colour ops into one per-image affine map on RGB: x -> A x + b.

    Contrast pivots on the image's own channel means, tracked through the chain
    exactly, so the chain is one 3x3 matrix and one bias per image.
    """
    matrix = tf.eye(3, batch_shape=[tf.shape(channel_mean)[0]])
    bias = tf.zeros_like(channel_mean)
    for op, u in zip(ops, draws, strict=True):
        mean = tf.linalg.matvec(matrix, channel_mean) + bias  # the image's means at this point
        step, shift = registry.REGISTRY[op.name].contribution(op, u[:, 0], mean)
        matrix = tf.linalg.matmul(step, matrix)
        bias = tf.linalg.matvec(step, bias) + shift
    return matrix, bias


def _draws(keys: tf.Tensor, epoch: tf.Tensor, seed: int, ops: tuple[Op, ...]):
    """Each op's uniform draws, and the indices of the geometric and the colour ops."""
    base = per_image_random.image_base(keys, epoch, seed)
    u = per_image_random.uniforms(base, _DRAWS_PER_OP * max(len(ops), 1))
    draws = [u[:, _DRAWS_PER_OP * i : _DRAWS_PER_OP * (i + 1)] for i in range(len(ops))]
    kinds = [registry.REGISTRY[op.name].kind for op in ops]
    geometric = [i for i, kind in enumerate(kinds) if kind == registry.GEOMETRIC]
    colours = [i for i, kind in enumerate(kinds) if kind == registry.COLOUR]
    return draws, geometric, colours


def _channel_means(images: tf.Tensor) -> tf.Tensor:
    """Per-image channel means in [0, 1], summed as int32 over a planar [batch, 3, pixels] view:
    a contiguous reduction XLA vectorizes (the [batch, h, w, 3] reduce_mean took 4x longer)."""
    planar = tf.transpose(tf.reshape(images, [tf.shape(images)[0], -1, 3]), [0, 2, 1])
    count = images.shape[1] * images.shape[2]
    return tf.cast(tf.reduce_sum(tf.cast(planar, tf.int32), axis=2), tf.float32) * (1.0 / (255.0 * count))


def pass_parameters(images: tf.Tensor, keys: tf.Tensor, epoch: tf.Tensor, seed: int, ops: tuple[Op, ...]):
    """What the per-pixel pass applies to each image: its output-to-input matrix [batch, 3, 3]
    and its colour map (A [batch, 3, 3], b [batch, 3]; None without colour ops), from its draws."""
    size = images.shape[1]
    draws, geometric, colours = _draws(keys, epoch, seed, ops)
    if geometric:
        matrix = geometry(tuple(ops[i] for i in geometric), [draws[i] for i in geometric], size)
    else:  # the identity: every coordinate lands on a pixel centre, a copy
        matrix = tf.eye(3, batch_shape=[tf.shape(images)[0]])
    if not colours:
        return matrix, None
    mean = _channel_means(images)
    return matrix, colour(tuple(ops[i] for i in colours), [draws[i] for i in colours], mean)


def packed_pass(images: tf.Tensor, keys: tf.Tensor, epoch: tf.Tensor, seed: int, ops: tuple[Op, ...]) -> tf.Tensor:
    """The per-pixel pass's first program: int64 words [batch, pixels] (`warp.warp_colour_packed`)."""
    matrix, colour_map = pass_parameters(images, keys, epoch, seed, ops)
    if colour_map is None:
        return warp.warp_colour_packed(images, matrix)
    return warp.warp_colour_packed(images, matrix, *colour_map)


def augment_batch(
    images: tf.Tensor, keys: tf.Tensor, epoch: tf.Tensor, seed: int, ops: tuple[Op, ...], variant: str = "pixel"
) -> tf.Tensor:
    """Augment uint8 [batch, size, size, 3]; float32 in [0, 1] out, same shape.

    `keys` (int64 [batch], `per_image_random.filename_key`) and `epoch` (int64, a
    scalar or [batch]) pick each image's draws, with the run's `seed`.
    `variant`: "pixel" (the per-pixel packed pass) or "values" (the earlier
    loop over output values); the same draws and values within 1e-6.
    """
    if variant not in VARIANTS:
        raise ValueError(f"augmentation variant must be one of {VARIANTS}, got {variant!r}")
    size = images.shape[1]
    if variant == "pixel":
        return warp.unpack(packed_pass(images, keys, epoch, seed, ops), size)
    draws, geometric, colours = _draws(keys, epoch, seed, ops)
    if geometric:
        matrix = geometry(tuple(ops[i] for i in geometric), [draws[i] for i in geometric], size)
        pixels = warp.warp_bilinear(images, matrix)
    else:
        pixels = tf.cast(images, tf.float32)
    pixels = pixels * (1.0 / 255.0)
    if not colours:
        return pixels
    # The contrast pivot: channel means of the image before the warp. Taking them
    # after it would need a second pass over the output (half the speed, measured).
    mean = tf.reduce_mean(tf.cast(images, tf.float32), axis=[1, 2]) * (1.0 / 255.0)
    matrix, bias = colour(tuple(ops[i] for i in colours), [draws[i] for i in colours], mean)
    return warp.apply_colour(pixels, matrix, bias)


# TensorFlow from which a chain without colour ops runs faster as the per-value pass.
VALUES_FOR_GEOMETRY_FROM = (2, 21)


def auto_variant(ops: tuple[Op, ...]) -> str:
    """The faster pass for this chain here ("auto", `make_augmenter`'s default); both give the
    same values within 1e-6. A chain without colour ops (the tutorial's flips and rotation)
    needs no colour map, so the per-value pass has nothing to redo per channel but the
    coordinates: under TensorFlow 2.21's XLA it ran 1.5x the per-pixel pass per CPU-second
    there, under 2.16's 0.85x (docs/benchmarks.md). Every other chain: "pixel"."""
    has_colour = any(registry.REGISTRY[op.name].kind == registry.COLOUR for op in ops)
    return "values" if not has_colour and _tf_version() >= VALUES_FOR_GEOMETRY_FROM else "pixel"


@dataclasses.dataclass(frozen=True)
class Augmenter:
    """`augment_batch` for one spec and seed, XLA-compiled when `path == "xla"`."""

    fn: object
    path: str
    reason: str = ""
    variant: str = ""

    def __call__(self, images: tf.Tensor, keys: tf.Tensor, epoch: tf.Tensor) -> tf.Tensor:
        return self.fn(images, keys, epoch)


def make_augmenter(
    spec: str | tuple[Op, ...], seed: int, size: int, xla: bool = True, batch_size: int = 2, variant: str = "auto"
) -> Augmenter:
    """Compile the chain with XLA, or fall back to plain TensorFlow and log why.

    The XLA path is compiled right away for `batch_size` images, so a machine
    where XLA cannot compile fails over here, not inside the training loop, and
    the training batches find the compiled program ready. The "pixel" variant
    is two XLA programs, the packed pass and its unpacking, called in turn from
    one (uncompiled) function: in one program XLA would fuse them back into a
    loop over output values (`warp.warp_colour_packed`). `variant` "auto" (the
    default) picks the faster of the two for the chain (`auto_variant`).
    """
    ops = parse_spec(spec) if isinstance(spec, str) else tuple(spec)
    if variant == "auto":
        variant = auto_variant(ops)
    if variant not in VARIANTS:
        raise ValueError(f"augmentation variant must be one of {VARIANTS} or 'auto', got {variant!r}")

    def run(images, keys, epoch):
        return augment_batch(images, keys, epoch, seed, ops, variant)

    signature = [
        tf.TensorSpec([None, size, size, 3], tf.uint8),
        tf.TensorSpec([None], tf.int64),
        tf.TensorSpec([None], tf.int64),
    ]
    plain = tf.function(run, input_signature=signature)
    if not xla:
        return Augmenter(plain, "fallback", "XLA turned off", variant)
    if variant == "pixel":
        first = tf.function(lambda images, keys, epoch: packed_pass(images, keys, epoch, seed, ops),
                            input_signature=signature, jit_compile=True)
        second = tf.function(lambda words: warp.unpack(words, size), jit_compile=True,
                             input_signature=[tf.TensorSpec([None, size * size], tf.int64)])
        compiled = tf.function(lambda images, keys, epoch: second(first(images, keys, epoch)),
                               input_signature=signature)
    else:
        compiled = tf.function(run, input_signature=signature, jit_compile=True)
    try:
        compiled(
            tf.zeros([batch_size, size, size, 3], tf.uint8),
            tf.range(batch_size, dtype=tf.int64),
            tf.zeros([batch_size], tf.int64),
        )
    except (tf.errors.OpError, ValueError, NotImplementedError) as err:
        reason = " ".join(str(getattr(err, "message", err)).split())[:300]
        logging.getLogger(__name__).warning("augmentation: XLA cannot compile here (%s); using plain TF", reason)
        return Augmenter(plain, "fallback", reason, variant)
    return Augmenter(compiled, "xla", variant=variant)
