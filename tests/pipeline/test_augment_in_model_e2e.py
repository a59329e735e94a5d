"""`flowers run --augment-in model`: one more whole-DAG run on the sample, against the session's default run.

The augmentation runs as the training model's first layer; the run trains, is
evaluated, blessed and pushed like the default one, and the pushed model is
the same kind of model: the same serving signatures, and weights that
warm-start a model trained either way.
"""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from components import features
from components.trainer import model as model_lib
from components.trainer import warm_start
from components.trainer.augment import in_model
from pipeline import cli
from tests.conftest import EPOCHS, MIN_ACCURACY

CLASSES = features.TF_FLOWERS_CLASSES


@pytest.fixture(scope="module")
def model_run(tmp_path_factory):
    """The default run's settings (conftest), with --augment-in model: about a minute on two cores."""
    output = str(tmp_path_factory.mktemp("run_augment_in_model"))
    args = ["run", "--output", output, "--epochs", str(EPOCHS), "--min-accuracy", str(MIN_ACCURACY),
            "--augment-in", "model"]
    assert cli.main(args) == 0
    with open(os.path.join(output, "run_summary.json")) as f:
        summary = json.load(f)
    (metrics_path,) = glob.glob(os.path.join(output, "tfx", "Trainer", "model_run", "*", "metrics.json"))
    with open(metrics_path) as f:
        return summary, json.load(f)


def _metrics(config):
    (path,) = glob.glob(os.path.join(config.pipeline_root, "Trainer", "model_run", "*", "metrics.json"))
    with open(path) as f:
        return json.load(f)


def test_it_trains_is_evaluated_blessed_and_pushed(model_run, first_run):
    summary, metrics = model_run
    assert set(summary["stage_state"].values()) == {"COMPLETE"}
    assert summary["blessed"] is True and summary["eval_accuracy"] >= MIN_ACCURACY
    assert os.path.exists(os.path.join(summary["pushed_model"], "saved_model.pb"))
    assert summary["counts"] == first_run[1]["counts"]
    assert metrics["augment_in"] == "model" and metrics["augment_path"] == "xla"
    expected = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    assert [tf.DeviceSpec.from_string(d).device_type for d in metrics["augment_devices"]] == [expected]
    assert len(metrics["history"]["loss"]) == EPOCHS and "val_accuracy" in metrics["history"]
    assert all(np.isfinite(metrics["history"]["loss"])) and summary["test_accuracy"] is not None
    default = _metrics(first_run[0])
    assert default["augment_in"] == "input" and default["augment_devices"] == ["tf.data (CPU)"]


def _signature_specs(model_dir):
    loaded = tf.saved_model.load(model_dir)
    return {
        name: (function.structured_input_signature, function.structured_outputs)
        for name, function in loaded.signatures.items()
    }


def test_the_pushed_models_serving_signatures_equal_the_defaults(model_run, first_run):
    ours, default = _signature_specs(model_run[0]["pushed_model"]), _signature_specs(first_run[1]["pushed_model"])
    assert sorted(ours) == sorted(default) == ["serving_default", "serving_images", "transform_features"]
    for name in default:
        assert ours[name] == default[name], name
    assert ours["serving_images"][1]["probabilities"] == tf.TensorSpec([None, 5], tf.float32, "probabilities")
    # No augmentation inside: the saved Keras model is the classifier, its layers and weights the default's.
    import tf_keras as keras

    ours_model = keras.models.load_model(model_run[0]["pushed_model"], compile=False)
    default_model = keras.models.load_model(first_run[1]["pushed_model"], compile=False)
    # (Layer names carry a per-process counter, conv2d_3 for conv2d: compare the kinds.)
    assert [type(layer).__name__ for layer in ours_model.layers] == [
        type(layer).__name__ for layer in default_model.layers
    ]
    assert not any("augment" in layer.name for layer in ours_model.layers)
    assert [w.shape for w in ours_model.weights] == [w.shape for w in default_model.weights]


def test_a_model_trained_either_way_warm_starts_either_way(model_run, first_run):
    """warm_start.load_base_weights fills the classifier, the only model with weights in both placements."""
    for source in (model_run[0]["pushed_model"], first_run[1]["pushed_model"]):
        classifier = model_lib.build_model(len(CLASSES))
        warm_start.load_base_weights(classifier, source, CLASSES)
        training_model = in_model.build_training_model(
            classifier, in_model.AugmentInModel("flip(horizontal)", 42, batch_size=2)
        )
        served = tf.saved_model.load(source)
        pixels = np.random.default_rng(0).integers(0, 256, (2, 180, 180, 3), dtype=np.uint8)
        inputs = {"pixels": pixels, "image_key": np.arange(2), "epoch": np.zeros(2, np.int64)}
        expected = served(tf.constant(in_model.to_float(pixels)), training=False).numpy()
        np.testing.assert_allclose(training_model(inputs, training=False).numpy(), expected, atol=1e-5)
        np.testing.assert_allclose(classifier(in_model.to_float(pixels), training=False).numpy(), expected, atol=1e-5)
