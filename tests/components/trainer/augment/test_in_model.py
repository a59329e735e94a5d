"""`--augment-in model`: the fused pass as the training model's first layer (`components.trainer.augment.in_model`).

No pipeline run: random pixels and the Trainer's model, built here.
"""

import math

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from components.trainer import model as model_lib
from components.trainer.augment import fused, in_model, per_image_random, placement

SIZE = 180
SPEC = "flip(horizontal_and_vertical)|rotate(0.2)|contrast(0.2)"


def _pixels(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)


def _keys(n, prefix="daisy/photo"):
    return per_image_random.filename_key(tf.constant([f"{prefix}{i}.jpg" for i in range(n)])).numpy()


def _inputs(pixels, keys, epoch=0):
    return {
        placement.PIXELS_KEY: tf.constant(pixels),
        placement.IMAGE_KEY_KEY: tf.constant(keys, tf.int64),
        placement.EPOCH_KEY: tf.fill([len(keys)], tf.constant(epoch, tf.int64)),
    }


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(3)
    classifier = model_lib.build_model(5)
    layer = in_model.AugmentInModel(SPEC, 42, batch_size=4)
    return classifier, layer, in_model.build_training_model(classifier, layer)


def test_at_inference_the_training_model_is_exactly_the_classifier(models):
    classifier, _, training_model = models
    pixels, keys = _pixels(6), _keys(6)
    without = classifier(in_model.to_float(pixels), training=False).numpy()
    np.testing.assert_array_equal(training_model(_inputs(pixels, keys), training=False).numpy(), without)
    np.testing.assert_array_equal(training_model.predict(_inputs(pixels, keys), verbose=0), without)
    # The key and epoch change nothing there; in training they change the logits.
    np.testing.assert_array_equal(training_model(_inputs(pixels, keys + 1, 5), training=False).numpy(), without)
    assert np.abs(training_model(_inputs(pixels, keys), training=True).numpy() - without).max() > 1e-3


