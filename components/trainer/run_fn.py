"""The Trainer's run_fn: the tf.data input (`components.trainer.input_pipeline`), then Keras fit.

The input applies the Transform graph to ExampleGen's raw examples, caches the
result as uint8, shuffles, batches, augments the training batches only in one
XLA-compiled pass (`components.trainer.augment.fused`) and prefetches, so the accelerator
never waits on the CPU. With `augment_in="model"` the same pass runs instead as
the first layer of a training model wrapped around the classifier
(`components.trainer.augment.in_model`), on the device that trains, and the input
feeds it un-augmented uint8 pixels. Either way only the classifier is exported,
and the served model carries the same Transform graph.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from components import progress
from components.trainer import curves, input_pipeline, serving, tf_data_service, warm_start, watchdog, xla_flags
from components.trainer import model as model_lib
from components.trainer.augment import fused, in_model, placement


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The Trainer's settings, carried in the component's custom_config."""

    class_names: tuple[str, ...]
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 42
    augmentation: str = fused.DEFAULT_SPEC
    shuffle_buffer: int = 0  # 0: the whole training split
    cache: str = "auto"
    xla: bool = True
    precision: str = "auto"
    devices: tuple[str, ...] = ()
    lr_schedule: str = "constant"
    patience: int = 0
    data_service: str = ""  # grpc://HOST:PORT: augment on tf.data service workers
    warm_start: bool = False  # start from fn_args.base_model's weights, when there is one
    service_stall_seconds: float = 600.0  # fail when the service sends no batch for this long
    augment_in: str = placement.DEFAULT  # "input" (tf.data, CPU) or "model" (the training model's first layer)

    def __post_init__(self) -> None:
        placement.check(self.augment_in)
        if self.augment_in == placement.MODEL and self.data_service:
            raise ValueError(
                "augment_in='model' and a data_service do not go together: the service's workers are there to "
                "augment on other machines' CPUs; augment in the input, or train without the service"
            )

    @classmethod
    def from_custom_config(cls, config: dict[str, Any]) -> TrainConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in config.items() if k in fields}
        values["class_names"] = tuple(values["class_names"])
        values["devices"] = tuple(values.get("devices", ()))
        return cls(**values)

    def input_config(self, cache_dir: str = "") -> input_pipeline.InputConfig:
        return input_pipeline.InputConfig(
            batch_size=self.batch_size, seed=self.seed, augmentation=self.augmentation,
            shuffle_buffer=self.shuffle_buffer, cache=self.cache, cache_dir=cache_dir, xla=self.xla,
            augment_in=self.augment_in,
        )


def learning_rate(config: TrainConfig, steps_per_epoch: int):
    """A constant rate, or cosine decay to zero over the whole run."""
    if config.lr_schedule == "constant":
        return config.learning_rate
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * steps_per_epoch)
    raise ValueError(f"lr_schedule must be constant or cosine, not {config.lr_schedule!r}")


def callbacks(config: TrainConfig, log_dir: str) -> list:
    """TensorBoard logs always; early stopping on eval accuracy when `patience` > 0."""
    result = [keras.callbacks.TensorBoard(log_dir=log_dir), progress.TrainingProgress(config.batch_size)]
    if config.patience > 0:
        result.append(
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=config.patience, restore_best_weights=True
            )
        )
    return result


class WindowTooSmallError(ValueError):
    """The window's eval or test split holds no photo: nothing to evaluate the model on."""


def _artifact_dirs(train_patterns) -> list[str]:
    """The examples artifacts' folders (a window of spans has several)."""
    patterns = [train_patterns] if isinstance(train_patterns, str) else list(train_patterns)
    return [os.path.dirname(os.path.dirname(p)) for p in patterns]


def _reports(train_patterns) -> list[dict[str, Any]]:
    from components import features

    reports = []
    for folder in _artifact_dirs(train_patterns):
        path = os.path.join(folder, features.INGEST_REPORT_FILE)
        if tf.io.gfile.exists(path):
            with tf.io.gfile.GFile(path) as f:
                reports.append(json.load(f))
    return reports


def check_window(train_patterns, class_names: tuple[str, ...]) -> dict[str, int]:
    """Before any training: the window's photos per split, from ExampleGen's reports.

    Every span's labels must mean what this run's do (its vocabulary equal to
    the run's, or the run's appends classes to it), and the eval and test splits
    must each hold a photo. Otherwise one sentence, naming what is wrong.
    """
    from components import vocabulary

    reports = _reports(train_patterns)
    counts: dict[str, int] = {}
    for report in reports:
        names = report.get("class_names") or []
        if not vocabulary.is_prefix(names, class_names):
            raise vocabulary.VocabularyError(
                f"span {report.get('span', 0)} was ingested with the labels {', '.join(names)}, but this run's "
                f"are {', '.join(class_names)}: a window must keep every label's meaning; re-ingest that span "
                "or train from a fresh --output"
            )
        for split, per_class in report.get("ingested", {}).items():
            counts[split] = counts.get(split, 0) + sum(per_class.values())
    spans = sorted(r.get("span", 0) for r in reports)
    for split in ("eval", "test"):
        if reports and counts.get(split, 0) == 0:
            raise WindowTooSmallError(
                f"the {split} split of the training window (spans {spans}) holds 0 photos, and the model needs "
                f"at least 1 there to be evaluated: each photo goes to {split} by a hash of its name (1 in 10), "
                "so add photos (with 50, a split is left empty 0.5% of the time) or widen the window (--spans)"
            )
    return counts


