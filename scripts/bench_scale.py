"""Ingest + Transform at 1x and 10x: each stage's time and peak memory of the process tree.

    python scripts/bench_scale.py --data 1x=DIR/x1/flower_photos --data 10x=DIR/x10/flower_photos \\
        --work-dir WORK --output scale.json [--beam-arg=...]

For every data set, from an empty work dir (no cache), runs the pipeline up to
Transform (ExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator, the
gate, Transform) in this process, while a thread sums the resident memory of
this process and all its descendants (Beam's worker processes included) every
0.2 s. A stage's peak is the highest sum inside its MLMD execution window.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

import psutil

INTERVAL = 0.2


class TreeMemory:
    """Samples (time, RSS summed over this process and its descendants) in a thread."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def tree_rss() -> int:
        me = psutil.Process()
        total = 0
        for process in [me, *me.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:  # exited between listing and reading
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.tree_rss()))
            self._stop.wait(INTERVAL)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mib(self, start: float, end: float) -> float:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return round(max(inside, default=0) / 2**20, 1)


def run_one(data: str, work_dir: str, beam_args: list[str]) -> dict:
    from pipeline import configs, local_runner

    config = configs.RunConfig(data=data, output=work_dir, beam_args=beam_args)
    started = time.time()
    with TreeMemory() as memory:
        summary = local_runner.run(config, stop_after="Transform", enable_cache=False)
    ended = time.time()
    nodes = local_runner.read_run(config.metadata_path, started)
    stages = {
        name: {"seconds": node["seconds"], "peak_mib": memory.peak_mib(node["started"], node["ended"])}
        for name, node in sorted(nodes.items(), key=lambda kv: kv[1]["started"])
    }
    return {
        "data": data,
        "images": sum(v for k, v in summary["counts"].items() if k != "quarantined"),
        "stages": stages,
        "wall_seconds": round(ended - started, 1),
        "peak_mib": memory.peak_mib(started, ended),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", required=True, help="NAME=PATH, repeatable")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--beam-arg", action="append", default=[], dest="beam_args")
    args = parser.parse_args(argv)
    report: dict = {"beam_args": args.beam_args, "sets": {}}
    for item in args.data:
        name, sep, path = item.partition("=")
        if not sep:
            parser.error(f"--data {item!r}: give NAME=PATH, e.g. 1x=/data/x1/flower_photos")
        report["sets"][name] = run_one(path, os.path.join(args.work_dir, name), args.beam_args)
        print(json.dumps({name: report["sets"][name]}), flush=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
