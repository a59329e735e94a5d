"""Values that once failed late (or with a traceback) are refused before any work, in one
sentence with exit code 2; a full disk part-way ends a run with one sentence too."""

import errno
import logging
import os
import subprocess
import sys
from collections import namedtuple

import pytest
from tensorflow_datasets.testing import test_utils as tfds_test_utils

from pipeline import cli
from pipeline.cli import preflight, validate
from pipeline.runners import local


class PreflightNoImages(tfds_test_utils.DummyDataset):
    """A registered TFDS dataset (`preflight_no_images`) whose examples hold an `id` only."""


def flowers(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_outputs_classes_and_tfds_names_are_checked_before_any_work(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    folder = tmp_path / "folder"
    folder.mkdir()
    one_class = folder / "one.txt"
    one_class.write_text("daisy\n")
    twice = folder / "twice.txt"
    twice.write_text("daisy\nroses\ndaisy\n")
    cases = [
        (["run", "--output", str(a_file)],
         f"flowers run: --output {a_file} is a file; accepted: a folder path (new or existing) that can be written."),
        (["ingest", "--output", str(a_file / "out")],
         f"flowers ingest: --output {a_file / 'out'} cannot be created: {a_file} is a file, not a folder."),
        (["preview", "--output", str(folder)],
         f"flowers preview: --output {folder} is a folder; accepted: a file path (new or existing) that can be "
         "written."),
        (["run", "--data", "tfds:no_such_dataset_here", "--output", str(tmp_path / "out")],
         "flowers run: --data tfds:no_such_dataset_here: TFDS has no dataset named 'no_such_dataset_here'; "
         "accepted: tfds:tf_flowers or another TFDS image classification dataset."),
        (["compile", "--classes", str(one_class), "--output", str(tmp_path / "p.json")],
         f"flowers compile: --classes: {one_class} lists 1 class name(s); a classifier needs at least two."),
        (["run", "--classes", str(twice), "--output", str(tmp_path / "out")],
         f"flowers run: --classes: {twice}, line 3: class 'daisy' is listed twice."),
        (["ingest", "--classes", str(tmp_path / "none.txt"), "--output", str(tmp_path / "out")],
         f"flowers ingest: --classes: cannot read the label vocabulary {tmp_path / 'none.txt'}: [Errno 2] No such "
         f"file or directory: '{tmp_path / 'none.txt'}'."),
    ]
    for args, message in cases:
        result = flowers(*args)
        assert (result.returncode, result.stderr, result.stdout) == (2, message + "\n", ""), args
    assert sorted(os.listdir(tmp_path)) == ["a_file", "folder"]
    assert sorted(os.listdir(folder)) == ["one.txt", "twice.txt"]


def test_an_output_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: str(path) != str(tmp_path))  # root may write anywhere
    with pytest.raises(validate.UsageError) as raised:
        preflight.check_writable("--output", str(tmp_path / "new" / "out"), "folder")
    new = tmp_path / "new" / "out"
    assert str(raised.value) == f"--output {new} cannot be written (permission denied in {tmp_path})."
    with pytest.raises(validate.UsageError, match=r"^--output \S+ cannot be written \(permission denied\)\.$"):
        preflight.check_writable("--output", str(tmp_path), "folder")
    preflight.check_writable("--output", "gs://bucket/out", "folder")  # remote: checked where it is written


def test_tfds_sources_need_a_known_dataset_with_image_and_label_features():
    preflight.check_tfds("tfds:tf_flowers")  # described by its builder, nothing downloaded
    with pytest.raises(validate.UsageError) as raised:
        preflight.check_tfds("tfds:preflight_no_images")
    assert str(raised.value) == (
        "--data tfds:preflight_no_images: the TFDS dataset has no `image` and class `label` features "
        "(its features: id); accepted: an image classification dataset such as tf_flowers.")


def test_an_unreadable_folder_is_called_unreadable_not_an_archive(tmp_path, monkeypatch, capsys):
    data = tmp_path / "photos"
    (data / "daisy").mkdir(parents=True)
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(data):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert cli.main(["ingest", "--data", str(data), "--output", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"flowers ingest: --data {data}: the folder cannot be read (permission denied).\n"
    assert not (tmp_path / "out").exists()


def test_predict_on_a_model_without_serving_images_is_one_sentence(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.f = tf.function(lambda x: {"y": x * 2.0}, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={"serving_default": module.f})
    (tmp_path / "photo.jpg").write_bytes(b"not read")
    result = flowers("predict", "--model", str(tmp_path / "model"), str(tmp_path / "photo.jpg"),
                     env={"XDG_STATE_HOME": str(tmp_path / "state")}, timeout=300)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"flowers predict: --model {tmp_path / 'model'}: the SavedModel {tmp_path / 'model'} has no serving_images "
        "signature (it has: serving_default); accepted: a model pushed by flowers run.\n")


def test_a_full_disk_part_way_is_one_sentence_and_no_pushed_model(tmp_path, monkeypatch, capsys):
    def run_out_of_disk(config, *args, **kwargs):
        logging.getLogger("absl").info("Component %s is running.", "Trainer")
        try:  # as TFX re-raises a step's failure, the OSError as its cause
            raise OSError(errno.ENOSPC, "No space left on device", os.path.join(config.output, "tfx"))
        except OSError as err:
            raise RuntimeError("Trainer execution failed") from err

    monkeypatch.setattr(local, "run", run_out_of_disk)
    out = tmp_path / "out"
    assert cli.main(["run", "--output", str(out)]) == 1
    captured = capsys.readouterr()
    log = out / "logs" / "run.log"
    assert captured.err == (
        "flowers run: the disk ran out of space during Trainer (no space left on device); the run stopped and "
        f"reports no pushed model: free some space under {out} and run again (log: {log}).\n")
    assert "pushed model" not in captured.out and "Traceback" not in captured.out + captured.err
    assert "Traceback" in log.read_text()  # the details stay in the log
    assert not (out / "report.html").exists()


def test_tensorflow_words_for_a_full_disk_count_too():
    assert preflight.is_disk_full(RuntimeError("ResourceExhaustedError: /out/x; No space left on device"))
    assert not preflight.is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not preflight.is_disk_full(None)


def test_the_file_cache_is_refused_when_its_disk_is_short(tmp_path, monkeypatch):
    import tensorflow as tf

    from components.trainer import input_pipeline

    usage = namedtuple("usage", "total used free")
    config = input_pipeline.InputConfig(cache="file", cache_dir=str(tmp_path / "cache"))
    monkeypatch.setattr(input_pipeline.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 5 * 10**6, 5 * 10**6))
    with pytest.raises(input_pipeline.CacheDiskSpaceError) as raised:
        input_pipeline.cached(tf.data.Dataset.range(3), 100, config, "train")
    assert str(raised.value) == (
        f"the Trainer's file cache of 100 images needs 10 MB under {tmp_path / 'cache'}, but only 5 MB are "
        "free: free some disk space (or give the Trainer more memory, which then holds the cache)")
    assert os.listdir(tmp_path / "cache") == []  # nothing written
    monkeypatch.setattr(input_pipeline.shutil, "disk_usage", lambda path: usage(10**9, 0, 10**8))
    assert list(input_pipeline.cached(tf.data.Dataset.range(3), 100, config, "train").as_numpy_iterator()) == [0, 1, 2]
