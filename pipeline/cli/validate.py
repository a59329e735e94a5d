"""Every command's arguments are checked here, before any work and before TensorFlow loads.

A bad value ends the command with one sentence that names the value and what is
accepted, and exit code 2 (`UsageError`). The augmentation spec is parsed by
`components.trainer.augment.spec_parser`, which needs no TensorFlow either.
"""

from __future__ import annotations

import argparse
import os

from components import uris
from components.ingest import sources

DATA_ACCEPTED = (
    "a folder of class folders (<root>/<class>/<image file>), a .tgz, .tar.gz, .tar or .zip of one, "
    "or tfds:tf_flowers"
)
# Flags that must be positive numbers, and those that must lie in [0, 1].
_POSITIVE = ("epochs", "batch_size", "learning_rate", "accelerator_count", "rounds")
_FRACTIONS = ("max_quarantined", "min_accuracy")


class UsageError(ValueError):
    """A command-line value that cannot work; the message is the whole explanation."""


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_numbers(args: argparse.Namespace) -> None:
    for dest in _POSITIVE:
        value = getattr(args, dest, None)
        if value is not None and value <= 0:
            raise UsageError(f"{_flag(dest)} {value} is not accepted: it must be a positive number.")
    spans = getattr(args, "spans", None)
    if spans is not None and spans < 0:
        raise UsageError(f"--spans {spans} is not accepted: it must be 0 (every span) or a number of spans.")
    patience = getattr(args, "patience", None)
    if patience is not None and patience < 0:
        raise UsageError(f"--patience {patience} is not accepted: it must be 0 (never stop early) or more epochs.")
    for dest in _FRACTIONS:
        value = getattr(args, dest, None)
        if value is not None and not 0.0 <= value <= 1.0:
            raise UsageError(f"{_flag(dest)} {value} is not accepted: it must be a fraction between 0 and 1.")


def check_data(data: str, min_classes: int = 1) -> int | None:
    """The number of files the source holds (None when it cannot be listed here).

    Local folders are listed with the same rules ExampleGen uses
    (`components.ingest.sources`); an archive is read only up to the first photos of
    `min_classes` classes (its count is then unknown: None).
    """
    if sources.is_tfds(data) or uris.is_remote(data):
        return None
    if not os.path.exists(data):
        raise UsageError(f"--data {data}: no such file or folder; accepted: {DATA_ACCEPTED}.")
    if os.path.isfile(data) and not sources.is_archive(data):
        suffix = os.path.splitext(data)[1] or "(no extension)"
        raise UsageError(
            f"--data {data}: unsupported file type {suffix}; accepted: {DATA_ACCEPTED}."
        )
    from components.ingest import spans

    found = spans.span_folders(data)
    if found:  # a span root: a run reads its newest span
        data = spans.span_source(data, found[-1][0])
    try:
        entries, complete = sources.first_entries(data, min_classes)
    except (OSError, EOFError) as err:  # tar_stream.ArchiveError is an OSError
        raise UsageError(f"--data {data}: cannot be read as an archive ({err}); accepted: {DATA_ACCEPTED}.") from None
    classes = sources.class_folders(entries)
    if not classes:
        raise UsageError(
            f"--data {data} holds no photos in class folders; accepted: {DATA_ACCEPTED}."
        )
    if len(classes) < min_classes:
        raise UsageError(
            f"--data {data} has photos of {len(classes)} class only ({', '.join(classes)}); "
            f"a classifier needs photos in at least {min_classes} class folders."
        )
    return len(entries) if complete else None


def check_schema_dir(schema_dir: str | None) -> None:
    if schema_dir is None or uris.is_remote(schema_dir):
        return
    if not os.path.isfile(os.path.join(schema_dir, "schema.pbtxt")):
        raise UsageError(f"--schema-dir {schema_dir}: no schema.pbtxt there; accepted: a folder holding schema.pbtxt.")


def check_augmentation(spec: str | None) -> None:
    if spec is None:
        return
    from components.trainer.augment import spec_parser

    try:
        spec_parser.parse_spec(spec)
    except ValueError as err:
        reason = str(err).removeprefix("augmentation spec: ")
        raise UsageError(
            f"--augmentation {spec!r} is not accepted: {reason} (ops are named in components/trainer/augment/fused.py)."
        ) from None


def check_augment_in(args: argparse.Namespace) -> None:
    """`--augment-in` names a placement, and `model` goes without `--data-service`."""
    value = getattr(args, "augment_in", None)
    if value is None:
        return
    from components.trainer.augment import placement

    try:
        placement.check(value)
    except ValueError as err:
        reason = str(err).split(": ", 1)[1]
        raise UsageError(f"--augment-in {value} is not accepted: {reason}.") from None
    if value == placement.MODEL and getattr(args, "data_service", None):
        raise UsageError(
            "--augment-in model and --data-service do not go together: the service's workers are there to augment "
            "on other machines' CPUs; drop one of them."
        )


def check_model(path: str) -> None:
    if not uris.is_remote(path) and not os.path.isdir(path):
        raise UsageError(
            f"--model {path}: no such folder; accepted: a SavedModel folder or the Pusher's "
            "serving_model folder of numbered versions."
        )


def check_service_address(flag: str, address: str | None) -> None:
    from components.trainer.tf_data_service import parse_address

    if address and address != "local":
        try:
            parse_address(address)
        except ValueError:
            raise UsageError(f"{flag} {address} is not accepted: it must look like grpc://HOST:PORT.") from None


def check_compile(args: argparse.Namespace) -> None:
    if args.dry_run_local and args.vertex_project:
        raise UsageError("--dry-run-local cannot run the Vertex AI training job of --vertex-project; drop one of them.")
    if args.target == "kubeflow" and args.vertex_project:
        raise UsageError("--vertex-project trains on Vertex AI, which a Kubeflow Pipelines cluster cannot start; "
                         "compile with --target vertex, or drop --vertex-project.")
    if args.spans:
        raise UsageError(f"--spans {args.spans} is not accepted by compile: TFX's KFP v2 compiler compiles no "
                         "window of spans, so a compiled run trains on the newest span; leave --spans at 0.")


def check(args: argparse.Namespace) -> int | None:
    """Raise UsageError for the first bad value; return the file count of --data if listed."""
    check_numbers(args)
    check_augmentation(getattr(args, "augmentation", None))
    check_augment_in(args)
    command = args.command
    if command == "data-service":
        check_service_address("--dispatcher", getattr(args, "dispatcher", None))
        return None
    check_service_address("--data-service", getattr(args, "data_service", None))
    files = None
    if command == "compile":
        check_compile(args)
    if command == "predict":
        check_model(args.model)
    elif command != "compile":  # compile's --data names a path inside the container image
        files = check_data(args.data, min_classes=2 if command == "run" else 1)
    if command in ("run", "ingest"):
        check_schema_dir(args.schema_dir)
    return files

