"""Run the ExampleGen executor for real (Beam) on files a test writes, and read its splits back."""

import json
import os

import tensorflow as tf
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import features
from components.ingest import executor

SPLITS = ("train", "eval", "test")


def run_executor(source, out_dir, class_names=features.TF_FLOWERS_CLASSES, max_fraction=1.0, beam_args=(), **config):
    examples = standard_artifacts.Examples()
    examples.uri = str(out_dir)
    output_config = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=8),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1),
                example_gen_pb2.SplitConfig.Split(name="test", hash_buckets=1),
            ],
            partition_feature_name="filename",
        )
    )
    exec_properties = {
        "input_base": str(source),
        "input_config": proto_utils.proto_to_json(
            example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern="*/*")])
        ),
        "output_config": proto_utils.proto_to_json(output_config),
        "custom_config": proto_utils.proto_to_json(
            executor.make_custom_config(str(source), class_names, max_quarantine_fraction=max_fraction, **config)
        ),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    context = executor.Executor.Context(beam_pipeline_args=list(beam_args)) if beam_args else None
    executor.Executor(context).Do({}, {"examples": [examples]}, exec_properties)
    with open(os.path.join(out_dir, executor.REPORT_FILE)) as f:
        return json.load(f)


def read_split(out_dir, split):
    files = tf.io.gfile.glob(os.path.join(out_dir, f"Split-{split}", "*"))
    rows = {}
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        example = tf.train.Example.FromString(record.numpy())
        feature = example.features.feature
        rows[feature["filename"].bytes_list.value[0].decode()] = (
            feature["label"].int64_list.value[0],
            feature["image"].bytes_list.value[0],
        )
    return rows


def write_files(root, files):
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
