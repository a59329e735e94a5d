"""Ingest + Transform at 1x and 10x: each stage's time and peak memory of the process tree.

    python benchmarks/bench_scale.py --data 1x=DIR/x1/flower_photos --data 10x=DIR/x10/flower_photos \\
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
import time

from pipeline import metadata
from pipeline.bench.memory import RssSampler

INTERVAL = 0.2


def run_one(data: str, work_dir: str, beam_args: list[str]) -> dict:
    from pipeline import configs
    from pipeline.runners import local

    config = configs.RunConfig(data=data, output=work_dir, beam_args=beam_args)
    started = time.time()
    with RssSampler(INTERVAL, tree=True) as memory:
        summary = local.run(config, stop_after="Transform", enable_cache=False)
    ended = time.time()
    nodes = metadata.read_run(config.metadata_path, started)
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
