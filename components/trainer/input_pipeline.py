"""The Trainer's tf.data input: the tutorial's `prepare(ds, shuffle, augment)`.

ExampleGen's JPEG bytes are the only copy of the data on disk (Transform
materializes nothing). The input reads them in parallel, applies the Transform
graph itself (`transform_features_layer()`: decode, resize, rescale, exactly as
the serving model does), and keeps the result as uint8 in a cache, a quarter
of float32's size; the rounding is within 0.5/255 of the served pixels. From
the second epoch on, training reads the cache: shuffle, batch, one augmentation
pass per batch (`components.trainer.augment.fused`, XLA-compiled), prefetch.
With the augmentation in the model (`augment_in="model"`,
`components.trainer.augment.in_model`) there is no augmentation map: the
batches hold the cached uint8 pixels, and the model augments them.

Every element carries its filename's hash key, and every training image its
epoch, so its augmentation depends on (seed, image, epoch) alone, in the input
or in the model.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from typing import Any

import tensorflow as tf

from components import features, uris
from components.trainer.augment import fused, per_image_random, placement

AUTOTUNE = tf.data.AUTOTUNE
_TRANSFORM_BATCH = 32
_PIXELS = features.IMAGE_SIZE * features.IMAGE_SIZE * 3


@dataclasses.dataclass(frozen=True)
class InputConfig:
    """What shapes the training input; the Trainer's TrainConfig fills it."""

    batch_size: int = 32
    seed: int = 42
    augmentation: str = fused.DEFAULT_SPEC
    shuffle_buffer: int = 0  # 0: the whole split, capped (SHUFFLE_CAP)
    cache: str = "auto"  # auto (memory if it fits, else a file), memory, file, none
    cache_dir: str = ""
    xla: bool = True
    parallel_reads: int = 4
    augment_in: str = placement.DEFAULT  # "input": augmented here; "model": the model's first layer does it


def list_files(pattern_or_list) -> list[str]:
    patterns = [pattern_or_list] if isinstance(pattern_or_list, str) else list(pattern_or_list)
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise FileNotFoundError(f"no examples match {patterns}")
    return files


def count_records(files) -> int:
    dataset = tf.data.TFRecordDataset(list_files(files), compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def read_records(files, parallel_reads: int) -> tf.data.Dataset:
    """Serialized examples from all files, read `parallel_reads` files at a time."""
    files = list_files(files)
    return tf.data.Dataset.from_tensor_slices(files).interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
        cycle_length=max(1, min(parallel_reads, len(files))),
        num_parallel_calls=AUTOTUNE,
        deterministic=True,
    )


def to_uint8(pixels: tf.Tensor) -> tf.Tensor:
    """float [0, 1] to uint8, rounded: within 0.5/255 of the input."""
    return tf.cast(tf.round(tf.clip_by_value(pixels, 0.0, 1.0) * 255.0), tf.uint8)


def to_float(pixels: tf.Tensor) -> tf.Tensor:
    return tf.cast(pixels, tf.float32) * (1.0 / 255.0)


def transform_batch_fn(tft_output):
    """serialized [n] -> (uint8 [n, 180, 180, 3], label [n], key [n]) via the Transform graph."""
    layer = tft_output.transform_features_layer()
    spec = tft_output.raw_feature_spec()

    def transform(serialized):
        raw = tf.io.parse_example(serialized, spec)
        transformed = layer(raw)
        pixels = to_uint8(transformed[features.TRANSFORMED_IMAGE_KEY])
        labels = tf.reshape(transformed[features.LABEL_KEY], [-1])
        keys = per_image_random.filename_key(tf.reshape(raw[features.FILENAME_KEY], [-1]))
        return pixels, labels, keys

    return transform


def transformed(records: tf.data.Dataset, tft_output) -> tf.data.Dataset:
    """Unbatched (uint8 image, label, key) from serialized raw examples."""
    return records.batch(_TRANSFORM_BATCH).map(transform_batch_fn(tft_output), num_parallel_calls=AUTOTUNE).unbatch()


CGROUP_ROOT = "/sys/fs/cgroup"


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read(100).strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (no limit) and anything odd: None


