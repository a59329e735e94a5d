"""The serving signatures: raw bytes in, class probabilities out.

Preprocessing inside the served model is the Transform graph itself
(`tft_layer`), never a copy, so serving cannot drift from training.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from components import features

_IMAGE_SPEC = {features.IMAGE_KEY: tf.io.FixedLenFeature([1], tf.string)}


def _outputs(model, tft_layer, class_names: tuple[str, ...], raw: dict[str, tf.Tensor]):
    transformed = tft_layer(raw)
    logits = model(transformed[features.TRANSFORMED_IMAGE_KEY], training=False)
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
    labels = tf.tile(tf.constant([list(class_names)]), [tf.shape(probabilities)[0], 1])
    return {"probabilities": probabilities, "labels": labels}


def make_signatures(model, tft_output: tft.TFTransformOutput, class_names: tuple[str, ...]) -> dict:
    """`serving_default`, `serving_images` and `transform_features` for `model.save`."""
    model.tft_layer = tft_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(examples):
        raw = tf.io.parse_example(examples, _IMAGE_SPEC)
        return _outputs(model, model.tft_layer, class_names, raw)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_images(image_bytes):
        raw = {features.IMAGE_KEY: tf.reshape(image_bytes, [-1, 1])}
        return _outputs(model, model.tft_layer, class_names, raw)

    transform_spec = dict(_IMAGE_SPEC)
    # Optional, so the same signature serves labelled (TFMA) and unlabelled examples.
    transform_spec[features.LABEL_KEY] = tf.io.FixedLenFeature([1], tf.int64, default_value=[-1])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(examples):
        return model.tft_layer(tf.io.parse_example(examples, transform_spec))

    return {
        "serving_default": serve_examples.get_concrete_function(),
        "serving_images": serve_images.get_concrete_function(),
        "transform_features": transform_features.get_concrete_function(),
    }
