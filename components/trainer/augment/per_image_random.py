"""Per-image random numbers that depend only on (seed, image, epoch).

`tf.random.stateless_uniform` takes one seed per call, so a batch drawn with it
depends on which images share the batch and on the step that produced it.
Under tf.data service neither is fixed: workers batch whatever they are given,
in any order. Here every image's draws come from a counter-based hash of its
own key (a hash of its filename), the epoch and the run's seed, computed for a
whole batch at once with integer ops. The same image in the same epoch gets the
same augmentation whichever worker, batch or order it lands in.

The mixer is a 32-bit integer finaliser (xor-shift and multiply rounds, the
well-known "lowbias32" constants), evaluated in int64 with the product masked
back to 32 bits, so every op is plain TensorFlow and compiles under XLA.
"""

from __future__ import annotations

import tensorflow as tf

_MASK = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def _xorshift(x: tf.Tensor, bits: int) -> tf.Tensor:
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, bits))


def mix32(x: tf.Tensor) -> tf.Tensor:
    """A bijective scramble of int64 values in [0, 2**32); same range out."""
    x = tf.bitwise.bitwise_and(x, _MASK)
    x = tf.bitwise.bitwise_and(_xorshift(x, 16) * 0x7FEB352D, _MASK)
    x = tf.bitwise.bitwise_and(_xorshift(x, 15) * 0x846CA68B, _MASK)
    return _xorshift(x, 16)


def filename_key(filename: tf.Tensor) -> tf.Tensor:
    """int64 key in [0, 2**32) for each filename: stable across runs and machines."""
    return tf.strings.to_hash_bucket_fast(filename, _MASK)


def image_base(keys: tf.Tensor, epoch: tf.Tensor, seed: int) -> tf.Tensor:
    """One int64 state per image from its key, the epoch and the seed."""
    keys = tf.cast(keys, tf.int64)
    epoch = tf.cast(epoch, tf.int64)
    state = mix32(tf.bitwise.bitwise_xor(keys, seed & _MASK))
    state = mix32(tf.bitwise.bitwise_xor(state, mix32(epoch + _GOLDEN)))
    return mix32(state + (seed >> 32))


def uniforms(base: tf.Tensor, count: int) -> tf.Tensor:
    """float32 [batch, count] in [0, 1): draw j of image i hashes (base[i], j)."""
    counters = mix32(tf.range(1, count + 1, dtype=tf.int64) * _GOLDEN)
    bits = mix32(tf.bitwise.bitwise_xor(base[:, None], counters[None, :]))
    # The top 24 bits are exact in float32.
    return tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) * (1.0 / (1 << 24))
