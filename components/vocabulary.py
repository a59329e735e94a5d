"""The label vocabulary: the class names in label order, pinned once per output.

Labels are part of the data contract. The index a photo's class gets must never
change between nights, so the vocabulary is decided once and then only read:

- `schemas/class_names.txt` holds tf_flowers' (the TFDS order). A first run
  whose class folders are all tf_flowers classes pins it.
- `--classes FILE` gives one (one class name a line, in label order).
- Otherwise the first run into an output pins its class folders' names,
  sorted.

Whichever it is, the first run writes it to `<output>/class_names.txt`, and
every later run into that output reads it from there: never from the folders
again. A class folder outside it is quarantined by ExampleGen with a reason
naming the folder and this file, and changes no other class's index. Adding a
class is an explicit change: append its name to the file (appending keeps every
earlier index, so earlier spans stay valid; `--warm-start` refuses a model of
another vocabulary).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable

VOCABULARY_FILE = "class_names.txt"
_HEADER = (
    "# The label vocabulary: one class name a line, in label order (line 1 is label 0).\n"
    "# Pinned by the first run into this output; every later run reads it. To add a\n"
    "# class, append its name (earlier labels keep their index).\n"
)


class VocabularyError(ValueError):
    """A vocabulary file that cannot be used, or one that contradicts the pinned one."""


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    names: tuple[str, ...]
    path: str  # the file it is kept in: <output>/class_names.txt
    pinned_now: bool = False  # this run wrote it (the output's first run)


def parse(text: str, where: str) -> tuple[str, ...]:
    """Class names from a vocabulary file's text: a name a line, `#` comments and blank lines ignored."""
    names = []
    for number, line in enumerate(text.splitlines(), 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if "/" in name or "\\" in name or name in (".", ".."):
            raise VocabularyError(f"{where}, line {number}: {name!r} is not a class folder name")
        if name in names:
            raise VocabularyError(f"{where}, line {number}: class {name!r} is listed twice")
        names.append(name)
    if len(names) < 2:
        raise VocabularyError(f"{where} lists {len(names)} class name(s); a classifier needs at least two")
    return tuple(names)


def read(path: str) -> tuple[str, ...]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(1_000_000)
    except (OSError, UnicodeDecodeError) as err:
        raise VocabularyError(f"cannot read the label vocabulary {path}: {err}") from err
    return parse(text, path)


def write(path: str, names: Iterable[str]) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(_HEADER + "".join(f"{name}\n" for name in names))
    os.replace(tmp, path)


def is_prefix(earlier: Iterable[str], names: Iterable[str]) -> bool:
    """True when `names` keeps every label of `earlier` (it equals it or appends classes to it)."""
    earlier, names = tuple(earlier), tuple(names)
    return names[: len(earlier)] == earlier


def pinned_path(output: str) -> str:
    return os.path.join(output, VOCABULARY_FILE)


def first_run_names(folders: Iterable[str], *schema_dirs: str) -> tuple[str, ...]:
    """The vocabulary a first run pins from the source's class folders.

    The vocabulary of the first schema folder that has one (`class_names.txt`),
    when every class folder is in it (tf_flowers: the TFDS order, whichever
    classes a span holds); else the folder names, sorted.
    """
    found = sorted(set(folders))
    if not found:
        raise VocabularyError("no class folders found: expected <root>/<class>/<image file>")
    curated = next((os.path.join(d, VOCABULARY_FILE) for d in schema_dirs
                    if os.path.isfile(os.path.join(d, VOCABULARY_FILE))), None)
    if curated:
        names = read(curated)
        if set(found) <= set(names):
            return names
    if len(found) < 2:
        raise VocabularyError(f"1 class folder found ({found[0]}): a classifier needs at least two")
    return tuple(found)


def resolve(output: str, given: str | None, discover) -> Vocabulary:
    """The output's vocabulary: the pinned file, else `given` (a file), else `discover()`, pinned now.

    `discover` is called only on an output's first run. A `given` file that
    differs from the pinned one is refused: changing an output's labels is an
    edit of its `class_names.txt`, never a side effect of a flag.
    """
    path = pinned_path(output)
    if os.path.isfile(path):
        names = read(path)
        if given and read(given) != names:
            raise VocabularyError(
                f"--classes {given} differs from the vocabulary this output is pinned to ({path}: "
                f"{', '.join(names)}); edit {path} to change the labels, or use another --output"
            )
        return Vocabulary(names, path)
    names = read(given) if given else tuple(discover())
    write(path, names)
    return Vocabulary(names, path, pinned_now=True)
