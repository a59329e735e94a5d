"""The Transform step: decode, resize to 180x180, rescale to [0, 1].

This is the tutorial's `resize_and_rescale`, moved into tensorflow-transform so
that the very same graph runs in Transform, in the Trainer's input and inside the
serving model (as `tft_layer`). It is deterministic: no random op belongs here;
random augmentation lives in `components.trainer.augment.fused` and runs in the Trainer only.
Images over the limits of `components.features` (bytes, pixels, GIF frames) are
refused before decoding, and a JPEG's EXIF orientation is applied, both in graph
ops (`components.transform.image_ops`).
"""

from __future__ import annotations

import tensorflow as tf

from components.features import (  # noqa: F401 - the preprocessing_fn's keys
    IMAGE_KEY,
    IMAGE_SIZE,
    LABEL_KEY,
    TRANSFORMED_IMAGE_KEY,
)
from components.transform import image_ops


def decode_image(encoded: tf.Tensor) -> tf.Tensor:
    """Encoded bytes (JPEG, PNG, GIF first frame, BMP) to RGB uint8 [h, w, 3], as stored.

    The limits ingestion applies are checked first (`image_ops.check_limits`):
    over one, an InvalidArgumentError (`image too large: ...`) and nothing is
    decoded.
    `channels=3` turns grayscale, RGBA and CMYK into RGB; 16-bit PNGs come out
    as 8-bit. Bad bytes raise InvalidArgumentError naming the problem.
    """
    with tf.control_dependencies([image_ops.check_limits(encoded)]):
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False, dtype=tf.uint8)
    image.set_shape([None, None, 3])
    return image


def resize_and_rescale(image: tf.Tensor, size: int = IMAGE_SIZE) -> tf.Tensor:
    """uint8 [h, w, 3] to float32 [size, size, 3] in [0, 1].

    Bilinear TF2 `tf.image.resize` (half-pixel centres), as the tutorial's
    `Resizing` layer does; it cannot overshoot, so the range stays [0, 1].
    """
    resized = tf.image.resize(image, [size, size], method="bilinear")
    return resized / 255.0


def preprocess_encoded(encoded: tf.Tensor) -> tf.Tensor:
    """A batch of encoded images [batch] to float32 [batch, 180, 180, 3], upright.

    A JPEG's EXIF orientation is read for the whole batch at once and applied
    to the resized squares, where a turn is exact and cheap (`image_ops`).
    """
    images = tf.map_fn(
        lambda x: resize_and_rescale(decode_image(x)),
        encoded,
        fn_output_signature=tf.TensorSpec([IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32),
    )
    return image_ops.orient(images, image_ops.exif_orientation(encoded))


def preprocessing_fn(inputs: dict[str, tf.Tensor], custom_config: dict | None = None) -> dict[str, tf.Tensor]:
    """tf.Transform's entry point: raw features in, model features out.

    TFX passes the component's custom_config; in a container image its code
    must be the code the spec was compiled from (`components.code_fingerprints`).
    """
    from components import code_fingerprints

    code_fingerprints.check_image_code("Transform", (custom_config or {}).get("code_fingerprint", ""))
    return {
        TRANSFORMED_IMAGE_KEY: preprocess_encoded(tf.reshape(inputs[IMAGE_KEY], [-1])),
        LABEL_KEY: tf.reshape(inputs[LABEL_KEY], [-1]),
    }
