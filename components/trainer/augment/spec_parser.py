"""Augmentation specs: `"flip(horizontal)|rotate(0.2)"` parsed into ops, without TensorFlow.

The command line checks a spec before any work (and before TensorFlow loads);
`components.trainer.augment.fused` runs the ops. The ops, their parameters and meanings are
the registry in `components.trainer.augment.registry`.
"""

from __future__ import annotations

import dataclasses
import re

from components.trainer.augment import registry

DEFAULT_SPEC = "flip(horizontal_and_vertical)|rotate(0.2)"
FULL_SPEC = (
    "flip(horizontal_and_vertical)|rotate(0.2)|zoom(0.1)|crop(6)|"
    "contrast(0.2)|brightness(0.2)|saturation(0.8,1.2)|invert(0.05)"
)

GEOMETRIC_OPS = registry.names(registry.GEOMETRIC)
COLOUR_OPS = registry.names(registry.COLOUR)
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
        info = registry.REGISTRY.get(name)
        if info is None:
            raise ValueError(
                f"augmentation spec: unknown op {name!r}; known: {', '.join(registry.names())}"
            )
        args = tuple(a.strip() for a in raw.split(",")) if raw else info.default
        if name == "flip":
            if args[0] not in registry.FLIP_MODES:
                raise ValueError(
                    f"augmentation spec: flip mode must be one of {registry.FLIP_MODES}, got {args[0]!r}"
                )
        else:
            try:
                args = tuple(float(a) for a in args)
            except ValueError:
                raise ValueError(f"augmentation spec: {part!r} takes numbers") from None
        if len(args) != len(info.params):
            raise ValueError(f"augmentation spec: {part!r} takes {len(info.params)} argument(s): {info.usage}")
        ops.append(Op(name, args))
    return tuple(ops)
