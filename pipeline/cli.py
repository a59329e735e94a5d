"""`python -m pipeline` / `flowers`: the product's command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

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
    run.add_argument("--min-accuracy", type=float, default=configs.RunConfig.min_accuracy,
                     help="eval accuracy a model needs to be blessed and pushed")

    ingest = commands.add_parser("ingest", help="ExampleGen, statistics and validation only")
    _add_run_flags(ingest, "out")

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

    from pipeline import local_runner

    config = _config(args)
    if args.command == "ingest":
        summary = local_runner.ingest(config)
        print(json.dumps({k: summary[k] for k in ("files_seen", "ingested_total")}))
        print(f"report: {os.path.join(config.output, 'ingest_report.json')}")
        return 0
    summary = local_runner.run(config)
    print(local_runner.format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