def _test_split(train_patterns) -> list[str]:
    """The test split of every examples artifact (a window of spans has several)."""
    # TFX hands each split over as "<artifact uri>/Split-<name>/*", one per artifact.
    patterns = [train_patterns] if isinstance(train_patterns, str) else list(train_patterns)
    return [os.path.join(os.path.dirname(os.path.dirname(p)), "Split-test", "*") for p in patterns]


def train_and_export(fn_args, config: TrainConfig) -> dict[str, Any]:
    # The datasets' seeded shuffles take TensorFlow's global seed too: clear what an earlier run in this
    # process set, so a Trainer in a long-lived process (a test session) trains as in a fresh one (a
    # LocalDagRunner CLI run, a Vertex task), where no global seed is set yet.
    tf.random.set_seed(None)
    counts = check_window(fn_args.train_files, config.class_names)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    train_files = input_pipeline.list_files(fn_args.train_files)
    # ExampleGen's reports count the split; only examples without one are read to count them.
    train_count = counts.get("train") or input_pipeline.count_records(train_files)
    steps_per_epoch = input_pipeline.steps_per_epoch(train_count, config.batch_size)
    cache_dir = os.path.join(fn_args.model_run_dir, "input_cache")
    inputs = config.input_config(cache_dir)
    augmenter = input_pipeline.make_augmenter(inputs)
    service = tf_data_service.check_reachable(config.data_service) if config.data_service else ""
    # One epoch of fit is one pass over the split, here or through the service.
    train_ds = input_pipeline.train_dataset(
        train_files, tft_output, inputs, train_count, config.epochs, augmenter, service=service
    )
    augment_in_model = config.augment_in == placement.MODEL
    eval_ds = input_pipeline.eval_dataset(
        fn_args.eval_files, tft_output, inputs, for_training_model=augment_in_model
    )

    keras.utils.set_random_seed(config.seed)
    policy = model_lib.precision_policy(config.precision)
    keras.mixed_precision.set_global_policy(policy)
    try:
        strategy = model_lib.choose_strategy(list(config.devices))
        with strategy.scope():
            model = model_lib.build_model(len(config.class_names), learning_rate(config, steps_per_epoch))
            base_model = fn_args.base_model if config.warm_start else None
            if base_model:
                warm_start.load_base_weights(model, base_model, config.class_names)
            # What fit trains: the classifier itself, or the augmentation layer then the classifier
            # (its weights, shared); the classifier alone is evaluated and exported either way.
            trained = model
            if augment_in_model:
                layer = in_model.AugmentInModel(
                    config.augmentation, config.seed, xla=config.xla, batch_size=config.batch_size, augmenter=augmenter
                )
                trained = in_model.build_training_model(model, layer)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    def fit(extra_callbacks):
        return trained.fit(
            train_ds,
            epochs=config.epochs,
            steps_per_epoch=steps_per_epoch,
            validation_data=eval_ds,
            callbacks=callbacks(config, fn_args.model_run_dir) + extra_callbacks,
            verbose=2,
        )

    try:
        if config.data_service:
            history = watchdog.fit_watched(fit, config.service_stall_seconds, f"tf.data service {config.data_service}")
        else:
            history = fit([])
    finally:
        if tf.io.gfile.exists(cache_dir):
            tf.io.gfile.rmtree(cache_dir)
    test_pattern = [p for p in _test_split(fn_args.train_files) if tf.io.gfile.glob(p)]
    test_accuracy = None
    if test_pattern:
        test_ds = input_pipeline.eval_dataset(test_pattern, tft_output, inputs)
        _, test_accuracy = model.evaluate(test_ds, verbose=0)
    signatures = serving.make_signatures(model, tft_output, config.class_names)
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
    warm_start.write_class_names(fn_args.serving_model_dir, config.class_names)
    metrics = {
        "train_examples": train_count,
        "epochs": config.epochs,
        "precision": policy,
        "replicas": strategy.num_replicas_in_sync,
        **input_pipeline.describe(inputs, augmenter),
        # Where the pass ran: tf.data's CPU threads, or the devices of the train step.
        "augment_devices": (
            model_lib.strategy_devices(strategy) if augment_in_model else ["tf.data (CPU)"]
        ),
        "data_service": config.data_service or None,
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "test_accuracy": None if test_accuracy is None else float(test_accuracy),
        "train_artifacts": len(fn_args.train_files),
        "warm_started_from": base_model,
    }
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, curves.METRICS_FILE), "w") as f:
        json.dump(metrics, f, indent=2)
    curves.plot_history(metrics["history"], os.path.join(fn_args.model_run_dir, curves.CURVES_FILE))
    return metrics


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (GenericExecutor)."""
    from components import code_fingerprints

    custom_config = fn_args.custom_config or {}
    code_fingerprints.check_image_code("Trainer", custom_config.get("code_fingerprint", ""))
    config = TrainConfig.from_custom_config(custom_config)
    # The Trainer's process starts here (on Vertex, Kubeflow): XLA's process-wide flags, before any compile.
    xla_flags.set_at_process_start(config.xla)
    train_and_export(fn_args, config)
