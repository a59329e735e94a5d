"""`flowers bench`: input pipeline, Beam or serving throughput (`pipeline.bench.training_input`), as JSON."""

from __future__ import annotations

import argparse
import json

from pipeline.bench import training_input
from pipeline.cli.console import Console


def main(args: argparse.Namespace, console: Console) -> int:
    if args.warp:
        from pipeline.bench import warp

        report = warp.run_warp_bench(args.output)
    elif args.data_service:
        from components.trainer.augment import fused
        from pipeline.bench import service

        report = service.run_service_bench(args.data, args.output, args.work_dir, args.seed,
                                                 args.augmentation or fused.FULL_SPEC, args.data_service)
    elif args.serving_model:
        from pipeline.bench import serving

        report = serving.run_serving_bench(args.serving_model, args.data, args.output)
    elif args.training:
        from components.trainer.augment import fused
        from pipeline.bench import training_steps

        report = training_steps.run_training_bench(args.data, args.output, args.work_dir, args.seed,
                                                   args.augmentation or fused.DEFAULT_SPEC, args.rounds)
    elif args.beam:
        from pipeline.bench import beam

        report = beam.run_beam_bench(args.data, args.output, args.work_dir)
    else:
        from components.trainer.augment import fused

        report = training_input.run_bench(args.data, args.output, args.work_dir, args.seed,
                                 args.augmentation or fused.FULL_SPEC)
    console.line(json.dumps(report, indent=2))
    return 0
