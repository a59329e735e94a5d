"""The Trainer's input pipeline and its multi-device path, on ExampleGen's examples."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.trainer import input_pipeline
from components.trainer.augment import fused


def _artifacts(config):
    root = config.pipeline_root
    examples = glob.glob(os.path.join(root, "FileBasedExampleGen", "examples", "*"))[0]
    graph = glob.glob(os.path.join(root, "Transform", "transform_graph", "*"))[0]
    return examples, graph


def _inputs(**kwargs):
    return input_pipeline.InputConfig(**{"batch_size": 8, **kwargs})


def _train(first_run, split="train", n=None, epochs=3, **kwargs):
    examples, graph = _artifacts(first_run[0])
    files = os.path.join(examples, f"Split-{split}", "*")
    count = input_pipeline.count_records(files)
    dataset = input_pipeline.train_dataset(files, tft.TFTransformOutput(graph), _inputs(**kwargs), count, epochs)
    return count, dataset if n is None else [(x.numpy(), y.numpy()) for x, y in dataset.take(n)]


def test_transform_materializes_nothing(first_run):
    """ExampleGen's JPEG bytes are the only copy of the data on disk."""
    root = first_run[0].pipeline_root
    assert glob.glob(os.path.join(root, "Transform", "transform_graph", "*"))
    assert not glob.glob(os.path.join(root, "Transform", "transformed_examples", "*", "Split-*", "*"))


def test_train_batches_are_augmented_and_seeded(first_run):
    _, first = _train(first_run, n=3, seed=1, augmentation=fused.FULL_SPEC)
    _, again = _train(first_run, n=3, seed=1, augmentation=fused.FULL_SPEC)
    _, other = _train(first_run, n=3, seed=2, augmentation=fused.FULL_SPEC)
    _, plain = _train(first_run, n=3, seed=1, augmentation="")
    for (a, la), (b, lb) in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(la, lb)
    assert not np.allclose(first[0][0], other[0][0])
    assert first[0][0].shape == (8, 180, 180, 3) and first[0][0].dtype == np.float32
    assert all(x.min() >= 0.0 and x.max() <= 1.0 for x, _ in first)
    # Same shuffle (same seed), so the augmentation alone makes the difference.
    np.testing.assert_array_equal(first[0][1], plain[0][1])
    assert not np.allclose(first[0][0], plain[0][0])


