"""`flowers bench`: input-pipeline throughput, ours beside the tutorial's own.

All pipelines read the same photos: the training split that ExampleGen wrote.
The tutorial's pipelines start from the JPEG bytes held in memory (so they pay
no disk reads, which favours them); ours starts from what Transform wrote on
disk, as the Trainer does. Each is timed over whole passes of the split after
one warm-up pass, in one process, one after the other, so the ratios compare
like with like on a noisy machine.
"""

from __future__ import annotations

import glob
import itertools
import json
import os
import time
from typing import Any

import tensorflow as tf

from components import augment, preprocessing, trainer
from pipeline import configs, local_runner

AUTOTUNE = tf.data.AUTOTUNE
BATCH = 32


def _train_split(uri: str) -> list[str]:
    return sorted(glob.glob(os.path.join(uri, "Split-train", "*")))


def load_jpegs(examples_uri: str) -> list[bytes]:
    files = _train_split(examples_uri)
    spec = {"image": tf.io.FixedLenFeature([], tf.string)}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").map(
        lambda r: tf.io.parse_single_example(r, spec)["image"]
    )
    return [bytes(b) for b in dataset.as_numpy_iterator()]


def decode_only(jpegs: list[bytes]) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices(jpegs)
    return ds.map(lambda b: tf.io.decode_jpeg(b, channels=3), num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def seed_keras_layers(jpegs: list[bytes], seed: int) -> tf.data.Dataset:
    """The tutorial's `prepare(ds, shuffle=True, augment=True)` with Keras layers."""
    import tf_keras as keras

    size = preprocessing.IMAGE_SIZE
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
    size = preprocessing.IMAGE_SIZE

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


def ours(transformed_uri: str, transform_graph_uri: str, seed: int, spec: str) -> tf.data.Dataset:
    import tensorflow_transform as tft

    feature_spec = tft.TFTransformOutput(transform_graph_uri).transformed_feature_spec()
    config = trainer.TrainConfig(class_names=(), batch_size=BATCH, seed=seed, augmentation=spec)
    return trainer.make_dataset(_train_split(transformed_uri), feature_spec, config, training=True)


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


def _bytes_per_example(uri: str, count: int) -> float:
    return sum(os.path.getsize(f) for f in _train_split(uri)) / max(count, 1)


def run_bench(data: str, output: str, work_dir: str, seed: int = 0, spec: str = augment.FULL_SPEC) -> dict[str, Any]:
    config = configs.RunConfig(data=data, output=work_dir)
    local_runner.run(config, stop_after="Transform")
    nodes = local_runner.read_run(config.metadata_path)
    raw_uri = nodes["FileBasedExampleGen"]["outputs"]["Examples"].uri
    transformed_uri = nodes["Transform"]["outputs"]["Examples"].uri
    graph_uri = nodes["Transform"]["outputs"]["TransformGraph"].uri
    jpegs = load_jpegs(raw_uri)
    n = len(jpegs)
    results = {
        "decode_only": images_per_second(decode_only(jpegs), n),
        "seed_keras_layers": images_per_second(seed_keras_layers(jpegs, seed), n),
        "seed_tf_image": images_per_second(seed_tf_image(jpegs, seed), n),
        "ours": images_per_second(ours(transformed_uri, graph_uri, seed, spec), n),
        "ours_tutorial_augmentations": images_per_second(
            ours(transformed_uri, graph_uri, seed, augment.DEFAULT_SPEC), n
        ),
    }
    report = {key: round(value, 1) for key, value in results.items()}
    report.update(
        {
            "ratio_ours_over_seed_keras_layers": round(results["ours"] / results["seed_keras_layers"], 2),
            "ratio_ours_tutorial_augmentations_over_seed_keras_layers": round(
                results["ours_tutorial_augmentations"] / results["seed_keras_layers"], 2
            ),
            "train_images": n,
            "batch_size": BATCH,
            "augmentation": spec,
            "bytes_per_example_raw_jpeg": round(sum(map(len, jpegs)) / n),
            "bytes_per_example_on_disk_raw": round(_bytes_per_example(raw_uri, n)),
            "bytes_per_example_on_disk_transformed": round(_bytes_per_example(transformed_uri, n)),
            "data": data,
        }
    )
    with open(output, "w") as f:
        json.dump(report, f, indent=2)
    return report


MULTI_PROCESSING = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")


def run_beam_bench(data: str, output: str, work_dir: str) -> dict[str, Any]:
    """ExampleGen + Transform on the DirectRunner, in-process vs 2 worker processes.

    Both runs start from empty work dirs (no cache) in this one command, one
    after the other; the figures are each component's wall time from MLMD.
    """
    modes = {"in_process": ("--direct_running_mode=in_memory",), "multi_processing_2_workers": MULTI_PROCESSING}
    report: dict[str, Any] = {"data": data, "beam_args": {k: list(v) for k, v in modes.items()}}
    for mode, beam_args in modes.items():
        config = configs.RunConfig(data=data, output=os.path.join(work_dir, mode), beam_args=list(beam_args))
        started = time.perf_counter()
        summary = local_runner.run(config, stop_after="Transform", enable_cache=False)
        seconds = summary["stage_seconds"]
        report[mode] = {
            "FileBasedExampleGen": seconds["FileBasedExampleGen"],
            "StatisticsGen": seconds["StatisticsGen"],
            "Transform": seconds["Transform"],
            "wall": round(time.perf_counter() - started, 1),
            "images": sum(v for k, v in summary["counts"].items() if k != "quarantined"),
        }
    base, multi = report["in_process"], report["multi_processing_2_workers"]
    report["speedup"] = {
        key: round(base[key] / multi[key], 2) for key in ("FileBasedExampleGen", "Transform", "wall") if multi[key]
    }
    report["examplegen_images_per_second"] = {
        mode: round(report[mode]["images"] / report[mode]["FileBasedExampleGen"], 1) for mode in modes
    }
    with open(output, "w") as f:
        json.dump(report, f, indent=2)
    return report


def run_serving_bench(model_dir: str, data: str, output: str, singles: int = 300, batches: int = 20) -> dict[str, Any]:
    """`serving_images` latency for one image (p50, p99) and batch-32 throughput.

    Loads the model in this (fresh) process and feeds real photos of `data`,
    encoded bytes as TF Serving hands them over; a few warm-up calls first.
    """
    from components import sources
    from pipeline import predict

    path = predict.resolve_model_dir(model_dir)
    serve = tf.saved_model.load(path).signatures["serving_images"]
    blobs = [blob for entry, blob in itertools.islice(sources.iter_with_bytes(data), 200) if entry.verdict is None][:64]
    for blob in blobs[:10]:
        serve(image_bytes=tf.constant([blob]))
    latencies = []
    for i in range(singles):
        started = time.perf_counter()
        serve(image_bytes=tf.constant([blobs[i % len(blobs)]]))["probabilities"].numpy()
        latencies.append((time.perf_counter() - started) * 1000.0)
    batch = tf.constant([blobs[i % len(blobs)] for i in range(BATCH)])
    serve(image_bytes=batch)
    started = time.perf_counter()
    for _ in range(batches):
        serve(image_bytes=batch)["probabilities"].numpy()
    throughput = BATCH * batches / (time.perf_counter() - started)
    latencies.sort()
    report = {
        "model": path,
        "single_image_ms_p50": round(latencies[len(latencies) // 2], 2),
        "single_image_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "single_image_ms_mean": round(sum(latencies) / len(latencies), 2),
        "batch_32_images_per_second": round(throughput, 1),
        "requests": singles,
        "photos": len(blobs),
    }
    with open(output, "w") as f:
        json.dump(report, f, indent=2)
    return report
