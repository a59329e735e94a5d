"""The tutorial's CNN, built with tf_keras (Keras 2), on transformed images."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from components import features


def build_model(num_classes: int, learning_rate=1e-3, dropout: float = 0.0) -> keras.Model:
    """Conv 16/32/64 with max-pooling, Dense 128, `num_classes` logits: the tutorial's model.

    The tutorial's model has no dropout (its augmentation is the regularizer);
    `dropout` > 0 adds a Dropout layer after the convolutions.

    The input is what Transform produced: float32 [180, 180, 3] in [0, 1], so
    the model holds no resize or rescale of its own (that is the Transform
    graph, attached to the serving model). The last layer is float32 so logits
    stay float32 under a mixed-precision policy.
    """
    size = features.IMAGE_SIZE
    inputs = keras.Input(shape=(size, size, 3), name=features.TRANSFORMED_IMAGE_KEY)
    x = inputs
    for filters in (16, 32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(x)
    model = keras.Model(inputs, logits)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def choose_strategy(devices: list[str] | None = None) -> tf.distribute.Strategy:
    """The distribution strategy for this machine.

    Several GPUs (or the `devices` given): MirroredStrategy over them; one GPU:
    OneDeviceStrategy on it, so Keras copies each batch to the GPU ahead of the
    step; no GPU: the default strategy on the CPU.
    """
    if devices:
        if len(devices) > 1:
            return tf.distribute.MirroredStrategy(devices=devices)
        return tf.distribute.OneDeviceStrategy(devices[0])
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if gpus:
        return tf.distribute.OneDeviceStrategy(gpus[0].name)
    return tf.distribute.get_strategy()


def strategy_devices(strategy: tf.distribute.Strategy) -> list[str]:
    """The devices a train step runs on under `strategy` (the default strategy: the first CPU)."""
    try:
        return list(strategy.extended.worker_devices)
    except RuntimeError:  # the default strategy does not name its device
        return [tf.config.list_logical_devices("CPU")[0].name]


def precision_policy(requested: str = "auto") -> str:
    """`auto` means mixed_float16 on a GPU, float32 on the CPU."""
    if requested != "auto":
        return requested
    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "float32"
