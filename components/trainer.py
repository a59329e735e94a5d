"""The Trainer's run_fn: tf.data with augmentation on the CPU, then Keras fit.

The tutorial's `prepare(ds, shuffle, augment)`, for a pipeline: read what
Transform wrote, cache it (it is deterministic), shuffle, batch, parse the batch
in one op, augment the training batches only (`components.augment`, vectorized
and seeded), and prefetch so the accelerator never waits on the CPU.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402
import tf_keras as keras  # noqa: E402

from components import augment, preprocessing, reports, serving  # noqa: E402
from components import model as model_lib  # noqa: E402

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The Trainer's settings, carried in the component's custom_config."""

    class_names: tuple[str, ...]
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 42
    augmentation: str = augment.DEFAULT_SPEC
    shuffle_buffer: int = 0  # 0: the whole training split
    cache: bool = True
    precision: str = "auto"
    devices: tuple[str, ...] = ()
    lr_schedule: str = "constant"
    patience: int = 0

    @classmethod
    def from_custom_config(cls, config: dict[str, Any]) -> TrainConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in config.items() if k in fields}
        values["class_names"] = tuple(values["class_names"])
        values["devices"] = tuple(values.get("devices", ()))
        return cls(**values)


def _files(pattern_or_list) -> list[str]:
    patterns = [pattern_or_list] if isinstance(pattern_or_list, str) else list(pattern_or_list)
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise FileNotFoundError(f"no transformed examples match {patterns}")
    return files


def count_records(file_pattern) -> int:
    dataset = tf.data.TFRecordDataset(_files(file_pattern), compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def fits_in_memory(examples: int, feature_spec: dict[str, Any], share: float = 0.5) -> bool:
    """Whether the parsed examples fit in `share` of the memory available now."""
    shape = feature_spec[preprocessing.TRANSFORMED_IMAGE_KEY].shape
    needed = examples * math.prod(shape) * 4
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return False
    return needed < share * available


def make_dataset(
    file_pattern,
    feature_spec: dict[str, Any],
    config: TrainConfig,
    training: bool,
) -> tf.data.Dataset:
    """Batches of (image [b, 180, 180, 3] in [0, 1], label [b]).

    Training: shuffled, repeated forever (`fit` takes steps_per_epoch) and
    augmented with a stateless seed of (seed, global step), so epochs differ and
    a rerun with the same seed repeats them exactly. Otherwise: one pass, in
    file order, never augmented.
    """
    def parse(serialized):
        features = tf.io.parse_example(serialized, feature_spec)
        return features[preprocessing.TRANSFORMED_IMAGE_KEY], features[preprocessing.LABEL_KEY]

    dataset = tf.data.TFRecordDataset(_files(file_pattern), compression_type="GZIP")
    # Parsing a batch is one op (far cheaper than one per example); the parsed
    # tensors are then cached, so reading and parsing happen once, not per epoch.
    dataset = dataset.batch(256).map(parse, num_parallel_calls=AUTOTUNE).unbatch()
    if config.cache:
        dataset = dataset.cache()
    if training:
        # ExampleGen writes photos in source order (class by class), so by default
        # the buffer holds the whole split: every batch then mixes the classes.
        buffer = config.shuffle_buffer if config.shuffle_buffer > 0 else count_records(file_pattern)
        dataset = dataset.shuffle(buffer, seed=config.seed, reshuffle_each_iteration=True)
        dataset = dataset.repeat()
    dataset = dataset.batch(config.batch_size)
    if training and config.augmentation:
        ops = augment.parse_spec(config.augmentation)

        def augment_step(step, batch):
            images, labels = batch
            seed = tf.stack([tf.constant(config.seed, tf.int64), step])
            return augment.augment_batch(images, seed, ops), labels

        dataset = dataset.enumerate().map(augment_step, num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)


def learning_rate(config: TrainConfig, steps_per_epoch: int):
    """A constant rate, or cosine decay to zero over the whole run."""
    if config.lr_schedule == "constant":
        return config.learning_rate
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps_per_epoch)
    raise ValueError(f"lr_schedule must be constant or cosine, not {config.lr_schedule!r}")


def callbacks(config: TrainConfig, log_dir: str) -> list:
    """TensorBoard logs always; early stopping on eval accuracy when `patience` > 0."""
    result = [keras.callbacks.TensorBoard(log_dir=log_dir)]
    if config.patience > 0:
        result.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=config.patience, restore_best_weights=True
            )
        )
    return result


def _test_split(train_files: list[str]) -> str:
    """The test split's files, beside the train split in the same artifact."""
    # TFX hands each split over as "<artifact uri>/Split-<name>/*".
    return os.path.join(os.path.dirname(os.path.dirname(train_files[0])), "Split-test", "*")


def train_and_export(fn_args, config: TrainConfig) -> dict[str, Any]:
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    feature_spec = tft_output.transformed_feature_spec()
    train_count = count_records(fn_args.train_files)
    steps_per_epoch = max(1, math.ceil(train_count / config.batch_size))
    if config.cache and not fits_in_memory(train_count, feature_spec):
        config = dataclasses.replace(config, cache=False)
    if config.shuffle_buffer <= 0:
        config = dataclasses.replace(config, shuffle_buffer=train_count)
    train_ds = make_dataset(fn_args.train_files, feature_spec, config, training=True)
    eval_ds = make_dataset(fn_args.eval_files, feature_spec, config, training=False)

    keras.utils.set_random_seed(config.seed)
    policy = model_lib.precision_policy(config.precision)
    keras.mixed_precision.set_global_policy(policy)
    try:
        strategy = model_lib.choose_strategy(list(config.devices))
        with strategy.scope():
            model = model_lib.build_model(len(config.class_names), learning_rate(config, steps_per_epoch))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    history = model.fit(
        train_ds,
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_ds,
        callbacks=callbacks(config, fn_args.model_run_dir),
        verbose=2,
    )
    test_pattern = _test_split(fn_args.train_files)
    test_accuracy = None
    if tf.io.gfile.glob(test_pattern):
        _, test_accuracy = model.evaluate(
            make_dataset(test_pattern, feature_spec, config, training=False), verbose=0
        )
    signatures = serving.make_signatures(model, tft_output, config.class_names)
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
    metrics = {
        "train_examples": train_count,
        "epochs": config.epochs,
        "precision": policy,
        "replicas": strategy.num_replicas_in_sync,
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "test_accuracy": None if test_accuracy is None else float(test_accuracy),
    }
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, reports.METRICS_FILE), "w") as f:
        json.dump(metrics, f, indent=2)
    reports.plot_history(metrics["history"], os.path.join(fn_args.model_run_dir, reports.CURVES_FILE))
    return metrics


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (GenericExecutor)."""
    train_and_export(fn_args, TrainConfig.from_custom_config(fn_args.custom_config or {}))
