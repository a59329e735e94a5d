"""`flowers bench`: input pipeline, Beam or serving throughput (`pipeline.bench`), as JSON."""

from __future__ import annotations

import argparse
import json

from pipeline import bench
from pipeline.console import Console


def main(args: argparse.Namespace, console: Console) -> int:
    if args.warp:
        from pipeline import bench_warp

        report = bench_warp.run_warp_bench(args.output)
    elif args.data_service:
        from components import augment
        from pipeline import bench_service

        report = bench_service.run_service_bench(args.data, args.output, args.work_dir, args.seed,
                                                 args.augmentation or augment.FULL_SPEC, args.data_service)
    elif args.serving_model:
        from pipeline import bench_serving

        report = bench_serving.run_serving_bench(args.serving_model, args.data, args.output)
    elif args.beam:
        report = bench.run_beam_bench(args.data, args.output, args.work_dir)
    else:
        from components import augment

        report = bench.run_bench(args.data, args.output, args.work_dir, args.seed,
                                 args.augmentation or augment.FULL_SPEC)
    console.line(json.dumps(report, indent=2))
    return 0
