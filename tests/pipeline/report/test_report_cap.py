"""The report scores at most MAX_SCORED test examples, a batch at a time, and counts the rest
without keeping them: its memory does not grow with the test split."""

import os

import numpy as np
import tensorflow as tf

from pipeline import configs
from pipeline.report import figures

CLASSES = ["daisy", "roses"]


def _photo() -> bytes:
    folder = os.path.join(configs.SAMPLE_DATA, "daisy")
    with open(os.path.join(folder, sorted(os.listdir(folder))[0]), "rb") as f:
        return f.read()


class AlwaysDaisy:
    """A stand-in for `serving_images` that predicts daisy and records its batch sizes."""

    def __init__(self):
        self.batches = []

    def __call__(self, image_bytes):
        n = int(image_bytes.shape[0])
        self.batches.append(n)
        return {"probabilities": tf.constant(np.tile([[0.9, 0.1]], (n, 1)), tf.float32),
                "labels": tf.constant([[b"daisy", b"roses"]] * n)}


def _records(count: int, labels):
    photo = _photo()
    for i in range(count):
        yield {"image": photo, "label": labels(i), "filename": f"c/{i}.jpg"}


def test_only_the_first_examples_are_scored_a_batch_at_a_time():
    serve = AlwaysDaisy()
    result = figures.score_records(serve, _records(10, lambda i: i % 2), CLASSES, batch=3, limit=4)
    assert serve.batches == [3, 1]
    assert (result["test_images"], result["scored_images"]) == (10, 4)
    assert result["matrix"] == [[2, 0], [2, 0]]
    assert result["misclassified_total"] == 2
    assert [m["filename"] for m in result["misclassified"]] == ["c/1.jpg", "c/3.jpg"]


def test_the_default_cap_and_the_gallery_cap():
    serve = AlwaysDaisy()
    result = figures.score_records(serve, _records(2005, lambda i: 1), CLASSES)
    assert (result["test_images"], result["scored_images"]) == (2005, 2000)
    assert sum(serve.batches) == 2000 and max(serve.batches) == 32
    assert result["matrix"] == [[0, 0], [2000, 0]]
    assert (result["misclassified_total"], len(result["misclassified"])) == (2000, 48)


def test_a_split_is_read_one_record_at_a_time(tmp_path):
    split = tmp_path / "Split-test"
    split.mkdir()
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for i in range(3):
            example = tf.train.Example(features=tf.train.Features(feature={
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x" * i])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
                "filename": tf.train.Feature(bytes_list=tf.train.BytesList(value=[f"c/{i}.jpg".encode()])),
            }))
            writer.write(example.SerializeToString())
    assert [r["label"] for r in figures.iter_split(str(tmp_path), "test")] == [0, 1, 2]
    assert figures.read_split(str(tmp_path), "test", limit=2) == [
        {"image": b"", "label": 0, "filename": "c/0.jpg"}, {"image": b"x", "label": 1, "filename": "c/1.jpg"}]
