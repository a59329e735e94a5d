"""`--augment-in model`: the augmentation pass as the first layer of the training model.

The tutorial's first option: the random layers inside the model, so they run
on the accelerator with the rest of the step. Here the layer is the same pass
the input path runs (`components.trainer.augment.fused`, the same spec and
seed, the same XLA programs): the training model is

    {pixels uint8, image_key int64, epoch int64} -> AugmentInModel -> the classifier

and the input feeds the cached, un-augmented uint8 pixels (a quarter of
float32's bytes to copy to the device) with each image's filename key and its
epoch (`components.trainer.input_pipeline.train_dataset`). The pass is
compiled with `jit_compile` on its own call, inside the train step, so XLA
compiles it for the device the step runs on: the GPU under
`model.choose_strategy`'s OneDeviceStrategy or MirroredStrategy, the CPU here.

The draws. Each image's draws are the hash of (seed, filename key, epoch)
that the input path uses (`per_image_random`), and the epoch fed is the input
path's too: the pass over the data the image was read in (element index //
examples), not Keras's epoch counter, which drifts from it when a batch spans
two passes. So for the same seed an image gets exactly the same flips, angles
and colour factors in the same epoch under either placement, and the layer's
output equals the input path's augmented batch (same programs on the same
values; on a GPU, XLA's GPU code, within float rounding). With the same seed,
data and shuffle, the two placements train on the same batches.

Training only: called with `training` false (evaluation, validation,
prediction) the layer only turns the uint8 pixels into float32 in [0, 1], as
the input path's eval batches are, and ignores the key and the epoch. It holds
no weights, so the training model's weights are the classifier's, and only
the classifier is exported (`components.trainer.serving`): a model trained
either way serves and warm-starts the same.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tf_keras as keras

from components import features
from components.trainer.augment import fused, placement


def to_float(pixels: tf.Tensor) -> tf.Tensor:
    """uint8 to float32 in [0, 1], as `input_pipeline.to_float` (the eval batches' values)."""
    return tf.cast(pixels, tf.float32) * (1.0 / 255.0)


class AugmentInModel(keras.layers.Layer):
    """The fused augmentation pass on {pixels, image_key, epoch}: float32 [b, size, size, 3] in [0, 1].

    `augmenter` is `fused.make_augmenter(spec, seed, ...)` (built here when not
    given); `spec` and `seed` name it in the layer's config.
    """

    def __init__(self, spec: str, seed: int, xla: bool = True, batch_size: int = 32,
                 augmenter: fused.Augmenter | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("name", "augment_in_model")
        kwargs["dtype"] = "float32"  # float32 out under a mixed-precision policy too; the classifier casts
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.spec, self.seed, self.xla, self.batch_size = spec, int(seed), bool(xla), int(batch_size)
        self.augmenter = augmenter or fused.make_augmenter(
            spec, self.seed, features.IMAGE_SIZE, xla=self.xla, batch_size=self.batch_size
        )

    @property
    def path(self) -> str:
        """"xla" or "fallback" (`fused.Augmenter.path`)."""
        return self.augmenter.path

    def call(self, inputs: dict[str, tf.Tensor], training=None) -> tf.Tensor:
        pixels = inputs[placement.PIXELS_KEY]

        def augmented():
            return self.augmenter(pixels, inputs[placement.IMAGE_KEY_KEY], inputs[placement.EPOCH_KEY])

        def plain():
            return to_float(pixels)

        if training is None or isinstance(training, bool):
            return augmented() if training else plain()
        static = tf.get_static_value(training)
        if static is not None:
            return augmented() if bool(static) else plain()
        return tf.cond(tf.cast(training, tf.bool), augmented, plain)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[placement.PIXELS_KEY])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"spec": self.spec, "seed": self.seed, "xla": self.xla, "batch_size": self.batch_size})
        return config


def model_inputs() -> dict[str, keras.KerasTensor]:
    """The training model's inputs: uint8 pixels, each image's filename key and epoch."""
    size = features.IMAGE_SIZE
    return {
        placement.PIXELS_KEY: keras.Input((size, size, 3), dtype=tf.uint8, name=placement.PIXELS_KEY),
        placement.IMAGE_KEY_KEY: keras.Input((), dtype=tf.int64, name=placement.IMAGE_KEY_KEY),
        placement.EPOCH_KEY: keras.Input((), dtype=tf.int64, name=placement.EPOCH_KEY),
    }


def build_training_model(classifier: keras.Model, layer: AugmentInModel) -> keras.Model:
    """`layer` then `classifier` (its weights, shared), compiled as the classifier is, with its optimizer.

    Build it under the strategy's scope and the precision policy the classifier
    was built under. The classifier's optimizer is shared, so the exported
    classifier carries the trained optimizer state, as when it is trained itself.
    """
    inputs = model_inputs()
    logits = classifier(layer(inputs))
    model = keras.Model(inputs, logits, name="training_model")
    model.compile(
        optimizer=classifier.optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model
