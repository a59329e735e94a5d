"""`flowers compile`: the KFP v2 / Vertex AI spec (`pipeline.runners.kubeflow_v2`), or that spec run here
(`pipeline.runners.vertex_dry_run`, with `--dry-run-local DIR`).

The command lives apart from both so that neither imports the other: the dry run
compiles through `kubeflow_v2`, and this module picks one of the two.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from components import vocabulary
from pipeline import configs
from pipeline.cli.console import Console
from pipeline.runners import kubeflow_v2, vertex_dry_run


def main(args: argparse.Namespace, console: Console) -> int:
    """`flowers compile`: write the spec, name its tasks."""
    config = configs.RunConfig(data=args.data, output=args.serving_root, schema_dir=args.schema_dir,
                               beam_args=args.beam_args)
    if args.epochs is not None:
        config = dataclasses.replace(config, epochs=args.epochs)
    if args.data_service:
        config = dataclasses.replace(config, data_service=args.data_service)
    if args.augment_in:
        config = dataclasses.replace(config, augment_in=args.augment_in)
    if args.warm_start:
        config = dataclasses.replace(config, warm_start=True)
    if args.accept_drift:
        config = dataclasses.replace(config, accept_drift=True)
    if args.dry_run_local:
        console.line(json.dumps(vertex_dry_run.dry_run_local(config, args.dry_run_local), indent=2))
        return 0
    vertex = None
    if args.vertex_project:
        vertex = {
            "project": args.vertex_project, "region": args.vertex_region, "machine_type": args.machine_type,
            "accelerator_type": args.accelerator_type, "accelerator_count": args.accelerator_count,
        }
    spec = kubeflow_v2.compile_pipeline(config, args.output, args.image, args.pipeline_root,
                            class_names=vocabulary.read(args.classes), vertex_training=vertex)
    tasks = sorted(spec["pipelineSpec"]["root"]["dag"]["tasks"])
    console.line(f"{args.output}: {len(tasks)} tasks ({', '.join(tasks)}), image {args.image}")
    return 0
