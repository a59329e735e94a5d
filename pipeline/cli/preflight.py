"""The checks of `pipeline.cli.validate`'s kind for what it leaves to the step that fails late.

Before any work and without TensorFlow: the output path can be written, a local
data folder can be read, a `tfds:` name is a TFDS dataset with `image` and
`label` features (its builder's description, nothing downloaded), and
a `--classes` vocabulary file names at least two distinct classes. A bad value raises
`validate.UsageError`: one sentence, exit code 2.
"""

from __future__ import annotations

import argparse
import errno
import os

from components import uris
from components.ingest import sources
from pipeline.cli.validate import UsageError

# The --output of these commands is a folder; of the others, a file.
_OUTPUT_FOLDERS = ("run", "ingest")


def _reason(err: OSError) -> str:
    if isinstance(err, PermissionError):
        return "permission denied"
    return err.strerror or str(err)


def _existing_ancestor(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def check_writable(flag: str, path: str, kind: str) -> None:
    """`path` is, or can be created as, a `kind` ("folder" or "file") that this process may write."""
    if uris.is_remote(path):
        return
    absolute = os.path.abspath(path)
    exists = os.path.lexists(absolute)
    if exists and os.path.isdir(absolute) != (kind == "folder"):
        other = "a folder" if kind == "file" else "a file"
        raise UsageError(f"{flag} {path} is {other}; accepted: a {kind} path (new or existing) that can be written.")
    target = absolute if exists else _existing_ancestor(absolute)
    if not exists and not os.path.isdir(target):
        raise UsageError(f"{flag} {path} cannot be created: {target} is a file, not a folder.")
    if not os.access(target, os.W_OK | (os.X_OK if os.path.isdir(target) else 0)):
        where = "" if target == absolute else f" in {target}"
        raise UsageError(f"{flag} {path} cannot be written (permission denied{where}).")


def check_outputs(args: argparse.Namespace) -> None:
    command = args.command
    if command == "compile" and args.dry_run_local:
        check_writable("--dry-run-local", args.dry_run_local, "folder")
        return
    if getattr(args, "output", None):
        check_writable("--output", args.output, "folder" if command in _OUTPUT_FOLDERS else "file")
    if getattr(args, "work_dir", None):
        check_writable("--work-dir", args.work_dir, "folder")


def check_readable_folder(data: str) -> None:
    """A local data folder whose listing fails says so, not that it is no archive."""
    if uris.is_remote(data) or not os.path.isdir(data):
        return
    try:
        with os.scandir(data):
            pass
    except OSError as err:
        raise UsageError(f"--data {data}: the folder cannot be read ({_reason(err)}).") from None


def check_tfds(data: str, data_dir: str | None = None) -> None:
    """A `tfds:NAME` source must name a TFDS dataset whose examples have `image` and a class `label`."""
    if not sources.is_tfds(data):
        return
    name = data[len(sources.TFDS_PREFIX):]
    import tensorflow_datasets as tfds

    try:
        features = tfds.builder(name, data_dir=data_dir or None).info.features
    except tfds.core.registered.DatasetNotFoundError:
        raise UsageError(f"--data {data}: TFDS has no dataset named {name!r}; accepted: tfds:tf_flowers "
                         "or another TFDS image classification dataset.") from None
    except Exception as err:  # noqa: BLE001 - a builder that cannot describe itself is refused here
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UsageError(f"--data {data}: the TFDS dataset cannot be opened ({first}).") from None
    keys = set(features.keys()) if hasattr(features, "keys") else set()
    label = features["label"] if "label" in keys else None
    if "image" not in keys or not getattr(label, "names", None):
        found = ", ".join(sorted(keys)) or "none"
        raise UsageError(f"--data {data}: the TFDS dataset has no `image` and class `label` features "
                         f"(its features: {found}); accepted: an image classification dataset such as tf_flowers.")


def check(args: argparse.Namespace) -> None:
    """Raise UsageError for the first bad value among those checked here."""
    command = args.command
    if getattr(args, "wait_seconds", 0) < 0:
        raise UsageError(f"--wait-seconds {args.wait_seconds:g} is not accepted: it must be 0 (do not wait) or more.")
    if command in ("run", "ingest", "compile") and getattr(args, "classes", None):
        from components import vocabulary

        try:
            vocabulary.read(args.classes)
        except vocabulary.VocabularyError as err:
            raise UsageError(f"--classes: {err}.") from None
    if command in ("run", "ingest", "preview", "bench"):
        check_readable_folder(args.data)
        check_tfds(args.data, getattr(args, "tfds_data_dir", None))
    check_outputs(args)


def is_disk_full(error: BaseException | None) -> bool:
    """Whether `error`, or an error it was raised from, is a full disk (ENOSPC, also as TensorFlow words it)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        if "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def disk_full_message(command: str, output: str | None, log_path: str | None = None,
                      stage: str | None = None) -> str:
    """One sentence for a run that ran out of disk space part-way."""
    where = f" under {output}" if output else ""
    during = f" during {stage}" if stage else ""
    log = f" (log: {log_path})" if log_path else ""
    stopped = "the run stopped and reports no pushed model" if command == "run" else f"{command} stopped"
    return (f"flowers {command}: the disk ran out of space{during} (no space left on device); {stopped}: "
            f"free some space{where} and run again{log}.")
