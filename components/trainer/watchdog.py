"""Stop a Keras fit that stops receiving batches, instead of waiting forever.

A tf.data service client waits for workers as long as it takes: if every
worker is gone, `fit` blocks in C++ inside its train function, where no Python
exception can reach it. So `fit` runs in the caller's thread under a
TensorFlow cancellation manager (the mechanism `tf.distribute`'s
ClusterCoordinator uses to cancel its functions), and a watchdog thread notes
the time of every finished batch. Once no batch has finished for
`stall_seconds`, the watchdog cancels: the blocked step (its iterator's
`GetNext`) ends with a CancelledError, `fit` returns through it, and the
caller gets an InputStalledError. No thread is left holding the model or the
iterators.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import tensorflow as tf
import tf_keras as keras
from tensorflow.python.eager import cancellation


class InputStalledError(TimeoutError):
    """No training or validation batch finished for too long."""


class _Progress(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.last = time.monotonic()

    def _tick(self, *_args, **_kwargs) -> None:
        self.last = time.monotonic()

    on_train_batch_end = on_test_batch_end = on_epoch_end = on_train_begin = _tick


def fit_watched(fit: Callable[[list], Any], stall_seconds: float, source: str, poll_seconds: float = 0.5) -> Any:
    """`fit(extra_callbacks)` in this thread; cancelled, and InputStalledError naming `source`, on a stall."""
    progress = _Progress()
    manager = cancellation.CancellationManager()
    finished = threading.Event()
    stalled: list[float] = []

    def watch() -> None:
        while not finished.wait(poll_seconds):
            idle = time.monotonic() - progress.last
            if idle > stall_seconds:
                stalled.append(idle)
                manager.start_cancel()
                return

    watcher = threading.Thread(target=watch, name="fit-watchdog", daemon=True)
    watcher.start()
    try:
        with cancellation.CancellationManagerContext(manager):
            return fit([progress])
    except tf.errors.CancelledError:
        if not stalled:
            raise
        raise InputStalledError(
            f"no batch from {source} for {stalled[0]:.0f} s: are its workers running? "
            "(`flowers data-service worker --dispatcher HOST:PORT`)"
        ) from None
    finally:
        finished.set()
        watcher.join()
