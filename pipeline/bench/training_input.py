"""`flowers bench`: input-pipeline throughput, ours beside the tutorial's own.

All pipelines read the same photos: the training split that ExampleGen wrote.
The tutorial's pipelines start from the JPEG bytes held in memory (so they pay
no disk reads, which favours them); ours starts from ExampleGen's files on disk
and the Transform graph, as the Trainer does. `ours_first_epoch` is its first
pass (every photo decoded by the graph, the cache filled; loading the graph and
compiling the augmentation are set-up, reported apart); `ours` the passes after
it. The others are timed over whole passes after one warm-up pass. All run in
one process and take turns, pass by pass, three rounds, so the ratios compare
like with like on a noisy machine. Memory growth is sampled with each pipeline
running alone.
"""

from __future__ import annotations

import glob
import json
import os
import statistics
import time
from typing import Any

import tensorflow as tf

from components import features
from components.trainer import input_pipeline
from components.trainer.augment import fused
from pipeline import configs, metadata
from pipeline.bench import memory as memory_lib
from pipeline.runners import local, output_guard

AUTOTUNE = tf.data.AUTOTUNE
BATCH = 32


def _train_split(uri: str) -> list[str]:
    return sorted(glob.glob(os.path.join(uri, "Split-train", "*")))


def load_jpegs(examples_uri: str) -> list[bytes]:
    files = _train_split(examples_uri)
    spec = {features.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").map(
        lambda r: tf.io.parse_single_example(r, spec)[features.IMAGE_KEY]
    )
    return [bytes(b) for b in dataset.as_numpy_iterator()]


def decode_only(jpegs: list[bytes]) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices(jpegs)
    return ds.map(lambda b: tf.io.decode_jpeg(b, channels=3), num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def seed_keras_layers(jpegs: list[bytes], seed: int) -> tf.data.Dataset:
    """The tutorial's `prepare(ds, shuffle=True, augment=True)` with Keras layers."""
    import tf_keras as keras

    size = features.IMAGE_SIZE
    resize_and_rescale = keras.Sequential([keras.layers.Resizing(size, size), keras.layers.Rescaling(1.0 / 255)])
    data_augmentation = keras.Sequential(
        [keras.layers.RandomFlip("horizontal_and_vertical", seed=seed), keras.layers.RandomRotation(0.2, seed=seed)]
    )
    ds = tf.data.Dataset.from_tensor_slices(jpegs).map(
        lambda b: tf.io.decode_jpeg(b, channels=3), num_parallel_calls=AUTOTUNE
    )
    ds = ds.map(lambda x: resize_and_rescale(x), num_parallel_calls=AUTOTUNE)
    ds = ds.shuffle(1000, seed=seed).batch(BATCH)
    ds = ds.map(lambda x: data_augmentation(x, training=True), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def seed_tf_image(jpegs: list[bytes], seed: int) -> tf.data.Dataset:
    """The tutorial's tf.image `augment`: resize, pad 6, random crop, brightness, clip."""
    size = features.IMAGE_SIZE

    def augment_one(data, index):
        image = tf.io.decode_jpeg(data, channels=3)
        image = tf.image.resize(image, [size, size]) / 255.0
        image = tf.image.resize_with_crop_or_pad(image, size + 6, size + 6)
        new_seed = tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), index]), 1)[0]
        image = tf.image.stateless_random_crop(image, size=[size, size, 3], seed=new_seed)
        image = tf.image.stateless_random_brightness(image, max_delta=0.5, seed=new_seed)
        return tf.clip_by_value(image, 0, 1)

    ds = tf.data.Dataset.from_tensor_slices(jpegs).enumerate().map(lambda i, b: (b, i))
    ds = ds.shuffle(1000, seed=seed).map(augment_one, num_parallel_calls=AUTOTUNE)
    return ds.batch(BATCH).prefetch(AUTOTUNE)


def _images_in(element) -> int:
    images = element[0] if isinstance(element, tuple) else element
    return int(images.shape[0]) if images.shape.rank == 4 else 1


def images_per_second(dataset: tf.data.Dataset, images: int, passes: int = 2) -> float:
    """Images per second over `passes` passes of `images`, after one warm-up pass."""
    iterator = iter(dataset.repeat())
    seen = 0
    while seen < images:  # warm-up: fills caches, starts the threads
        seen += _images_in(next(iterator))
    count = 0
    start = time.perf_counter()
    while count < images * passes:
        count += _images_in(next(iterator))
    return count / (time.perf_counter() - start)


ENOUGH_EPOCHS = 10_000


def ours(examples_uri: str, transform_graph_uri: str, seed: int, spec: str):
    """The Trainer's training input, from ExampleGen's files and the Transform graph."""
    import tensorflow_transform as tft

    files = _train_split(examples_uri)
    config = input_pipeline.InputConfig(batch_size=BATCH, seed=seed, augmentation=spec)
    augmenter = input_pipeline.make_augmenter(config)
    count = input_pipeline.count_records(files)
    # More epochs than any timing reads: the dataset ends only with the bench.
    dataset = input_pipeline.train_dataset(
        files, tft.TFTransformOutput(transform_graph_uri), config, count, ENOUGH_EPOCHS, augmenter
    )
    return dataset, augmenter


