"""A zip reader of our own: the central directory read once and bounded, each
member inflated at most once and never past the size the directory declares.

Python's `zipfile` trusts a member's declared sizes only loosely (it inflates
and truncates), holds a large object per entry, and differs between Python
versions (overlapping members are refused from 3.12 on). This reader parses
the zip structures itself, the same on every Python:
- the end record gives the central directory's size and entry count before
  any of it is read: over `features.MAX_ZIP_DIRECTORY_BYTES` or
  `features.MAX_ZIP_ENTRIES`, the zip is refused (`ArchiveError`, one sentence);
- each member's sizes, flags and file type come from its directory entry, so a
  member is judged before a byte of it is inflated (`Member.refused`): over
  `features.MAX_FILE_BYTES`, compressing better than `features.MAX_ZIP_RATIO`:1,
  encrypted, compressed by a method other than stored, deflate or bzip2, or
  overlapping another member's data (how a zip bomb makes one compressed
  stream count many times);
- `read_member` asks the decompressor for at most the declared size plus one
  byte: a member that inflates to more, or to less, or fails its CRC, raises
  `MemberError` (its caller quarantines it).
"""

from __future__ import annotations

import bz2
import dataclasses
import stat
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from components import features
from components.ingest.sources.entry import too_large_reason
from components.ingest.sources.tar_stream import ArchiveError

_END = struct.Struct("<4s4H2LH")  # end of central directory record, 22 bytes
_END64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes, just before the end record
_END64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end record, 56 bytes
_ENTRY = struct.Struct("<4s6H3L5H2L")  # central directory entry, 46 bytes
_LOCAL = struct.Struct("<4s5H3L2H")  # local file header, 30 bytes
_MAX_COMMENT = 65535
_CHUNK = 1 << 20
_STORED, _DEFLATED, _BZIP2 = 0, 8, 12
_METHODS = {_STORED: "stored", _DEFLATED: "deflate", _BZIP2: "bzip2", 9: "deflate64", 14: "lzma",
            93: "zstandard", 95: "xz", 99: "AES encryption"}
_UTF8_FLAG, _ENCRYPTED_FLAG = 0x800, 0x1
_WORD = 0xFFFFFFFF


class MemberError(ValueError):
    """One member cannot be read; the message is the quarantine reason."""


@dataclasses.dataclass(frozen=True)
class Member:
    """One central directory entry: `kind` is file, dir, link or other;
    `refused` is why it is not to be read, known before any byte is."""

    name: str
    kind: str
    size: int
    compressed: int = 0
    method: int = _STORED
    crc: int = 0
    offset: int = 0  # of its local header, in the file
    raw_name: bytes = b""
    refused: str | None = None


def is_zip(path: str) -> bool:
    return path.lower().endswith(".zip")


def _directory_extent(raw: BinaryIO) -> tuple[int, int, int, int]:
    """(entries, size, start in the file, where the directory says it starts) of
    the central directory, from the end record; nothing of the directory is read."""
    raw.seek(0, 2)
    end = raw.tell()
    tail_len = min(end, _END.size + _MAX_COMMENT)
    raw.seek(end - tail_len)
    tail = raw.read(tail_len)
    at = tail.rfind(b"PK\x05\x06", 0, max(len(tail) - _END.size + 4, 0))
    if at < 0:
        raise ArchiveError("not a zip archive, or a truncated one (no end of central directory record)")
    _, _, _, _, entries, size, offset, _ = _END.unpack_from(tail, at)
    where = end - tail_len + at
    if (entries == 0xFFFF or size == _WORD or offset == _WORD) and where >= _END64_LOCATOR.size + _END64.size:
        raw.seek(where - _END64_LOCATOR.size - _END64.size)
        record = raw.read(_END64.size + _END64_LOCATOR.size)
        if record[_END64.size:_END64.size + 4] == b"PK\x06\x07" and record[:4] == b"PK\x06\x06":
            _, _, _, _, _, _, _, entries, size, offset = _END64.unpack_from(record)
            where -= _END64_LOCATOR.size + _END64.size
    if size > features.MAX_ZIP_DIRECTORY_BYTES:
        raise ArchiveError(f"zip central directory of {size} bytes, above the "
                           f"{features.MAX_ZIP_DIRECTORY_BYTES}-byte limit (features.MAX_ZIP_DIRECTORY_BYTES)")
    if entries > features.MAX_ZIP_ENTRIES:
        raise ArchiveError(f"zip of {entries} entries, above the {features.MAX_ZIP_ENTRIES}-entry limit "
                           "(features.MAX_ZIP_ENTRIES); a .tgz or a folder has none")
    if where - size < 0 or offset > where - size:
        raise ArchiveError("damaged zip (the central directory lies outside the file)")
    return entries, size, where - size, offset