def container_available(cgroup_root: str = CGROUP_ROOT) -> int | None:
    """Bytes this process's container may still allocate: its cgroup's memory limit less its usage
    (cgroup v2's memory.max and memory.current, or v1's memory.limit_in_bytes and memory.usage_in_bytes);
    None where no limit is set (the host's memory is then the bound)."""
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        limit = _read_int(os.path.join(cgroup_root, limit_file))
        if limit is not None and limit < 1 << 60:  # v1 writes a huge number for "no limit"
            return max(0, limit - (_read_int(os.path.join(cgroup_root, usage_file)) or 0))
    return None


def fits_in_memory(examples: int, share: float = 0.5, cgroup_root: str = CGROUP_ROOT) -> bool:
    """Whether `examples` uint8 images fit in `share` of the memory available now: the host's free memory,
    or the container's (its cgroup limit), whichever is smaller. On Vertex AI or Kubernetes the pod's limit
    is what an in-memory cache must fit, or the pod is killed."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return False
    container = container_available(cgroup_root)
    if container is not None:
        available = min(available, container)
    return examples * _PIXELS < share * available


def cached(dataset: tf.data.Dataset, examples: int, config: InputConfig, name: str) -> tf.data.Dataset:
    """Cache in memory, or in a file under `cache_dir` when memory would not hold it."""
    mode = config.cache
    if mode == "auto":
        mode = "memory" if fits_in_memory(examples) or not config.cache_dir else "file"
    if mode == "memory":
        return dataset.cache()
    if mode == "file":
        if not config.cache_dir:
            raise ValueError("a file cache needs cache_dir")
        tf.io.gfile.makedirs(config.cache_dir)
        check_disk_space(config.cache_dir, examples)
        return dataset.cache(os.path.join(config.cache_dir, name))
    return dataset


class CacheDiskSpaceError(RuntimeError):
    """The file cache would not fit on its disk."""


# Bytes per cached example beyond its pixels: label, key and the cache's own records.
_CACHE_OVERHEAD = 1024


def check_disk_space(cache_dir: str, examples: int) -> None:
    """Stop before writing a file cache that the free space of its disk cannot hold."""
    if uris.is_remote(cache_dir):
        return
    needed = examples * (_PIXELS + _CACHE_OVERHEAD)
    free = shutil.disk_usage(cache_dir).free
    if free < needed:
        raise CacheDiskSpaceError(
            f"the Trainer's file cache of {examples:,} images needs {needed / 1e6:,.0f} MB under {cache_dir}, "
            f"but only {free / 1e6:,.0f} MB are free: free some disk space (or give the Trainer more memory, "
            "which then holds the cache)"
        )


# The default shuffle buffer: the whole split, up to this many images (about
# 400 MB of uint8 pixels). ExampleGen writes every split in a shuffled order,
# so a buffer smaller than the split still mixes the classes in every batch.
SHUFFLE_CAP = 4096


def shuffle_buffer(config: InputConfig, examples: int) -> int:
    """`shuffle_buffer` when set, else the split's size capped at SHUFFLE_CAP."""
    return config.shuffle_buffer if config.shuffle_buffer > 0 else max(1, min(examples, SHUFFLE_CAP))


def model_inputs(images: tf.Tensor, keys: tf.Tensor, epochs: tf.Tensor) -> dict[str, tf.Tensor]:
    """The training model's inputs when it augments (`components.trainer.augment.in_model`)."""
    return {placement.PIXELS_KEY: images, placement.IMAGE_KEY_KEY: keys, placement.EPOCH_KEY: epochs}


