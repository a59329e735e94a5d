"""Cuts the bundled sample, data/flower_photos_sample/, from the tf_flowers archive.

    python scripts/make_sample.py --archive ../shared/data/flower_photos.tgz

Per class it walks the archive's photos in sorted order, every `--stride`-th
one, and keeps a photo while the split that ExampleGen's hash gives its name
(80/10/10 on `class/file.jpg`) still needs one: `--train`, `--eval` and
`--test` photos a class. So the sample's splits are balanced and known before
a run: 40 eval and 40 test photos at the defaults (400 photos), enough for an accuracy to
mean something. Each kept photo is scaled down (never up) so that its shorter
side is `--short-side` pixels, the model's input size, and saved as a JPEG;
the repo stays small (about 5 MB). CREDITS.md lists every photo.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tarfile

from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from components.ingest.shard_write import tfx_split_index  # noqa: E402
from pipeline.paths import SAMPLE_DATA  # noqa: E402

BUCKETS = [8, 9, 10]  # train, eval, test: pipeline.pipeline's output config
CREDITS_HEAD = """# The bundled sample

`flower_photos_sample/` holds {total} photos, {per_class} per class, from the
TensorFlow `flower_photos` archive (the source of TFDS `tf_flowers`), cut by
`scripts/make_sample.py`: per class, every {stride}th photo in sorted order
while its split (ExampleGen's 80/10/10 hash of `class/file.jpg`) still needs
one, so each class has {train} train, {eval} eval and {test} test photos. Each
photo is scaled down to a shorter side of {short} pixels and saved as a JPEG
(quality {quality}).

The photos are licensed CC-BY 2.0 by their Flickr authors, as published by the
TensorFlow team (https://www.tensorflow.org/datasets/catalog/tf_flowers); the
Flickr photo id is the first part of each file name:

"""


def choose(names: list[str], stride: int, quotas: list[int]) -> list[str]:
    """Names of one class (`class/file.jpg`, sorted) to keep, filling each split's quota."""
    left = list(quotas)
    kept = []
    for name in names[::stride]:
        split = tfx_split_index(name, BUCKETS)
        if left[split] > 0:
            left[split] -= 1
            kept.append(name)
    if any(left):
        raise SystemExit(f"{names[0].split('/')[0]}: too few photos at stride {stride} for quotas {quotas}")
    return kept


def shrink(data: bytes, short_side: int, quality: int) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        img = img.convert("RGB")
        scale = short_side / min(img.size)
        if scale < 1:
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=quality, optimize=True)
        return out.getvalue()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True, help="flower_photos.tgz")
    parser.add_argument("--output", default=SAMPLE_DATA, help="the sample folder (replaced)")
    parser.add_argument("--stride", type=int, default=4, help="consider every n-th photo of a class")
    parser.add_argument("--train", type=int, default=64, help="train photos a class")
    parser.add_argument("--eval", type=int, default=8, help="eval photos a class")
    parser.add_argument("--test", type=int, default=8, help="test photos a class")
    parser.add_argument("--short-side", type=int, default=180, help="shorter side of a photo, in pixels")
    parser.add_argument("--quality", type=int, default=80, help="JPEG quality")
    parser.add_argument("--credits", default=None, help="the credits file (default: CREDITS.md beside --output)")
    args = parser.parse_args(argv)

    with tarfile.open(args.archive, "r:gz") as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers()
                   if m.isfile() and m.name.lower().endswith(".jpg") and m.name.count("/") == 2}
        by_class: dict[str, list[str]] = {}
        for name in sorted(members):
            by_class.setdefault(name.split("/")[0], []).append(name)
        quotas = [args.train, args.eval, args.test]
        kept = [n for c in sorted(by_class) for n in choose(by_class[c], args.stride, quotas)]
        if os.path.isdir(args.output):
            shutil.rmtree(args.output)
        total = 0
        for name in kept:
            data = shrink(tar.extractfile(members[name]).read(), args.short_side, args.quality)
            path = os.path.join(args.output, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            total += len(data)
    credits = args.credits or os.path.join(os.path.dirname(os.path.abspath(args.output)), "CREDITS.md")
    per_class = args.train + args.eval + args.test
    with open(credits, "w") as f:
        f.write(CREDITS_HEAD.format(total=len(kept), per_class=per_class, stride=args.stride, train=args.train,
                                    eval=args.eval, test=args.test, short=args.short_side, quality=args.quality))
        f.writelines(f"- `{name}`: https://www.flickr.com/photo.gne?id={name.split('/')[1].split('_')[0]}\n"
                     for name in kept)
    print(f"{len(kept)} photos, {total / 1e6:.2f} MB, in {args.output}; credits in {credits}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
