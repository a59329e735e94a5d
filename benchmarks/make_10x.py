"""Make the 1x and 10x benchmark sets from the tf_flowers archive.

    python benchmarks/make_10x.py ../shared/data/flower_photos.tgz OUT_DIR [--no-archive]

writes OUT_DIR/x1/flower_photos/<class>/<photo> (the 3,670 photos as they are)
and OUT_DIR/x10/flower_photos/<class>/<stem>_q<Q>.jpg: every photo re-encoded at
ten JPEG qualities (36,700 photos, no two byte-identical), plus
OUT_DIR/x10.tgz holding the same tree unless --no-archive. OUT_DIR must not be
inside the repository.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import sys
import tarfile

from PIL import Image

QUALITIES = (95, 90, 85, 80, 75, 70, 65, 60, 55, 50)
IMAGE_SUFFIXES = (".jpg", ".jpeg")


def _variants(job: tuple[str, bytes, str]) -> int:
    """Writes the photo as it is into x1 and re-encoded at every quality into x10."""
    rel, data, out_dir = job
    class_name, name = rel.split("/")[-2:]
    stem = os.path.splitext(name)[0]
    with open(os.path.join(out_dir, "x1", "flower_photos", class_name, name), "wb") as f:
        f.write(data)
    image = Image.open(io.BytesIO(data)).convert("RGB")
    for quality in QUALITIES:
        path = os.path.join(out_dir, "x10", "flower_photos", class_name, f"{stem}_q{quality}.jpg")
        image.save(path, format="JPEG", quality=quality)
    return len(QUALITIES)


def _photos(archive: str, out_dir: str):
    """(relative name, bytes, out_dir) of every JPEG in a class folder of the archive."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) >= 3 and member.name.lower().endswith(IMAGE_SUFFIXES):
                for scale in ("x1", "x10"):
                    os.makedirs(os.path.join(out_dir, scale, "flower_photos", parts[-2]), exist_ok=True)
                yield member.name, tar.extractfile(member).read(), out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive")
    parser.add_argument("out_dir")
    parser.add_argument("--no-archive", action="store_true", help="write the 10x folder only, not x10.tgz")
    args = parser.parse_args(argv)
    out_dir = os.path.abspath(args.out_dir)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if out_dir == repo or out_dir.startswith(repo + os.sep):
        parser.error(f"out_dir {out_dir} is inside the repository {repo}: give a directory outside it")
    with multiprocessing.Pool() as pool:
        written = sum(pool.imap_unordered(_variants, _photos(args.archive, out_dir), chunksize=16))
    print(f"{written} photos in {out_dir}/x10/flower_photos")
    if not args.no_archive:
        with tarfile.open(os.path.join(out_dir, "x10.tgz"), "w:gz", compresslevel=1) as tar:
            tar.add(os.path.join(out_dir, "x10", "flower_photos"), arcname="flower_photos")
        print(f"archive: {out_dir}/x10.tgz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
