"""Each augmentation op keeps its tutorial meaning, checked on known images."""

import math

import numpy as np
import pytest
import tensorflow as tf

from components.trainer.augment import fused

SIZE = 41  # odd: the centre is a pixel
CENTRE = (SIZE - 1) / 2


def _run(images, spec, seed=0, epoch=0, keys=None):
    images = tf.constant(images, tf.uint8)
    n = int(images.shape[0])
    keys = tf.range(n, dtype=tf.int64) if keys is None else tf.constant(keys, tf.int64)
    return fused.augment_batch(images, keys, tf.fill([n], tf.constant(epoch, tf.int64)), seed,
                                 fused.parse_spec(spec)).numpy()


def _noise(n=6, size=SIZE, low=0, high=256, seed=0):
    return np.random.default_rng(seed).integers(low, high, (n, size, size, 3)).astype(np.uint8)


def _dot(n, dx=10, dy=0):
    """A white 3x3 dot at (centre + dx, centre + dy) on black, n copies."""
    images = np.zeros((n, SIZE, SIZE, 3), np.uint8)
    x, y = int(CENTRE + dx), int(CENTRE + dy)
    images[:, y - 1 : y + 2, x - 1 : x + 2] = 255
    return images


def _centroids(out):
    """(x, y) of each image's brightness centroid, relative to the centre."""
    weight = out.sum(axis=-1)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    total = weight.sum(axis=(1, 2))
    return (weight * xs).sum(axis=(1, 2)) / total - CENTRE, (weight * ys).sum(axis=(1, 2)) / total - CENTRE


def test_full_chain_keeps_shape_and_range():
    images = _noise()
    out = _run(images, fused.FULL_SPEC)
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out, images / 255.0)


def test_draws_follow_image_key_and_epoch_not_batch():
    images = _noise(8)
    a = _run(images, fused.FULL_SPEC, seed=7)
    again = _run(images, fused.FULL_SPEC, seed=7)
    np.testing.assert_array_equal(a, again)
    # The same image (same key) in another batch, at another place: the same result.
    reordered = _run(images[::-1], fused.FULL_SPEC, seed=7, keys=list(range(8))[::-1])
    np.testing.assert_allclose(reordered[::-1], a, atol=1e-6)
    other_epoch = _run(images, fused.FULL_SPEC, seed=7, epoch=1)
    other_seed = _run(images, fused.FULL_SPEC, seed=8)
    assert np.abs(a - other_epoch).mean() > 0.01 and np.abs(a - other_seed).mean() > 0.01


def test_flip_mirrors_or_keeps_each_image():
    images = _noise(32)
    out = _run(images, "flip(horizontal)")
    src = images / 255.0
    flipped = np.all(np.isclose(out, src[:, :, ::-1]), axis=(1, 2, 3))
    kept = np.all(np.isclose(out, src), axis=(1, 2, 3))
    assert np.all(flipped | kept)
    assert 4 < flipped.sum() < 28


def test_rotate_is_a_fraction_of_a_full_turn():
    """rotate(0.1): angles within +-36 degrees (0.1 of 360), spread over that range."""
    out = _run(_dot(64), "rotate(0.1)")
    xs, ys = _centroids(out)
    angles = np.degrees(np.arctan2(ys, xs))
    assert np.all(np.abs(angles) <= 36.0 + 2.0)
    assert np.abs(angles).max() > 28.0
    np.testing.assert_allclose(np.hypot(xs, ys), 10.0, atol=0.6)  # a rotation keeps the radius


def test_zoom_is_a_fraction_and_positive_zooms_out():
    """zoom(0.2): scale 1 +- 0.2 of the output-to-input map, so a dot 10 px out lands at 10 / scale."""
    out = _run(_dot(64), "zoom(0.2)")
    radius = np.hypot(*_centroids(out))
    assert radius.min() >= 10.0 / 1.2 - 0.4 and radius.max() <= 10.0 / 0.8 + 0.4
    assert radius.min() < 9.0 and radius.max() > 11.5


