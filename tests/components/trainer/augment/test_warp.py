"""The warp against a plain NumPy bilinear sampler of the mirror-padded image, edges included."""

import numpy as np
import pytest
import tensorflow as tf

from components.trainer.augment import warp

SIZE = 23


def _reference(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Bilinear samples of `image` mirrored on every side (`d c b a | a b c d | d c b a`)
    at matrix @ (x, y, 1) for each output pixel (x, y), as float64 in 0-255. Like the warp,
    a coordinate within 1e-3 of a pixel centre is that centre."""
    padded = np.pad(image.astype(np.float64), ((SIZE, SIZE), (SIZE, SIZE), (0, 0)), mode="symmetric")
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    sx = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2] + SIZE
    sy = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2] + SIZE
    sx, sy = (np.where(np.abs(v - np.round(v)) < 1e-3, np.round(v), v) for v in (sx, sy))
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    wx, wy = (sx - x0)[..., None], (sy - y0)[..., None]
    top = padded[y0, x0] * (1 - wx) + padded[y0, x0 + 1] * wx
    bottom = padded[y0 + 1, x0] * (1 - wx) + padded[y0 + 1, x0 + 1] * wx
    return top * (1 - wy) + bottom * wy


def _affine(angle: float, scale: float, dx: float, dy: float) -> np.ndarray:
    """Output-to-input: rotate and scale about the centre, then move by (dx, dy)."""
    c = (SIZE - 1) / 2
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[cos, -sin, c - cos * c + sin * c + dx], [sin, cos, c - sin * c - cos * c + dy], [0, 0, 1]])


def _both_passes(images: np.ndarray, matrices: np.ndarray) -> list[np.ndarray]:
    images, matrices = tf.constant(images, tf.uint8), tf.constant(matrices, tf.float32)
    per_value = warp.warp_bilinear(images, matrices).numpy()
    per_pixel = warp.unpack(warp.warp_colour_packed(images, matrices), SIZE).numpy() * 255.0
    return [per_value, per_pixel]


@pytest.mark.parametrize("shift", [-0.25, -0.49, 0.25, -22.75])
def test_the_half_pixel_outside_each_edge_is_the_edge_pixel(shift):
    """A move of a fraction of a pixel: the columns (rows) that sample the half pixel
    beyond the low edge, [-0.5, 0), take pixel 0's value, as mirroring gives; the
    high edge likewise. Before the fix the low edge blended pixel 1 in, up to 3/4 of it."""
    images = np.random.default_rng(1).integers(0, 256, (2, SIZE, SIZE, 3)).astype(np.uint8)
    matrices = np.stack([_affine(0.0, 1.0, shift, 0.0), _affine(0.0, 1.0, 0.0, shift)])
    for out in _both_passes(images, matrices):
        np.testing.assert_allclose(out[0], _reference(images[0], matrices[0]), atol=0.01)
        np.testing.assert_allclose(out[1], _reference(images[1], matrices[1]), atol=0.01)
    if -0.5 < shift < 0:
        for out in _both_passes(images, matrices):
            np.testing.assert_allclose(out[0, :, 0], images[0, :, 0], atol=0.01)
            np.testing.assert_allclose(out[1, 0, :], images[1, 0, :], atol=0.01)


def test_rotations_with_zoom_match_the_mirrored_bilinear_reference():
    """The full chain's geometry (turns to +-72 degrees, scale 0.9-1.1, moves to +-3 px):
    every output value within 0.05 of 255 of the reference, corners and edges included."""
    rng = np.random.default_rng(2)
    n = 16
    images = rng.integers(0, 256, (n, SIZE, SIZE, 3)).astype(np.uint8)
    matrices = np.stack([_affine(rng.uniform(-1.26, 1.26), rng.uniform(0.9, 1.1), *rng.uniform(-3, 3, 2))
                         for _ in range(n)])
    expected = np.stack([_reference(i, m) for i, m in zip(images, matrices, strict=True)])
    for out in _both_passes(images, matrices):
        assert out.shape == (n, SIZE, SIZE, 3)
        error = np.abs(out - expected)
        assert error.max() < 0.05, error.max()
        border = np.ones((SIZE, SIZE), bool)
        border[1:-1, 1:-1] = False
        assert np.abs(expected[:, border] - images[:, border]).mean() > 10  # the border was really moved
