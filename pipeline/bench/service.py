"""`flowers bench --data-service`: the training input through tf.data service.

Side by side in one command: the Trainer's input run in this process (read,
decode through the Transform graph, augment, batch: the workers' work, no cache),
then the same input through a local dispatcher with one and with two worker
processes. On a machine with two cores the service cannot be faster (the
workers share the cores with this process); what it shows is its overhead. On a
cluster, each worker brings its own cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import tensorflow as tf

from components.trainer import input_pipeline, tf_data_service
from components.trainer.augment import fused
from pipeline import configs, metadata
from pipeline.runners import local, output_guard

BATCH = 32
PASSES = 3  # one warm-up pass, two timed


def _rate(dataset: tf.data.Dataset, images: int) -> float:
    """Images per second over passes 2 and 3 of the data (pass 1, its whole batches, warms up)."""
    iterator = iter(dataset)
    for _ in range(input_pipeline.steps_per_epoch(images, BATCH)):
        next(iterator)
    started, count = time.perf_counter(), 0
    for element in iterator:
        count += int(element[0].shape[0])
    return count / (time.perf_counter() - started)


def _start_worker(dispatcher_target: str) -> subprocess.Popen:
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "data-service", "worker", "--dispatcher",
         dispatcher_target.split("://", 1)[1], "--worker-address", "127.0.0.1:%port%"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    worker.stdout.readline()  # printed once the worker has started
    return worker


def run_service_bench(
    data: str, output: str, work_dir: str, seed: int = 0, spec: str = fused.FULL_SPEC, address: str = "local"
) -> dict[str, Any]:
    """`address` "local": start a dispatcher and one, then two, workers here; else use that dispatcher."""
    import tensorflow_transform as tft

    config = configs.RunConfig(data=data, output=output_guard.scratch_output(work_dir, data))
    local.run(config, stop_after="Transform")
    nodes = metadata.read_run(config.metadata_path)
    files = input_pipeline.list_files(f"{nodes['FileBasedExampleGen']['outputs']['Examples'].uri}/Split-train/*")
    tft_output = tft.TFTransformOutput(nodes["Transform"]["outputs"]["TransformGraph"].uri)
    images = input_pipeline.count_records(files)
    # The Trainer's input (`train_dataset`), uncached here as on the workers: the same work in both.
    inputs = input_pipeline.InputConfig(batch_size=BATCH, seed=seed, augmentation=spec, cache="none")

    def through(target: str = "") -> float:
        return _rate(input_pipeline.train_dataset(files, tft_output, inputs, images, PASSES, service=target), images)

    rates: dict[str, Any] = {"in_process": through()}
    if address != "local":
        rates["service"] = through(tf_data_service.check_reachable(address))
    else:
        dispatcher = tf_data_service.start_dispatcher(port=0)
        target = dispatcher.target.replace("localhost", "127.0.0.1")
        workers = []
        try:
            for key in ("service_1_worker", "service_2_workers"):
                workers.append(_start_worker(target))
                rates[key] = through(target)
        finally:
            for worker in workers:
                worker.kill()
                worker.wait(timeout=30)
    report: dict[str, Any] = {key: round(value, 1) for key, value in rates.items()}
    for key in rates:
        if key != "in_process":
            report[f"ratio_{key}_over_in_process"] = round(rates[key] / rates["in_process"], 2)
    report.update(
        {
            "dispatcher": address,
            "train_images": images,
            "batch_size": BATCH,
            "augmentation": spec,
            "processing_mode": "distributed_epoch",
            "data": data,
        }
    )
    with open(output, "w") as f:
        json.dump(report, f, indent=2)
    return report