def test_crop_pads_six_and_crops_back_a_shift_of_three_at_most():
    """crop(6): pad to size + 6 (3 a side), random crop back: integer shifts in -3..3."""
    images = _noise(96, low=20, high=236)
    out = np.round(_run(images, "crop(6)") * 255.0).astype(int)
    shifts = set()
    inner = slice(3, SIZE - 3)
    for src, dst in zip(images.astype(int), out, strict=True):
        found = [
            (dx, dy)
            for dx in range(-3, 4)
            for dy in range(-3, 4)
            if np.array_equal(dst[inner, inner], src[3 + dy : SIZE - 3 + dy, 3 + dx : SIZE - 3 + dx])
        ]
        assert len(found) == 1, "each output is the input moved by one whole-pixel shift"
        shifts.add(found[0])
    assert {dx for dx, _ in shifts} == set(range(-3, 4)) and {dy for _, dy in shifts} == set(range(-3, 4))


def test_rot90_turns_by_whole_quarters():
    images = _noise(16)
    out = _run(images, "rot90")
    turns = set()
    for src, dst in zip(images / 255.0, out, strict=True):
        matches = [k for k in range(4) if np.allclose(dst, np.rot90(src, k, axes=(0, 1)), atol=1e-5)]
        assert len(matches) == 1
        turns.add(matches[0])
    assert turns == {0, 1, 2, 3}


def test_central_crop_keeps_the_central_fraction():
    """central_crop(0.5): the central half fills the output, so a dot 5 px out lands 10 px out."""
    out = _run(_dot(4, dx=5), "central_crop(0.5)")
    xs, ys = _centroids(out)
    np.testing.assert_allclose(xs, 10.0, atol=0.5)
    np.testing.assert_allclose(ys, 0.0, atol=0.5)


def _mid(n=16):
    """Values in 77..178 (0.3..0.7), so small colour changes never clip."""
    return _noise(n, low=77, high=179)


