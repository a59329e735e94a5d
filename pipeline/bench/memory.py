"""Resident memory sampled in a thread while a benchmark runs: this process alone, or with its children.

A process's peak RSS only ever grows, so it cannot tell two pipelines of one
process apart; a thread samples the current RSS instead, every `interval`
seconds, and a figure is read from the samples of a time window.
"""

from __future__ import annotations

import threading
import time

import psutil


def rss(tree: bool = False) -> int:
    """Resident bytes of this process, plus every descendant's with `tree` (Beam's worker processes)."""
    me = psutil.Process()
    total = 0
    for process in [me, *me.children(recursive=True)] if tree else [me]:
        try:
            total += process.memory_info().rss
        except psutil.Error:  # exited between listing and reading
            pass
    return total


class RssSampler:
    """`with RssSampler() as memory:` samples (time, RSS) until the block ends."""

    def __init__(self, interval: float = 0.02, tree: bool = False) -> None:
        self._interval, self._tree = interval, tree
        self.start_rss = rss(tree)
        self.samples: list[tuple[float, int]] = [(time.time(), self.start_rss)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.samples.append((time.time(), rss(self._tree)))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), rss(self._tree)))

    @property
    def growth_mb(self) -> float:
        """The highest RSS sampled, less the RSS when the sampler was made, in MiB."""
        return round((max(r for _, r in self.samples) - self.start_rss) / 2**20, 1)

    def peak_mib(self, start: float, end: float) -> float:
        """The highest RSS sampled between `start` and `end` (epoch seconds), in MiB."""
        return round(max((r for t, r in self.samples if start <= t <= end), default=0) / 2**20, 1)
