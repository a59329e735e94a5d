"""What a command prints, and where everything else goes.

Quiet by default: for the length of a command, the process's own stdout and
stderr file descriptors point at a log file, so that Python warnings, absl and
Beam logging, TensorFlow's C++ messages and Beam worker processes (which
inherit the descriptors) all land there. The console keeps a duplicate of the
original streams and writes only the lines a person needs. `--verbose` leaves
the streams alone and shows every log record as well.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Console:
    """Lines for a person: `out` for results, `err` for errors."""

    def __init__(self, out: TextIO, err: TextIO, log_path: str | None = None):
        self.out = out
        self.err = err
        self.log_path = log_path
        self.live = _isatty(out)

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def error(self, text: str) -> None:
        print(text, file=self.err, flush=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _keep(stream: TextIO) -> tuple[TextIO, bool]:
    """A stream that still reaches the user once fd 1/2 point at the log, and whether it is ours."""
    try:
        fd = stream.fileno()
    except (AttributeError, io.UnsupportedOperation, ValueError):
        return stream, False  # an in-memory stream (pytest's capsys): no descriptor to move
    stream.flush()
    copy = os.fdopen(os.dup(fd), "w", buffering=1, encoding=getattr(stream, "encoding", None) or "utf-8",
                     errors="replace")
    return copy, True


def run_log_path(output: str) -> str:
    """The log of `run` and `ingest`, under the run's output folder."""
    return os.path.join(output, "logs", "run.log")


def default_log_path(command: str) -> str:
    """For commands without an output folder of their own."""
    return os.path.join(tempfile.gettempdir(), "flowers-logs", f"{command}.log")


@contextlib.contextmanager
def session(log_path: str, verbose: bool = False) -> Iterator[Console]:
    """Send library output to `log_path` (and fd 1/2 with it unless verbose); yield the console."""
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    log = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
    out, own_out = _keep(sys.stdout)
    err, own_err = _keep(sys.stderr)
    saved_streams = sys.stdout, sys.stderr
    saved_fds = []
    root = logging.getLogger()
    saved_logging = root.handlers[:], root.level
    handlers = [logging.StreamHandler(log)]
    if verbose:
        handlers.append(logging.StreamHandler(err))
    else:
        for fd in (1, 2):
            saved_fds.append((fd, os.dup(fd)))
            os.dup2(log.fileno(), fd)
        sys.stdout = sys.stderr = log
    for handler in handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.handlers = handlers
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    # absl sets its logger's level from its --verbosity flag whenever flags are
    # parsed (some libraries parse them mid-run); INFO keeps TFX's component
    # records, which the stage lines follow, flowing.
    from absl import logging as absl_logging

    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.INFO)
    try:
        yield Console(out, err, os.path.abspath(log_path))
    finally:
        absl_logging.set_verbosity(verbosity)
        logging.captureWarnings(False)
        root.handlers, level = saved_logging
        root.setLevel(level)
        log.flush()
        for fd, copy in saved_fds:
            os.dup2(copy, fd)
            os.close(copy)
        sys.stdout, sys.stderr = saved_streams
        for stream, own in ((out, own_out), (err, own_err)):
            if own:
                stream.close()
        log.close()