def test_with_the_augmentation_in_the_model_the_input_feeds_the_same_batches_unaugmented(first_run):
    """`augment_in="model"`: uint8 pixels, keys and epochs in the input path's order; the model's
    layer turns them into exactly the input path's augmented batches."""
    from components.trainer.augment import in_model

    count, augmented = _train(first_run, n=8, seed=1, augmentation=fused.FULL_SPEC)
    _, dataset = _train(first_run, seed=1, augmentation=fused.FULL_SPEC, augment_in="model")
    layer = in_model.AugmentInModel(fused.FULL_SPEC, 1, batch_size=8)
    epochs = []
    for (inputs, labels), (expected, expected_labels) in zip(dataset.take(8), augmented, strict=True):
        assert set(inputs) == {"pixels", "image_key", "epoch"}
        assert inputs["pixels"].dtype == tf.uint8 and inputs["pixels"].shape == (8, 180, 180, 3)
        np.testing.assert_array_equal(labels.numpy(), expected_labels)
        np.testing.assert_array_equal(layer(inputs, training=True).numpy(), expected)
        np.testing.assert_array_equal(layer(inputs, training=False).numpy(), input_pipeline.to_float(inputs["pixels"]))
        epochs += inputs["epoch"].numpy().tolist()
    steps = input_pipeline.steps_per_epoch(count, 8)  # whole batches: the partial one is dropped
    assert epochs == [i // (steps * 8) for i in range(8 * 8)]  # 64 images: the first pass, then the second
    # Validation batches for that model: the same pixels, epoch 0, which the layer does not augment.
    examples, graph = _artifacts(first_run[0])
    pattern = os.path.join(examples, "Split-eval", "*")
    tft_output = tft.TFTransformOutput(graph)
    floats = input_pipeline.eval_dataset(pattern, tft_output, _inputs())
    for_model = input_pipeline.eval_dataset(pattern, tft_output, _inputs(), for_training_model=True)
    for (x, y), (inputs, labels) in zip(floats, for_model, strict=True):
        np.testing.assert_array_equal(layer(inputs, training=False).numpy(), x.numpy())
        np.testing.assert_array_equal(labels.numpy(), y.numpy())
        assert not inputs["epoch"].numpy().any()


def test_a_buffer_smaller_than_the_split_still_mixes_the_classes(first_run):
    """ExampleGen writes each split in a seeded random order, so a bounded buffer mixes every class."""
    count, batches = _train(first_run, n=5, shuffle_buffer=4, batch_size=8, augmentation="")
    assert count > 4 * 8
    assert all(len(set(labels.tolist())) >= 3 for _, labels in batches)
    assert len(set(np.concatenate([labels for _, labels in batches]).tolist())) == 5


def test_each_epoch_is_one_pass_and_looks_different(first_run):
    """No shuffle: batch k of epoch 1 holds the photos of batch k of epoch 0, augmented anew."""
    count, dataset = _train(first_run, shuffle_buffer=1, seed=3, batch_size=1, augmentation=fused.DEFAULT_SPEC)
    batches = [(x.numpy(), y.numpy()) for x, y in dataset.take(2 * count)]
    labels = np.concatenate([y for _, y in batches])
    assert count == first_run[1]["counts"]["train"]
    np.testing.assert_array_equal(labels[:count], labels[count:])
    images = np.concatenate([x for x, _ in batches])
    assert np.abs(images[:count] - images[count:]).mean() > 0.01


def test_training_pixels_equal_served_pixels_within_one_level(first_run):
    """The uint8 cache is within 0.5/255 of what the served model's Transform graph computes."""
    config, summary = first_run
    examples, _ = _artifacts(config)
    count, dataset = _train(first_run, split="eval", shuffle_buffer=1, batch_size=1, augmentation="")
    trained = np.concatenate([x.numpy() for x, _ in dataset.take(count)])
    raw = [r.numpy() for r in tf.data.TFRecordDataset(glob.glob(os.path.join(examples, "Split-eval", "*")), "GZIP")]
    model = tf.saved_model.load(summary["pushed_model"])
    served = model.signatures["transform_features"](examples=tf.constant(raw))["image_xf"].numpy()
    assert trained.shape == served.shape == (summary["counts"]["eval"], 180, 180, 3)
    # The split is several shards the input interleaves: match images, not positions.
    diffs = np.stack([np.abs(served - image).max(axis=(1, 2, 3)) for image in trained])
    assert sorted(diffs.argmin(axis=1)) == list(range(len(served)))
    assert diffs.min(axis=1).max() <= 0.5 / 255 + 1e-6


def test_eval_is_never_augmented_and_file_cache_equals_memory(first_run, tmp_path):
    examples, graph = _artifacts(first_run[0])
    pattern = os.path.join(examples, "Split-eval", "*")
    tft_output = tft.TFTransformOutput(graph)
    count = input_pipeline.count_records(pattern)
    memory = input_pipeline.eval_dataset(pattern, tft_output, _inputs(augmentation=fused.FULL_SPEC), count)
    on_disk = input_pipeline.eval_dataset(
        pattern, tft_output, _inputs(cache="file", cache_dir=str(tmp_path / "cache")), count
    )
    a = np.concatenate([x.numpy() for x, _ in memory])
    b = np.concatenate([x.numpy() for x, _ in on_disk])
    again = np.concatenate([x.numpy() for x, _ in on_disk])  # the second pass reads the file cache
    assert a.shape[0] == count == first_run[1]["counts"]["eval"]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(b, again)
    assert glob.glob(str(tmp_path / "cache" / "eval*"))


MULTI_DEVICE = r"""
import json, os, sys, types
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from components.trainer import run_fn
examples, graph, out = sys.argv[1:4]
fn_args = types.SimpleNamespace(
    transform_output=graph,
    train_files=[os.path.join(examples, "Split-train", "*")],
    eval_files=[os.path.join(examples, "Split-eval", "*")],
    serving_model_dir=os.path.join(out, "serving"),
    model_run_dir=os.path.join(out, "run"),
    custom_config={"class_names": ["dandelion", "daisy", "tulips", "sunflowers", "roses"], "epochs": 1,
                   "batch_size": 8, "devices": ["/cpu:0", "/cpu:1"], "precision": sys.argv[4],
                   "augmentation": "flip(horizontal)|rotate(0.1)|contrast(0.1)", "augment_in": sys.argv[5]},
)
run_fn.run_fn(fn_args)
print(json.dumps(json.load(open(os.path.join(out, "run", "metrics.json")))))
"""


@pytest.mark.parametrize("augment_in", ["input", "model"])
def test_mirrored_strategy_over_two_logical_devices_with_mixed_precision(first_run, tmp_path, augment_in):
    """The code a multi-GPU machine runs: MirroredStrategy, mixed precision, export; with the
    augmentation in the model, its layer runs on each replica's device."""
    examples, graph = _artifacts(first_run[0])
    out = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE, examples, graph, str(tmp_path), "mixed_bfloat16", augment_in],
        check=True, capture_output=True, text=True,
    )
    metrics = json.loads(out.stdout.strip().splitlines()[-1])
    assert metrics["augment_in"] == augment_in
    if augment_in == "model":
        assert [d.rsplit("/", 1)[-1] for d in metrics["augment_devices"]] == ["device:CPU:0", "device:CPU:1"]
    assert metrics["replicas"] == 2
    assert metrics["precision"] == "mixed_bfloat16"
    assert np.isfinite(metrics["history"]["loss"][0])
    assert metrics["train_examples"] == first_run[1]["counts"]["train"]
    assert metrics["augment_path"] == "xla"
    model = tf.saved_model.load(str(tmp_path / "serving"))
    probabilities = model.signatures["serving_images"](
        image_bytes=tf.constant([open(glob.glob(os.path.join(first_run[0].data, "roses", "*"))[0], "rb").read()])
    )["probabilities"]
    assert probabilities.dtype == tf.float32 and probabilities.shape == (1, 5)
