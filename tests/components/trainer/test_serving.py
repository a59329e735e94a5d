"""The pushed model on what clients send: every accepted format, bad bytes, `predict`."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from pipeline import cli, paths
from tests.helpers import imagefiles


@pytest.fixture(scope="module")
def served(first_run):
    return tf.saved_model.load(first_run[1]["pushed_model"])


def test_every_accepted_format_is_served(served):
    blobs = list(imagefiles.good_files().values())
    out = served.signatures["serving_images"](image_bytes=tf.constant(blobs))["probabilities"].numpy()
    assert out.shape == (len(blobs), 5)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", ["empty.jpg", "truncated.jpg", "random.jpg", "notes.jpg"])
def test_bad_bytes_are_an_invalid_argument_and_serving_goes_on(served, name):
    data, _ = imagefiles.bad_files()[name]
    serve = served.signatures["serving_images"]
    with pytest.raises(tf.errors.InvalidArgumentError):
        serve(image_bytes=tf.constant([data]))
    assert serve(image_bytes=tf.constant([imagefiles.jpeg()]))["probabilities"].shape == (1, 5)


def test_serving_graph_has_no_random_op(served):
    ops = set()
    for function in served.signatures.values():
        ops |= {op.type for op in function.graph.get_operations()}
        for sub in function.graph._functions.values():  # noqa: SLF001 - nested tf.functions
            ops |= {node.op for node in sub.definition.node_def}
    assert not {op for op in ops if "Random" in op}, ops
    assert "DecodeImage" in ops or any("Decode" in op for op in ops)


def test_predict_command_prints_one_line_per_file(first_run, tmp_path, capsys):
    good = tmp_path / "good.png"
    good.write_bytes(imagefiles.encode(imagefiles.photo(40, 30, seed=1), "PNG"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    serving_base = os.path.dirname(first_run[1]["pushed_model"])
    newest = max(os.listdir(serving_base), key=int)
    assert paths.resolve_model_dir(serving_base) == os.path.join(serving_base, newest)
    assert cli.main(["predict", "--model", serving_base, str(good), str(bad), str(tmp_path / "missing.jpg")]) == 1
    captured = capsys.readouterr()
    assert captured.err == "flowers predict: 2 of 3 files failed (see their error lines).\n"
    lines = [json.loads(line) for line in captured.out.strip().splitlines()]
    assert [line["file"] for line in lines] == [str(good), str(bad), str(tmp_path / "missing.jpg")]
    assert lines[0]["label"] in lines[0]["probabilities"] and len(lines[0]["probabilities"]) == 5
    assert abs(sum(lines[0]["probabilities"].values()) - 1.0) < 1e-3
    # TensorFlow's own message; 2.21 (the current stack) also names JPEG XL and WebP.
    assert lines[1]["error"].startswith("Unknown image file format. One of JPEG, ")
    assert {"PNG", "GIF", "BMP"} <= set(lines[1]["error"].removesuffix(" required.").split(", "))
    assert "No such file" in lines[2]["error"]


def test_preview_writes_a_3x3_grid(tmp_path):
    from pipeline import configs
    from pipeline.cli import preview

    out = tmp_path / "grid.png"
    source = preview.write_preview(configs.SAMPLE_DATA, str(out), "flip(horizontal)|rotate(0.2)", seed=1)
    image = tf.io.decode_png(tf.io.read_file(str(out))).numpy()
    assert source.startswith("daisy/")
    assert image.shape == (3 * 180 + 2 * 4, 3 * 180 + 2 * 4, 3)
    tiles = [image[r * 184 : r * 184 + 180, c * 184 : c * 184 + 180] for r in range(3) for c in range(3)]
    assert len({t.tobytes() for t in tiles}) == 9
