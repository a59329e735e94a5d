"""Where the input pipeline's time goes: decoding variants and colour-map variants, side by side.

    PYTHONPATH=. TF_USE_LEGACY_KERAS=1 .venv/bin/python benchmarks/bench_bounds.py \\
        --data ../shared/data/flower_photos.tgz --output bounds.json

The first 2,944 JPEGs of the archive are held in memory (no disk, no
ExampleGen); every variant runs batch 32 through tf.data, and the variants
take turns over `--rounds` rounds (medians reported), with one parallel
call per core:

- decoding: `decode_jpeg` alone; with the 180x180 resize; with the fast
  integer DCT; at a reduced JPEG scale (`ratio` 2, 4 or 8, the largest that
  keeps the short side at 180 px or more) then resized; the Transform graph's
  own `preprocess_encoded` (limits, decode, resize, EXIF orientation); and a
  bare `map_fn` of decode + resize, to price those checks;
- the augmentation pass on a cached uint8 batch: the geometric ops only; the
  full set as the per-pixel pass the Trainer runs; and the full set as the
  earlier per-value pass ("values"), with the colour map as its 3x3 matmul or
  as per-channel arithmetic (which XLA fuses into the warp).

It also prints the bound the first epoch cannot beat on these cores: one pass
that decodes and resizes every photo and then augments it, at the best
measured rates of the two with no other cost. This machine sometimes runs a
whole round at about half speed (any pipeline, any parallelism), so each
variant's best round is reported beside its median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from components import features
from components.ingest.sources import archives  # noqa: E402
from components.trainer.augment import fused, warp
from components.transform import preprocessing

SIZE, BATCH, PHOTOS, CALLS = features.IMAGE_SIZE, 32, 2944, 30
# A fixed parallelism, one call per core: AUTOTUNE sometimes settled on one
# call for a whole pass here, which halves a rate and says nothing of the op.
PARALLEL = os.cpu_count() or 1
GEOMETRY = "flip(horizontal_and_vertical)|rotate(0.2)|zoom(0.1)|crop(6)"


def read_jpegs(path: str) -> list[bytes]:
    """The first PHOTOS JPEGs of the archive, read as ExampleGen reads it (`components.ingest.sources.archives`)."""
    blobs = []
    for entry, data in archives.iter_archive(path, archives.archive_root(path), with_bytes=True):
        if data is not None and entry.path.lower().endswith((".jpg", ".jpeg")):
            blobs.append(data)
        if len(blobs) == PHOTOS:
            break
    return blobs


def _resize(image: tf.Tensor) -> tf.Tensor:
    return tf.image.resize(image, [SIZE, SIZE])


def _scaled_decode(data: tf.Tensor) -> tf.Tensor:
    """The JPEG decoded at the smallest scale (1, 1/2, 1/4, 1/8) whose short side is >= SIZE."""
    short = tf.reduce_min(tf.image.extract_jpeg_shape(data)[:2])
    index = tf.add_n([tf.cast(short // r >= SIZE, tf.int32) for r in (2, 4, 8)])
    branches = [lambda r=r: tf.image.decode_jpeg(data, channels=3, ratio=r) for r in (1, 2, 4, 8)]
    image = tf.switch_case(index, branches)
    image.set_shape([None, None, 3])
    return image


def _bare_map_fn(batch: tf.Tensor) -> tf.Tensor:
    return tf.map_fn(lambda x: _resize(tf.image.decode_jpeg(x, channels=3)) / 255.0, batch,
                     fn_output_signature=tf.TensorSpec([SIZE, SIZE, 3], tf.float32))


DECODE_PER_IMAGE = {
    "decode": lambda b: tf.image.decode_jpeg(b, channels=3)[0, 0],
    "decode_resize": lambda b: _resize(tf.image.decode_jpeg(b, channels=3)),
    "decode_fast_dct_resize": lambda b: _resize(tf.image.decode_jpeg(b, channels=3, dct_method="INTEGER_FAST")),
    "decode_scaled_resize": lambda b: _resize(_scaled_decode(b)),
}
DECODE_PER_BATCH = {"transform_graph": preprocessing.preprocess_encoded, "bare_map_fn": _bare_map_fn}


def per_channel_colour(images: tf.Tensor, matrix: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    m = matrix[:, None, None, :, :]
    out = sum(images[..., k:k + 1] * m[..., k] for k in range(3)) + bias[:, None, None, :]
    return tf.clip_by_value(out, 0.0, 1.0)


def augmenters():
    pixel = fused.make_augmenter(fused.FULL_SPEC, 0, SIZE, batch_size=BATCH)
    matmul = fused.make_augmenter(fused.FULL_SPEC, 0, SIZE, batch_size=BATCH, variant="values")
    geometric = fused.make_augmenter(GEOMETRY, 0, SIZE, batch_size=BATCH)
    original = warp.apply_colour
    warp.apply_colour = per_channel_colour  # traced and compiled now, then put back
    try:
        per_channel = fused.make_augmenter(fused.FULL_SPEC, 0, SIZE, batch_size=BATCH, variant="values")
    finally:
        warp.apply_colour = original
    return {"pass_geometry_only": geometric, "pass_full_per_pixel": pixel, "pass_full_matmul_colour": matmul,
            "pass_full_per_channel_colour": per_channel}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="flower_photos.tgz")
    parser.add_argument("--output", default="bounds.json")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = tf.constant(read_jpegs(args.data))

    def decoding(name):
        ds = tf.data.Dataset.from_tensor_slices(data)
        if name in DECODE_PER_IMAGE:
            return ds.map(DECODE_PER_IMAGE[name], num_parallel_calls=PARALLEL).batch(BATCH).prefetch(2)
        return ds.batch(BATCH).map(DECODE_PER_BATCH[name], num_parallel_calls=PARALLEL).prefetch(2)

    images = tf.constant(np.random.default_rng(0).integers(0, 256, (BATCH, SIZE, SIZE, 3), dtype=np.uint8))
    keys = tf.range(BATCH, dtype=tf.int64)
    passes = augmenters()
    rates: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name in [*DECODE_PER_IMAGE, *DECODE_PER_BATCH]:
            started, count = time.perf_counter(), 0
            for batch in decoding(name):
                count += int(batch.shape[0])
            rates.setdefault(name, []).append(count / (time.perf_counter() - started))
        for name, run in passes.items():
            started = time.perf_counter()
            for call in range(CALLS):
                out = run(images, keys, tf.fill([BATCH], tf.constant(call, tf.int64)))
            out.numpy()
            rates.setdefault(name, []).append(CALLS * BATCH / (time.perf_counter() - started))
    medians = {name: round(statistics.median(values)) for name, values in rates.items()}
    best = {name: round(max(values)) for name, values in rates.items()}
    # The bound takes each rate's best round: the most the first epoch could hope for.
    bound = 1.0 / (1.0 / best["decode_resize"] + 1.0 / best["pass_full_per_pixel"])
    report = {"images_per_second": medians, "best_round": best,
              "rounds": {k: [round(v) for v in vs] for k, vs in rates.items()},
              "first_epoch_bound": round(bound), "photos": int(data.shape[0]), "batch": BATCH,
              "parallel_calls": PARALLEL}
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
    for name, rate in medians.items():
        print(f"{name:30s} median {rate:6,d}  best {best[name]:6,d} images/s  rounds {report['rounds'][name]}")
    print(f"{'first_epoch_bound':30s} {report['first_epoch_bound']:,d} images/s "
          "(best decode_resize, then the best full pass, no other cost)")


if __name__ == "__main__":
    main()
