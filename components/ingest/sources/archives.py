"""Archives (`.tgz`, `.tar.gz`, `.tar`, `.zip`) as a source, read in place and never extracted.

A tar archive is read by `components.ingest.sources.tar_stream` (bounded headers,
nothing kept of a passed member), a zip by `components.ingest.sources.zip_reader`
(its central directory, then each photo's member), once per use:
`read_archive` lists it and learns its root in the same pass; `iter_archive`
reads it when the root is known; `first_entries` stops as soon as enough
classes are seen. Both kinds follow the same rules (`components.ingest.sources`).
"""

from __future__ import annotations

import dataclasses
import lzma
import posixpath
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from components import features, uris
from components.ingest import image_check
from components.ingest.sources import tar_stream, zip_reader
from components.ingest.sources.entry import (
    MACOS_RESOURCE_DIR,
    QUARANTINED,
    Entry,
    display_name,
    error_text,
    link,
    place,
    too_large_reason,
)

# What a damaged or truncated archive raises part-way through the stream.
_ARCHIVE_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)


class _Roots:
    """The archive's single top folder (`flower_photos`), from the names seen so far.

    Hidden and metadata entries (`._flower_photos`, `.DS_Store`, `__MACOSX/`,
    `Thumbs.db`, a README or LICENSE beside the folder) do not count.
    """

    def __init__(self) -> None:
        self._tops: set[str] = set()  # at most two: two tops mean no root
        self._deep = False

    def add(self, name: str) -> None:
        parts = _safe_parts(name)
        if not parts or _is_metadata_top(parts) or len(self._tops) > 1:
            return
        self._tops.add(parts[0])
        self._deep = self._deep or len(parts) > 1

    @property
    def root(self) -> str | None:
        return next(iter(self._tops)) if len(self._tops) == 1 and self._deep else None


def _is_metadata_top(parts: list[str]) -> bool:
    top = parts[0]
    if top == MACOS_RESOURCE_DIR or top.startswith("."):
        return True
    return len(parts) == 1 and image_check.is_dataset_metadata(top)


def _safe_parts(name: str) -> list[str] | None:
    """The path components of a member name, as text, or None if the name is unsafe."""
    if name.startswith("/") or "\\" in name or (name[1:2] == ":" and name[:1].isalpha()):  # C:/ too
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return [display_name(p) for p in parts]


@dataclasses.dataclass(frozen=True)
class _Read:
    """What one pass learnt of a member: `problem` quarantines it whatever its
    place (untrusted headers, a break, a damaged zip member); `refused` (too
    large, a zip bomb, encrypted: not read) only if its place keeps it.
    `member` is None for a break between members."""

    member: tar_stream.Member | zip_reader.Member | None
    problem: str | None = None
    refused: str | None = None


def _open(path: str):
    # Local archives are opened without TensorFlow, so that the command line can
    # list one before anything heavy is imported (and before the console is quiet).
    if uris.is_remote(path):
        import tensorflow as tf

        return tf.io.gfile.GFile(path, "rb")
    return open(path, "rb")  # noqa: SIM115 - closed by the caller


def _scan(path: str, with_bytes: bool) -> Iterator[tuple[_Read, bytes | None]]:
    """Every member in archive order, with the bytes of each regular file within
    `features.MAX_FILE_BYTES` if asked. If the archive breaks part-way, a last item
    says where (the member being read, or a break between members)."""
    if zip_reader.is_zip(path):
        yield from _scan_zip(path, with_bytes)
        return
    with _open(path) as raw:
        reading, started = None, False
        try:
            stream = tar_stream.TarStream(tar_stream.open_decompressed(raw))
            for member in stream:
                reading, data, started = member, None, True
                item = _Read(member, member.problem)
                if with_bytes and member.problem is None and member.kind == "file":
                    if member.size > features.MAX_FILE_BYTES:
                        item = dataclasses.replace(item, refused=too_large_reason(member.size))
                    else:
                        data = stream.read(features.MAX_FILE_BYTES)
                reading = None
                yield item, data
        except _ARCHIVE_ERRORS as err:
            if not started:  # not an archive at all: the caller says so in one sentence
                if isinstance(err, tar_stream.ArchiveError):
                    raise
                raise tar_stream.ArchiveError(f"not a tar archive: {error_text(err)}") from None
            reason = f"not readable: the archive breaks here ({error_text(err)}); what follows was not listed"
            yield _Read(reading, reason), None


