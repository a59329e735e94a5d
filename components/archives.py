"""Tar archives (`.tgz`, `.tar.gz`, `.tar`) as a source, streamed and never extracted."""

from __future__ import annotations

import posixpath
import tarfile
import zlib
from collections.abc import Iterator

from components import image_check, limits
from components.entries import (
    MACOS_RESOURCE_DIR,
    QUARANTINED,
    Entry,
    display_name,
    error_text,
    link,
    place,
    too_large_reason,
)


def _archive_root(names: list[str]) -> str | None:
    """The single top folder of an archive (`flower_photos`), if it has one.

    Hidden and metadata entries (`._flower_photos`, `.DS_Store`, `__MACOSX/`,
    `Thumbs.db`, a README or LICENSE beside the folder) do not count.
    """
    paths = [p for p in (_safe_parts(n) for n in names) if p and not _is_metadata_top(p)]
    tops = {p[0] for p in paths}
    if len(tops) == 1 and any(len(p) > 1 for p in paths):
        return tops.pop()
    return None


def _is_metadata_top(parts: list[str]) -> bool:
    top = parts[0]
    if top == MACOS_RESOURCE_DIR or top.startswith("."):
        return True
    return len(parts) == 1 and image_check.is_dataset_metadata(top)


def _safe_parts(name: str) -> list[str] | None:
    """The path components of a member name, as text, or None if the name is unsafe."""
    if name.startswith("/") or "\\" in name:
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return [display_name(p) for p in parts]


def _open_archive(path: str):
    # Stream mode ("r|*") reads the archive front to back once, which is all a
    # remote file or a pipe allows; members are never extracted to disk. A
    # local archive is opened without TensorFlow, so that the command line can
    # list it before anything heavy is imported (and before the console is quiet).
    if "://" in path:
        import tensorflow as tf

        raw = tf.io.gfile.GFile(path, "rb")
    else:
        raw = open(path, "rb")  # noqa: SIM115 - closed with the tarfile by the caller
    return raw, tarfile.open(fileobj=raw, mode="r|*")


def archive_root(path: str) -> str | None:
    """The archive's single top folder (`flower_photos`), or None.

    An archive that breaks part-way is judged on the members read before the
    break; `iter_archive` reports the break.
    """
    names: list[str] = []
    raw, tar = _open_archive(path)
    with raw, tar:
        try:
            names.extend(m.name for m in tar)
        except _ARCHIVE_ERRORS:
            pass
    return _archive_root(names)


# What a damaged or truncated archive raises part-way through the stream.
_ARCHIVE_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error)


def iter_archive(
    path: str, root: str | None, with_bytes: bool = False
) -> Iterator[tuple[Entry, bytes | None]]:
    """Every file of a tar archive, in archive order, with its bytes if asked.

    Members over `limits.MAX_FILE_BYTES` are quarantined unread (their size is
    in the member header). If the archive breaks part-way (truncated, corrupt),
    one quarantined entry says where, and what follows cannot be listed.
    """
    raw, tar = _open_archive(path)
    reading = None  # the member whose bytes are being read
    with raw, tar:
        try:
            for member in tar:
                entry = _archive_entry(member, root)
                if entry is None:
                    continue
                data = None
                if with_bytes and entry.verdict is None:
                    if member.size > limits.MAX_FILE_BYTES:
                        entry = entry.quarantined(too_large_reason(member.size))
                    else:
                        reading = entry
                        data = tar.extractfile(member).read()
                        reading = None
                yield entry, data
        except _ARCHIVE_ERRORS as err:
            broken = reading or Entry(f"{posixpath.basename(path)} (archive)")
            yield broken.quarantined(
                f"not readable: the archive breaks here ({error_text(err)}); what follows was not listed"
            ), None


def _archive_entry(member: tarfile.TarInfo, root: str | None) -> Entry | None:
    name = display_name(member.name)
    if member.isdir():
        return None
    parts = _safe_parts(member.name)
    if parts is None:
        return Entry(
            name,
            verdict=QUARANTINED,
            reason="unsafe path in archive (absolute or with '..'): not read",
        )
    if member.issym() or member.islnk():
        return link(name)
    if not member.isreg():
        return Entry(name, verdict=QUARANTINED, reason="not a regular file")
    if root is not None and parts[0] == root and len(parts) > 1:
        parts = parts[1:]
    return place(name, parts)
