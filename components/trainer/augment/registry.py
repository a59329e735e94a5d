"""The augmentation ops, each registered once under its spec name (big_vision style).

An entry holds the op's parameters, its tutorial counterpart and meaning, and
the function that gives its contribution to the fused pass:

- a geometric op returns its output-to-input matrix, [batch, 3, 3], in
  coordinates centred on the image (`components.trainer.augment.fused.geometry` composes them);
- a colour op returns its affine map on RGB, x -> A x + b: A [batch, 3, 3] and
  b [batch, 3], given the image's current channel means (`augment.colour`
  composes them, tracking the means through the chain).

Spec parsing and checking (`spec_parser`), the fused pass (`fused`),
`preview` and docs/augmentation.md's op table all read `REGISTRY`. Adding an op is one
`@register` entry here and one test in tests/components/trainer/augment/test_augment.py.

Importing this module does not import TensorFlow (the command line checks a
spec before TensorFlow loads): `tf` below is bound on first use, when an op runs.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable

GEOMETRIC = "geometric"
COLOUR = "colour"
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
# Luma weights of tf.image.rgb_to_grayscale.
LUMA = (0.2989, 0.5870, 0.1140)


class _TensorFlowOnUse:
    """`tf.x` imports TensorFlow the first time an op runs, never at this module's import."""

    def __getattr__(self, name: str):
        return getattr(importlib.import_module("tensorflow"), name)


tf = _TensorFlowOnUse()


@dataclasses.dataclass(frozen=True)
class OpInfo:
    name: str
    kind: str  # GEOMETRIC or COLOUR
    params: tuple[str, ...]  # parameter names, in spec order
    tutorial: str  # the tutorial's counterpart
    meaning: str  # what the parameters mean
    contribution: Callable
    default: tuple = ()  # the arguments when the spec gives none (flip only)

    @property
    def usage(self) -> str:
        return f"{self.name}({', '.join(self.params)})" if self.params else self.name


REGISTRY: dict[str, OpInfo] = {}


def register(name: str, kind: str, params: tuple[str, ...], tutorial: str, meaning: str, default: tuple = ()):
    """Decorator: register `fn` as the contribution of op `name`."""

    def add(fn: Callable) -> Callable:
        if name in REGISTRY:
            raise ValueError(f"augmentation op {name!r} is registered twice")
        REGISTRY[name] = OpInfo(name, kind, params, tutorial, meaning, fn, default)
        return fn

    return add


def names(kind: str | None = None) -> tuple[str, ...]:
    return tuple(n for n, info in REGISTRY.items() if kind is None or info.kind == kind)


def table() -> str:
    """The op table in Markdown, as the README shows it."""
    rows = ["| op | tutorial | parameter |", "|---|---|---|"]
    rows += [f"| `{i.usage}` | {i.tutorial} | {i.meaning} |" for i in REGISTRY.values()]
    return "\n".join(rows)


def symmetric(u, limit: float):
    """A uniform draw in [0, 1) mapped to [-limit, limit)."""
    return (2.0 * u - 1.0) * limit


def affine(rows):
    """Per-image 3x3 matrices [batch, 3, 3] from a nested list of [batch] tensors."""
    return tf.stack([tf.stack(row, axis=-1) for row in rows], axis=-2)


def _diagonal(x, y, one, zero):
    return affine([[x, zero, zero], [zero, y, zero], [zero, zero, one]])


def _rotation(angle, one, zero):
    cos, sin = tf.cos(angle), tf.sin(angle)
    return affine([[cos, -sin, zero], [sin, cos, zero], [zero, zero, one]])


# Geometric ops: (op, draws [batch, 2], one, zero) -> [batch, 3, 3].

@register("flip", GEOMETRIC, ("mode",), "RandomFlip", "horizontal, vertical, horizontal_and_vertical",
          default=("horizontal_and_vertical",))
