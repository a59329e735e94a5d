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


def steps_per_epoch(examples: int, batch_size: int) -> int:
    """Batches in one epoch, on either path: whole batches only, the last partial one dropped."""
    if examples < batch_size:
        raise ValueError(
            f"the training split holds {examples} photos, fewer than one batch of {batch_size}: "
            "lower the batch size or add photos"
        )
    return examples // batch_size


# Each epoch's shuffle seed: the run's seed and the epoch, so an epoch's order depends on them alone.
_EPOCH_SEED_STRIDE = 1_000_003


def train_dataset(files, tft_output, config: InputConfig, examples: int, epochs: int, augmenter=None,
                  service: str = "") -> tf.data.Dataset:
    """`epochs` epochs of training batches, each exactly one pass over the split: `steps_per_epoch` batches
    of (float32 images [b, 180, 180, 3] in [0, 1], labels [b]), augmented, the partial batch dropped.

    One pipeline, here or on tf.data service workers (`service`, grpc://HOST:PORT). An epoch reads the
    images, shuffles them (seeded by the run's seed and the epoch), tags each with the epoch, batches and
    augments them, so an image's draws depend on (seed, image, epoch) alone. Locally the transformed
    pixels are cached (`cached`) and every epoch reads the cache. On the service nothing is cached (a
    worker reads other files in each epoch) and each epoch is a job of its own (`distributed_epoch`: every
    image once, whatever the number of workers); workers augment what they read in batches of their own
    and send them as uint8 (a quarter of float32's bytes), and the Trainer batches them again, dropping
    the partial batch as here.

    With `augment_in="model"`: the same batches un-augmented, as ({pixels: uint8 [b, 180, 180, 3],
    image_key: int64 [b], epoch: int64 [b]}, labels [b]), for the training model's augmentation layer to
    draw from the same keys and epochs.
    """
    placement.check(config.augment_in)
    steps_per_epoch(examples, config.batch_size)
    images = transformed(read_records(files, config.parallel_reads), tft_output)
    if not service:
        images = cached(images, examples, config, "train")
    augment = None
    if config.augment_in == placement.INPUT:
        augmenter = augmenter or make_augmenter(config)
        augment = (lambda *batch: to_uint8(augmenter(*batch))) if service else augmenter
    buffer = shuffle_buffer(config, examples)

    def one_epoch(epoch):
        """(pixels, labels, keys, epochs) batches of one epoch: what a service worker runs."""
        seed = tf.cast(config.seed, tf.int64) * _EPOCH_SEED_STRIDE + epoch
        dataset = images.shuffle(buffer, seed=seed).map(lambda pixels, label, key: (pixels, label, key, epoch))
        dataset = dataset.batch(config.batch_size, drop_remainder=not service)
        if augment is None:
            return dataset
        return dataset.map(lambda pixels, labels, keys, tags: (augment(pixels, keys, tags), labels, keys, tags),
                           num_parallel_calls=AUTOTUNE)

    if service:
        dataset = _through_service(one_epoch, epochs, config.batch_size, service)
    else:
        dataset = tf.data.Dataset.range(epochs).flat_map(one_epoch)

    def finish(pixels, labels, keys, tags):
        if augment is None:
            return model_inputs(pixels, keys, tags), labels
        return (to_float(pixels) if service else pixels), labels

    return dataset.map(finish, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def _through_service(one_epoch, epochs: int, batch_size: int, service: str) -> tf.data.Dataset:
    """Each epoch's pipeline registered with the dispatcher, read as one job per epoch, in turn, and
    batched again here: `batch_size` images of the same epoch in every batch, the partial one dropped."""
    service_ops = tf.data.experimental.service
    datasets = [one_epoch(tf.constant(epoch, tf.int64)) for epoch in range(epochs)]
    element_spec = datasets[0].element_spec
    ids = [service_ops.register_dataset(service, dataset) for dataset in datasets]

    def read(dataset_id):
        job = service_ops.from_dataset_id("distributed_epoch", service, dataset_id, element_spec)
        return job.unbatch().batch(batch_size, drop_remainder=True)

    return tf.data.Dataset.from_tensor_slices(tf.stack(ids)).flat_map(read)


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
