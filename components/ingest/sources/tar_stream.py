"""A tar reader of our own: one pass over a (compressed) stream, every header bounded.

Python's `tarfile` reads pax and GNU long-name / long-link headers whole into
memory, however large their size field says they are, and in stream mode
keeps every member it has passed in `TarFile.members`. This reader parses the
512-byte headers itself, the same on every Python version:
- an extended header (pax `x`/`g`/`X`, GNU long name `L`, long link `K`) is
  read only up to `features.MAX_TAR_HEADER_BYTES`; a larger one is skipped in
  small chunks, never held, and the member it belongs to carries a `problem`
  (its caller quarantines it);
- a member's body is read only when asked, and only when its size is within
  the caller's limit; otherwise it is skipped in chunks;
- nothing is kept of a member once the next one is read.
So memory stays flat whatever the headers claim, and the time is that of
decompressing the archive once.
"""

from __future__ import annotations

import bz2
import dataclasses
import lzma
import os
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from components import features

BLOCK = 512
_CHUNK = 1 << 20
_EXTENDED = {b"x": "pax header", b"X": "pax header", b"g": "global pax header",
             b"L": "GNU long name", b"K": "GNU long link"}
_REGULAR = (b"0", b"\x00", b"7")
_PAX_KEYS = ("path", "linkpath", "size")


class ArchiveError(OSError):
    """The stream is not a tar archive, or breaks inside one; the message says how."""


@dataclasses.dataclass(frozen=True)
class Member:
    """One tar member: `kind` is file, dir, link or other; `problem` is why its
    headers could not be trusted (set before its bytes are read)."""

    name: str
    kind: str
    size: int
    problem: str | None = None


class _Gunzip:
    """A gzip stream (one member or several) inflated by zlib, which also checks
    each member's CRC and length; `read(n)` returns at most n bytes, b"" at the end.
    (The gzip module does the same with an extra copy and a CRC in Python.)"""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""  # compressed bytes not yet given to zlib

    def read(self, n: int) -> bytes:
        while True:
            if self._inflate.eof:  # a member ended: another may follow (zero padding may too)
                rest = (self._inflate.unused_data + self._pending).lstrip(b"\x00")
                rest = rest or self._raw.read(_CHUNK).lstrip(b"\x00")
                if not rest:
                    return b""
                self._inflate, self._pending = zlib.decompressobj(16 + zlib.MAX_WBITS), rest
            data = self._inflate.unconsumed_tail or self._pending or self._raw.read(64 * 1024)
            self._pending = b""
            if not data:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")
            out = self._inflate.decompress(data, n)
            if out:
                return out


def open_decompressed(raw: BinaryIO) -> BinaryIO:
    """`raw` (seekable, at 0) decompressed by its magic bytes: gzip, bzip2, xz or none."""
    magic = raw.read(6)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return _Gunzip(raw)
    if magic[:3] == b"BZh":
        return bz2.BZ2File(raw, "rb")
    if magic == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw, "rb")
    return raw


