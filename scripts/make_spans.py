"""Cut the tf_flowers archive into nightly spans, or write it as one flat folder.

    python scripts/make_spans.py ../shared/data/flower_photos.tgz OUT [--spans 10] [--span K]
    python scripts/make_spans.py ../shared/data/flower_photos.tgz OUT --flat

writes OUT/span-<k>/<class>/<file> for k = 1..N (N = --spans), or with --span K
span K alone, so a nightly loop can add one span a night to the same root. With
--flat it writes every photo once, OUT/<class>/<file>: the same photos as one
data set, for a full run to compare with.

The assignment is deterministic and stratified: the photos, sorted by class
and then by file name, are dealt to the spans in turn (the i-th photo, from 0,
goes to span i mod N + 1). Every span gets 1/N of the photos, within one, and
1/N of each class, within one, so consecutive spans have nearly the same label
distribution and the drift gate has nothing to find. The split (train,
eval, test) is the pipeline's hash of `<class>/<file>`, unchanged by this.

Files are written byte for byte, with the archive's modification times. Only
`<root>/<class>/<file>` members are taken: files beside the class folders
(`LICENSE.txt`), hidden files, and members with absolute or `..` paths are
left out. A folder the script would write must not exist yet, so earlier spans
are never rewritten (their fingerprints, and so the pipeline's cache, stay
valid), and OUT must be outside the repository. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
from collections import defaultdict

SPAN_PREFIX = "span-"


def _photo_path(name: str) -> tuple[str, str] | None:
    """(class, file) of a member named `<root>/<class>/<file>`, else None."""
    parts = name.split("/")
    if len(parts) != 3 or name.startswith("/"):
        return None
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    return parts[1], parts[2]


def list_photos(archive: str) -> dict[str, list[str]]:
    """class -> sorted file names of the archive's photos (one read of the archive)."""
    by_class: dict[str, list[str]] = defaultdict(list)
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            photo = _photo_path(member.name)
            if member.isfile() and photo:
                by_class[photo[0]].append(photo[1])
    return {cls: sorted(names) for cls, names in sorted(by_class.items())}


def assign_spans(by_class: dict[str, list[str]], spans: int) -> dict[tuple[str, str], int]:
    """(class, file) -> span number 1..spans, dealing the sorted files to the spans in turn."""
    photos = [(cls, name) for cls, names in by_class.items() for name in names]
    return {photo: i % spans + 1 for i, photo in enumerate(photos)}


def write_photos(archive: str, targets: dict[tuple[str, str], str]) -> int:
    """Writes each (class, file) of `targets` to its folder; returns how many were written."""
    written = 0
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            photo = _photo_path(member.name)
            if not (member.isfile() and photo in targets):
                continue
            folder = os.path.join(targets[photo], photo[0])
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, photo[1])
            source = tar.extractfile(member)
            with open(path, "xb") as f:
                while chunk := source.read(1 << 20):
                    f.write(chunk)
            os.utime(path, (member.mtime, member.mtime))
            written += 1
    return written


def _refuse_existing(parser: argparse.ArgumentParser, folders: list[str]) -> None:
    for folder in folders:
        if os.path.lexists(folder):
            parser.error(f"{folder} exists already: give a new OUT, or remove it first")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", help="a .tgz holding <root>/<class>/<file>, e.g. ../shared/data/flower_photos.tgz")
    parser.add_argument("out", help="the folder to write (outside the repository)")
    parser.add_argument("--spans", type=int, default=10, metavar="N", help="how many spans to cut (default 10)")
    parser.add_argument("--span", type=int, metavar="K", help="write span K only (1..N), beside spans already in OUT")
    parser.add_argument("--flat", action="store_true", help="write every photo once, OUT/<class>/<file>, no spans")
    args = parser.parse_args(argv)
    if args.spans < 1:
        parser.error("--spans must be 1 or more")
    if args.span is not None and not 1 <= args.span <= args.spans:
        parser.error(f"--span must be in 1..{args.spans}")
    if args.flat and args.span is not None:
        parser.error("--flat writes every photo once: give it without --span")
    out = os.path.abspath(args.out)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if out == repo or out.startswith(repo + os.sep):
        parser.error(f"OUT {out} is inside the repository {repo}: give a folder outside it")
    if not os.path.isfile(args.archive):
        parser.error(f"archive {args.archive} is not a file")

    by_class = list_photos(args.archive)
    if len(by_class) < 2:
        parser.error(f"{args.archive} holds {len(by_class)} class folder(s) of photos; spans need two or more")
    if args.flat:
        _refuse_existing(parser, [os.path.join(out, cls) for cls in by_class])
        targets = {(cls, name): out for cls, names in by_class.items() for name in names}
    else:
        wanted = [args.span] if args.span is not None else list(range(1, args.spans + 1))
        folders = {k: os.path.join(out, f"{SPAN_PREFIX}{k}") for k in wanted}
        _refuse_existing(parser, list(folders.values()))
        targets = {photo: folders[k] for photo, k in assign_spans(by_class, args.spans).items() if k in folders}

    written = write_photos(args.archive, targets)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (cls, _), folder in targets.items():
        counts[os.path.basename(folder) if not args.flat else "flat"][cls] += 1
    classes = list(by_class)
    print(f"{'':10s} " + " ".join(f"{cls:>10s}" for cls in classes) + f" {'total':>7s}")
    for folder in sorted(counts, key=lambda f: (len(f), f)):
        row = counts[folder]
        print(f"{folder:10s} " + " ".join(f"{row[cls]:10d}" for cls in classes) + f" {sum(row.values()):7d}")
    print(f"{written} photos written under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
