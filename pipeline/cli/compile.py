"""`flowers compile`: the KFP v2 / Vertex AI spec of a run's settings (`pipeline.runners.kubeflow_v2`), or that
spec run here (`pipeline.dry_run.vertex`, with `--dry-run-local DIR`).

The settings are `flowers run`'s (`pipeline.cli.settings`), so a run tuned
locally compiles with the same flags. `--target` picks what the file holds:
`vertex`, the PipelineJob (the spec and its pipeline root in `runtimeConfig`)
that Vertex AI Pipelines and `aiplatform.PipelineJob(template_path=...)` take;
`kubeflow`, the PipelineSpec alone as YAML with the root as its
`defaultPipelineRoot`, which is what a Kubeflow Pipelines 2 server takes
(`kfp.Client().upload_pipeline`, or the UI): it refuses a PipelineJob. The
Vertex AI training job (`--vertex-project`) is Vertex's only.
"""

from __future__ import annotations

import argparse
import json
import os

from pipeline import configs, paths
from pipeline.cli import settings
from pipeline.cli.console import Console

TARGETS = ("vertex", "kubeflow")
DEFAULT_OUTPUT = {"vertex": "pipeline.json", "kubeflow": "pipeline.yaml"}


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", choices=TARGETS, default="vertex",
                        help="vertex: a PipelineJob JSON for Vertex AI Pipelines; kubeflow: the PipelineSpec YAML a "
                             "Kubeflow Pipelines 2 server uploads (no --vertex-project)")
    parser.add_argument("--output", help="the spec to write, local or gs:// (default: pipeline.json for vertex, "
                                         "pipeline.yaml for kubeflow)")
    parser.add_argument("--image", default="gcr.io/YOUR_PROJECT/flowers-tfx:latest",
                        help="the image built from the Dockerfile")
    parser.add_argument("--pipeline-root", default="gs://YOUR_BUCKET/flowers/tfx",
                        help="where the cloud run writes its artifacts")
    parser.add_argument("--serving-root", default="gs://YOUR_BUCKET/flowers",
                        help="the Pusher writes SERVING_ROOT/serving_model/<version>")
    settings.add_flags(parser, skip=("output",), defaults={
        "data": (_in_image(paths.SAMPLE_DATA), "as the components see it: gs://... or a path inside the image"),
        "schema_dir": (_in_image(paths.SCHEMA_DIR), "the folder holding schema.pbtxt, as the components see it"),
        "classes": (os.path.join(paths.SCHEMA_DIR, "class_names.txt"),
                    "the label vocabulary: one class name a line, in label order, read here (the run's pinned "
                    "OUTPUT/class_names.txt, to deploy what a local run trained)"),
    })
    parser.add_argument("--vertex-project", help="train on Vertex AI with a GPU in this project")
    parser.add_argument("--vertex-region", default="us-central1", help="the region of the Vertex AI training job")
    parser.add_argument("--machine-type", default="n1-standard-8", help="the training job's machine type")
    parser.add_argument("--accelerator-type", default="NVIDIA_TESLA_T4", help="the training job's GPU type")
    parser.add_argument("--accelerator-count", type=int, default=1, help="GPUs on the training machine")
    parser.add_argument("--dry-run-local", metavar="DIR",
                        help="instead: compile for DIR (pipeline and serving root) and run every task here")


def _in_image(path: str) -> str:
    """A path of this repository as the image has it, under its WORKDIR."""
    return configs.IMAGE_WORKDIR + "/" + os.path.relpath(path, paths.REPO_ROOT).replace(os.sep, "/")


def main(args: argparse.Namespace, console: Console) -> int:
    """`flowers compile`: write the spec, name its tasks."""
    from components import vocabulary

    config = settings.config_from_args(args, output=args.serving_root)
    if args.dry_run_local:
        from pipeline.dry_run import vertex as vertex_dry_run

        console.line(json.dumps(vertex_dry_run.dry_run_local(config, args.dry_run_local), indent=2))
        return 0
    from pipeline.runners import kubeflow_v2

    vertex = None
    if args.vertex_project:
        vertex = {
            "project": args.vertex_project, "region": args.vertex_region, "machine_type": args.machine_type,
            "accelerator_type": args.accelerator_type, "accelerator_count": args.accelerator_count,
        }
    output = args.output or DEFAULT_OUTPUT[args.target]
    spec = kubeflow_v2.compile_pipeline(config, output, args.image, args.pipeline_root,
                                        class_names=vocabulary.read(args.classes), vertex_training=vertex,
                                        target=args.target)
    tasks = sorted(kubeflow_v2.pipeline_spec(spec)["root"]["dag"]["tasks"])
    console.line(f"{output}: {len(tasks)} tasks ({', '.join(tasks)}), image {args.image}, for {args.target}")
    return 0
