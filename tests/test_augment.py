import numpy as np
import pytest
import tensorflow as tf

from components import augment


def _batch(n=6, size=32, seed=0):
    return tf.constant(np.random.default_rng(seed).random((n, size, size, 3), dtype=np.float32))


def test_full_chain_keeps_shape_and_range():
    images = _batch()
    out = augment.augment_batch(images, tf.constant([1, 2]), augment.FULL_SPEC).numpy()
    assert out.shape == images.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out, images.numpy())


def test_same_seed_same_batch_other_step_other_batch():
    images = _batch()
    a = augment.augment_batch(images, tf.constant([7, 0]), augment.FULL_SPEC).numpy()
    b = augment.augment_batch(images, tf.constant([7, 0]), augment.FULL_SPEC).numpy()
    c = augment.augment_batch(images, tf.constant([7, 1]), augment.FULL_SPEC).numpy()
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).mean() > 0.01


def test_each_image_draws_its_own_transform():
    same = tf.repeat(_batch(1), 16, axis=0)
    out = augment.augment_batch(same, tf.constant([3, 4]), "rotate(0.2)").numpy()
    distinct = {out[i].tobytes() for i in range(16)}
    assert len(distinct) >= 15


def test_flip_is_exact():
    images = _batch(32)
    out = augment.augment_batch(images, tf.constant([0, 0]), "flip(horizontal)").numpy()
    src = images.numpy()
    flipped = np.all(np.isclose(out, src[:, :, ::-1]), axis=(1, 2, 3))
    kept = np.all(np.isclose(out, src), axis=(1, 2, 3))
    assert np.all(flipped | kept)
    assert 4 < flipped.sum() < 28


def test_rot90_and_crop_are_exact_pixel_moves():
    images = _batch(16)
    out = augment.augment_batch(images, tf.constant([5, 5]), "rot90").numpy()
    src = images.numpy()
    for i in range(16):
        assert any(np.allclose(out[i], np.rot90(src[i], k, axes=(0, 1)), atol=1e-5) for k in range(4))


def test_invert_probability_one_inverts_everything():
    images = _batch()
    out = augment.augment_batch(images, tf.constant([1, 1]), "invert(1.0)").numpy()
    np.testing.assert_allclose(out, 1.0 - images.numpy(), atol=1e-6)


def test_brightness_delta_and_clip():
    images = tf.fill([8, 4, 4, 3], 0.5)
    out = augment.augment_batch(images, tf.constant([2, 2]), "brightness(0.5)").numpy()
    per_image = out.reshape(8, -1)
    assert np.all(per_image.max(axis=1) == per_image.min(axis=1))  # one delta per image
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert len(set(per_image[:, 0].round(5))) == 8


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
        augment.parse_spec(spec)


def test_spec_round_trip():
    ops = augment.parse_spec(augment.FULL_SPEC)
    names = ["flip", "rotate", "zoom", "crop", "contrast", "brightness", "saturation", "invert"]
    assert [op.name for op in ops] == names
    assert ops[1].args == (0.2,)


def _mid_batch(n=6, size=16):
    """Values in [0.3, 0.7], so small colour changes never clip."""
    return 0.3 + 0.4 * _batch(n, size)


def test_contrast_keeps_each_images_channel_means():
    images = _mid_batch()
    out = augment.augment_batch(images, tf.constant([4, 4]), "contrast(0.3)").numpy()
    np.testing.assert_allclose(out.mean(axis=(1, 2)), images.numpy().mean(axis=(1, 2)), atol=1e-5)
    assert not np.allclose(out, images.numpy())


def test_grayscale_then_invert_composes_exactly():
    images = _mid_batch()
    luma = (images.numpy() * np.array([0.2989, 0.5870, 0.1140])).sum(axis=-1, keepdims=True)
    out = augment.augment_batch(images, tf.constant([1, 1]), "grayscale(1.0)|invert(1.0)").numpy()
    np.testing.assert_allclose(out, np.repeat(1.0 - luma, 3, axis=-1), atol=1e-5)


def test_brightness_then_contrast_pivots_on_the_shifted_mean():
    images = _mid_batch()
    bright = augment.augment_batch(images, tf.constant([9, 9]), "brightness(0.1)").numpy()
    both = augment.augment_batch(images, tf.constant([9, 9]), "brightness(0.1)|contrast(0.2)").numpy()
    # Contrast keeps the (brightened) mean, whatever factor it drew.
    np.testing.assert_allclose(both.mean(axis=(1, 2)), bright.mean(axis=(1, 2)), atol=1e-5)