def train_dataset(files, tft_output, config: InputConfig, examples: int, augmenter=None) -> tf.data.Dataset:
    """Endless batches of (float32 images [b, 180, 180, 3] in [0, 1], labels [b]), augmented.

    Each pass over the cache is one epoch: shuffled anew, and every image's
    draws keyed by its epoch (element index // examples).

    With `augment_in="model"`: the same batches in the same order, un-augmented,
    as ({pixels: uint8 [b, 180, 180, 3], image_key: int64 [b], epoch: int64 [b]},
    labels [b]), for the training model's augmentation layer to draw from the
    same keys and epochs.
    """
    placement.check(config.augment_in)
    dataset = transformed(read_records(files, config.parallel_reads), tft_output)
    dataset = cached(dataset, examples, config, "train")
    dataset = dataset.shuffle(shuffle_buffer(config, examples), seed=config.seed, reshuffle_each_iteration=True)
    dataset = dataset.repeat().enumerate()
    dataset = dataset.map(lambda index, element: (*element, index // max(examples, 1)))
    dataset = dataset.batch(config.batch_size, drop_remainder=True)
    if config.augment_in == placement.MODEL:
        return dataset.map(lambda images, labels, keys, epochs: (model_inputs(images, keys, epochs), labels)).prefetch(
            AUTOTUNE
        )
    augmenter = augmenter or make_augmenter(config)

    def augment_batch(images, labels, keys, epochs):
        return augmenter(images, keys, epochs), labels

    return dataset.map(augment_batch, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def service_source(files, tft_output, config: InputConfig, epochs: int, examples: int, augmenter=None):
    """What tf.data service workers run: `epochs` passes over the files, augmented, batched.

    Elements are (uint8 augmented images, labels, filename keys): the Trainer
    turns the pixels back into float32 in [0, 1] (`service_train_dataset`).

    The source is the (epoch, file) pairs, epoch-major: in `distributed_epoch`
    mode the dispatcher hands each pair to one worker, so each epoch is one
    pass over the data whatever the number of workers. A worker tags every
    image with its pair's epoch, so its augmentation depends on (seed, image,
    epoch) alone. Nothing is cached: a worker sees other files in other epochs.
    Pure TensorFlow, so the graph (Transform's included) serializes.
    """
    files = list_files(files)
    epoch_ids = tf.repeat(tf.range(epochs, dtype=tf.int64), len(files))
    file_names = tf.tile(tf.constant(files), [epochs])

    def read(epoch, filename):
        records = tf.data.TFRecordDataset(filename, compression_type="GZIP")
        return records.map(lambda record: (record, epoch))

    dataset = tf.data.Dataset.from_tensor_slices((epoch_ids, file_names)).interleave(
        read, cycle_length=max(1, min(config.parallel_reads, len(files))), num_parallel_calls=AUTOTUNE
    )
    transform = transform_batch_fn(tft_output)

    def transform_tagged(records, epoch_tags):
        pixels, labels, keys = transform(records)
        return pixels, labels, keys, epoch_tags

    dataset = dataset.batch(_TRANSFORM_BATCH).map(transform_tagged, num_parallel_calls=AUTOTUNE).unbatch()
    dataset = dataset.shuffle(shuffle_buffer(config, examples), seed=config.seed)
    augmenter = augmenter or make_augmenter(config)

    def augment_batch(images, labels, keys, epoch_tags):
        # Sent as uint8: a quarter of float32's bytes to serialize and move.
        return to_uint8(augmenter(images, keys, epoch_tags)), labels, keys

    return dataset.batch(config.batch_size).map(augment_batch, num_parallel_calls=AUTOTUNE)


def service_train_dataset(
    files, tft_output, config: InputConfig, epochs: int, examples: int, service: str, augmenter=None
) -> tf.data.Dataset:
    """The training batches, made by tf.data service workers; repeated here, on the Trainer."""
    dataset = service_source(files, tft_output, config, epochs, examples, augmenter).apply(
        tf.data.experimental.service.distribute(processing_mode="distributed_epoch", service=service)
    )
    return dataset.map(lambda images, labels, _: (to_float(images), labels)).repeat().prefetch(AUTOTUNE)


def eval_dataset(files, tft_output, config: InputConfig, examples: int | None = None, name: str = "eval",
                 for_training_model: bool = False):
    """One pass of (float32 images, labels) in file order, never augmented.

    `for_training_model`: the inputs of the training model that augments
    (`model_inputs`, epoch 0), for its validation; it does not augment them
    there (`training` is false) and turns the uint8 pixels into the same floats.
    """
    dataset = transformed(read_records(files, config.parallel_reads), tft_output)
    if examples is not None:
        dataset = cached(dataset, examples, config, name)
    dataset = dataset.batch(config.batch_size)
    if for_training_model:
        return dataset.map(
            lambda images, labels, keys: (model_inputs(images, keys, tf.zeros_like(keys)), labels)
        ).prefetch(AUTOTUNE)
    return dataset.map(lambda images, labels, _: (to_float(images), labels)).prefetch(AUTOTUNE)


def make_augmenter(config: InputConfig) -> fused.Augmenter:
    return fused.make_augmenter(
        config.augmentation, config.seed, features.IMAGE_SIZE, xla=config.xla, batch_size=config.batch_size
    )


def describe(config: InputConfig, augmenter: fused.Augmenter) -> dict[str, Any]:
    """What ran, for metrics.json and bench.json."""
    return {
        "augmentation": config.augmentation,
        "augment_in": config.augment_in,
        "augment_path": augmenter.path,
        "augment_fallback_reason": augmenter.reason,
    }
