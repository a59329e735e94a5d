"""Fail a Keras fit that stops receiving batches, instead of waiting forever.

A tf.data service client waits for workers as long as it takes: if every
worker is gone, `fit` blocks in C++ and no Python exception can reach it. The
watchdog runs `fit` in a thread, notes the time of every finished batch, and
raises in the caller's thread once no batch has finished for `stall_seconds`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import tf_keras as keras


class InputStalledError(TimeoutError):
    """No training or validation batch finished for too long."""


class _Progress(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.last = time.monotonic()

    def _tick(self, *_args, **_kwargs) -> None:
        self.last = time.monotonic()

    on_train_batch_end = on_test_batch_end = on_epoch_end = on_train_begin = _tick


def fit_watched(fit: Callable[[list], Any], stall_seconds: float, source: str) -> Any:
    """`fit(extra_callbacks)` in a thread; InputStalledError naming `source` on a stall."""
    progress = _Progress()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = fit([progress])
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = err

    thread = threading.Thread(target=run, name="fit", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(timeout=0.5)
        stalled = time.monotonic() - progress.last
        if thread.is_alive() and stalled > stall_seconds:
            raise InputStalledError(
                f"no batch from {source} for {stalled:.0f} s: are its workers running? "
                "(`flowers data-service worker --dispatcher HOST:PORT`)"
            )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
