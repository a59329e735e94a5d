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
import tf_keras as keras

from components.trainer import input_pipeline, tf_data_service, watchdog
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


def test_unreachable_dispatcher_fails_fast_naming_the_address():
    started = time.monotonic()
    with pytest.raises(tf_data_service.UnreachableDispatcherError, match=r"grpc://127\.0\.0\.1:9 is unreachable"):
        tf_data_service.check_reachable("grpc://127.0.0.1:9", timeout=2.0)
    assert time.monotonic() - started < 5.0
    with pytest.raises(ValueError, match="grpc://HOST:PORT"):
        tf_data_service.parse_address("http://127.0.0.1:80")


def _records(first_run, tmp_path, name, count):
    """`count` training photos as a split of their own, and the Transform graph."""
    examples, graph = _artifacts(first_run[0])
    records = list(tf.data.TFRecordDataset(glob.glob(os.path.join(examples, "Split-train", "*")), "GZIP").take(count))
    split = tmp_path / name / "Split-train"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "part.gz"), options="GZIP") as writer:
        for record in records:
            writer.write(record.numpy())
    assert len(records) == count
    return str(split / "*"), graph


class _Recorder(keras.Model):
    """Learns nothing: keeps every batch of images `fit` trains on, and the batch count at each epoch's end."""

    def __init__(self):
        super().__init__()
        self.batches, self.epoch_ends = [], []

    def train_step(self, data):
        self.batches.append(data[0].numpy())
        return {}


def _fit_recorded(dataset, epochs: int, steps: int) -> _Recorder:
    recorder = _Recorder()
    recorder.compile(run_eagerly=True)
    ends = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: recorder.epoch_ends.append(len(recorder.batches)))
    recorder.fit(dataset, epochs=epochs, steps_per_epoch=steps, callbacks=[ends], verbose=0)
    return recorder


def test_through_fit_each_epoch_is_one_pass_with_the_local_batches_and_draws(first_run, service, tmp_path):
    """3 epochs of `fit`, here and through 2 workers: per epoch the same count of batches, every photo once,
    each augmented as (seed, photo, epoch) draws it (the service's uint8 within 1/255 of the local floats)."""
    pattern, graph = _records(first_run, tmp_path, "forty", 40)  # 5 whole batches of 8
    files, tft_output = input_pipeline.list_files(pattern), tft.TFTransformOutput(graph)
    config = input_pipeline.InputConfig(batch_size=8, augmentation=SPEC, seed=4)
    augmenter = input_pipeline.make_augmenter(config)
    steps = input_pipeline.steps_per_epoch(40, 8)
    runs = {
        "local": _fit_recorded(input_pipeline.train_dataset(files, tft_output, config, 40, 3, augmenter), 3, steps),
        "service": _within(300.0, service, lambda: _fit_recorded(input_pipeline.train_dataset(
            files, tft_output, config, 40, 3, augmenter, service=service.address), 3, steps)),
    }
    photos = input_pipeline.transformed(input_pipeline.read_records(files, 1), tft_output)
    pixels, _, keys = next(iter(photos.batch(40)))
    for name, tolerance in (("local", 1e-6), ("service", 1 / 255)):
        assert runs[name].epoch_ends == [5, 10, 15], name
        for epoch in range(3):
            expected = augmenter(pixels, keys, tf.fill([40], tf.constant(epoch, tf.int64))).numpy()
            seen = np.concatenate(runs[name].batches[5 * epoch : 5 * (epoch + 1)])
            assert seen.shape == (40, 180, 180, 3), name
            distances = np.stack([np.abs(expected - image).max(axis=(1, 2, 3)) for image in seen])
            assert sorted(distances.argmin(axis=1)) == list(range(40)), (name, epoch)  # every photo once
            assert distances.min(axis=1).max() <= tolerance, (name, epoch)
    # Not the same photos' draws of another epoch: the epoch is in every draw.
    assert np.abs(runs["local"].batches[0] - runs["local"].batches[5]).mean() > 0.01


def test_a_stalled_service_ends_fit_and_leaves_no_thread_behind():
    """A dispatcher without workers never sends a batch: the watchdog cancels `fit`, which returns in
    its own thread with InputStalledError, and no thread of the fit is left."""
    with _servers(0) as idle:
        dataset = tf.data.Dataset.range(64).map(lambda i: (tf.fill([4], tf.cast(i, tf.float32)), i % 2)).batch(8)
        dataset = dataset.apply(tf.data.experimental.service.distribute("distributed_epoch", idle.address))
        model = keras.Sequential([keras.layers.Dense(2)])
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        before = set(threading.enumerate())

        def fit(extra_callbacks):
            return model.fit(dataset, epochs=2, steps_per_epoch=4, callbacks=extra_callbacks, verbose=0)

        with pytest.raises(watchdog.InputStalledError, match=r"no batch from the test's dispatcher for \d+ s"):
            _within(240.0, idle, lambda: watchdog.fit_watched(fit, 3.0, "the test's dispatcher"))
        assert set(threading.enumerate()) == before


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
    pattern, graph = _records(first_run, tmp_path, name, 10)
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
