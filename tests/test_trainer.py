"""The Trainer's input pipeline and its multi-device path, on what Transform wrote."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from components import augment, trainer


def _transform_outputs(config):
    root = config.pipeline_root
    examples = glob.glob(os.path.join(root, "Transform", "transformed_examples", "*"))[0]
    graph = glob.glob(os.path.join(root, "Transform", "transform_graph", "*"))[0]
    return examples, graph


def _config(**kwargs):
    return trainer.TrainConfig(class_names=("a", "b", "c", "d", "e"), batch_size=8, **kwargs)


def test_train_batches_are_augmented_and_seeded(first_run):
    examples, graph = _transform_outputs(first_run[0])
    spec = tft.TFTransformOutput(graph).transformed_feature_spec()
    train = os.path.join(examples, "Split-train", "*")

    def batches(config, n=3):
        return [x.numpy() for x, _ in trainer.make_dataset(train, spec, config, training=True).take(n)]

    first = batches(_config(seed=1, augmentation=augment.FULL_SPEC))
    again = batches(_config(seed=1, augmentation=augment.FULL_SPEC))
    other = batches(_config(seed=2, augmentation=augment.FULL_SPEC))
    plain = batches(_config(seed=1, augmentation=""))
    for a, b in zip(first, again, strict=False):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], other[0])
    assert first[0].shape == (8, 180, 180, 3)
    assert all(b.min() >= 0.0 and b.max() <= 1.0 for b in first)
    # Same shuffle (same seed), so the augmentation alone makes the difference.
    assert not np.allclose(first[0], plain[0])


def test_epochs_differ(first_run):
    """The training stream repeats forever; an epoch later, the same photos look different."""
    examples, graph = _transform_outputs(first_run[0])
    spec = tft.TFTransformOutput(graph).transformed_feature_spec()
    train = os.path.join(examples, "Split-train", "*")
    count = trainer.count_records(train)
    config = trainer.TrainConfig(class_names=(), batch_size=count, seed=3, shuffle_buffer=1,
                                 augmentation="flip(horizontal_and_vertical)|rotate(0.2)")
    epoch1, epoch2 = [x.numpy() for x, _ in trainer.make_dataset(train, spec, config, training=True).take(2)]
    assert epoch1.shape[0] == count == first_run[1]["counts"]["train"]
    assert np.abs(epoch1 - epoch2).mean() > 0.01


def test_eval_is_never_augmented(first_run):
    examples, graph = _transform_outputs(first_run[0])
    spec = tft.TFTransformOutput(graph).transformed_feature_spec()
    pattern = os.path.join(examples, "Split-eval", "*")
    with_aug = trainer.make_dataset(pattern, spec, _config(augmentation=augment.FULL_SPEC), training=False)
    without = trainer.make_dataset(pattern, spec, _config(augmentation=""), training=False)
    a = np.concatenate([x.numpy() for x, _ in with_aug])
    b = np.concatenate([x.numpy() for x, _ in without])
    assert a.shape[0] == first_run[1]["counts"]["eval"]
    np.testing.assert_array_equal(a, b)


MULTI_DEVICE = r"""
import json, os, sys, types
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from components import trainer
examples, graph, out = sys.argv[1:4]
fn_args = types.SimpleNamespace(
    transform_output=graph,
    train_files=[os.path.join(examples, "Split-train", "*")],
    eval_files=[os.path.join(examples, "Split-eval", "*")],
    serving_model_dir=os.path.join(out, "serving"),
    model_run_dir=os.path.join(out, "run"),
    custom_config={"class_names": ["dandelion", "daisy", "tulips", "sunflowers", "roses"], "epochs": 1,
                   "batch_size": 8, "devices": ["/cpu:0", "/cpu:1"], "precision": sys.argv[4],
                   "augmentation": "flip(horizontal)|rotate(0.1)|contrast(0.1)"},
)
trainer.run_fn(fn_args)
print(json.dumps(json.load(open(os.path.join(out, "run", "metrics.json")))))
"""


def test_mirrored_strategy_over_two_logical_devices_with_mixed_precision(first_run, tmp_path):
    """The code a multi-GPU machine runs: MirroredStrategy, mixed precision, export."""
    examples, graph = _transform_outputs(first_run[0])
    out = subprocess.run(
        [sys.executable, "-c", MULTI_DEVICE, examples, graph, str(tmp_path), "mixed_bfloat16"],
        check=True, capture_output=True, text=True,
    )
    metrics = json.loads(out.stdout.strip().splitlines()[-1])
    assert metrics["replicas"] == 2
    assert metrics["precision"] == "mixed_bfloat16"
    assert np.isfinite(metrics["history"]["loss"][0])
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    model = tf.saved_model.load(str(tmp_path / "serving"))
    probabilities = model.signatures["serving_images"](
        image_bytes=tf.constant([open(glob.glob(os.path.join(first_run[0].data, "roses", "*"))[0], "rb").read()])
    )["probabilities"]
    assert probabilities.dtype == tf.float32 and probabilities.shape == (1, 5)
