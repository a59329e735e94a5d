"""The whole DAG with LocalDagRunner on the bundled real photos, then the pushed
model served from a fresh process through both signatures."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from components import labels
from pipeline import configs, local_runner

SAMPLE = configs.SAMPLE_DATA
ALL_NODES = {
    "FileBasedExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomaliesGate",
    "Transform", "Trainer", "latest_blessed_model_resolver", "Evaluator", "Pusher",
}

SERVE_SCRIPT = r"""
import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
files = sys.argv[2:]
blobs = [open(f, "rb").read() for f in files]
images = model.signatures["serving_images"](image_bytes=tf.constant(blobs))
examples = [tf.train.Example(features=tf.train.Features(feature={
    "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b]))})).SerializeToString() for b in blobs]
default = model.signatures["serving_default"](examples=tf.constant(examples))
transformed = model.signatures["transform_features"](examples=tf.constant(examples))
errors = []
for bad in (b"", blobs[0][:300], b"hello, not an image"):
    try:
        model.signatures["serving_images"](image_bytes=tf.constant([bad]))
        errors.append(None)
    except tf.errors.InvalidArgumentError as err:
        errors.append(err.message)
after = model.signatures["serving_images"](image_bytes=tf.constant(blobs[:1]))
print(json.dumps({
    "signatures": sorted(model.signatures.keys()),
    "images_probabilities": images["probabilities"].numpy().tolist(),
    "default_probabilities": default["probabilities"].numpy().tolist(),
    "labels": [[x.decode() for x in row] for row in images["labels"].numpy().tolist()],
    "transformed_shape": list(transformed["image_xf"].shape),
    "transformed": transformed["image_xf"].numpy().tolist(),
    "errors": errors,
    "after_errors": after["probabilities"].numpy().tolist(),
}))
"""


def test_run_pushes_a_blessed_model_and_summarises(first_run):
    config, summary = first_run
    counts = summary["counts"]
    assert counts["train"] + counts["eval"] + counts["test"] == 60 and counts["quarantined"] == 0
    assert counts["train"] > counts["eval"] and counts["train"] > counts["test"]
    assert set(summary["stage_state"]) == ALL_NODES
    assert set(summary["stage_state"].values()) == {"COMPLETE"}
    assert 0.0 <= summary["eval_accuracy"] <= 1.0 and 0.0 <= summary["test_accuracy"] <= 1.0
    assert summary["blessed"] is True
    assert os.path.exists(os.path.join(summary["pushed_model"], "saved_model.pb"))
    assert os.path.dirname(summary["pushed_model"]) == os.path.abspath(config.serving_dir) or \
        os.path.dirname(summary["pushed_model"]) == config.serving_dir
    assert os.path.basename(summary["pushed_model"]).isdigit()  # versioned for TF Serving
    with open(os.path.join(config.output, "run_summary.json")) as f:
        assert json.load(f) == summary
    with open(summary["ingest_report"]) as f:
        report = json.load(f)
    assert report["files_seen"] == 60 and report["ingested_total"] == 60


def test_pushed_model_serves_raw_bytes_from_a_fresh_process(first_run):
    config, summary = first_run
    files = sorted(glob.glob(os.path.join(SAMPLE, "*", "*.jpg")))[::12][:5]
    out = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, summary["pushed_model"], *files],
        check=True, capture_output=True, text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"serving_default", "serving_images", "transform_features"} <= set(result["signatures"])
    probs = np.array(result["images_probabilities"])
    assert probs.shape == (5, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs, np.array(result["default_probabilities"]), atol=1e-6)
    assert result["labels"] == [list(labels.TF_FLOWERS_CLASSES)] * 5
    assert result["transformed_shape"] == [5, 180, 180, 3]
    assert result["errors"][0] is not None and result["errors"][2] is not None
    assert "Unknown image file format" in result["errors"][2]
    assert all(e is None or len(e) > 10 for e in result["errors"])
    np.testing.assert_allclose(result["after_errors"][0], probs[0], atol=1e-6)  # still serving


def test_serving_transform_is_the_transform_graph(first_run):
    """No training/serving skew: the served preprocessing is the Transform graph itself."""
    import tensorflow_transform as tft

    config, summary = first_run
    graph_dir = glob.glob(os.path.join(config.pipeline_root, "Transform", "transform_graph", "*"))[0]
    raw_dir = glob.glob(os.path.join(config.pipeline_root, "FileBasedExampleGen", "examples", "*"))[0]
    model = tf.saved_model.load(summary["pushed_model"])
    raw = [r.numpy() for r in tf.data.TFRecordDataset(glob.glob(os.path.join(raw_dir, "Split-eval", "*")), "GZIP")]
    served = model.signatures["transform_features"](examples=tf.constant(raw))["image_xf"].numpy()
    tft_output = tft.TFTransformOutput(graph_dir)
    parsed = tf.io.parse_example(tf.constant(raw), tft_output.raw_feature_spec())
    graph = tft_output.transform_raw_features(parsed)["image_xf"].numpy()
    assert served.shape == graph.shape == (summary["counts"]["eval"], 180, 180, 3)
    np.testing.assert_allclose(served, graph, atol=1e-6)
    # And the served probabilities are the model's own on those pixels.
    probabilities = model.signatures["serving_default"](examples=tf.constant(raw))["probabilities"].numpy()
    logits = model(tf.constant(graph), training=False)
    np.testing.assert_allclose(probabilities, tf.nn.softmax(logits).numpy(), atol=1e-5)


def test_rerun_reuses_every_component(first_run):
    config, _ = first_run
    summary = local_runner.run(config)
    states = summary["stage_state"]
    for node in ("FileBasedExampleGen", "StatisticsGen", "ExampleValidator", "Transform", "Trainer"):
        assert states[node] == "CACHED", states
    # The Evaluator's baseline is new (the model the first run blessed), so it runs.
    assert states["Evaluator"] == "COMPLETE"
    assert summary["blessed"] is True


def test_anomalies_stop_the_run_before_transform(tmp_path):
    import imagefiles

    data = tmp_path / "six_classes"
    for c in ("ant", "bee", "cat", "dog", "eel", "fox"):
        for i in range(3):
            path = data / c / f"{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(imagefiles.jpeg(32, 32, seed=i))
    config = configs.RunConfig(data=str(data), output=str(tmp_path / "out"))
    with pytest.raises(Exception, match=r"(?s)data anomalies.*label"):
        local_runner.ingest(config)
