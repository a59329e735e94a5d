"""One line per component, with what it produced and its time, and live progress while it runs.

LocalDagRunner runs the nodes one after another in this process and logs
`Component <id> is running.` / `is finished.` through absl; the launcher logs
`A cached execution ... is used.` for a cache hit. `StageView` is a logging
handler on those records and on the steps' own progress records
(`components.progress`). On a terminal a stage's `started` line is rewritten
in place by its live bar (tqdm) and then by its result line; in a pipe there
is no `started` line, and a plain line every `interval` seconds instead. A
stage without progress records of its own (Transform, StatisticsGen, the
Evaluator) gets a heartbeat with its elapsed time.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from components import progress
from pipeline.cli.console import Console
from pipeline.report.outcomes import display_name

_RUNNING = "Component %s is running."
_FINISHED = "Component %s is finished."
_CACHED = "A cached execution %d is used."
_WIDTH = 17


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


class StageView(logging.Handler):
    """Draws the pipeline's progress on `console` from log records.

    describe(node) says what a finished node produced; expected_files is the
    number of files ExampleGen will check, when the source was listed.
    """

    def __init__(self, console: Console, describe: Callable[[str], str],
                 expected_files: int | None = None, interval: float = 30.0):
        super().__init__(logging.INFO)
        self._console = console
        self._describe = describe
        self._expected_files = expected_files
        self._interval = interval
        self._state_lock = threading.RLock()
        self.current: str | None = None
        self.failed: str | None = None
        self._started = self._last_line = 0.0
        self._cached = False
        self._status = ""
        self._epochs_done = 0
        self._bar: tqdm | None = None
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    def attach(self) -> None:
        for name in ("absl", progress.LOGGER_NAME):
            logging.getLogger(name).addHandler(self)
        self._ticker.start()

    def detach(self) -> None:
        self._stop.set()
        for name in ("absl", progress.LOGGER_NAME):
            logging.getLogger(name).removeHandler(self)
        with self._state_lock:
            self._close_bar()

    def emit(self, record: logging.LogRecord) -> None:
        values = getattr(record, "progress", None)
        with self._state_lock:
            if values is not None:
                self._progress(values)
            elif record.msg == _RUNNING:
                self._start(str(record.args[0]))
            elif record.msg == _FINISHED:
                self._finish(str(record.args[0]))
            elif record.msg == _CACHED:
                self._cached = True

    def fail(self) -> str | None:
        """Close the running stage as failed; return its display name."""
        with self._state_lock:
            if self.current is None:
                return None
            name = display_name(self.current)
            self._close_bar()
            self._console.line(f"{name:<{_WIDTH}} failed   {_elapsed(time.monotonic() - self._started)}")
            self.failed, self.current = self.current, None
            return name

    def _start(self, node: str) -> None:
        self.current, self._cached, self._status, self._epochs_done = node, False, "", 0
        self._started = self._last_line = time.monotonic()
        name = display_name(node)
        self._console.status(f"{name:<{_WIDTH}} started")  # a terminal only, replaced by the stage's line
        if self._console.live:
            total = self._expected_files if node == "FileBasedExampleGen" else None
            self._open_bar(f"  {name}", total, "files checked" if total else "")

    def _finish(self, node: str) -> None:
        seconds = time.monotonic() - self._started
        self._close_bar()
        try:
            produced = self._describe(node)
        except Exception as err:  # noqa: BLE001 - a summary line must never end the run
            logging.getLogger(__name__).warning("cannot describe %s: %s", node, err)
            produced = "done"
        cached = ", cached" if self._cached else ""
        self._console.line(f"{display_name(node):<{_WIDTH}} {produced}{cached}   {_elapsed(seconds)}")
        self.current = None

    def _progress(self, values: dict[str, Any]) -> None:
        kind = values.get("kind")
        if kind == "epoch":
            self._close_bar()
            # The periodic line now says where training is: an epoch's step records stop when it ends, and a
            # short epoch may send none, so a step status of an earlier epoch must never outlive it.
            self._epochs_done = values["epoch"]
            self._status = f"epoch {values['epoch']}/{values['epochs']} done"
            shown = "  ".join(f"{k} {v:.4f}" for k, v in values["metrics"].items())
            self._console.line(f"  epoch {values['epoch']}/{values['epochs']}  {shown}  "
                               f"{values['rate']:,.0f} images/s  {_elapsed(values['seconds'])}")
            return
        if kind == "step":
            if values["epoch"] <= self._epochs_done:  # a record of an epoch already reported as done
                return
            self._status = (f"epoch {values['epoch']}/{values['epochs']}, step {values['step']}/{values['steps']}, "
                            f"{values['rate']:,.0f} images/s")
            if self._console.live:
                if self._bar is None or self._bar.total != values["steps"]:
                    self._open_bar(f"  epoch {values['epoch']}/{values['epochs']}", values["steps"], "steps")
                self._bar.set_description_str(f"  epoch {values['epoch']}/{values['epochs']}", refresh=False)
                self._bar.set_postfix_str(f"{values['rate']:,.0f} images/s", refresh=False)
                self._bar.update(values["step"] - self._bar.n)
            return
        if "count" in values:
            total = f" of {self._expected_files:,}" if self._expected_files else ""
            self._status = f"{values['count']:,}{total} files checked"
            if self._bar is not None:
                self._bar.update(values["count"] - self._bar.n)

    def _open_bar(self, description: str, total: int | None, unit: str) -> None:
        self._close_bar()
        if total:
            fmt = "{desc}  {bar:30} {n_fmt}/{total_fmt} " + unit + "  {elapsed}{postfix}"
        else:
            fmt = "{desc}  running  {elapsed}"
        self._bar = tqdm(total=total, desc=description, bar_format=fmt, file=self._console.out,
                         leave=False, ncols=shutil.get_terminal_size().columns, mininterval=0.2)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._state_lock:
                if self.current is None:
                    continue
                if self._bar is not None:
                    self._bar.refresh()
                now = time.monotonic()
                if not self._console.live and now - self._last_line >= self._interval:
                    self._last_line = now
                    self._console.line(self.periodic_line(now))

    def periodic_line(self, now: float) -> str:
        """The line a pipe gets every `interval` seconds while a stage runs: its latest state."""
        return f"  {display_name(self.current)}  {self._status or 'running'}  {_elapsed(now - self._started)}"
