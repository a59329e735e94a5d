"""Third round of issue 23: the source as 2x2 "quads", one int32 gather per channel instead of four bytes.

Each source byte and its right, lower and lower-right neighbours (edge-replicated, as
`warp._corners` clamps) are packed into one int32 ahead of the warp, so an output pixel needs
3 gathers instead of 12. XLA fuses a gather used more than once into nothing (earlier rounds:
`rgbx_words`, `pair_words`), so the pass is split into programs: the quads, the coordinates,
the gathers, the weighting + colour + packing (gather-free, vectorized) and the usual unpack.
Two layouts: planar quads [b, 3, P] and interleaved [b, P * 3]. Prints per CPU-second against
the Trainer's pixel pass, alternating in one process, and each program's time per batch:

    PYTHONPATH=. TF_USE_LEGACY_KERAS=1 .venv/bin/python scripts/pass_variants_quads.py --rounds 5
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import tensorflow as tf
from pass_variants_common import BATCH, PIXELS, SIZE, _setup

from components.trainer.augment import fused, warp

jit = tf.function(jit_compile=True)
shl, shr, band = tf.bitwise.left_shift, tf.bitwise.right_shift, tf.bitwise.bitwise_and


def _shift(v, axis):
    """v moved by one along `axis` (the next row or column), the last one repeated."""
    rest = [slice(None)] * v.shape.rank
    ahead, last = list(rest), list(rest)
    ahead[axis], last[axis] = slice(1, None), slice(SIZE - 1, None)
    return tf.concat([v[tuple(ahead)], v[tuple(last)]], axis)


def _neighbours(v, w_axis, h_axis):
    right = _shift(v, w_axis)
    return v | shl(right, 8) | shl(_shift(v, h_axis), 16) | shl(_shift(right, h_axis), 24)


@jit
def planar_quads(images):  # [b, 3, P]
    return tf.reshape(_neighbours(tf.cast(tf.transpose(images, [0, 3, 1, 2]), tf.int32), 3, 2), [-1, 3, PIXELS])


@jit
def interleaved_quads(images):  # [b, P * 3]
    return tf.reshape(_neighbours(tf.cast(images, tf.int32), 2, 1), [-1, PIXELS * 3])


@jit
def coords(images, keys, epoch):
    matrix, colour, bias = _setup(images, keys, epoch)
    y0, _, x0, _, wx, wy = warp._corners(matrix, SIZE)
    return y0 * SIZE + x0, wx, wy, colour, bias


@jit
def planar_gather(quads, offset):  # [b, 3, P]
    return tf.gather(quads, tf.broadcast_to(offset[:, None, :], tf.shape(quads)), batch_dims=2)


@jit
def interleaved_gather(quads, offset):  # [b, P, 3]
    return tf.gather(quads, offset[:, :, None] * 3 + tf.constant([0, 1, 2], tf.int32), batch_dims=1)


def _combine(words, wx, wy, colour, bias):
    weights = [(1 - wx) * (1 - wy), wx * (1 - wy), (1 - wx) * wy, wx * wy]
    channels = [tf.add_n([tf.cast(band(shr(word, 8 * k), 255), tf.float32) * weights[k] for k in range(4)])
                for word in words]
    return warp.pack(channels, colour, bias)


planar_combine = jit(lambda g, wx, wy, colour, bias: _combine([g[:, c] for c in range(3)], wx, wy, colour, bias))
interleaved_combine = jit(lambda g, wx, wy, colour, bias: _combine([g[:, :, c] for c in range(3)], wx, wy,
                                                                   colour, bias))
unpack = tf.function(lambda words: warp.unpack(words, SIZE), jit_compile=True)


def quads_pass(images, keys, epoch, planar=True):
    build, gather, combine = ((planar_quads, planar_gather, planar_combine) if planar
                              else (interleaved_quads, interleaved_gather, interleaved_combine))
    offset, wx, wy, colour, bias = coords(images, keys, epoch)
    return unpack(combine(gather(build(images), offset), wx, wy, colour, bias))


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    base = np.random.default_rng(0).integers(0, 256, (BATCH, 12, 12, 3), dtype=np.uint8)
    images = tf.constant(tf.image.resize(base, [SIZE, SIZE]).numpy().astype(np.uint8))
    keys, epoch = tf.range(BATCH, dtype=tf.int64), tf.zeros([BATCH], tf.int64)
    pixel = fused.make_augmenter(fused.FULL_SPEC, 0, SIZE, batch_size=BATCH, variant="pixel")
    passes = {"pixel": pixel, "quads_planar": lambda *a: quads_pass(*a, planar=True),
              "quads_interleaved": lambda *a: quads_pass(*a, planar=False)}
    reference = pixel(images, keys, epoch).numpy()
    for name, run in passes.items():
        difference = np.abs(run(images, keys, epoch).numpy() - reference).max() * 255
        print(f"{name}: max difference from pixel {difference:.4f}/255")
    rates: dict[str, list[int]] = {name: [] for name in passes}
    for _ in range(args.rounds):
        for name, run in passes.items():
            start = _cpu()
            for _ in range(20):
                run(images, keys, epoch).numpy()
            rates[name].append(round(20 * BATCH / (_cpu() - start)))
    for name, values in rates.items():
        print(f"{name}: per CPU-second median {sorted(values)[len(values) // 2]:,} (rounds {values})")
    offset, wx, wy, colour, bias = coords(images, keys, epoch)
    planar, interleaved = planar_quads(images), interleaved_quads(images)
    gathered_p, gathered_i = planar_gather(planar, offset), interleaved_gather(interleaved, offset)
    words = planar_combine(gathered_p, wx, wy, colour, bias)
    programs = {"planar_quads": lambda: planar_quads(images), "interleaved_quads": lambda: interleaved_quads(images),
                "coords": lambda: coords(images, keys, epoch)[0],
                "planar_gather": lambda: planar_gather(planar, offset),
                "interleaved_gather": lambda: interleaved_gather(interleaved, offset),
                "planar_combine": lambda: planar_combine(gathered_p, wx, wy, colour, bias),
                "interleaved_combine": lambda: interleaved_combine(gathered_i, wx, wy, colour, bias),
                "unpack": lambda: unpack(words), "pixel (whole)": lambda: pixel(images, keys, epoch)}
    for name, run in programs.items():
        run().numpy()
        start = _cpu()
        for _ in range(40):
            out = run()
        out.numpy()
        print(f"{name}: {(_cpu() - start) / 40 * 1000:.2f} ms CPU per batch of {BATCH}")


if __name__ == "__main__":
    main()
