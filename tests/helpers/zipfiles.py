"""Zip archives made in the tests, honest or crafted: zipfile writes them, and
these helpers rewrite fields of the central directory afterwards (what a hostile
tool could write)."""

from __future__ import annotations

import stat
import struct
import zipfile

_ENTRY_SIG, _END_SIG = b"PK\x01\x02", b"PK\x05\x06"
# Field -> (offset in a central directory entry, struct format).
_FIELDS = {"flags": (8, "<H"), "crc": (16, "<L"), "compressed": (20, "<L"), "size": (24, "<L"),
           "external": (38, "<L")}


def write_zip(path, members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> None:
    """A zip of `members` (name -> bytes) in that order; a name ending in / is a folder."""
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)


def add_symlink(path, name: str, target: str) -> None:
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo(name)
        info.create_system = 3  # unix: the high 16 bits of external_attr are st_mode
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)


def add_zeros(path, name: str, size: int) -> None:
    """A deflated member of `size` zero bytes, written in 1 MiB chunks (the test never holds it)."""
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w") as out:
        left = size
        while left:
            out.write(chunk[:min(left, len(chunk))])
            left -= min(left, len(chunk))


def _entries(data: bytes):
    """(position, name) of every central directory entry."""
    end = data.rfind(_END_SIG)
    size, start = struct.unpack_from("<LL", data, end + 12)
    pos = start
    while pos < start + size:
        assert data[pos:pos + 4] == _ENTRY_SIG
        n, m, k = struct.unpack_from("<3H", data, pos + 28)
        yield pos, data[pos + 46:pos + 46 + n].decode()
        pos += 46 + n + m + k


def patch_entry(path, name: str, **fields: int) -> None:
    """Rewrites fields (flags, crc, compressed, size, external) of `name`'s directory entry."""
    data = bytearray(path.read_bytes())
    [pos] = [pos for pos, found in _entries(bytes(data)) if found == name]
    for field, value in fields.items():
        offset, fmt = _FIELDS[field]
        struct.pack_into(fmt, data, pos + offset, value)
    path.write_bytes(bytes(data))


def repoint_entry(path, name: str, like: str) -> None:
    """Points `name`'s directory entry at `like`'s local header and data, as a
    non-recursive zip bomb points many entries at one compressed stream."""
    data = bytearray(path.read_bytes())
    found = dict((n, pos) for pos, n in _entries(bytes(data)))
    for offset in (16, 20, 24, 42):  # crc, sizes and the local header's offset
        data[found[name] + offset:found[name] + offset + 4] = data[found[like] + offset:found[like] + offset + 4]
    path.write_bytes(bytes(data))