def _zip64(extra: bytes, values: list[int]) -> list[int]:
    """The sizes and offset a zip64 extra field holds for the fields set to 0xFFFFFFFF."""
    pos = 0
    while pos + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, pos)
        if kind == 1:
            body, found = extra[pos + 4:pos + 4 + length], []
            for value in values:
                if value == _WORD:
                    if len(body) < 8:
                        raise ArchiveError("damaged zip (a zip64 entry without its sizes)")
                    value, body = struct.unpack_from("<Q", body)[0], body[8:]
                found.append(value)
            return found
        pos += 4 + length
    raise ArchiveError("damaged zip (a zip64 entry without its sizes)")


def _kind(name: str, external: int) -> str:
    mode = external >> 16
    if name.endswith("/") or stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "file" if stat.S_IFMT(mode) in (0, stat.S_IFREG) else "other"


def _refusal(flags: int, method: int, size: int, compressed: int) -> str | None:
    if flags & _ENCRYPTED_FLAG or method == 99:
        return "encrypted (a password-protected zip member): not read"
    if method not in (_STORED, _DEFLATED, _BZIP2):
        name = _METHODS.get(method, "unknown")
        return (f"compressed with zip method {method} ({name}), which is not supported "
                "(stored, deflate, bzip2): not read")
    if size > features.MAX_FILE_BYTES:
        return too_large_reason(size)
    if size > features.MAX_ZIP_RATIO * compressed:
        return (f"zip bomb: {compressed} compressed bytes declare {size} ({size // max(compressed, 1)}:1, above "
                f"the {features.MAX_ZIP_RATIO}:1 limit for a zip member): not read")
    if method == _STORED and size != compressed:
        return f"damaged zip member: stored, yet its sizes differ ({compressed} and {size} bytes): not read"
    return None


def _entries(directory: bytes, shift: int) -> Iterator[Member]:
    pos, count = 0, 0
    while pos < len(directory):
        count += 1
        if count > features.MAX_ZIP_ENTRIES:
            raise ArchiveError(f"zip of more than {features.MAX_ZIP_ENTRIES} entries, above the limit "
                               "(features.MAX_ZIP_ENTRIES); a .tgz or a folder has none")
        if len(directory) - pos < _ENTRY.size or directory[pos:pos + 4] != b"PK\x01\x02":
            raise ArchiveError(f"damaged zip (central directory entry {count} is not one)")
        (_, _, _, flags, method, _, _, crc, compressed, size, n, m, k, _, _, external, offset) = (
            _ENTRY.unpack_from(directory, pos))
        raw_name = directory[pos + _ENTRY.size:pos + _ENTRY.size + n]
        extra = directory[pos + _ENTRY.size + n:pos + _ENTRY.size + n + m]
        pos += _ENTRY.size + n + m + k
        if pos > len(directory):
            raise ArchiveError(f"damaged zip (central directory entry {count} runs past the directory)")
        if _WORD in (compressed, size, offset):
            size, compressed, offset = _zip64(extra, [size, compressed, offset])
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:  # names without the UTF-8 flag are cp437 by the standard
            name = raw_name.decode("utf-8", "surrogateescape") if flags & _UTF8_FLAG else raw_name.decode("cp437")
        kind = _kind(name, external)
        refused = _refusal(flags, method, size, compressed) if kind == "file" else None
        yield Member(name, kind, size, compressed, method, crc, offset + shift, raw_name, refused)