def _number(field: bytes) -> int:
    """A numeric header field: octal text, or GNU base-256 (high bit set)."""
    if field[:1] in (b"\x80", b"\xff"):
        value = int.from_bytes(field[1:], "big")
        return value - (1 << (8 * (len(field) - 1))) if field[0] == 0xFF else value
    text = field.split(b"\x00", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise ArchiveError(f"invalid tar header (number field {text[:20]!r})") from None


def _text(field: bytes) -> str:
    return os.fsdecode(field.split(b"\x00", 1)[0])


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = _number(block[148:156])
    except ArchiveError:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    signed = unsigned - 256 * sum(1 for b in block[:148] + block[156:] if b > 127)
    return stored in (unsigned, signed)


def _pax_records(body: bytes) -> dict[str, str]:
    """The path, linkpath and size records of a pax header (`"LEN key=value\\n"`)."""
    found: dict[str, str] = {}
    pos = 0
    while pos < len(body) and body[pos:pos + 1] != b"\x00":
        space = body.find(b" ", pos)
        length = int(body[pos:space]) if space > pos and body[pos:space].isdigit() else 0
        record = body[space + 1 : pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise ArchiveError("invalid pax header (malformed record)")
        key, value = record[:-1].split(b"=", 1)
        if key.decode("utf-8", "replace") in _PAX_KEYS:
            found[key.decode()] = os.fsdecode(value)
        pos += length
    return found


class TarStream:
    """Members of a tar stream in order: iterate, and call `read` for the bytes
    of the current member before moving on (unread bytes are skipped)."""

    def __init__(self, fileobj: BinaryIO, header_limit: int | None = None):
        self._f = fileobj
        self._header_limit = features.MAX_TAR_HEADER_BYTES if header_limit is None else header_limit
        self._left = 0  # bytes of the current member's body (with padding) still in the stream
        self._size = 0  # the current member's size
        self._global: dict[str, str] = {}
        self.offset = 0  # bytes of the (decompressed) stream consumed so far

    def _read(self, n: int) -> bytes:
        parts = []
        while n > 0:
            chunk = self._f.read(min(n, _CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            n -= len(chunk)
        data = b"".join(parts)
        self.offset += len(data)
        return data

    def _skip(self, n: int) -> None:
        while n > 0:
            got = len(self._f.read(min(n, _CHUNK)))
            if not got:
                raise ArchiveError("unexpected end of data (the archive is truncated)")
            n -= got
            self.offset += got

    def read(self, limit: int) -> bytes:
        """The current member's bytes; ArchiveError if it is over `limit` or truncated."""
        if self._size > limit:
            raise ArchiveError(f"member of {self._size} bytes is above the {limit}-byte limit")
        data = self._read(self._size)
        if len(data) < self._size:
            raise ArchiveError("unexpected end of data (the archive is truncated)")
        self._skip(self._left - self._size)
        self._left = 0
        return data

    def _block(self) -> bytes | None:
        """The next header block; None at the end of the archive."""
        self._skip(self._left)
        self._left = 0
        block = self._read(BLOCK)
        if not block or block == bytes(BLOCK):
            return None  # end of archive (a zero block, or no more data at a block boundary)
        if len(block) < BLOCK:
            raise ArchiveError("unexpected end of data inside a tar header")
        if not _checksum_ok(block):
            where = "not a tar archive" if self.offset == BLOCK else "invalid tar header"
            raise ArchiveError(f"{where} (bad header checksum)")
        return block

    def __iter__(self) -> Iterator[Member]:
        local: dict[str, str] = {}
        long_name = problem = None
        while (block := self._block()) is not None:
            kind, size = block[156:157], _number(block[124:136])
            if size < 0:
                raise ArchiveError(f"invalid tar header (size {size})")
            self._size, self._left = size, -(-size // BLOCK) * BLOCK
            if kind in _EXTENDED:
                if size > self._header_limit:
                    problem = (f"tar header too large: a {_EXTENDED[kind]} of {size} bytes, above the "
                               f"{self._header_limit}-byte limit for headers; member not read")
                    continue  # its body is skipped with the next block
                body = self.read(self._header_limit)
                if kind == b"L":
                    long_name = _text(body)
                elif kind != b"K":  # a long link's target is never needed: links are not followed
                    (self._global if kind == b"g" else local).update(_pax_records(body))
                continue
            yield self._member(block, {**self._global, **local}, long_name, problem)
            local, long_name, problem = {}, None, None

    def _member(self, block: bytes, pax: dict[str, str], long_name: str | None, problem: str | None) -> Member:
        kind = block[156:157]
        name = _text(block[0:100])
        if block[257:263] == b"ustar\x00" and block[345:346] != b"\x00":
            name = _text(block[345:500]) + "/" + name
        name = pax.get("path") or long_name or name
        if "size" in pax and kind in _REGULAR:
            try:
                self._size = int(pax["size"])
            except ValueError:
                raise ArchiveError(f"invalid pax header (size {pax['size'][:20]!r})") from None
            self._left = -(-self._size // BLOCK) * BLOCK
        if kind == b"S" and block[482:483] != b"\x00":
            self._skip_sparse_extensions()
        if kind in _REGULAR and name.endswith("/"):
            kind = b"5"  # an old V7 archive's directory
        names = {b"5": "dir", b"1": "link", b"2": "link"}
        label = "file" if kind in _REGULAR else names.get(kind, "other")
        return Member(name, label, self._size, problem)

    def _skip_sparse_extensions(self) -> None:
        while True:
            block = self._read(BLOCK)
            if len(block) < BLOCK:
                raise ArchiveError("unexpected end of data inside a tar header")
            if block[504:505] == b"\x00":
                return
