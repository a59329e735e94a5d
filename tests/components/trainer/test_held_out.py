"""Held out: the Trainer, trained on some real photos of the full archive, beats chance on others.

The 60-photo sample is too small to show generalisation (7 eval photos), so this
reads photos from the full tf_flowers archive when it is on this machine and
skips otherwise. The training runs the real `train_and_export` (input pipeline,
augmentation, the tutorial's model, export with the Transform graph) in a
process of its own, as a Trainer runs; the served model then classifies photos
it never saw.
"""

import glob
import hashlib
import os
import tarfile
import types

import numpy as np
import pytest
import tensorflow as tf

from components import features
from pipeline import configs

ARCHIVE = os.environ.get(
    "FLOWERS_ARCHIVE", os.path.join(os.path.dirname(configs.REPO_ROOT), "shared", "data", "flower_photos.tgz")
)
PER_CLASS = 80  # photos read per class, in archive order: every 4th is held out (60 train, 20 held out)
HELD_OUT_EVERY = 4
EPOCHS = 6
SEED = 42
BATCH_SIZE = 32
# Held-out accuracy of exactly this set-up (300 training photos, 6 epochs, batch 32,
# 100 held-out photos, chance 0.2), measured on TFX 1.16 / TF 2.16, 2 CPU cores:
# seed 42: 0.47, 7: 0.49, 1: 0.42, 3: 0.57, 5: 0.46 (mean 0.48, lowest 0.42), the
# served model equal to Keras' own evaluation every time. Batch 16 for 4 epochs
# (cheaper) gave 0.46, 0.47 and 0.34: less reliable. A model at chance scores
# 0.20 +/- 0.04 on 100 photos, so 0.35 is a clear margin above it, and 7 photos
# below the lowest measured seed.
MIN_ACCURACY = 0.35


def read_archive(path: str, per_class: int) -> dict[str, list[tuple[str, bytes]]]:
    """{class: [(filename, bytes)]}: the first `per_class` photos of each class folder,
    byte-identical copies of a photo already taken left out."""
    photos = {c: [] for c in features.TF_FLOWERS_CLASSES}
    seen = set()
    with tarfile.open(path, "r|gz") as archive:
        for member in archive:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or parts[1] not in photos:
                continue
            if len(photos[parts[1]]) < per_class:
                data = archive.extractfile(member).read()
                digest = hashlib.sha256(data).digest()
                if digest not in seen:
                    seen.add(digest)
                    photos[parts[1]].append(("/".join(parts[1:]), data))
    return photos


def _example(filename: str, data: bytes, label: int) -> bytes:
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "filename": tf.train.Feature(bytes_list=tf.train.BytesList(value=[filename.encode()])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_splits(photos, root) -> dict[str, list[tuple[str, bytes, int]]]:
    """Split-train and Split-eval (the held-out photos) as ExampleGen writes them: gzip TFRecords."""
    splits = {"train": [], "eval": []}
    for label, class_name in enumerate(features.TF_FLOWERS_CLASSES):
        for i, (filename, data) in enumerate(photos[class_name]):
            splits["eval" if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else "train"].append((filename, data, label))
    for split, rows in splits.items():
        os.makedirs(os.path.join(root, f"Split-{split}"))
        with tf.io.TFRecordWriter(os.path.join(root, f"Split-{split}", "data.gz"), options="GZIP") as writer:
            for row in rows:
                writer.write(_example(*row))
    return splits


def train(examples: str, graph: str, out: str, epochs: int = EPOCHS, seed: int = SEED,
          batch_size: int = BATCH_SIZE) -> dict:
    """The Trainer's own training and export, on Split-train, evaluated on Split-eval."""
    from components.trainer import run_fn

    fn_args = types.SimpleNamespace(
        transform_output=graph, train_files=[os.path.join(examples, "Split-train", "*")],
        eval_files=[os.path.join(examples, "Split-eval", "*")],
        serving_model_dir=os.path.join(out, "serving"), model_run_dir=os.path.join(out, "run"),
    )
    config = run_fn.TrainConfig(features.TF_FLOWERS_CLASSES, epochs=epochs, batch_size=batch_size, seed=seed)
    return run_fn.train_and_export(fn_args, config)


def served_accuracy(model_dir: str, rows) -> float:
    model = tf.saved_model.load(model_dir)
    predicted = []
    for start in range(0, len(rows), 25):
        blobs = tf.constant([data for _, data, _ in rows[start : start + 25]])
        predicted += np.argmax(model.signatures["serving_images"](image_bytes=blobs)["probabilities"], axis=1).tolist()
    return float(np.mean(np.array(predicted) == np.array([label for _, _, label in rows])))


@pytest.mark.skipif(not os.path.exists(ARCHIVE), reason=f"the full tf_flowers archive is not at {ARCHIVE}")
def test_a_model_trained_on_some_photos_beats_chance_on_others(first_run, tmp_path):
    photos = read_archive(ARCHIVE, PER_CLASS)
    assert {c: len(p) for c, p in photos.items()} == {c: PER_CLASS for c in features.TF_FLOWERS_CLASSES}
    splits = write_splits(photos, str(tmp_path / "examples"))
    held_out = splits["eval"]
    assert len(splits["train"]) == 300 and len(held_out) == 100
    # Held out means unseen: no file name and no photo's bytes in both.
    assert not {f for f, _, _ in splits["train"]} & {f for f, _, _ in held_out}
    assert not {d for _, d, _ in splits["train"]} & {d for _, d, _ in held_out}
    assert all(f.split("/")[0] == features.TF_FLOWERS_CLASSES[label] for f, _, label in held_out)

    graph = glob.glob(os.path.join(first_run[0].pipeline_root, "Transform", "transform_graph", "*"))[0]
    metrics = train(str(tmp_path / "examples"), graph, str(tmp_path / "out"))
    assert metrics["train_examples"] == 300 and len(metrics["history"]["val_accuracy"]) == EPOCHS
    accuracy = served_accuracy(str(tmp_path / "out" / "serving"), held_out)
    # The served model (Transform graph inside) agrees with Keras' own evaluation within one photo.
    assert abs(accuracy - metrics["history"]["val_accuracy"][-1]) <= 1 / len(held_out) + 1e-6
    assert accuracy >= MIN_ACCURACY, (accuracy, metrics["history"]["val_accuracy"])
