import numpy as np
import tensorflow as tf

from components import features
from components.transform import preprocessing
from tests.helpers import imagefiles as images


def _inputs(blobs):
    return {
        "image": tf.constant([[b] for b in blobs]),
        "label": tf.constant([[i % 5] for i in range(len(blobs))], tf.int64),
    }


def test_every_format_becomes_180x180x3_in_unit_range():
    blobs = list(images.good_files().values())
    out = preprocessing.preprocessing_fn(_inputs(blobs))
    image = out[features.TRANSFORMED_IMAGE_KEY].numpy()
    assert image.shape == (len(blobs), 180, 180, 3)
    assert image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.max() > 0.5  # rescaled, not left in [0, 255] or squashed to black
    assert out[features.LABEL_KEY].numpy().tolist() == [i % 5 for i in range(len(blobs))]


def test_deterministic():
    blobs = [images.jpeg(200, 150, seed=s) for s in range(4)]
    first = preprocessing.preprocessing_fn(_inputs(blobs))[features.TRANSFORMED_IMAGE_KEY].numpy()
    second = preprocessing.preprocessing_fn(_inputs(blobs))[features.TRANSFORMED_IMAGE_KEY].numpy()
    np.testing.assert_array_equal(first, second)


def test_matches_the_tutorial_resize_and_rescale():
    import tf_keras as keras

    data = images.jpeg(240, 160, seed=3)
    ours = preprocessing.preprocess_encoded(tf.constant([data]))[0].numpy()
    decoded = tf.io.decode_jpeg(data, channels=3)[tf.newaxis]
    tutorial = keras.Sequential([keras.layers.Resizing(180, 180), keras.layers.Rescaling(1.0 / 255)])
    np.testing.assert_allclose(ours, tutorial(decoded)[0].numpy(), atol=1e-5)


def test_grayscale_comes_out_with_three_equal_channels():
    data = images.encode(images.photo(50, 50, seed=1, mode="L"), "PNG")
    image = preprocessing.preprocess_encoded(tf.constant([data]))[0].numpy()
    np.testing.assert_array_equal(image[..., 0], image[..., 1])
    np.testing.assert_array_equal(image[..., 1], image[..., 2])