def _scan_zip(path: str, with_bytes: bool) -> Iterator[tuple[_Read, bytes | None]]:
    """Every zip member in central directory order, with the bytes of each photo
    to check if asked. The directory names every member before any is inflated,
    so the root is known first and only members placed in a class are read."""
    with _open(path) as raw:
        try:
            members = zip_reader.list_members(raw)
        except (OSError, EOFError, ValueError) as err:  # not a zip, truncated, or a damaged directory
            if isinstance(err, tar_stream.ArchiveError):
                raise
            raise tar_stream.ArchiveError(f"not a readable zip archive: {error_text(err)}") from None
        roots = _Roots()
        for member in members:
            roots.add(member.name)
        for member in members:
            item, data = _Read(member, refused=member.refused), None
            if with_bytes and member.refused is None and _class_of(_archive_entry(member, roots.root)):
                try:
                    data = zip_reader.read_member(raw, member)
                except zip_reader.MemberError as err:
                    item = _Read(member, problem=str(err))
            yield item, data


def _placed(item: _Read, root: str | None, path: str) -> Entry | None:
    """The entry for one member under `root` (None for a directory)."""
    if item.member is None:
        return Entry(f"{posixpath.basename(path)} (archive)", verdict=QUARANTINED, reason=item.problem)
    if item.problem is not None:
        return Entry(display_name(item.member.name), verdict=QUARANTINED, reason=item.problem)
    entry = _archive_entry(item.member, root)
    if entry is not None and item.refused and entry.verdict is None:
        return entry.quarantined(item.refused)
    return entry


def iter_archive(
    path: str, root: str | None, with_bytes: bool = False
) -> Iterator[tuple[Entry, bytes | None]]:
    """Every file of a tar archive, in archive order, with its bytes if asked.

    Members over `features.MAX_FILE_BYTES` are quarantined unread (their size is
    in the member header), and so are members whose extended header is over
    `features.MAX_TAR_HEADER_BYTES`. If the archive breaks part-way (truncated,
    corrupt), one quarantined entry says where, and what follows cannot be listed.
    """
    for item, data in _scan(path, with_bytes):
        entry = _placed(item, root, path)
        if entry is not None:
            yield entry, (data if entry.verdict is None else None)


def read_archive(
    path: str, summarize: Callable[[bytes], Any] | None = None
) -> tuple[str | None, list[tuple[Entry, Any]]]:
    """The archive's root and every file under it, in one pass: with
    `summarize(bytes)` for each file still to be checked (None for the others),
    or no bytes read at all without `summarize`."""
    roots, seen = _Roots(), []
    for item, data in _scan(path, with_bytes=summarize is not None):
        if item.member is not None:
            roots.add(item.member.name)
        seen.append((item, None if data is None else summarize(data)))
    root = roots.root
    placed = [(_placed(item, root, path), summary) for item, summary in seen]
    return root, [(e, summary if e.verdict is None else None) for e, summary in placed if e is not None]


def archive_root(path: str) -> str | None:
    """The archive's single top folder (`flower_photos`), or None.

    An archive that breaks part-way is judged on the members read before the
    break; `iter_archive` reports the break.
    """
    return read_archive(path)[0]


def first_entries(path: str, classes: int) -> list[Entry]:
    """The archive's files up to the first point where `classes` class folders
    hold a file, placed under the root the names read so far show (all of them
    when the archive has fewer classes). No bytes are read."""
    roots, seen = _Roots(), []
    root, found = None, set()
    for item, _ in _scan(path, with_bytes=False):
        seen.append(item)
        if item.member is not None:
            roots.add(item.member.name)
        recent = [item]
        if roots.root != root:  # the root is known now, or proved wrong: place all again
            root, found, recent = roots.root, set(), seen
        found.update(_class_of(_placed(i, root, path)) for i in recent)
        found.discard(None)
        if len(found) >= classes:
            break
    return [e for e in (_placed(i, root, path) for i in seen) if e is not None]


def _class_of(entry: Entry | None) -> str | None:
    return entry.class_name if entry is not None and entry.verdict is None else None


def _archive_entry(member: tar_stream.Member | zip_reader.Member, root: str | None) -> Entry | None:
    name = display_name(member.name)
    if member.kind == "dir":
        return None
    parts = _safe_parts(member.name)
    if parts is None:
        return Entry(
            name,
            verdict=QUARANTINED,
            reason="unsafe path in archive (absolute, with '..' or a backslash): not read",
        )
    if member.kind == "link":
        return link(name)
    if member.kind != "file":
        return Entry(name, verdict=QUARANTINED, reason="not a regular file")
    if root is not None and parts[0] == root and len(parts) > 1:
        parts = parts[1:]
    return place(name, parts)