def _mark_overlaps(members: list[Member], directory_start: int) -> list[Member]:
    """Members whose data (at least 30 header bytes, the name and the compressed
    size) runs into the next member's, or into the central directory, are refused."""
    order = sorted(range(len(members)), key=lambda i: members[i].offset)
    bad: set[int] = set()
    for here, after in zip(order, order[1:] + [None], strict=True):
        m = members[here]
        end = m.offset + _LOCAL.size + len(m.raw_name) + m.compressed
        if end > (directory_start if after is None else members[after].offset):
            bad.add(here)
            if after is not None:
                bad.add(after)
    reason = "its data overlaps another member's or the central directory (how zip bombs are built): not read"
    return [dataclasses.replace(m, refused=reason) if i in bad and m.kind == "file" else m
            for i, m in enumerate(members)]


def _directory(raw: BinaryIO) -> tuple[bytes, int, int]:
    _, size, start, declared = _directory_extent(raw)
    raw.seek(start)
    directory = raw.read(size)
    if len(directory) < size:
        raise ArchiveError("damaged zip (the central directory is truncated)")
    return directory, start, declared


def directory_bytes(raw: BinaryIO) -> bytes:
    """The central directory as stored: every member's name, sizes and CRC."""
    return _directory(raw)[0]


def list_members(raw: BinaryIO) -> list[Member]:
    """Every central directory entry, in directory order (ArchiveError if the zip
    cannot be listed at all)."""
    directory, start, declared = _directory(raw)
    return _mark_overlaps(list(_entries(directory, start - declared)), start)


def _chunks(raw: BinaryIO, size: int) -> Iterator[bytes]:
    while size > 0:
        chunk = raw.read(min(size, _CHUNK))
        if not chunk:
            raise MemberError("damaged zip member: the archive ends inside its data")
        size -= len(chunk)
        yield chunk


def _inflate(member: Member, chunks: Iterator[bytes]) -> bytes:
    limit = member.size + 1  # one byte past the declared size is enough to catch a lie
    out = bytearray()
    if member.method == _STORED:
        for chunk in chunks:
            out += chunk
        return bytes(out)
    decoder = zlib.decompressobj(-zlib.MAX_WBITS) if member.method == _DEFLATED else bz2.BZ2Decompressor()
    for chunk in chunks:
        data = chunk
        while True:
            out += decoder.decompress(data, limit - len(out))
            if len(out) > member.size:
                raise MemberError(f"damaged or crafted zip member: it inflates past the {member.size} bytes "
                                  "its directory entry declares; not read further")
            data = getattr(decoder, "unconsumed_tail", b"")
            if decoder.eof or not (data or not getattr(decoder, "needs_input", True)):
                break
        if decoder.eof:
            break
    if not decoder.eof:
        raise MemberError("damaged zip member: its compressed data ends before the end of its stream")
    return bytes(out)


def read_member(raw: BinaryIO, member: Member) -> bytes:
    """The member's bytes, checked against its declared size and CRC."""
    raw.seek(member.offset)
    header = raw.read(_LOCAL.size)
    if len(header) < _LOCAL.size or header[:4] != b"PK\x03\x04":
        raise MemberError("damaged zip member: no local header where the central directory points")
    n, m = _LOCAL.unpack_from(header)[-2:]
    if raw.read(n) != member.raw_name:
        raise MemberError("damaged zip member: its local header names another file")
    raw.seek(member.offset + _LOCAL.size + n + m)
    try:
        data = _inflate(member, _chunks(raw, member.compressed))
    except (zlib.error, OSError, EOFError) as err:
        raise MemberError(f"damaged zip member: {err}") from None
    if len(data) != member.size:
        raise MemberError(f"damaged zip member: it holds {len(data)} bytes, not the {member.size} "
                          "its directory entry declares")
    if zlib.crc32(data) != member.crc:
        raise MemberError("damaged zip member: CRC check failed (its bytes are not those it was zipped with)")
    return data
