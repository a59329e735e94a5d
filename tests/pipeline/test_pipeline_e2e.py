"""The whole DAG with LocalDagRunner on the bundled real photos, then the pushed
model served from a fresh process through both signatures."""

import dataclasses
import glob
import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from components import features
from pipeline import configs, metadata
from pipeline.report import finished_run, run_summary
from pipeline.runners import local
from tests.helpers import splits

SAMPLE = configs.SAMPLE_DATA
ALL_NODES = {
    "FileBasedExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomaliesGate",
    "previous_span_examples", "DriftGate",
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
    expected = splits.expected_counts(SAMPLE)  # each file's split by TFX's own filename hash
    assert summary["counts"] == {**{s: sum(expected[s].values()) for s in splits.SPLITS}, "quarantined": 0}
    assert summary["counts"] == {"train": 320, "eval": 40, "test": 40, "quarantined": 0}
    assert set(summary["stage_state"]) == ALL_NODES
    assert set(summary["stage_state"].values()) == {"COMPLETE"}
    assert "eval_accuracy_note" not in summary  # no early stopping: eval accuracy is not optimistic
    # Blessed at a real threshold (conftest: above chance, 0.2 for 5 classes), not at 0.
    assert config.min_accuracy > 1 / len(features.TF_FLOWERS_CLASSES)
    assert summary["blessed"] is True and summary["eval_accuracy"] >= config.min_accuracy
    assert os.path.exists(os.path.join(summary["pushed_model"], "saved_model.pb"))
    assert os.path.dirname(summary["pushed_model"]) == os.path.abspath(config.serving_dir) or \
        os.path.dirname(summary["pushed_model"]) == config.serving_dir
    assert os.path.basename(summary["pushed_model"]).isdigit()  # versioned for TF Serving
    with open(os.path.join(config.output, "run_summary.json")) as f:
        assert json.load(f) == summary
    with open(summary["ingest_report"]) as f:
        report = json.load(f)
    assert report["files_seen"] == 400 and report["ingested_total"] == 400
    found = {split: {c: n for c, n in classes.items() if n} for split, classes in report["ingested"].items()}
    assert found == {split: dict(expected[split]) for split in splits.SPLITS}
    assert {c for split in found.values() for c in split} == set(features.TF_FLOWERS_CLASSES)


def test_every_ingested_label_is_its_class_folders_index(first_run):
    """Read back from ExampleGen's TFRecords, all splits: `label` is the index of the class folder
    in `filename` (`<class>/<file>`) in the tf_flowers order, for every one of the 400 photos."""
    config, summary = first_run
    raw_dir = glob.glob(os.path.join(config.pipeline_root, "FileBasedExampleGen", "examples", "*"))[0]
    on_disk = {os.path.relpath(p, SAMPLE) for p in glob.glob(os.path.join(SAMPLE, "*", "*"))}
    seen = []
    for split in splits.SPLITS:
        records = tf.data.TFRecordDataset(glob.glob(os.path.join(raw_dir, f"Split-{split}", "*")), "GZIP")
        rows = []
        for record in records:
            feature = tf.train.Example.FromString(record.numpy()).features.feature
            rows.append((feature["filename"].bytes_list.value[0].decode(), feature["label"].int64_list.value[0]))
        assert len(rows) == summary["counts"][split]
        for filename, label in rows:
            class_name, _ = filename.split("/")
            assert label == features.TF_FLOWERS_CLASSES.index(class_name), (split, filename, label)
            assert splits.split_of(filename) == split
        seen += rows
    assert sorted(f for f, _ in seen) == sorted(on_disk) and len(seen) == 400
    assert sorted(Counter(label for _, label in seen).items()) == [(k, 80) for k in range(5)]  # 80 per class


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
    assert result["labels"] == [list(features.TF_FLOWERS_CLASSES)] * 5
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


def _served_accuracy(model, raw_dir: str, split: str) -> float:
    raw = [r.numpy() for r in tf.data.TFRecordDataset(glob.glob(os.path.join(raw_dir, f"Split-{split}", "*")), "GZIP")]
    labels_ = [tf.train.Example.FromString(r).features.feature["label"].int64_list.value[0] for r in raw]
    probabilities = model.signatures["serving_default"](examples=tf.constant(raw))["probabilities"].numpy()
    return round(float(np.mean(np.argmax(probabilities, axis=1) == np.array(labels_))), 4)


def test_summary_accuracies_are_the_pushed_models_own(first_run):
    """Eval accuracy (TFMA) and test accuracy (the Trainer) recomputed from the served model."""
    config, summary = first_run
    raw_dir = glob.glob(os.path.join(config.pipeline_root, "FileBasedExampleGen", "examples", "*"))[0]
    model = tf.saved_model.load(summary["pushed_model"])
    assert summary["eval_accuracy"] == _served_accuracy(model, raw_dir, "eval")
    assert summary["test_accuracy"] == _served_accuracy(model, raw_dir, "test")


def _tfma_accuracies(config) -> dict[tuple[str, bool], float]:
    import tensorflow_model_analysis as tfma

    evaluation = metadata.read_run(config.metadata_path)["Evaluator"]["outputs"]["ModelEvaluation"]
    values = {}
    for record in tfma.load_metrics(evaluation.uri):
        for item in record.metric_keys_and_values:
            if item.key.name == "sparse_categorical_accuracy":
                values[(item.key.model_name, item.key.is_diff)] = round(item.value.double_value.value, 4)
    return values


def test_rerun_reuses_every_component(first_run):
    config, _ = first_run
    summary = local.run(config)
    states = summary["stage_state"]
    for node in ("FileBasedExampleGen", "StatisticsGen", "ExampleValidator", "Transform", "Trainer"):
        assert states[node] == "CACHED", states
    # The Evaluator's baseline is new (the model the first run blessed), so it runs.
    assert states["Evaluator"] == "COMPLETE"
    assert summary["blessed"] is True
    # With a baseline TFMA reports the candidate, the baseline and their difference
    # under one metric name: the summary holds the candidate's own value.
    values = _tfma_accuracies(config)
    assert {("candidate", False), ("baseline", False), ("candidate", True)} <= set(values)
    assert summary["eval_accuracy"] == values[("candidate", False)] == first_run[1]["eval_accuracy"]
    assert summary["blessing"] == (f"eval accuracy {summary['eval_accuracy']} against the threshold "
                                   f"{config.min_accuracy}, and no lower than the latest blessed model's "
                                   f"{values[('baseline', False)]}")


def test_a_threshold_above_the_models_accuracy_blesses_and_pushes_nothing(first_run):
    """The same model (Trainer cached) against its own accuracy plus 0.05; the first run is the
    same model blessed below its accuracy."""
    config, first = first_run
    assert first["blessed"] is True and first["eval_accuracy"] >= config.min_accuracy
    versions = sorted(os.listdir(config.serving_dir))
    summary = local.run(dataclasses.replace(config, min_accuracy=first["eval_accuracy"] + 0.05))
    assert summary["stage_state"]["Trainer"] == "CACHED"
    assert summary["stage_state"]["Evaluator"] == "COMPLETE"
    assert summary["eval_accuracy"] == first["eval_accuracy"]
    assert summary["blessed"] is False and summary["pushed_model"] is None
    assert sorted(os.listdir(config.serving_dir)) == versions
    threshold = first["eval_accuracy"] + 0.05
    assert summary["blessing"] == f"eval accuracy {first['eval_accuracy']} against the threshold {threshold}: below it"


def test_eval_accuracy_is_called_optimistic_when_early_stopping_used_it(first_run):
    config, _ = first_run
    run = finished_run.read(config.metadata_path)
    summary = run_summary.summarize(dataclasses.replace(config, patience=3), run, 1.0)
    assert summary["eval_accuracy_note"].startswith("optimistic: early stopping (--patience 3)")
    assert "test accuracy is untouched" in summary["eval_accuracy_note"]
    assert summary["eval_accuracy_note"] in run_summary.format_summary(summary)
    with open(os.path.join(config.output, "run_summary.json")) as f:
        assert json.load(f)["eval_accuracy_note"] == summary["eval_accuracy_note"]


def test_anomalies_stop_the_run_before_transform(tmp_path):
    from tests.helpers import imagefiles

    data = tmp_path / "six_classes"
    for k, c in enumerate(("ant", "bee", "cat", "dog", "eel", "fox")):
        for i in range(3):
            path = data / c / f"{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(imagefiles.jpeg(32, 32, seed=3 * k + i))  # distinct photos: duplicates are skipped
    config = configs.RunConfig(data=str(data), output=str(tmp_path / "out"))
    with pytest.raises(Exception, match=r"(?s)data anomalies.*label"):
        local.ingest(config)