def test_the_layer_holds_no_weights_so_the_classifier_is_the_whole_model(models):
    classifier, layer, training_model = models
    assert layer.weights == [] and layer.path == "xla"
    assert [id(w) for w in training_model.weights] == [id(w) for w in classifier.weights]
    # A classifier's weights (what warm_start.load_base_weights copies) fit the training model as they are.
    other = model_lib.build_model(5)
    training_model.set_weights(other.get_weights())
    for a, b in zip(classifier.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert layer.get_config()["spec"] == SPEC and layer.get_config()["seed"] == 42


def test_in_training_the_layer_gives_the_input_paths_pass_for_the_same_seed_image_and_epoch(models):
    """The same draws: the hash of (seed, filename key, epoch), as the input path's augmenter."""
    _, layer, _ = models
    pixels, keys = _pixels(8, seed=1), _keys(8)
    input_path = fused.make_augmenter(SPEC, 42, SIZE, batch_size=8)
    for epoch in (0, 3):
        inputs = _inputs(pixels, keys, epoch)
        expected = input_path(inputs["pixels"], inputs["image_key"], inputs["epoch"]).numpy()
        np.testing.assert_array_equal(layer(inputs, training=True).numpy(), expected)
    # Another epoch, another seed: other draws.
    epoch0 = layer(_inputs(pixels, keys, 0), training=True).numpy()
    assert np.abs(layer(_inputs(pixels, keys, 1), training=True).numpy() - epoch0).mean() > 0.01
    other_seed = in_model.AugmentInModel(SPEC, 7, batch_size=8)
    assert np.abs(other_seed(_inputs(pixels, keys, 0), training=True).numpy() - epoch0).mean() > 0.01


def _decompose(matrix):
    """Flip signs and angle from the output-to-input matrix of flip(h_and_v) then rotate:
    its linear part is diag(sx, sy) @ [[cos, -sin], [sin, cos]], and |angle| < 90 degrees."""
    a = matrix[:, :2, :2]
    sx, sy = np.sign(a[:, 0, 0]), np.sign(a[:, 1, 1])
    angle = np.arctan2(sy * a[:, 1, 0], sy * a[:, 1, 1])
    return sx, sy, angle


def test_in_training_the_flips_angles_and_contrast_factors_follow_the_spec():
    """400 images of one epoch: the parameters the layer's pass applies (`fused.pass_parameters`)."""
    n, bound = 400, 0.2 * 2 * math.pi
    pixels, keys = _pixels(n, seed=2), _keys(n, prefix="roses/")
    epoch = tf.zeros([n], tf.int64)
    ops = fused.parse_spec(SPEC)
    matrix, (colour, bias) = fused.pass_parameters(tf.constant(pixels), tf.constant(keys), epoch, 42, ops)
    matrix, colour, bias = matrix.numpy(), colour.numpy(), bias.numpy()
    sx, sy, angle = _decompose(matrix)
    # Each flip with probability 0.5, independently: 400 draws, within 4 standard deviations (+-40).
    low, high = 200 - 40, 200 + 40
    assert low <= (sx < 0).sum() <= high and low <= (sy < 0).sum() <= high
    assert 100 - 35 <= ((sx < 0) & (sy < 0)).sum() <= 100 + 35  # sd 8.7
    # The linear part is a flip times a rotation (orthogonal), and the angles are uniform in +-0.2 turn.
    linear = matrix[:, :2, :2]
    np.testing.assert_allclose(linear @ np.transpose(linear, (0, 2, 1)), np.broadcast_to(np.eye(2), (n, 2, 2)),
                               atol=1e-5)
    assert np.abs(angle).max() <= bound + 1e-5
    assert np.abs(angle).max() > 0.97 * bound and angle.min() < -0.9 * bound and angle.max() > 0.9 * bound
    assert low <= (np.abs(angle) < bound / 2).sum() <= high
    assert abs(angle.mean()) < 4 * bound / math.sqrt(3 * n)
    # Contrast: the factor times the identity, in [0.8, 1.2], pivoting on the image's channel means.
    factor = colour[:, 0, 0]
    np.testing.assert_allclose(colour, factor[:, None, None] * np.eye(3), atol=1e-6)
    assert factor.min() >= 0.8 - 1e-6 and factor.max() <= 1.2 + 1e-6
    assert factor.min() < 0.81 and factor.max() > 1.19
    assert low <= (factor < 1.0).sum() <= high
    means = pixels.reshape(n, -1, 3).mean(axis=1) / 255.0
    np.testing.assert_allclose(bias, (1 - factor)[:, None] * means, atol=1e-5)


def test_in_training_the_layers_pixels_are_the_drawn_flips():
    """Flips only: every output pixel is an input pixel, mirrored as the draws say."""
    n = 16
    layer = in_model.AugmentInModel("flip(horizontal_and_vertical)", 42, batch_size=n)
    pixels, keys = _pixels(n, seed=4), _keys(n)
    inputs = _inputs(pixels, keys, 2)
    out = layer(inputs, training=True).numpy()
    ops = fused.parse_spec("flip(horizontal_and_vertical)")
    matrix, _ = fused.pass_parameters(inputs["pixels"], inputs["image_key"], inputs["epoch"], 42, ops)
    seen = set()
    for image, result, m in zip(pixels, out, matrix.numpy(), strict=True):
        flip_x, flip_y = m[0, 0] < 0, m[1, 1] < 0  # x: the column, y: the row
        expected = image[::-1] if flip_y else image
        expected = expected[:, ::-1] if flip_x else expected
        np.testing.assert_allclose(result, expected / 255.0, atol=1e-6)
        seen.add((bool(flip_x), bool(flip_y)))
    assert len(seen) == 4


def _strategies():
    """The strategy the Trainer picks here; without a GPU also a OneDeviceStrategy on the CPU, the
    one-GPU machine's strategy type, so its code path runs here too."""
    chosen = [model_lib.choose_strategy()]
    if not tf.config.list_physical_devices("GPU"):
        chosen.append(tf.distribute.OneDeviceStrategy("/cpu:0"))
    return chosen


def _must_compile(graph) -> bool:
    """Whether a function that XLA must compile is called in `graph` (jit_compile=True)."""
    for function in graph._functions.values():  # noqa: SLF001 - the nested tf.functions
        attrs = function.definition.attr
        if "_XlaMustCompile" in attrs and attrs["_XlaMustCompile"].b:
            return True
    return False


@pytest.mark.parametrize("strategy", _strategies(), ids=lambda s: type(s).__name__)
def test_the_layer_runs_on_the_device_that_trains(strategy):
    """On a GPU machine the pass runs on the GPU; here on the CPU, XLA-compiled in the step either way."""
    expected = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    n = 4
    with strategy.scope():
        keras.utils.set_random_seed(5)
        classifier = model_lib.build_model(5)
        layer = in_model.AugmentInModel(fused.DEFAULT_SPEC, 42, batch_size=n)
        training_model = in_model.build_training_model(classifier, layer)
    inputs = _inputs(_pixels(n, seed=5), _keys(n), 1)

    @tf.function
    def step(batch):
        return layer(batch, training=True)

    results = strategy.experimental_local_results(strategy.run(step, args=(inputs,)))
    assert results and all(tf.DeviceSpec.from_string(r.device).device_type == expected for r in results)
    reference = fused.make_augmenter(fused.DEFAULT_SPEC, 42, SIZE, batch_size=n)(
        inputs["pixels"], inputs["image_key"], inputs["epoch"]
    )
    np.testing.assert_allclose(results[0].numpy(), reference.numpy(), atol=1e-6 if expected == "CPU" else 1e-4)
    assert _must_compile(step.get_concrete_function(inputs).graph)
    # Keras's train step, under the strategy, runs it too.
    dataset = tf.data.Dataset.from_tensors((inputs, tf.constant([0, 1, 2, 3], tf.int64))).repeat()
    history = training_model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert all(tf.DeviceSpec.from_string(w.device).device_type == expected for w in training_model.weights)


def test_both_placements_train_the_same_weights_from_the_same_batches():
    """Same seed, data and order: augmenting in the input or in the model gives the same training."""
    n, batch = 16, 8
    pixels, keys = _pixels(n, seed=6), _keys(n)
    labels = np.arange(n) % 5
    epochs = np.repeat(np.arange(3), n)
    augmenter = fused.make_augmenter(SPEC, 42, SIZE, batch_size=batch)
    base = tf.data.Dataset.from_tensor_slices((np.tile(pixels, (3, 1, 1, 1)), np.tile(keys, 3), epochs,
                                               np.tile(labels, 3))).batch(batch)
    weights = {}
    for where in placement.PLACEMENTS:
        keras.utils.set_random_seed(11)
        classifier = model_lib.build_model(5)
        if where == placement.INPUT:
            dataset = base.map(lambda x, k, e, y: (augmenter(x, k, e), y))
            classifier.fit(dataset, epochs=1, verbose=0)
        else:
            layer = in_model.AugmentInModel(SPEC, 42, batch_size=batch, augmenter=augmenter)
            dataset = base.map(lambda x, k, e, y: ({"pixels": x, "image_key": k, "epoch": e}, y))
            in_model.build_training_model(classifier, layer).fit(dataset, epochs=1, verbose=0)
        weights[where] = classifier.get_weights()
    for a, b in zip(weights["input"], weights["model"], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    untrained = (keras.utils.set_random_seed(11), model_lib.build_model(5))[1].get_weights()
    assert np.abs(untrained[-1] - weights["model"][-1]).max() > 1e-4  # it did train
