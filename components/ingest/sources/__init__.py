"""Where photos come from: a class-labelled folder, a `.tgz` or `.zip` of one, or TFDS.

Every file a source holds becomes exactly one `Entry`: either placed in a class
(and later ingested or quarantined by its content) or given a verdict here, from
its place in the tree alone. Nothing is dropped without a trace.

The rules for a tree (a folder, or an archive's single top folder):
- `<root>/<class>/<file>` is a photo of `<class>`; `<root>/<class>/<sub>/.../<file>`
  too (nested folders belong to their top-level class folder).
- Hidden files and folders, `__MACOSX/`, `Thumbs.db` and licence / read-me
  files are dataset metadata: skipped, and listed as skipped. They never decide
  an archive's root either: a macOS-made `.tgz` holding `._flower_photos`,
  `.DS_Store` or a README beside `flower_photos/` still has that root.
- Any other file directly under `<root>` has no class: quarantined.
- Symbolic links (to files or folders) are never followed, so nothing a user's
  folder or archive contains can make the pipeline read outside it: each link
  is quarantined with that reason. Archive members with an absolute path or a
  `..` component (or a backslash, or a drive letter) are quarantined the same
  way; archives are read in memory and never extracted.
- A class folder with no files is not a class; the report lists it.
- Nothing is read before its size is known (`os.fstat` of the opened file,
  `tf.io.gfile.stat`, the tar member's header, the zip's central directory): a
  file over `features.MAX_FILE_BYTES` is quarantined unread, and so is a zip
  member that is encrypted or compresses better than `features.MAX_ZIP_RATIO`:1
  (`components.ingest.sources.zip_reader`). A local file is opened
  without following links and must be a regular file (`components.ingest.sources.local_files`).
  A file or folder that cannot be read (permissions, I/O error) is quarantined
  with the error as the reason.
- A file name that is not valid UTF-8 is kept: `path` and `filename` show its
  undecodable bytes as `\\xNN` escapes (`display_name`), while the file is read
  through its real name (`os_path`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

from components import features, uris
from components.ingest.sources import archives, local_files
from components.ingest.sources.entry import QUARANTINED, Entry, display_name, error_text, link, place, too_large_reason

TFDS_PREFIX = "tfds:"
_ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".zip")


def is_tfds(src: str) -> bool:
    return src.startswith(TFDS_PREFIX)


def is_archive(src: str) -> bool:
    return src.lower().endswith(_ARCHIVE_SUFFIXES)


def iter_folder(root: str) -> Iterator[Entry]:
    """Every file below `root`, sorted, as entries (no bytes are read).

    A folder that cannot be listed is one quarantined entry (`<folder>/`), with
    the error as the reason.
    """
    if uris.is_remote(root):
        yield from _iter_remote_folder(root)
        return
    if not os.path.isdir(root):
        raise FileNotFoundError(f"data folder not found: {root}")
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append, followlinks=False):
        yield from _unlistable(root, errors)
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        prefix = [] if rel_dir == "." else rel_dir.split(os.sep)
        for name in list(dirnames):
            if os.path.islink(os.path.join(dirpath, name)):
                dirnames.remove(name)
                yield link(_rel(prefix + [name]))
        for name in sorted(filenames):
            yield _folder_entry(os.path.join(dirpath, name), prefix + [name])
    yield from _unlistable(root, errors)


def _rel(parts: list[str]) -> str:
    return display_name("/".join(parts))


def _folder_entry(full: str, parts: list[str]) -> Entry:
    rel = _rel(parts)
    if os.path.islink(full):
        return link(rel)
    if not os.path.isfile(full):
        return Entry(rel, verdict=QUARANTINED, reason="not a regular file")
    entry = place(rel, [display_name(p) for p in parts])
    os_rel = "/".join(parts)
    return dataclasses.replace(entry, os_path=os_rel) if os_rel != rel else entry


def _unlistable(root: str, errors: list[OSError]) -> Iterator[Entry]:
    while errors:
        err = errors.pop(0)
        rel = os.path.relpath(err.filename or root, root)
        if rel == ".":
            raise OSError(f"data folder not readable: {root}: {err.strerror or err}")
        yield Entry(
            _rel(rel.split(os.sep)) + "/",
            verdict=QUARANTINED,
            reason=f"folder not readable ({err.strerror or err}): its files were not listed",
        )


def _iter_remote_folder(root: str) -> Iterator[Entry]:
    import tensorflow as tf

    if not tf.io.gfile.isdir(root):
        raise FileNotFoundError(f"data folder not found: {root}")
    base = root.rstrip("/")
    for dirpath, dirnames, filenames in tf.io.gfile.walk(base):
        dirnames.sort()
        rel_dir = dirpath[len(base) :].strip("/")
        prefix = rel_dir.split("/") if rel_dir else []
        for name in sorted(filenames):
            parts = prefix + [name]
            yield place("/".join(parts), parts)


def read_folder_item(root: str, entry: Entry) -> tuple[Entry, bytes | None]:
    """A folder entry with its bytes, or quarantined: too large (known before
    reading), a symbolic link or not a regular file by now (`local_files`), or
    unreadable (the error is the reason). Never raises for one file."""
    if entry.verdict is not None:
        return entry, None
    rel = entry.os_path or entry.path
    if "://" not in root:
        try:
            return entry, local_files.read_file(rel, features.MAX_FILE_BYTES, base=root)
        except local_files.RefusedFileError as err:
            return entry.quarantined(str(err)), None
    import tensorflow as tf

    path = os.path.join(root, rel)
    try:
        size = tf.io.gfile.stat(path).length
        if size > features.MAX_FILE_BYTES:
            return entry.quarantined(too_large_reason(size)), None
        with tf.io.gfile.GFile(path, "rb") as f:
            data = f.read(features.MAX_FILE_BYTES + 1)
    except (OSError, tf.errors.OpError) as err:
        return entry.quarantined(f"not readable: {error_text(err)}"), None
    if len(data) > features.MAX_FILE_BYTES:  # it grew since it was measured
        return entry.quarantined(too_large_reason(len(data))), None
    return entry, data


def iter_with_bytes(src: str) -> Iterator[tuple[Entry, bytes | None]]:
    """Every file of a folder or archive with its bytes (None for files given a verdict)."""
    if is_archive(src):
        yield from archives.iter_archive(src, archives.archive_root(src), with_bytes=True)
        return
    for entry in iter_folder(src):
        yield read_folder_item(src, entry)


def list_entries(src: str) -> list[Entry]:
    """Every file of a folder or archive source, without reading image bytes
    (an archive is read once)."""
    if is_archive(src):
        return [entry for entry, _ in archives.read_archive(src)[1]]
    return list(iter_folder(src))


def first_entries(src: str, classes: int) -> tuple[list[Entry], bool]:
    """The files of a source up to where `classes` class folders hold a photo,
    and whether that is all of them: an archive stops there (the rest is not
    read), a folder is listed whole."""
    if not is_archive(src):
        return list(iter_folder(src)), True
    entries = archives.first_entries(src, classes)
    return entries, len(class_folders(entries)) < classes


def class_folders(entries: list[Entry]) -> list[str]:
    """Class folder names that hold at least one candidate image."""
    return sorted({e.class_name for e in entries if e.verdict is None and e.class_name})


def first_photo(data: str) -> tuple[str, bytes]:
    """The first usable photo of a folder or archive source, in listing order."""
    from components.ingest import image_check

    for entry, blob in iter_with_bytes(data):
        if entry.verdict is None:
            try:
                image_check.check_image(blob)
            except image_check.NotAnImageError:
                continue
            return entry.path, blob
    raise FileNotFoundError(f"no usable photo in {data}")
