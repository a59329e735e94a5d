"""The Trainer's input through tf.data service: a dispatcher and two worker processes on loopback."""

import contextlib
import glob
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import types

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components.trainer import input_pipeline, tf_data_service
from components.trainer.augment import per_image_random
from pipeline.cli import data_service as servers

SPEC = "flip(horizontal_and_vertical)|rotate(0.2)"


@contextlib.contextmanager
def _servers(n_workers: int):
    """An in-process dispatcher and `n_workers` `flowers data-service worker` processes, on 127.0.0.1.

    Each worker's stderr goes to a file of its own, so a test that times out can say why a worker ended.
    """
    dispatcher = servers.start_dispatcher(port=0)
    address = dispatcher.target.replace("localhost", "127.0.0.1")
    host_port = address.split("://", 1)[1]
    logs = tempfile.mkdtemp(prefix="data-service-workers-")
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "pipeline", "data-service", "worker", "--dispatcher", host_port,
             "--worker-address", "127.0.0.1:%port%"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(logs, f"worker-{i}.log"), "w"), text=True,
        )
        for i in range(n_workers)
    ]
    try:
        for worker in workers:
            assert "tf.data service worker" in worker.stdout.readline()
        yield types.SimpleNamespace(address=address, workers=workers, logs=logs)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(timeout=30)
        dispatcher._stop()


def _within(seconds: float, service, read):
    """`read()` in a thread of its own, bounded: a stalled service fails the test, naming the workers' states."""
    result, failure = [], []

    def run():
        try:
            result.append(read())
        except BaseException as err:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        states = {i: w.poll() for i, w in enumerate(service.workers)}
        tails = {}
        for name in sorted(os.listdir(service.logs)):
            with open(os.path.join(service.logs, name)) as f:
                tails[name] = f.read()[-1500:]
        pytest.fail(f"no end of the epoch from tf.data service after {seconds:.0f} s; worker exit codes {states}; "
                    f"their logs: {tails}")
    if failure:
        raise failure[0]
    return result[0]


@pytest.fixture(scope="module")
def service():
    """Two workers, shared by the tests that only read through them."""
    with _servers(2) as running:
        yield running


def _artifacts(config):
    root = config.pipeline_root
    examples = glob.glob(os.path.join(root, "FileBasedExampleGen", "examples", "*"))[0]
    graph = glob.glob(os.path.join(root, "Transform", "transform_graph", "*"))[0]
    return examples, graph


def _keys(files):
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    names = [tf.train.Example.FromString(r.numpy()).features.feature["filename"].bytes_list.value[0] for r in records]
    return per_image_random.filename_key(tf.constant(names)).numpy()


def test_unreachable_dispatcher_fails_fast_naming_the_address():
    started = time.monotonic()
    with pytest.raises(tf_data_service.UnreachableDispatcherError, match=r"grpc://127\.0\.0\.1:9 is unreachable"):
        tf_data_service.check_reachable("grpc://127.0.0.1:9", timeout=2.0)
    assert time.monotonic() - started < 5.0
    with pytest.raises(ValueError, match="grpc://HOST:PORT"):
        tf_data_service.parse_address("http://127.0.0.1:80")


def test_one_epoch_carries_every_training_image_once_augmented(first_run, service):
    examples, graph = _artifacts(first_run[0])
    files = glob.glob(os.path.join(examples, "Split-train", "*"))
    tft_output = tft.TFTransformOutput(graph)
    count = input_pipeline.count_records(files)
    config = input_pipeline.InputConfig(batch_size=8, augmentation=SPEC, seed=4)
    dataset = input_pipeline.service_source(files, tft_output, config, 1, count).apply(
        tf.data.experimental.service.distribute(processing_mode="distributed_epoch", service=service.address)
    )
    batches = _within(300.0, service, lambda: [(images.numpy(), keys.numpy()) for images, _, keys in dataset])
    served = {}
    for images, keys in batches:
        for image, key in zip(images, keys, strict=True):
            assert key not in served, "an image came twice in one epoch"
            served[key] = image.astype(np.float32) / 255.0
    assert sorted(served) == sorted(_keys(files)) and len(served) == count == first_run[1]["counts"]["train"]
    # Augmented: the same images without augmentation differ, per image.
    unaugmented = input_pipeline.InputConfig(batch_size=8, augmentation="")
    differences = [
        np.abs(served[key] - image / 255.0).mean()
        for images, _, keys in input_pipeline.service_source(files, tft_output, unaugmented, 1, count)
        for image, key in zip(images.numpy(), keys.numpy(), strict=True)
    ]
    assert len(differences) == count and np.median(differences) > 0.02


def _ten_records(first_run, tmp_path, name):
    """Ten training photos as a split of their own, and the Transform graph."""
    examples, graph = _artifacts(first_run[0])
    records = list(tf.data.TFRecordDataset(glob.glob(os.path.join(examples, "Split-train", "*")), "GZIP").take(10))
    split = tmp_path / name / "Split-train"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "ten.gz"), options="GZIP") as writer:
        for record in records:
            writer.write(record.numpy())
    return str(split / "*"), graph


FIT_TEN = """
import json, sys, types
from components.trainer import run_fn
pattern, graph, out, settings = sys.argv[1:5]
fn_args = types.SimpleNamespace(transform_output=graph, train_files=[pattern], eval_files=[pattern],
                                serving_model_dir=out + "/serving", model_run_dir=out + "/run")
config = run_fn.TrainConfig(class_names=("dandelion", "daisy", "tulips", "sunflowers", "roses"), epochs=25,
                             batch_size=10, augmentation="", seed=1, **json.loads(settings))
metrics = run_fn.train_and_export(fn_args, config)
print(json.dumps({"val_accuracy": metrics["history"]["val_accuracy"], "data_service": metrics["data_service"]}))
"""


def _fit_ten(first_run, tmp_path, name, **settings):
    """Train on ten photos and evaluate on the same ten, in a process of its own (as a Trainer runs)."""
    pattern, graph = _ten_records(first_run, tmp_path, name)
    return subprocess.run(
        [sys.executable, "-c", FIT_TEN, pattern, graph, str(tmp_path / name), json.dumps(settings)],
        capture_output=True, text=True, timeout=300,
    )


def test_ten_images_overfit_with_and_without_the_service(first_run, service, tmp_path):
    """The model memorises ten photos either way: the service feeds the same training."""
    results = {}
    for name, settings in (("local", {}), ("service", {"data_service": service.address})):
        done = _fit_ten(first_run, tmp_path, name, **settings)
        assert done.returncode == 0, done.stderr[-2000:]
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["service"]["data_service"] == service.address and results["local"]["data_service"] is None
    assert results["local"]["val_accuracy"][-1] >= 0.9
    assert results["service"]["val_accuracy"][-1] >= 0.9


def test_killing_the_workers_makes_the_trainer_fail(first_run, tmp_path):
    """A dispatcher and a worker of its own: killing them leaves the shared `service` intact."""
    with _servers(1) as own:
        own.workers[0].kill()
        own.workers[0].wait(timeout=30)
        started = time.monotonic()
        done = _fit_ten(first_run, tmp_path, "killed", data_service=own.address, service_stall_seconds=20.0)
    assert done.returncode != 0
    assert f"InputStalledError: no batch from tf.data service {own.address} for" in done.stderr
    assert time.monotonic() - started < 180.0
