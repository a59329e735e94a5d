"""Ways to write the augmentation pass, side by side: what each costs under XLA on this CPU.

    PYTHONPATH=. TF_USE_LEGACY_KERAS=1 .venv/bin/python scripts/bench_pass_variants.py --output variants.json
    XLA_FLAGS=--xla_cpu_enable_fast_math=true PYTHONPATH=. TF_USE_LEGACY_KERAS=1 \\
        .venv/bin/python scripts/bench_pass_variants.py --output variants-fast-math.json

One batch of 32 uint8 180x180 arrays (uniform noise: the gathers' cost does
not depend on the content), the full set (FULL_SPEC) unless a variant says
otherwise, every variant compiled, timed over `--calls` calls, in turns over
`--rounds` rounds; images/s and images per CPU-second (this process, all
threads), medians. Every variant's largest difference from `values` (the
earlier pass) is printed with it.

- values: the earlier pass, a loop over output values (coordinates and four
  3-byte gathers per value), then the colour map as a 3x3 matmul and a clip.
- values_planar_mean: the same with the channel means summed over a planar
  [batch, 3, pixels] view (the reduce_mean of [batch, h, w, 3] was a quarter
  of the pass).
- coords_program: the coordinates and corner indices in their own XLA program,
  so the loop over values only loads them (no redone coordinate arithmetic).
- rgbx_words: the source packed as one int32 per pixel (RGB + a zero byte),
  four scalar gathers per pixel. Each gathered word feeds three channels, so
  XLA keeps every gather in its own loop, each redoing the coordinates.
- pair_words: each pixel and its right neighbour packed in an int64, two
  gathers per pixel (top and bottom pairs); the same fusion problem.
- planar_colour_first: the colour map applied to the planar source first (it
  commutes with bilinear weights), then gathers plane by plane and a clip.
- pixel: the pass the Trainer runs (`warp.warp_colour_packed` + `unpack`).
- pixel_fixed_point: the same with OpenCV-style integer weights (1/256 steps
  per axis, int32 sums), a change of value up to about one uint8 level.
- shear_rotation / pixel_geometry: rotation as three shears plus scale as two
  1-D resizes (five passes, each a 2-tap interpolation along rows or
  columns), against the pixel pass with the same geometric ops only.

Second round (issue 23; `components.augment` now asks XLA for 512-bit vectors on
TensorFlow 2.21, so compare widths with XLA_FLAGS=--xla_cpu_prefer_vector_width=256):

- pixel_flat: the pixel pass gathering from the flattened batch with one
  precomputed byte offset per corner (one clamp per gather instead of four).
- pixel_lerp: three lerps per channel instead of four weights (each corner
  byte used twice, so XLA stops fusing the gathers).
- pixel_pack32 / pixel_pack32_nd: 10 bits a channel in one int32 (scale
  255 x 4: whole uint8 values exact, others rounded to 1/1020), flat or
  gather_nd gathers; a smaller word to write and unpack.
- pixel_multi_output: three float planes out of one program, interleaved by a
  second (XLA's CPU backend does not fuse them as one multi-output loop).
- pixel_colour_after: the interpolated image materialized once (packed), the
  colour map applied while unpacking.
- pixel_swar*: each source pixel one int64 of three 21-bit lanes, four word
  gathers and integer weights (sum 8192) per output pixel instead of twelve
  byte gathers (SIMD within a register); `_one_program` computes the words
  inside the warp's program, `3` materializes the interpolated words and does
  lanes + colour as a loop over values, `_nd` uses gather_nd on [b, h, w].
- pixel_words_only, unpack_only, coords_only, gathers_only, swar_source_only,
  swar_total_only: pieces of the passes alone, to see where the time goes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pass_variants_common import (  # noqa: E402
    BATCH,
    GEOMETRY_OPS,
    OPS,
    PIXELS,
    SEED,
    SIZE,
    _bilinear,
    _colour_after,
    _coords,
    _gather_values,
    _setup,
    _unpack,
    jit,
)
from pass_variants_packed import (  # noqa: E402
    pixel_colour_after,
    pixel_flat,
    pixel_lerp,
    pixel_multi_output,
    pixel_pack32,
    pixel_words_only,
    unpack_only,
)
from pass_variants_swar import (  # noqa: E402
    coords_only,
    gathers_only,
    pixel_pack32_nd,
    pixel_swar,
    pixel_swar3,
    pixel_swar3_nd,
    pixel_swar3_unrolled,
    pixel_swar_nd_pack32,
    pixel_swar_one_program,
    pixel_swar_pack32,
    swar_source_only,
    swar_total_only,
)

from components.trainer.augment import fused, warp  # noqa: E402


@jit
def values_planar_mean(images, keys, epoch):
    matrix, colour, bias = _setup(images, keys, epoch)
    return warp.apply_colour(warp.warp_bilinear(images, matrix) * (1.0 / 255.0), colour, bias)


_setup_program = jit(_setup)


def coords_program(images, keys, epoch):
    matrix, colour, bias = _setup_program(images, keys, epoch)
    return _gather_values(images, colour, bias, *_coords(matrix))


def _byte(word, k):
    return tf.cast(tf.bitwise.bitwise_and(tf.bitwise.right_shift(word, 8 * k), 255), tf.float32)


@jit
def rgbx_words(images, keys, epoch):
    matrix, colour, bias = _setup(images, keys, epoch)
    y0, y1, x0, x1, wx, wy = warp._corners(matrix, SIZE)
    words = tf.reshape(tf.bitcast(tf.pad(images, [[0, 0]] * 3 + [[0, 1]]), tf.int32), [-1, PIXELS])
    gathered = [tf.gather(words, y * SIZE + x, batch_dims=1) for y, x in ((y0, x0), (y0, x1), (y1, x0), (y1, x1))]
    channels = [_bilinear(lambda i, k=k: _byte(gathered[i], k), wx, wy) for k in range(3)]
    return _colour_after(tf.stack(channels, axis=-1), colour, bias)


@jit
def pair_words(images, keys, epoch):
    matrix, colour, bias = _setup(images, keys, epoch)
    y0, y1, x0, _, wx, wy = warp._corners(matrix, SIZE)
    right = tf.concat([images[:, :, 1:], images[:, :, -1:]], axis=2)
    pairs = tf.concat([images, right, tf.zeros_like(images[..., :2])], axis=-1)
    words = tf.reshape(tf.bitcast(pairs, tf.int64), [-1, PIXELS])
    top, bottom = (tf.gather(words, y * SIZE + x0, batch_dims=1) for y in (y0, y1))
    rows = (top, top, bottom, bottom)
    channels = [_bilinear(lambda i, k=k: _byte(rows[i], k + 3 * (i % 2)), wx, wy) for k in range(3)]
    return _colour_after(tf.stack(channels, axis=-1), colour, bias)


@jit
def planar_colour_first(images, keys, epoch):
    matrix, colour, bias = _setup(images, keys, epoch)
    planar = tf.cast(tf.transpose(tf.reshape(images, [-1, PIXELS, 3]), [0, 2, 1]), tf.float32) * (1.0 / 255.0)
    mapped = tf.stack([tf.add_n([planar[:, k] * colour[:, c, k:k + 1] for k in range(3)]) + bias[:, c:c + 1]
                       for c in range(3)], axis=1)  # [b, 3, pixels]
    y0, y1, x0, x1, wx, wy = (t[:, None] for t in warp._corners(matrix, SIZE))
    shape = tf.shape(mapped)
    pairs = [(y0, x0), (y0, x1), (y1, x0), (y1, x1)]

    def corner(i):
        y, x = pairs[i]
        return tf.gather(mapped, tf.broadcast_to(y * SIZE + x, shape), batch_dims=2)

    out = tf.clip_by_value(_bilinear(corner, wx, wy), 0.0, 1.0)
    return tf.reshape(tf.transpose(out, [0, 2, 1]), [-1, SIZE, SIZE, 3])


@jit
def _fixed_point_words(images, keys, epoch):
    matrix, colour, bias = _setup(images, keys, epoch)
    y0, y1, x0, x1, wx, wy = warp._corners(matrix, SIZE)
    qx = tf.cast(tf.round(wx * 256.0), tf.int32)
    qy = tf.cast(tf.round(wy * 256.0), tf.int32)
    weights = [(y0, x0, (256 - qx) * (256 - qy)), (y0, x1, qx * (256 - qy)),
               (y1, x0, (256 - qx) * qy), (y1, x1, qx * qy)]

    def channel(c):  # 255 * 65536 at most: int32 holds it
        return tf.cast(warp.interpolate_channel(images, weights, c, tf.int32), tf.float32) * (1.0 / 65536.0)

    return warp.pack([channel(c) for c in range(3)], colour, bias)




def pixel_fixed_point(images, keys, epoch):
    return _unpack(_fixed_point_words(images, keys, epoch))


def _pass_1d(images, scale, shift):
    """Resample along rows: out[b, y, x] = in[b, y, scale[b] * (x - c) + c + shift[b, y]], 2 taps, clamped."""
    centre = (SIZE - 1) / 2.0
    xs = tf.range(SIZE, dtype=tf.float32)[None, None, :]
    source = tf.clip_by_value(scale[:, None, None] * (xs - centre) + centre + shift[:, :, None], 0.0, SIZE - 1.0)
    x0 = tf.floor(source)
    weight = (source - x0)[..., None]
    left = tf.cast(x0, tf.int32)
    right = tf.minimum(left + 1, SIZE - 1)
    a = tf.cast(tf.gather(images, left, batch_dims=2), tf.float32)
    b = tf.cast(tf.gather(images, right, batch_dims=2), tf.float32)
    return a * (1.0 - weight) + b * weight


@jit
def shear_rotation(images, keys, epoch):
    """Rotation by angle t as x-shear(-tan t/2), y-shear(sin t), x-shear(-tan t/2), then scale x and y."""
    draws = fused._draws(keys, epoch, SEED, GEOMETRY_OPS)[0]
    angle = (2.0 * draws[0][:, 0] - 1.0) * 0.2 * 2.0 * math.pi
    scale = 1.0 + (2.0 * draws[1][:, 0] - 1.0) * 0.1
    rows = tf.range(SIZE, dtype=tf.float32)[None, :] - (SIZE - 1) / 2.0
    tangent = -tf.tan(angle / 2.0)[:, None] * rows
    ones = tf.ones_like(scale)
    swap = lambda t: tf.transpose(t, [0, 2, 1, 3])  # noqa: E731
    out = _pass_1d(images, ones, tangent)
    out = swap(_pass_1d(swap(out), ones, tf.sin(angle)[:, None] * rows))
    out = _pass_1d(out, ones, tangent)
    out = swap(_pass_1d(swap(_pass_1d(out, scale, 0.0 * rows)), scale, 0.0 * rows))
    return out * (1.0 / 255.0)


def variants():
    values = fused.make_augmenter(OPS, SEED, SIZE, batch_size=BATCH, variant="values")
    pixel = fused.make_augmenter(OPS, SEED, SIZE, batch_size=BATCH, variant="pixel")
    pixel_geometry = fused.make_augmenter(GEOMETRY_OPS, SEED, SIZE, batch_size=BATCH, variant="pixel")
    return {"values": values, "values_planar_mean": values_planar_mean, "coords_program": coords_program,
            "rgbx_words": rgbx_words, "pair_words": pair_words, "planar_colour_first": planar_colour_first,
            "pixel": pixel, "pixel_fixed_point": pixel_fixed_point,
            "shear_rotation": shear_rotation, "pixel_geometry": pixel_geometry,
            "pixel_flat": pixel_flat, "pixel_lerp": pixel_lerp, "pixel_pack32": pixel_pack32,
            "pixel_multi_output": pixel_multi_output, "pixel_colour_after": pixel_colour_after,
            "pixel_words_only": pixel_words_only, "unpack_only": unpack_only,
            "pixel_swar": pixel_swar, "pixel_swar_pack32": pixel_swar_pack32,
            "pixel_swar_one_program": pixel_swar_one_program, "pixel_swar3": pixel_swar3,
            "pixel_swar3_unrolled": pixel_swar3_unrolled, "pixel_pack32_nd": pixel_pack32_nd,
            "pixel_swar3_nd": pixel_swar3_nd, "pixel_swar_nd_pack32": pixel_swar_nd_pack32,
            "swar_source_only": swar_source_only, "swar_total_only": swar_total_only,
            "coords_only": coords_only, "gathers_only": gathers_only}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="variants.json")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--only", default="", help="comma-separated variant names (values is always run)")
    args = parser.parse_args()
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (BATCH, SIZE, SIZE, 3), dtype=np.uint8))
    keys = tf.range(BATCH, dtype=tf.int64)
    calls = variants()
    if args.only:
        calls = {n: c for n, c in calls.items() if n == "values" or n in args.only.split(",")}
    first = tf.zeros([BATCH], tf.int64)
    reference = calls["values"](images, keys, first).numpy()
    difference = {}
    for name, call in calls.items():
        out = call(images, keys, first).numpy()
        same_ops = name not in ("shear_rotation", "pixel_geometry", "pixel_words_only", "unpack_only",
                                "swar_source_only", "swar_total_only", "coords_only", "gathers_only")
        difference[name] = float(np.abs(out - reference).max()) * 255.0 if same_ops else None
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
    for _ in range(args.rounds):
        for name, call in calls.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(args.calls):
                out = call(images, keys, tf.fill([BATCH], tf.constant(i + 1, tf.int64)))
            out.numpy()
            images_done = args.calls * BATCH
            rates[name].append((images_done / (time.perf_counter() - wall), images_done / (time.process_time() - cpu)))
    report = {"xla_flags": os.environ.get("XLA_FLAGS", ""), "batch": BATCH, "size": SIZE, "variants": {}}
    for name, values in rates.items():
        row = {"images_per_s": round(statistics.median(v for v, _ in values)),
               "images_per_cpu_s": round(statistics.median(c for _, c in values)),
               "rounds_per_cpu_s": [round(c) for _, c in values],
               "max_difference_from_values_in_uint8_levels": difference[name]}
        report["variants"][name] = row
        diff = "" if difference[name] is None else f"  max diff {difference[name]:.4f}/255"
        print(f"{name:22s} {row['images_per_s']:6,d} images/s  {row['images_per_cpu_s']:6,d} per CPU-s{diff}")
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
