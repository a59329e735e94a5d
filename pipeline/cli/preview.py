"""`flowers preview`: one photo under the training augmentation, as a 3x3 grid PNG."""

from __future__ import annotations

import argparse
import os

import tensorflow as tf

from components.ingest import sources
from components.trainer.augment import preview, spec_parser
from pipeline.cli.console import Console


def write_preview(data: str, output: str, spec: str, seed: int) -> str:
    path, encoded = sources.first_photo(data)
    png = tf.io.encode_png(preview.augmentation_grid(encoded, spec, seed))
    parent = os.path.dirname(output)
    if parent:
        tf.io.gfile.makedirs(parent)
    tf.io.write_file(output, png)
    return path


def main(args: argparse.Namespace, console: Console) -> int:
    from pipeline import configs

    spec = args.augmentation or spec_parser.FULL_SPEC
    source = write_preview(args.data, args.output, spec, configs.RunConfig.seed if args.seed is None else args.seed)
    console.line(f"{args.output}: {source} under {spec}")
    return 0
