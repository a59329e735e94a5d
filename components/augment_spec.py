"""Augmentation specs: `"flip(horizontal)|rotate(0.2)"` parsed into ops, without TensorFlow.

The command line checks a spec before any work (and before TensorFlow loads);
`components.augment` runs the ops. The ops and their meanings are listed there.
"""

from __future__ import annotations

import dataclasses
import re

DEFAULT_SPEC = "flip(horizontal_and_vertical)|rotate(0.2)"
FULL_SPEC = (
    "flip(horizontal_and_vertical)|rotate(0.2)|zoom(0.1)|crop(6)|"
    "contrast(0.2)|brightness(0.2)|saturation(0.8,1.2)|invert(0.05)"
)

GEOMETRIC_OPS = ("flip", "rotate", "zoom", "crop", "rot90", "central_crop")
COLOUR_OPS = ("contrast", "brightness", "saturation", "grayscale", "invert")
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
        if name not in GEOMETRIC_OPS + COLOUR_OPS:
            raise ValueError(
                f"augmentation spec: unknown op {name!r}; known: {', '.join(GEOMETRIC_OPS + COLOUR_OPS)}"
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
