"""`python -m pipeline` / `flowers`: the product's command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from components import augment, labels  # noqa: E402
from pipeline import configs  # noqa: E402


def _add_run_flags(parser: argparse.ArgumentParser, output_default: str) -> None:
    parser.add_argument("--data", default=configs.SAMPLE_DATA,
                        help="class folder, .tgz of one, or tfds:tf_flowers (default: the bundled sample)")
    parser.add_argument("--output", default=output_default, help="where artifacts, metadata and the summary go")
    parser.add_argument("--beam-arg", action="append", default=[], dest="beam_args",
                        help="a Beam pipeline argument, repeatable, e.g. --beam-arg=--runner=DataflowRunner")
    parser.add_argument("--max-quarantined", type=float, default=configs.RunConfig.max_quarantined,
                        help="fail when more than this fraction of files is quarantined (default 0.01)")
    parser.add_argument("--schema-dir", default=configs.SCHEMA_DIR)
    parser.add_argument("--tfds-data-dir", default=None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the whole DAG with LocalDagRunner")
    _add_run_flags(run, "out")
    run.add_argument("--epochs", type=int, default=configs.RunConfig.epochs)
    run.add_argument("--seed", type=int, default=configs.RunConfig.seed)
    run.add_argument("--batch-size", type=int, default=configs.RunConfig.batch_size)
    run.add_argument("--augmentation", default=configs.RunConfig.augmentation,
                     help="augmentation spec, e.g. 'flip(horizontal)|rotate(0.2)|zoom(0.1)'")
    run.add_argument("--learning-rate", type=float, default=configs.RunConfig.learning_rate)
    run.add_argument("--lr-schedule", choices=["constant", "cosine"], default=configs.RunConfig.lr_schedule)
    run.add_argument("--patience", type=int, default=configs.RunConfig.patience,
                     help="stop when eval accuracy has not improved for this many epochs (0: never)")
    run.add_argument("--min-accuracy", type=float, default=configs.RunConfig.min_accuracy,
                     help="eval accuracy a model needs to be blessed and pushed")

    ingest = commands.add_parser("ingest", help="ExampleGen, statistics and validation only")
    _add_run_flags(ingest, "out")

    preview = commands.add_parser("preview", help="a 3x3 grid of one photo under the training augmentation")
    preview.add_argument("--data", default=configs.SAMPLE_DATA)
    preview.add_argument("--output", default="preview.png")
    preview.add_argument("--seed", type=int, default=configs.RunConfig.seed)
    preview.add_argument("--augmentation", default=augment.FULL_SPEC)

    bench = commands.add_parser("bench", help="input pipeline throughput beside the tutorial's pipelines")
    bench.add_argument("--data", default=configs.SAMPLE_DATA)
    bench.add_argument("--output", default="bench.json")
    bench.add_argument("--work-dir", default="out-bench", help="where ExampleGen and Transform write (cached)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--augmentation", default=augment.FULL_SPEC)
    bench.add_argument("--serving-model", default=None,
                       help="instead: serving_images latency and batch throughput of this pushed model")
    bench.add_argument("--beam", action="store_true",
                       help="instead: ExampleGen + Transform, DirectRunner in-process vs 2 worker processes")

    compile_ = commands.add_parser("compile", help="the KFP v2 / Vertex AI Pipelines spec (JSON)")
    compile_.add_argument("--target", choices=["vertex", "kubeflow"], default="vertex",
                          help="both compile the same KFP v2 spec")
    compile_.add_argument("--output", default="pipeline.json")
    compile_.add_argument("--image", default="gcr.io/YOUR_PROJECT/flowers-tfx:latest",
                          help="the image built from the Dockerfile")
    compile_.add_argument("--pipeline-root", default="gs://YOUR_BUCKET/flowers/tfx")
    compile_.add_argument("--data", default="/pipeline/data/flower_photos_sample",
                          help="as the components see it: gs://... or a path inside the image")
    compile_.add_argument("--schema-dir", default="/pipeline/schemas")
    compile_.add_argument("--serving-root", default="gs://YOUR_BUCKET/flowers",
                          help="the Pusher writes SERVING_ROOT/serving_model/<version>")
    compile_.add_argument("--beam-arg", action="append", default=[], dest="beam_args")
    compile_.add_argument("--epochs", type=int, default=configs.RunConfig.epochs)
    compile_.add_argument("--classes", default=",".join(labels.TF_FLOWERS_CLASSES),
                          help="comma-separated class names, in label order")
    compile_.add_argument("--vertex-project", help="train on Vertex AI with a GPU in this project")
    compile_.add_argument("--vertex-region", default="us-central1")
    compile_.add_argument("--machine-type", default="n1-standard-8")
    compile_.add_argument("--accelerator-type", default="NVIDIA_TESLA_T4")
    compile_.add_argument("--accelerator-count", type=int, default=1)
    compile_.add_argument("--dry-run-local", metavar="DIR",
                          help="instead: compile for DIR (pipeline and serving root) and run every task here")

    predict = commands.add_parser("predict", help="classify image files with a pushed model")
    predict.add_argument("--model", required=True, help="a SavedModel, or the Pusher's base directory (newest version)")
    predict.add_argument("files", nargs="+")
    return parser


def _config(args: argparse.Namespace) -> configs.RunConfig:
    fields = {f.name for f in dataclasses.fields(configs.RunConfig)}
    values = {k: v for k, v in vars(args).items() if k in fields}
    return configs.RunConfig(**values)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "predict":
        from pipeline import predict

        for line in predict.predict_files(args.model, args.files):
            print(json.dumps(line), flush=True)
        return 0

    if args.command == "preview":
        from pipeline import preview

        source = preview.write_preview(args.data, args.output, args.augmentation, args.seed)
        print(f"{args.output}: {source} under {args.augmentation}")
        return 0
    if args.command == "bench":
        from pipeline import bench

        if args.serving_model:
            report = bench.run_serving_bench(args.serving_model, args.data, args.output)
        elif args.beam:
            report = bench.run_beam_bench(args.data, args.output, args.work_dir)
        else:
            report = bench.run_bench(args.data, args.output, args.work_dir, args.seed, args.augmentation)
        print(json.dumps(report, indent=2))
        return 0

    if args.command == "compile":
        from pipeline import kubeflow_v2_runner

        config = configs.RunConfig(
            data=args.data, output=args.serving_root, schema_dir=args.schema_dir,
            beam_args=args.beam_args, epochs=args.epochs,
        )
        if args.dry_run_local:
            from pipeline import vertex_dry_run

            if args.vertex_project:
                print("flowers compile: --dry-run-local cannot run the Vertex AI training job", file=sys.stderr)
                return 2
            print(json.dumps(vertex_dry_run.dry_run_local(config, args.dry_run_local), indent=2))
            return 0
        vertex = None
        if args.vertex_project:
            vertex = {
                "project": args.vertex_project, "region": args.vertex_region, "machine_type": args.machine_type,
                "accelerator_type": args.accelerator_type, "accelerator_count": args.accelerator_count,
            }
        spec = kubeflow_v2_runner.compile_pipeline(
            config, args.output, args.image, args.pipeline_root,
            class_names=tuple(args.classes.split(",")), vertex_training=vertex,
        )
        tasks = sorted(spec["pipelineSpec"]["root"]["dag"]["tasks"])
        print(f"{args.output}: {len(tasks)} tasks ({', '.join(tasks)}), image {args.image}")
        return 0

    from components import example_gen, validation_gate

    config = _config(args)
    try:
        return _run_pipeline(args.command, config)
    except (example_gen.IngestRejectedError, validation_gate.DataAnomaliesError) as err:
        print(f"flowers {args.command}: {err}", file=sys.stderr)
        report = os.path.join(config.output, example_gen.REPORT_FILE)
        if os.path.exists(report):
            print(f"report: {report}", file=sys.stderr)
        return 1


def _run_pipeline(command: str, config: configs.RunConfig) -> int:
    from pipeline import local_runner

    if command == "ingest":
        summary = local_runner.ingest(config)
        counts = {k: summary[k] for k in ("files_seen", "ingested_total")}
        counts.update(quarantined=len(summary["quarantined"]), skipped=len(summary["skipped"]))
        print(json.dumps(counts))
        print(f"report: {os.path.join(config.output, 'ingest_report.json')}")
        return 0
    summary = local_runner.run(config)
    print(local_runner.format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
