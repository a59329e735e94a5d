"""Read one local file safely: no symbolic link followed, only a regular file, never past the limit.

A file is listed first and read later, so it may have been swapped meanwhile
for a symbolic link (which would be followed out of the data root) or a FIFO
(which would block the reader). So the file is opened with `O_NOFOLLOW` (a
link fails to open) and `O_NONBLOCK` (a FIFO opens at once), below a folder
through every directory's own descriptor, each opened with `O_NOFOLLOW` too;
then the open descriptor is measured (`os.fstat`): only a regular file within
the limit is read, from that descriptor, and never more than limit + 1 bytes.
"""

from __future__ import annotations

import errno
import os
import stat

from components.ingest.sources.entry import LINK_REASON, error_text, too_large_reason

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class RefusedFileError(Exception):
    """The file is not read; the message is the reason, for a person."""


def _open(path: str, base: str | None) -> int:
    """A descriptor for `path` (relative to `base`, if given), no link followed."""
    if base is None:
        return os.open(path, _FLAGS)
    *folders, name = path.split("/")
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the root the user named
    try:
        for folder in folders:
            try:
                inner = os.open(folder, _DIR_FLAGS, dir_fd=fd)
            except NotADirectoryError:  # Linux's answer for a link to a folder, too
                if stat.S_ISLNK(os.stat(folder, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), folder) from None
                raise
            os.close(fd)
            fd = inner
        return os.open(name, _FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


def read_file(path: str, limit: int, base: str | None = None) -> bytes:
    """The bytes of the regular file `path` (below the folder `base`, if given),
    or RefusedFileError: a symbolic link, not a regular file, over `limit`
    bytes, or not readable (the OS error is the reason)."""
    try:
        fd = _open(path, base)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EMLINK):  # what O_NOFOLLOW gives for a link
            raise RefusedFileError(LINK_REASON) from None
        raise RefusedFileError(f"not readable: {error_text(err)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise RefusedFileError(f"not a regular file ({kind}): not read")
        if info.st_size > limit:
            raise RefusedFileError(too_large_reason(info.st_size))
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(limit + 1 - total, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as err:
        raise RefusedFileError(f"not readable: {error_text(err)}") from None
    finally:
        os.close(fd)
    if total > limit:  # it grew since it was measured
        raise RefusedFileError(too_large_reason(total))
    return b"".join(chunks)
