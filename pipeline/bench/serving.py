"""`flowers bench --serving-model`: latency and throughput of a pushed model's `serving_images`."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import tensorflow as tf

BATCH = 32


def run_serving_bench(model_dir: str, data: str, output: str, singles: int = 300, batches: int = 20) -> dict[str, Any]:
    """`serving_images` latency for one image (p50, p99) and batch-32 throughput.

    Loads the model in this (fresh) process and feeds real photos of `data`,
    encoded bytes as TF Serving hands them over; a few warm-up calls first.
    """
    from components.ingest import sources
    from pipeline import paths

    path = paths.resolve_model_dir(model_dir)
    serve = tf.saved_model.load(path).signatures["serving_images"]
    blobs = [blob for entry, blob in itertools.islice(sources.iter_with_bytes(data), 200) if entry.verdict is None][:64]
    for blob in blobs[:10]:
        serve(image_bytes=tf.constant([blob]))
    latencies = []
    for i in range(singles):
        started = time.perf_counter()
        serve(image_bytes=tf.constant([blobs[i % len(blobs)]]))["probabilities"].numpy()
        latencies.append((time.perf_counter() - started) * 1000.0)
    batch = tf.constant([blobs[i % len(blobs)] for i in range(BATCH)])
    serve(image_bytes=batch)
    started = time.perf_counter()
    for _ in range(batches):
        serve(image_bytes=batch)["probabilities"].numpy()
    throughput = BATCH * batches / (time.perf_counter() - started)
    latencies.sort()
    report = {
        "model": path,
        "single_image_ms_p50": round(latencies[len(latencies) // 2], 2),
        "single_image_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "single_image_ms_mean": round(sum(latencies) / len(latencies), 2),
        "batch_32_images_per_second": round(throughput, 1),
        "requests": singles,
        "photos": len(blobs),
    }
    with open(output, "w") as f:
        json.dump(report, f, indent=2)
    return report
