"""Stop a Keras fit that stops receiving batches, instead of waiting forever.

A tf.data service client waits for workers as long as it takes: if every
worker is gone, `fit` blocks in C++ inside its train function, where no Python
exception can reach it. So `fit` runs in the caller's thread, each of its
training steps under a TensorFlow cancellation manager (the mechanism
`tf.distribute`'s ClusterCoordinator uses to cancel its functions), and a
watchdog thread watches the time of every finished batch. Once no batch has
finished for `stall_seconds`, the watchdog cancels the running step: its
blocked `GetNext` ends with a CancelledError, `fit` returns through it, and
the caller gets an InputStalledError. No thread is left holding the model or the
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


class _Watch(keras.callbacks.Callback):
    """Notes the time of every finished batch, and runs each training step under a cancellation
    manager of its own: a step that fails (even with the end of a dataset) cancels its manager for
    good, so none is shared. Validation reads no service and runs without one."""

    def __init__(self):
        super().__init__()
        self.last = time.monotonic()
        self.stalled_for: float | None = None
        self._lock = threading.Lock()
        self._step: tuple[cancellation.CancellationManager, cancellation.CancellationManagerContext] | None = None

    def _tick(self, *_args, **_kwargs) -> None:
        self.last = time.monotonic()

    on_test_batch_end = on_epoch_end = on_train_begin = _tick

    def on_train_batch_begin(self, batch, logs=None) -> None:
        with self._lock:
            manager = cancellation.CancellationManager()
            if self.stalled_for is not None:  # stalled between steps: this one ends at once
                manager.start_cancel()
            self._step = manager, cancellation.CancellationManagerContext(manager)
            self._step[1].__enter__()

    def on_train_batch_end(self, batch, logs=None) -> None:
        self.leave()
        self._tick()

    def leave(self) -> None:
        with self._lock:
            if self._step is not None:
                self._step[1].__exit__(None, None, None)
                self._step = None

    def cancel(self, idle: float) -> None:
        with self._lock:
            self.stalled_for = idle
            if self._step is not None:
                self._step[0].start_cancel()


def fit_watched(fit: Callable[[list], Any], stall_seconds: float, source: str, poll_seconds: float = 0.5) -> Any:
    """`fit(extra_callbacks)` in this thread; cancelled, and InputStalledError naming `source`, on a stall."""
    watch = _Watch()
    finished = threading.Event()

    def watchdog() -> None:
        while not finished.wait(poll_seconds):
            idle = time.monotonic() - watch.last
            if idle > stall_seconds:
                watch.cancel(idle)
                return

    watcher = threading.Thread(target=watchdog, name="fit-watchdog", daemon=True)
    watcher.start()
    try:
        return fit([watch])
    except tf.errors.CancelledError:
        if watch.stalled_for is None:
            raise
        raise InputStalledError(
            f"no batch from {source} for {watch.stalled_for:.0f} s: are its workers running? "
            "(`flowers data-service worker --dispatcher HOST:PORT`)"
        ) from None
    finally:
        finished.set()
        watcher.join()
        watch.leave()
