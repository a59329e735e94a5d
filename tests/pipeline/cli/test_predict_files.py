"""`flowers predict` reads each file as ingestion does: bounded, no link followed,
regular files only; one `{"file", "error"}` line per file it refuses."""

import os
import types

import tensorflow as tf

from components import features
from pipeline.cli import predict
from tests.helpers import imagefiles as images


def _fake_model(monkeypatch, model_dir, seen):
    def serve(image_bytes):
        seen.append(len(image_bytes.numpy()[0]))
        return {"probabilities": tf.constant([[0.25, 0.75]]), "labels": tf.constant([[b"daisy", b"roses"]])}

    (model_dir / "saved_model.pb").write_bytes(b"")
    model = types.SimpleNamespace(signatures={"serving_images": serve})
    monkeypatch.setattr(tf.saved_model, "load", lambda path: model)


def test_endless_oversize_and_linked_files_get_one_error_line_each(tmp_path, monkeypatch):
    seen = []
    _fake_model(monkeypatch, tmp_path, seen)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(images.jpeg(seed=1))
    big = tmp_path / "big.jpg"
    with open(big, "wb") as f:  # sparse: nothing is stored
        f.truncate(features.MAX_FILE_BYTES + 1)
    os.symlink(photo, tmp_path / "link.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    files = ["/dev/zero", str(big), str(photo), str(tmp_path / "link.jpg"), str(tmp_path / "pipe.jpg")]
    lines = list(predict.predict_files(str(tmp_path), files))
    assert lines == [
        {"file": "/dev/zero", "error": "not a regular file (a character device): not read"},
        {"file": str(big), "error": "file too large: 20000001 bytes, above the 20000000-byte limit; not read"},
        {"file": str(photo), "label": "roses", "score": 0.75, "probabilities": {"daisy": 0.25, "roses": 0.75}},
        {"file": str(tmp_path / "link.jpg"), "error": "symbolic link: not followed (name the file it points to)"},
        {"file": str(tmp_path / "pipe.jpg"), "error": "not a regular file (a FIFO): not read"},
    ]
    assert seen == [len(images.jpeg(seed=1))]  # only the photo reached the model


def test_a_remote_file_is_measured_before_it_is_read(tmp_path, monkeypatch):
    _fake_model(monkeypatch, tmp_path, [])
    photo = images.jpeg(seed=2)
    monkeypatch.setattr(features, "MAX_FILE_BYTES", len(photo))
    tf.io.gfile.makedirs("ram://predict_test")
    for name, data in {"ok.jpg": photo, "big.jpg": photo + b"x"}.items():
        with tf.io.gfile.GFile(f"ram://predict_test/{name}", "wb") as f:
            f.write(data)
    ok, big = predict.predict_files(str(tmp_path), ["ram://predict_test/ok.jpg", "ram://predict_test/big.jpg"])
    assert ok["label"] == "roses"
    assert big == {
        "file": "ram://predict_test/big.jpg",
        "error": f"file too large: {len(photo) + 1} bytes, above the {len(photo)}-byte limit; not read",
    }
