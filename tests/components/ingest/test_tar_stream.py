"""The archive reader: every tar header bounded, nothing of a passed member kept,
names as `tarfile` writes them (ustar, GNU, pax)."""

import gzip
import io
import tarfile
import time
import tracemalloc

import pytest

from components import features
from components.ingest import sources
from components.ingest.sources import archives, tar_stream
from components.ingest.sources.entry import QUARANTINED
from tests.helpers import imagefiles as images

_BLOCK = 512


def _header(name, size, kind=tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info.tobuf(format=tarfile.GNU_FORMAT)


def _pad(size):
    return bytes(-size % _BLOCK)


def _member(gz, name, data):
    gz.write(_header(name, len(data)) + data + _pad(len(data)))


def _extended(gz, kind, size, fill=b"a"):
    """An extended header of `size` bytes, its body streamed in chunks (never held)."""
    gz.write(_header("././@LongLink", size, kind))
    left = size
    while left:
        chunk = min(left, 1 << 20)
        gz.write(fill * chunk)
        left -= chunk
    gz.write(_pad(size))


def _pax(records):
    body = b""
    for key, value in records.items():
        line = f" {key}={value}\n".encode()
        digits = len(str(len(line)))
        while len(str(len(line) + digits)) != digits:
            digits += 1
        body += str(len(line) + digits).encode() + line
    return body


LONG = 64 << 20  # a GNU long name claiming 64 MiB (tarfile would hold all of it)


@pytest.fixture
def hostile(tmp_path):
    """Photos around three oversized headers and one honest pax header."""
    path = tmp_path / "hostile.tgz"
    with gzip.open(path, "wb", compresslevel=6) as gz:
        _member(gz, "flower_photos/daisy/d0.jpg", images.jpeg(seed=0))
        _extended(gz, tarfile.GNUTYPE_LONGNAME, LONG)
        _member(gz, "flower_photos/daisy/victim.jpg", images.jpeg(seed=1))
        _member(gz, "flower_photos/roses/r0.jpg", images.jpeg(seed=2))
        _extended(gz, tarfile.XHDTYPE, features.MAX_TAR_HEADER_BYTES + 1, fill=b"0")
        _member(gz, "flower_photos/roses/pax_victim.jpg", images.jpeg(seed=3))
        _extended(gz, tarfile.GNUTYPE_LONGLINK, 300_000)
        _member(gz, "flower_photos/roses/link_victim.jpg", images.jpeg(seed=4))
        honest = _pax({"path": "flower_photos/tulips/" + "t" * 150 + ".jpg"})
        gz.write(_header("././@PaxHeader", len(honest), tarfile.XHDTYPE) + honest + _pad(len(honest)))
        _member(gz, "flower_photos/tulips/short.jpg", images.jpeg(seed=5))
        _member(gz, "flower_photos/tulips/t1.jpg", images.jpeg(seed=6))
        gz.write(bytes(2 * _BLOCK))
    return path


def _reason(kind, size):
    return (f"tar header too large: a {kind} of {size} bytes, above the {features.MAX_TAR_HEADER_BYTES}-byte "
            "limit for headers; member not read")


def test_oversized_headers_quarantine_their_member_in_bounded_memory(hostile):
    assert hostile.stat().st_size < 1_000_000  # the headers claim over 64 MB
    tracemalloc.start()
    started = time.process_time()
    read = list(archives.iter_archive(str(hostile), "flower_photos", with_bytes=True))
    cpu = time.process_time() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 6_000_000  # a few 1 MiB chunks, never the 64 MiB name
    assert cpu < 30
    quarantined = {e.path: e.reason for e, _ in read if e.verdict == QUARANTINED}
    assert quarantined == {
        "flower_photos/daisy/victim.jpg": _reason("GNU long name", LONG),
        "flower_photos/roses/pax_victim.jpg": _reason("pax header", features.MAX_TAR_HEADER_BYTES + 1),
        "flower_photos/roses/link_victim.jpg": _reason("GNU long link", 300_000),
    }
    ingested = {e.filename: data for e, data in read if e.verdict is None}
    tulip = "tulips/" + "t" * 150 + ".jpg"  # the honest pax header names its member
    assert sorted(ingested) == sorted(["daisy/d0.jpg", "roses/r0.jpg", tulip, "tulips/t1.jpg"])
    assert ingested[tulip] == images.jpeg(seed=5) and ingested["tulips/t1.jpg"] == images.jpeg(seed=6)
    assert len(read) == 7


def test_one_pass_listing_learns_the_root_and_stops_early(hostile):
    root, listed = archives.read_archive(str(hostile), summarize=len)
    assert root == "flower_photos"
    sizes = {e.filename: n for e, n in listed if e.verdict is None}
    assert sizes["daisy/d0.jpg"] == len(images.jpeg(seed=0))
    assert sum(e.verdict == QUARANTINED for e, _ in listed) == 3
    assert len(sources.list_entries(str(hostile))) == 7
    first, complete = sources.first_entries(str(hostile), 2)  # daisy, then roses: stops there
    assert [e.path for e in first] == [
        "flower_photos/daisy/d0.jpg", "flower_photos/daisy/victim.jpg", "flower_photos/roses/r0.jpg"
    ]
    assert not complete
    assert sources.first_entries(str(hostile), 4)[1]  # three classes only: read to the end


def test_a_header_claiming_gigabytes_at_the_end_is_a_break_not_a_hang(tmp_path):
    path = tmp_path / "claims.tgz"
    with gzip.open(path, "wb") as gz:
        _member(gz, "p/daisy/a.jpg", images.jpeg(seed=0))
        gz.write(_header("././@LongLink", 2 << 30, tarfile.GNUTYPE_LONGNAME) + b"x" * 1000)
    read = list(archives.iter_archive(str(path), "p", with_bytes=True))
    assert [e.filename for e, _ in read[:1]] == ["daisy/a.jpg"]
    assert read[1][0].path == "claims.tgz (archive)"
    assert read[1][0].reason == (
        "not readable: the archive breaks here (unexpected end of data (the archive is truncated)); "
        "what follows was not listed"
    )
    assert len(read) == 2


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_names_and_bytes_match_tarfile(tmp_path, fmt):
    names = ["flower_photos/" + "d" * 120 + "/a.jpg", "flower_photos/roses/" + "r" * 90 + ".jpg"]
    if fmt != tarfile.USTAR_FORMAT:
        names += ["flower_photos/roses/" + "long" * 60 + ".jpg", "flower_photos/tulips/fleur-\u00e9t\u00e9.jpg"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for i, name in enumerate(names):
            data = images.jpeg(seed=i)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("flower_photos/roses/link.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    buf.seek(0)
    stream = tar_stream.TarStream(buf)
    seen = [(m.name, m.kind, stream.read(10**6) if m.kind == "file" else None) for m in stream]
    assert seen == [(n, "file", images.jpeg(seed=i)) for i, n in enumerate(names)] + [
        ("flower_photos/roses/link.jpg", "link", None)
    ]


def test_not_an_archive_is_one_error(tmp_path):
    path = tmp_path / "photos.tgz"
    path.write_bytes(b"these are not photos\n" * 100)
    with pytest.raises(tar_stream.ArchiveError, match=r"^not a tar archive \(bad header checksum\)$"):
        sources.list_entries(str(path))
