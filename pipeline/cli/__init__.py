"""`python -m pipeline` / `flowers`: the product's command line.

This module only parses flags. Arguments are checked (`pipeline.cli.validate`)
before anything heavy is imported; each command then runs in its own module's
`main(args, console)`, inside a console session that sends library output to a
log file (`pipeline.cli.console`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys

from components.trainer import xla_flags
from pipeline import paths
from pipeline.cli import compile as compile_command
from pipeline.cli import console as console_lib
from pipeline.cli import data_service, preflight, settings, validate
from pipeline.runners import output_guard

COMMANDS = {
    "run": "pipeline.cli.run",
    "ingest": "pipeline.cli.run",
    "preview": "pipeline.cli.preview",
    "bench": "pipeline.cli.bench",
    "compile": "pipeline.cli.compile",
    "predict": "pipeline.cli.predict",
    "data-service": "pipeline.cli.data_service",
}
# Commands whose settings are RunConfig's (`pipeline.cli.settings`); --help shows their defaults.
_RUN_CONFIG_COMMANDS = ("run", "ingest", "compile", "preview")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        """One sentence and exit code 2, instead of the usage block."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help).\n")


class _HelpFormatter(argparse.HelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if default is None and self._prog.split()[-1] in _RUN_CONFIG_COMMANDS:
            from pipeline import configs

            default = getattr(configs.RunConfig, action.dest, None)
        if action.option_strings and default not in (None, False, [], "", argparse.SUPPRESS) and "default" not in text:
            text += f" (default: {default})"
        return text.replace("%", "%%")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="show library logs on the console too (they always go to the log file)")
    parser = _Parser(prog="flowers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[common],
                                   formatter_class=_HelpFormatter)

    settings.add_flags(command("run", "the whole DAG with LocalDagRunner"))
    settings.add_flags(command("ingest", "ExampleGen, statistics and validation only"), ingest_only=True)

    preview = command("preview", "a 3x3 grid of one photo under the training augmentation")
    preview.add_argument("--data", default=paths.SAMPLE_DATA,
                         help="a class folder, .tgz or .zip; its first photo is shown")
    preview.add_argument("--output", default="preview.png", help="the PNG file to write")
    preview.add_argument("--seed", type=int, help="seeds the augmentation draws")
    preview.add_argument("--augmentation", help="augmentation spec (default: every op, augment.FULL_SPEC)")

    bench = command("bench", "input pipeline throughput beside the tutorial's pipelines")
    bench.add_argument("--data", default=paths.SAMPLE_DATA, help="the photos to measure on (folder, .tgz, .zip, tfds:)")
    bench.add_argument("--output", default="bench.json", help="the JSON file the figures go to")
    bench.add_argument("--work-dir", default="out-bench", help="where ExampleGen and Transform write (cached)")
    bench.add_argument("--seed", type=int, default=0, help="seeds the augmentation draws")
    bench.add_argument("--augmentation", help="augmentation spec (default: every op, augment.FULL_SPEC)")
    bench.add_argument("--serving-model", help="instead: serving_images latency and batch throughput of this model")
    bench.add_argument("--data-service", nargs="?", const="local", metavar="grpc://HOST:PORT",
                       help="instead: the training input through tf.data service; alone, a local dispatcher "
                            "with one and then two worker processes")
    bench.add_argument("--warp", action="store_true",
                       help="instead: one augmentation pass on a batch, TF's warp kernel vs ours with and without XLA")
    bench.add_argument("--training", action="store_true",
                       help="instead: training steps per second with the augmentation in the input and in the "
                            "model (--augment-in), side by side (augmentation default: the Trainer's)")
    bench.add_argument("--rounds", type=int, default=3, help="with --training: turns of one epoch per placement")
    bench.add_argument("--beam", action="store_true",
                       help="instead: ExampleGen + Transform, DirectRunner in-process vs 2 worker processes")

    compile_command.add_parser(command("compile", "the KFP v2 / Vertex AI Pipelines spec of a run's settings"))

    data_service.add_parser(command("data-service", "tf.data service servers for the Trainer's input"))

    predict = command("predict", "classify image files with a pushed model")
    predict.add_argument("--model", required=True, help="a SavedModel, or the Pusher's base directory (newest version)")
    predict.add_argument("files", nargs="+", help="image files to classify")
    return parser


def _log_path(args: argparse.Namespace) -> str:
    if args.command in ("run", "ingest"):
        return console_lib.run_log_path(args.output)
    if args.command == "bench":
        return os.path.join(args.work_dir, "logs", "bench.log")
    return console_lib.default_log_path(args.command)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        preflight.check(args)
        args.listed_files = validate.check(args)
    except validate.UsageError as err:
        print(f"flowers {args.command}: {err}", file=sys.stderr, flush=True)
        return 2
    # A setting of the whole process and its children (Beam workers, data-service workers),
    # so it is made here, before anything compiles: components/trainer/xla_flags.py.
    xla_flags.set_at_process_start()
    try:
        with _held_output(args), console_lib.session(_log_path(args), verbose=args.verbose) as console:
            return _run_command(args, console)
    except (output_guard.OutputInUseError, output_guard.OtherSourceError) as err:
        print(f"flowers {args.command}: {err}.", file=sys.stderr, flush=True)
        return 2
    except console_lib.LogFileError as err:
        print(f"flowers {args.command}: {err}.", file=sys.stderr, flush=True)
        return 2
    except OSError as err:  # the log itself could not be written
        if not preflight.is_disk_full(err):
            raise
        print(preflight.disk_full_message(args.command, getattr(args, "output", None)), file=sys.stderr, flush=True)
        return 1


def _held_output(args: argparse.Namespace):
    """`run` and `ingest` hold their output before the log opens: a second run into it is refused before it
    writes anything there, the first run's log and report included (`pipeline.runners.output_guard`)."""
    if args.command not in ("run", "ingest"):
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    stack.enter_context(output_guard.hold(args.output, args.command))
    try:
        output_guard.check_source(args.output, args.data)
    except BaseException:
        stack.close()
        raise
    return stack


def _run_command(args: argparse.Namespace, console: console_lib.Console) -> int:
    try:
        return importlib.import_module(COMMANDS[args.command]).main(args, console)
    except validate.UsageError as err:  # a value only the command's first step can check (predict's model)
        console.error(f"flowers {args.command}: {err}")
        return 2
    except Exception as err:  # noqa: BLE001 - one line here, the traceback in the log
        logging.getLogger(__name__).exception("flowers %s failed", args.command)
        if preflight.is_disk_full(err):
            console.error(preflight.disk_full_message(args.command, getattr(args, "output", None), console.log_path))
            return 1
        message = (str(err).strip().splitlines() or [""])[0][:300]
        console.error(f"flowers {args.command}: {type(err).__name__}: {message} (log: {console.log_path})")
        return 1

if __name__ == "__main__":
    sys.exit(main())