def _flip(op, u, one, zero):
    sx = tf.where(u[:, 0] < 0.5, -one, one) if op.args[0] != "vertical" else one
    sy = tf.where(u[:, 1] < 0.5, -one, one) if op.args[0] != "horizontal" else one
    return _diagonal(sx, sy, one, zero)


@register("rotate", GEOMETRIC, ("f",), "RandomRotation(f)", "fraction of a full turn, +-f")
def _rotate(op, u, one, zero):
    return _rotation(symmetric(u[:, 0], op.args[0] * 2.0 * math.pi), one, zero)


@register("zoom", GEOMETRIC, ("f",), "RandomZoom(f)", "+-f; positive zooms out")
def _zoom(op, u, one, zero):
    scale = 1.0 + symmetric(u[:, 0], op.args[0])
    return _diagonal(scale, scale, one, zero)


@register("crop", GEOMETRIC, ("n",), "resize_with_crop_or_pad(size + n), random_crop(size)",
          "pixels of padding, n/2 a side")
def _crop(op, u, one, zero):
    # Pad n // 2 before and the rest after, crop at a random offset in 0..n: an
    # output pixel then shows the input pixel offset - n // 2 away.
    pad = int(op.args[0])
    shift = tf.floor(u * (pad + 1.0)) - float(pad // 2)
    return affine([[one, zero, shift[:, 0]], [zero, one, shift[:, 1]], [zero, zero, one]])


@register("rot90", GEOMETRIC, (), "tf.image.rot90 with a random k", "-")
def _rot90(op, u, one, zero):
    return _rotation(tf.floor(u[:, 0] * 4.0) * (math.pi / 2.0), one, zero)


@register("central_crop", GEOMETRIC, ("f",), "tf.image.central_crop, resized back", "kept fraction")
def _central_crop(op, u, one, zero):
    return _diagonal(op.args[0] * one, op.args[0] * one, one, zero)


# Colour ops: (op, draw [batch], current channel means [batch, 3]) -> (A, b).

def _eye(mean):
    return tf.eye(3, batch_shape=[tf.shape(mean)[0]])


def _towards_luma(amount, mean):
    """Mix each pixel towards its luma by `amount` [batch] (1 keeps it, 0 is gray)."""
    eye = _eye(mean)
    mix = amount[:, None, None] * eye + (1.0 - amount)[:, None, None] * tf.constant([LUMA] * 3)
    return mix, tf.zeros_like(mean)


@register("contrast", COLOUR, ("f",), "RandomContrast(f)", "factor in [1-f, 1+f]")
def _contrast(op, u, mean):
    factor = (1.0 + symmetric(u, op.args[0]))[:, None]
    return factor[:, :, None] * _eye(mean), (1.0 - factor) * mean


@register("brightness", COLOUR, ("d",), "tf.image.stateless_random_brightness", "delta in [-d, d]")
def _brightness(op, u, mean):
    return _eye(mean), symmetric(u, op.args[0])[:, None] + tf.zeros_like(mean)


@register("saturation", COLOUR, ("lo", "hi"), "a mix towards the image's luma", "1 keeps colour, 0 is gray")
def _saturation(op, u, mean):
    return _towards_luma(op.args[0] + u * (op.args[1] - op.args[0]), mean)


@register("grayscale", COLOUR, ("p",), "tf.image.rgb_to_grayscale", "probability per image")
def _grayscale(op, u, mean):
    return _towards_luma(tf.where(u < op.args[0], 0.0, 1.0), mean)


@register("invert", COLOUR, ("p",), "the tutorial's RandomInvert layer", "probability per image")
def _invert(op, u, mean):
    chosen = u < op.args[0]
    sign = tf.where(chosen, -1.0, 1.0)[:, None]
    return sign[:, :, None] * _eye(mean), tf.cast(chosen, tf.float32)[:, None] + tf.zeros_like(mean)


if __name__ == "__main__":
    print(table())
