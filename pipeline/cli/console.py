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
import errno
import io
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# Back to the start of the line and clear it: a status line is rewritten in place.
_REWRITE = "\r\x1b[K"


class Console:
    """Lines for a person: `out` for results, `err` for errors.

    `status` shows a line that the next one replaces, on a terminal only (in a
    pipe it prints nothing), so every stage ends up as one line either way.
    """

    def __init__(self, out: TextIO, err: TextIO, log_path: str | None = None):
        self.out = out
        self.err = err
        self.log_path = log_path
        self.live = _isatty(out)
        self._status_shown = False

    def status(self, text: str) -> None:
        if self.live:
            self.out.write(_REWRITE + text)
            self.out.flush()
            self._status_shown = True

    def _end_status(self) -> str:
        shown, self._status_shown = self._status_shown, False
        return _REWRITE if shown else ""

    def line(self, text: str = "") -> None:
        print(self._end_status() + text, file=self.out, flush=True)

    def error(self, text: str) -> None:
        cleared = self._end_status()
        if cleared:
            self.out.write(cleared)
            self.out.flush()
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


class LogFileError(Exception):
    """The log cannot be opened safely; the message is one sentence."""


def _private_folder(path: str) -> str:
    """`path` as a folder of this user's only (created 0700), refusing one another user could write to."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise LogFileError(f"the log folder {path} is not a folder of user {os.getuid()} (it is a link or another "
                           "user's); remove it or set XDG_STATE_HOME to a folder of your own")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)  # our own folder, made private
    return path


def private_log_dir() -> str:
    """This user's log folder: $XDG_STATE_HOME (or ~/.local/state)/flowers-tfx/logs, else one in the temp folder."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    try:
        return _private_folder(os.path.join(state, "flowers-tfx", "logs"))
    except OSError:  # no writable home: a folder named by the uid in the temp folder, checked the same way
        private = _private_folder(os.path.join(tempfile.gettempdir(), f"flowers-tfx-{os.getuid()}"))
        return _private_folder(os.path.join(private, "logs"))


def default_log_path(command: str) -> str:
    """For commands without an output folder of their own: a private per-user folder."""
    return os.path.join(private_log_dir(), f"{command}.log")


def open_log(path: str) -> TextIO:
    """The log opened for append, never through a symbolic link, and only if it is a regular file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise LogFileError(f"the log {path} is a symbolic link, which is never followed; remove it") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LogFileError(f"the log {path} is not a regular file; remove it")
    return os.fdopen(fd, "a", buffering=1, encoding="utf-8", errors="replace")


@contextlib.contextmanager
def session(log_path: str, verbose: bool = False) -> Iterator[Console]:
    """Send library output to `log_path` (and fd 1/2 with it unless verbose); yield the console."""
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    log = open_log(log_path)  # closed below
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
