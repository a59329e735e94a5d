"""`RunConfig`'s fields as flags, and the flags back as a `RunConfig` (`pipeline.configs`).

`run`, `ingest` and `compile` add their settings here, so every setting has one
name, one help text and one default wherever it is given; `compile` changes
only the defaults that name paths inside the container image.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from pipeline import configs


def flag_name(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def add_flags(parser: argparse.ArgumentParser, *, ingest_only: bool = False, skip: tuple[str, ...] = (),
              defaults: dict[str, tuple[Any, str]] | None = None) -> None:
    """One flag per RunConfig field (those `flowers ingest` takes, with `ingest_only`), but `skip`.

    `defaults` gives a field another default and help text for this command.
    """
    defaults = defaults or {}
    for field in configs.settings():
        if field.name in skip or (ingest_only and not field.metadata.get("ingest")):
            continue
        value = configs.default(field)
        value, text = defaults.get(field.name, (value, field.metadata["help"]))
        kwargs: dict[str, Any] = {"dest": field.name, "default": value, "help": text}
        for key in ("choices", "metavar"):
            if key in field.metadata:
                kwargs[key] = field.metadata[key]
        if isinstance(value, bool):
            kwargs["action"] = "store_true"
        elif isinstance(value, list):
            kwargs["action"] = "append"
        elif value is not None and not isinstance(value, str):
            kwargs["type"] = type(value)
        parser.add_argument(flag_name(field), **kwargs)


def config_from_args(args: argparse.Namespace, **given: Any) -> configs.RunConfig:
    """The settings parsed by `add_flags` (a field the command has no flag for keeps its default), and `given`."""
    values = {f.name: getattr(args, f.name) for f in configs.settings() if hasattr(args, f.name)}
    return configs.RunConfig(**{**values, **given})
