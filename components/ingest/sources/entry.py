"""One file of a source, and the verdicts its place in the tree can give it.

The rules themselves are described in `components.ingest.sources`.
"""

from __future__ import annotations

import dataclasses
import os

from components import features
from components.ingest import image_check

SKIPPED = "skipped"
QUARANTINED = "quarantined"
# Where macOS's archiver puts the resource forks of the files it packs.
MACOS_RESOURCE_DIR = "__MACOSX"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One file of a source.

    path: the file as the user knows it, relative to the source (for an archive,
        the member name).
    filename: `<class>/<file>` when the file sits in a class folder, else None.
    verdict, reason: set when the file's place alone decides it (skipped or
        quarantined); None for files whose content is still to be checked.
    os_path: for a folder file whose name is not UTF-8, its real name relative
        to the folder (`path` is then the escaped `display_name`).
    """

    path: str
    filename: str | None = None
    verdict: str | None = None
    reason: str | None = None
    os_path: str | None = None

    @property
    def class_name(self) -> str | None:
        return self.filename.split("/", 1)[0] if self.filename else None

    def quarantined(self, reason: str) -> Entry:
        return dataclasses.replace(self, verdict=QUARANTINED, reason=reason)


def display_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 become `\\xNN` escapes.

    `os.walk` and `tarfile` hand undecodable bytes over as surrogates, which no
    UTF-8 encoder accepts; `os.fsencode` restores the bytes and `backslashreplace`
    spells them out, so the name stays readable, stable and unique.
    """
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def place(path: str, parts: list[str]) -> Entry:
    """The entry for a regular file at `parts` below the dataset root."""
    basename = parts[-1]
    hidden_dir = any(p.startswith(".") or p == MACOS_RESOURCE_DIR for p in parts[:-1])
    if hidden_dir or image_check.is_dataset_metadata(basename):
        return Entry(path, verdict=SKIPPED, reason="dataset metadata, not an image")
    if len(parts) == 1:
        return Entry(
            path,
            verdict=QUARANTINED,
            reason="not in a class folder (expected <root>/<class>/<file>)",
        )
    return Entry(path, filename="/".join(parts))


LINK_REASON = "symbolic link: not followed (it could point outside the data root)"


def link(path: str) -> Entry:
    return Entry(path, verdict=QUARANTINED, reason=LINK_REASON)


def too_large_reason(size: int) -> str:
    return f"file too large: {size} bytes, above the {features.MAX_FILE_BYTES}-byte limit; not read"


def error_text(err: Exception) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return getattr(err, "message", None) or str(err) or type(err).__name__