def test_contrast_scales_around_each_images_means_by_one_plus_minus_f():
    images = _mid(32)
    src = images / 255.0
    out = _run(images, "contrast(0.3)")
    mean = src.mean(axis=(1, 2), keepdims=True)
    factor = ((out - mean) * (src - mean)).sum(axis=(1, 2, 3)) / ((src - mean) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(out, mean + factor[:, None, None, None] * (src - mean), atol=1e-5)
    assert factor.min() >= 0.7 - 1e-5 and factor.max() <= 1.3 + 1e-5
    assert factor.min() < 0.8 and factor.max() > 1.2


def test_brightness_adds_one_delta_per_image_within_d():
    images = _mid(32)
    delta = (_run(images, "brightness(0.2)") - images / 255.0).reshape(32, -1)
    np.testing.assert_allclose(delta.max(axis=1), delta.min(axis=1), atol=1e-5)
    assert np.abs(delta).max() <= 0.2 + 1e-5 and np.abs(delta).max() > 0.15


def test_saturation_mixes_towards_luma_within_its_range():
    images = _mid(32)
    src = images / 255.0
    luma = (src * np.array([0.2989, 0.5870, 0.1140])).sum(axis=-1, keepdims=True)
    out = _run(images, "saturation(0.5,0.9)")
    amount = ((out - luma) * (src - luma)).sum(axis=(1, 2, 3)) / ((src - luma) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(out, luma + amount[:, None, None, None] * (src - luma), atol=1e-5)
    assert amount.min() >= 0.5 - 1e-4 and amount.max() <= 0.9 + 1e-4


def test_grayscale_then_invert_compose_exactly():
    images = _mid()
    luma = (images / 255.0 * np.array([0.2989, 0.5870, 0.1140])).sum(axis=-1, keepdims=True)
    out = _run(images, "grayscale(1.0)|invert(1.0)")
    np.testing.assert_allclose(out, np.repeat(1.0 - luma, 3, axis=-1), atol=1e-5)


def test_invert_happens_with_probability_p():
    images = _mid(200)
    out = _run(images, "invert(0.25)")
    inverted = np.all(np.isclose(out, 1.0 - images / 255.0, atol=1e-5), axis=(1, 2, 3))
    kept = np.all(np.isclose(out, images / 255.0, atol=1e-5), axis=(1, 2, 3))
    assert np.all(inverted | kept)
    assert 30 <= inverted.sum() <= 70  # 50 expected; binomial sd about 6


def test_colour_is_clipped_once_at_the_end():
    images = np.full((64, SIZE, SIZE, 3), 250, np.uint8)
    out = _run(images, "brightness(0.5)|invert(1.0)")
    # Brightness above 1 is not clipped before the invert: 1 - (0.98 + d) may go below 0, then clips to 0.
    assert out.min() == 0.0 and out.max() <= 1.0


def test_xla_path_compiles_here_and_matches_the_fallback():
    images = tf.constant(_noise(8, size=180))
    keys = tf.range(8, dtype=tf.int64)
    epochs = tf.zeros([8], tf.int64)
    fast = fused.make_augmenter(fused.FULL_SPEC, 5, 180)
    plain = fused.make_augmenter(fused.FULL_SPEC, 5, 180, xla=False)
    assert fast.path == "xla" and plain.path == "fallback"
    np.testing.assert_allclose(fast(images, keys, epochs).numpy(), plain(images, keys, epochs).numpy(), atol=1 / 255)


@pytest.mark.parametrize("spec", [fused.FULL_SPEC, fused.DEFAULT_SPEC, "crop(6)|contrast(0.2)|invert(0.5)"])
def test_per_pixel_pass_stays_within_one_level_of_the_per_value_pass(spec):
    """The default per-pixel packed pass against the earlier per-value pass, same draws, both XLA-compiled."""
    images = tf.constant(_noise(8, size=180))
    keys = tf.range(8, dtype=tf.int64)
    epochs = tf.fill([8], tf.constant(3, tf.int64))
    pixel = fused.make_augmenter(spec, 5, 180, batch_size=8, variant="pixel")
    values = fused.make_augmenter(spec, 5, 180, batch_size=8, variant="values")
    assert pixel.path == values.path == "xla" and (pixel.variant, values.variant) == ("pixel", "values")
    difference = np.abs(pixel(images, keys, epochs).numpy() - values(images, keys, epochs).numpy())
    assert difference.max() <= 1 / 255
    assert difference.mean() < 1e-5  # the same values bar float rounding, not merely close


@pytest.mark.parametrize(
    "spec, message",
    [
        ("spin(0.2)", "unknown op 'spin'"),
        ("flip(diagonal)", "flip mode"),
        ("rotate(a)", "takes numbers"),
        ("saturation(0.5)", "takes 2 argument"),
        ("rotate(0.2", "cannot parse"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        fused.parse_spec(spec)


def test_spec_round_trip():
    ops = fused.parse_spec(fused.FULL_SPEC)
    names = ["flip", "rotate", "zoom", "crop", "contrast", "brightness", "saturation", "invert"]
    assert [op.name for op in ops] == names
    assert ops[1].args == (0.2,)
    assert math.isclose(ops[3].args[0], 6.0)


def test_auto_picks_the_per_value_pass_only_for_chains_without_colour_on_newer_tensorflow(monkeypatch):
    for version, geometric_only in (((2, 16), "pixel"), ((2, 21), "values")):
        monkeypatch.setattr(fused, "_tf_version", lambda v=version: v)
        assert fused.auto_variant(fused.parse_spec(fused.DEFAULT_SPEC)) == geometric_only
        assert fused.auto_variant(fused.parse_spec(fused.FULL_SPEC)) == "pixel"
