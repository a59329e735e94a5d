"""Progress from inside the steps, as log records that a console can draw.

A step may run in this process (LocalDagRunner), in Beam worker processes, or in
a container on Vertex AI, so it never prints: it logs to the `flowers.progress`
logger with a `progress` dict attached to the record. The command line's
console (`pipeline/cli/stage_lines.py`) draws these records as live bars or periodic
lines; anywhere else they are ordinary log lines. Records are throttled, so
logging them costs nothing measurable.
"""

from __future__ import annotations

import logging
import numbers
import threading
import time
from typing import Any

import tf_keras as keras

LOGGER_NAME = "flowers.progress"
_logger = logging.getLogger(LOGGER_NAME)


def report(stage: str, message: str, **values: Any) -> None:
    """One progress record: `message` for a log file, `values` for a live view."""
    _logger.info(message, extra={"progress": dict(values, stage=stage)})


class Counter:
    """A count that logs itself at most every `interval` seconds, from any thread."""

    def __init__(self, stage: str, what: str, interval: float = 0.5):
        self._stage = stage
        self._what = what
        self._interval = interval
        self._count = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self._count += n
            now = time.monotonic()
            if now - self._last < self._interval:
                return
            self._last = now
            count = self._count
        report(self._stage, f"{count:,} {self._what}", count=count)


# ExampleGen's image check counts every file it judges (in this process under
# the in-process DirectRunner; per worker process otherwise).
FILES_CHECKED = Counter("FileBasedExampleGen", "files checked")


class TrainingProgress(keras.callbacks.Callback):
    """Steps within an epoch and one record per epoch, with images per second.

    Images per second counts `batch_size` per step, so a last partial batch
    makes it a slight overestimate.
    """

    def __init__(self, batch_size: int, interval: float = 0.5):
        super().__init__()
        self._batch_size = batch_size
        self._interval = interval
        self._started = self._last = 0.0
        self._epoch = 0

    def _totals(self) -> tuple[int, int]:
        return int(self.params.get("epochs") or 0), int(self.params.get("steps") or 0)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch + 1
        self._started = self._last = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        epochs, steps = self._totals()
        rate = (batch + 1) * self._batch_size / max(now - self._started, 1e-9)
        report("Trainer", f"epoch {self._epoch}/{epochs} step {batch + 1}/{steps} {rate:.0f} images/s",
               kind="step", epoch=self._epoch, epochs=epochs, step=batch + 1, steps=steps, rate=rate)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.monotonic() - self._started
        epochs, steps = self._totals()
        rate = steps * self._batch_size / max(seconds, 1e-9)
        metrics = {k: round(float(v), 4) for k, v in (logs or {}).items() if isinstance(v, numbers.Real)}
        shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        report("Trainer", f"epoch {epoch + 1}/{epochs}  {shown}  {rate:.0f} images/s  {seconds:.1f} s",
               kind="epoch", epoch=epoch + 1, epochs=epochs, metrics=metrics, rate=rate, seconds=seconds)
