"""Where photos come from: a class-labelled folder, a `.tgz` of one, or TFDS.

Every file a source holds becomes exactly one `Entry`: either placed in a class
(and later ingested or quarantined by its content) or given a verdict here, from
its place in the tree alone. Nothing is dropped without a trace.

The rules for a tree (a folder, or an archive's single top folder):
- `<root>/<class>/<file>` is a photo of `<class>`; `<root>/<class>/<sub>/.../<file>`
  too (nested folders belong to their top-level class folder).
- Hidden files and folders, `Thumbs.db` and licence / read-me files are dataset
  metadata: skipped, and listed as skipped.
- Any other file directly under `<root>` has no class: quarantined.
- Symbolic links (to files or folders) are never followed, so nothing a user's
  folder or archive contains can make the pipeline read outside it: each link
  is quarantined with that reason. Archive members with an absolute path or a
  `..` component are quarantined the same way; archives are read in memory and
  never extracted.
- A class folder with no files is not a class; the report lists it.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import tarfile
from collections.abc import Iterator

from components import image_check

SKIPPED = "skipped"
QUARANTINED = "quarantined"
TFDS_PREFIX = "tfds:"
_ARCHIVE_SUFFIXES = (".tgz", ".tar.gz", ".tar")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One file of a source.

    path: the file as the user knows it, relative to the source (for an archive,
        the member name).
    filename: `<class>/<file>` when the file sits in a class folder, else None.
    verdict, reason: set when the file's place alone decides it (skipped or
        quarantined); None for files whose content is still to be checked.
    """

    path: str
    filename: str | None = None
    verdict: str | None = None
    reason: str | None = None

    @property
    def class_name(self) -> str | None:
        return self.filename.split("/", 1)[0] if self.filename else None


def is_tfds(src: str) -> bool:
    return src.startswith(TFDS_PREFIX)


def is_archive(src: str) -> bool:
    return src.lower().endswith(_ARCHIVE_SUFFIXES)


def place(path: str, parts: list[str]) -> Entry:
    """The entry for a regular file at `parts` below the dataset root."""
    basename = parts[-1]
    hidden_dir = any(p.startswith(".") for p in parts[:-1])
    if hidden_dir or image_check.is_dataset_metadata(basename):
        return Entry(path, verdict=SKIPPED, reason="dataset metadata, not an image")
    if len(parts) == 1:
        return Entry(
            path,
            verdict=QUARANTINED,
            reason="not in a class folder (expected <root>/<class>/<file>)",
        )
    return Entry(path, filename="/".join(parts))


def _link(path: str) -> Entry:
    return Entry(
        path,
        verdict=QUARANTINED,
        reason="symbolic link: not followed (it could point outside the data root)",
    )


def iter_folder(root: str) -> Iterator[Entry]:
    """Every file below `root`, sorted, as entries (no bytes are read)."""
    if "://" in root:
        yield from _iter_remote_folder(root)
        return
    if not os.path.isdir(root):
        raise FileNotFoundError(f"data folder not found: {root}")
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        prefix = [] if rel_dir == "." else rel_dir.split(os.sep)
        for name in list(dirnames):
            if os.path.islink(os.path.join(dirpath, name)):
                dirnames.remove(name)
                yield _link("/".join(prefix + [name]))
        for name in sorted(filenames):
            parts = prefix + [name]
            rel = "/".join(parts)
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                yield _link(rel)
            elif not os.path.isfile(full):
                yield Entry(rel, verdict=QUARANTINED, reason="not a regular file")
            else:
                yield place(rel, parts)


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


def read_folder_file(root: str, entry: Entry) -> bytes:
    """The bytes of a folder entry; only paths that iter_folder produced are read."""
    import tensorflow as tf

    with tf.io.gfile.GFile(posixpath.join(root, entry.path), "rb") as f:
        return f.read()


def _archive_root(names: list[str]) -> str | None:
    """The single top folder of an archive (`flower_photos`), if it has one."""
    paths = [p for p in (_safe_parts(n) for n in names) if p]
    tops = {p[0] for p in paths}
    if len(tops) == 1 and any(len(p) > 1 for p in paths):
        return tops.pop()
    return None


def _safe_parts(name: str) -> list[str] | None:
    if name.startswith("/") or "\\" in name:
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return parts


def _open_archive(path: str):
    import tensorflow as tf

    # Stream mode ("r|*") reads the archive front to back once, which is all a
    # remote file or a pipe allows; members are never extracted to disk.
    raw = tf.io.gfile.GFile(path, "rb")
    return raw, tarfile.open(fileobj=raw, mode="r|*")


def archive_root(path: str) -> str | None:
    """The archive's single top folder (`flower_photos`), or None."""
    raw, tar = _open_archive(path)
    with raw, tar:
        return _archive_root([m.name for m in tar])


def iter_archive(
    path: str, root: str | None, with_bytes: bool = False
) -> Iterator[tuple[Entry, bytes | None]]:
    """Every file of a tar archive, in archive order, with its bytes if asked."""
    raw, tar = _open_archive(path)
    with raw, tar:
        for member in tar:
            entry = _archive_entry(member, root)
            if entry is None:
                continue
            data = None
            if with_bytes and entry.verdict is None:
                data = tar.extractfile(member).read()
            yield entry, data


def _archive_entry(member: tarfile.TarInfo, root: str | None) -> Entry | None:
    name = member.name
    if member.isdir():
        return None
    parts = _safe_parts(name)
    if parts is None:
        return Entry(
            name,
            verdict=QUARANTINED,
            reason="unsafe path in archive (absolute or with '..'): not read",
        )
    if member.issym() or member.islnk():
        return _link(name)
    if not member.isreg():
        return Entry(name, verdict=QUARANTINED, reason="not a regular file")
    if root is not None and parts[0] == root and len(parts) > 1:
        parts = parts[1:]
    return place(name, parts)


def iter_with_bytes(src: str) -> Iterator[tuple[Entry, bytes | None]]:
    """Every file of a folder or archive with its bytes (None for files given a verdict)."""
    if is_archive(src):
        yield from iter_archive(src, archive_root(src), with_bytes=True)
        return
    for entry in iter_folder(src):
        yield entry, (read_folder_file(src, entry) if entry.verdict is None else None)


def list_entries(src: str) -> list[Entry]:
    """Every file of a folder or archive source, without reading image bytes."""
    if is_archive(src):
        return [entry for entry, _ in iter_archive(src, archive_root(src))]
    return list(iter_folder(src))


def class_folders(entries: list[Entry]) -> list[str]:
    """Class folder names that hold at least one candidate image."""
    return sorted({e.class_name for e in entries if e.verdict is None and e.class_name})
