"""One source per output, one run at a time.

An output folder is one pipeline's history: its ML Metadata, its spans'
examples, the window, the drift baseline and the photos the duplicate check
knows. Two things would make that history lie, and both are refused in one
sentence before any work:

- a second run into an output that a run holds (`OutputInUseError`): each run
  holds an exclusive `flock` on `<output>/.flowers.lock` while it runs (the
  kernel drops it when the process ends, however it ends);
- a run whose source is not the one the output's earlier runs read
  (`OtherSourceError`): the first run records it in `<output>/source.txt`.
  Refused rather than kept apart, because keeping two sources in one output
  would need two windows, two baselines and two duplicate histories in one
  store; an output of its own per source is simpler and is what TFX does
  (one pipeline root per pipeline).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator

from components import uris

LOCK_FILE = ".flowers.lock"
SOURCE_FILE = "source.txt"

_held: dict[str, int] = {}  # outputs this process holds -> depth (a run inside `flowers run` takes it again)
_held_lock = threading.Lock()


class OutputInUseError(RuntimeError):
    pass


class OtherSourceError(RuntimeError):
    pass


def _key(output: str) -> str:
    return os.path.realpath(output)


@contextlib.contextmanager
def hold(output: str, command: str = "run") -> Iterator[None]:
    """Hold `output` for this run; `OutputInUseError` when another run holds it."""
    key = _key(output)
    with _held_lock:
        if key in _held:  # this process holds it already
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_lock:
                _held[key] -= 1
        return
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "a process"
        os.close(fd)
        raise OutputInUseError(
            f"{output} is in use by another flowers run ({holder}): wait for it to end, "
            "or give this run another --output"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}, flowers {command}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
    with _held_lock:
        _held[key] = 1
    try:
        yield
    finally:
        with _held_lock:
            del _held[key]
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def source_identity(data: str) -> str:
    """What names a source across runs: a local path resolved, a URI or `tfds:` name as given."""
    if data.startswith("tfds:") or uris.is_remote(data):
        return data.rstrip("/")
    return os.path.realpath(data)


def scratch_output(work_dir: str, data: str) -> str:
    """An output of its own for `data` below a benchmark's work dir, so benchmarks of several sources can
    share one `--work-dir` (each source's runs and cache stay apart)."""
    import hashlib

    identity = source_identity(data)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in os.path.basename(identity.rstrip("/")))[:40]
    return os.path.join(work_dir, f"{name or 'data'}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}")


def check_source(output: str, data: str) -> None:
    """Record the output's source on its first run; refuse another source later."""
    path = os.path.join(output, SOURCE_FILE)
    this = source_identity(data)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            recorded = f.read(10_000).strip()
        if recorded and recorded != this:
            raise OtherSourceError(
                f"{output} holds the runs of {recorded}, and this run reads {this}: an output keeps one "
                "source's spans, window, drift baseline and duplicate history, so give this source another --output"
            )
        if recorded:
            return
    os.makedirs(output, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(this + "\n")