def time_ours(examples_uri: str, graph_uri: str, seed: int, spec: str, images: int, passes: int = 2):
    """Set-up, then the first epoch (every photo read, decoded by the graph, cached), then steady state.

    Set-up (loading the Transform graph, compiling the augmentation) happens once
    per Trainer run and is reported apart, as `ours_setup_seconds`.
    """
    with memory_lib.RssSampler() as memory:
        started = time.perf_counter()
        dataset, augmenter = ours(examples_uri, graph_uri, seed, spec)
        iterator = iter(dataset)
        setup = time.perf_counter() - started
        started = time.perf_counter()
        seen = 0
        while seen < images:
            seen += _images_in(next(iterator))
        first = seen / (time.perf_counter() - started)
        count = 0
        started = time.perf_counter()
        while count < images * passes:
            count += _images_in(next(iterator))
        steady = count / (time.perf_counter() - started)
    return {"first": first, "steady": steady, "setup": setup, "augmenter": augmenter, "memory": memory.growth_mb}


def _timed(dataset_fn, images: int) -> tuple[float, float]:
    with memory_lib.RssSampler() as memory:
        rate = images_per_second(dataset_fn(), images)
    return rate, memory.growth_mb


def _pass_rate(iterator, images: int) -> float:
    count, started = 0, time.perf_counter()
    while count < images:
        count += _images_in(next(iterator))
    return count / (time.perf_counter() - started)


def interleaved_rates(running: dict, fresh: dict, images: int, rounds: int = 3) -> dict[str, list[float]]:
    """Images/s per pass, the pipelines taking turns, `rounds` times over.

    Each `running` dataset is built once and warmed up by one pass (that fills
    our cache); every round then times one pass of a new iterator over it, and
    the iterator is closed before the next pipeline's turn, so no pipeline keeps
    working (and filling its buffers) in the background while another is timed.
    Each `fresh` factory builds a new pipeline (set-up not timed) whose first
    pass is timed, once per round. Taking turns spreads the machine's noise
    over every pipeline alike; the report keeps each round's figure and the
    median.
    """

    def one_pass(dataset) -> float:
        iterator = iter(dataset)
        rate = _pass_rate(iterator, images)
        del iterator
        return rate

    datasets = {name: make() for name, make in running.items()}
    for dataset in datasets.values():
        one_pass(dataset)
    samples: dict[str, list[float]] = {name: [] for name in [*running, *fresh]}
    for _ in range(rounds):
        for name, dataset in datasets.items():
            samples[name].append(one_pass(dataset))
        for name, make in fresh.items():
            samples[name].append(one_pass(make()))
    return samples


def _bytes_per_example(uri: str, count: int) -> float:
    return sum(os.path.getsize(f) for f in _train_split(uri)) / max(count, 1)


def run_bench(data: str, output: str, work_dir: str, seed: int = 0, spec: str = fused.FULL_SPEC) -> dict[str, Any]:
    """ExampleGen and Transform from scratch, then every input pipeline side by side, in this process."""
    config = configs.RunConfig(data=data, output=output_guard.scratch_output(work_dir, data))
    local.run(config, stop_after="Transform", enable_cache=False)
    nodes = metadata.read_run(config.metadata_path)
    raw_uri = nodes["FileBasedExampleGen"]["outputs"]["Examples"].uri
    transform_outputs = nodes["Transform"]["outputs"]
    graph_uri = transform_outputs["TransformGraph"].uri
    jpegs = load_jpegs(raw_uri)
    n = len(jpegs)
    seeds = {
        "decode_only": lambda: decode_only(jpegs),
        "seed_keras_layers": lambda: seed_keras_layers(jpegs, seed),
        "seed_tf_image": lambda: seed_tf_image(jpegs, seed),
    }
    memory = {key: _timed(make, n)[1] for key, make in seeds.items()}  # each alone, for its memory
    full = time_ours(raw_uri, graph_uri, seed, spec, n)
    memory["ours"] = full["memory"]
    augmenter = full["augmenter"]
    samples = interleaved_rates(
        {
            **seeds,
            "ours": lambda: ours(raw_uri, graph_uri, seed, spec)[0],
            "ours_tutorial_augmentations": lambda: ours(raw_uri, graph_uri, seed, fused.DEFAULT_SPEC)[0],
        },
        {"ours_first_epoch": lambda: ours(raw_uri, graph_uri, seed, spec)[0]},
        n,
    )
    rates = {key: statistics.median(values) for key, values in samples.items()}
    keras_rate = rates["seed_keras_layers"]
    transformed = transform_outputs.get("Examples")
    report: dict[str, Any] = {key: round(value, 1) for key, value in rates.items()}
    report.update(
        {
            "path": augmenter.path,
            "path_reason": augmenter.reason,
            "ours_setup_seconds": round(full["setup"], 2),
            "ratio_ours_over_seed_keras_layers": round(rates["ours"] / keras_rate, 2),
            "ratio_ours_first_epoch_over_seed_keras_layers": round(rates["ours_first_epoch"] / keras_rate, 2),
            "ratio_ours_tutorial_augmentations_over_seed_keras_layers": round(
                rates["ours_tutorial_augmentations"] / keras_rate, 2
            ),
            "memory_growth_mb": memory,
            "rounds": {key: [round(v, 1) for v in values] for key, values in samples.items()},
            "train_images": n,
            "batch_size": BATCH,
            "augmentation": spec,
            "bytes_per_example_raw_jpeg": round(sum(map(len, jpegs)) / n),
            "bytes_per_example_on_disk_examplegen": round(_bytes_per_example(raw_uri, n)),
            "bytes_per_example_on_disk_transform": (
                round(_bytes_per_example(transformed.uri, n)) if transformed and _train_split(transformed.uri) else 0
            ),
            "stage_seconds": {
                name: nodes[name]["seconds"] for name in ("FileBasedExampleGen", "StatisticsGen", "Transform")
            },
            "data": data,
        }
    )
    with open(output, "w") as f:
        json.dump(report, f, indent=2)
    return report
