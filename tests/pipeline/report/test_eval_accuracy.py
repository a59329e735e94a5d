"""The eval accuracy is the candidate model's (and the baseline's its own), however TFMA orders its keys."""

import tensorflow as tf
import tensorflow_model_analysis as tfma
from google.protobuf import json_format
from tensorflow_model_analysis.proto import config_pb2, metrics_for_slice_pb2

from pipeline.report import finished_run


def _record(values, slice_label=None):
    record = metrics_for_slice_pb2.MetricsForSlice()
    if slice_label is not None:
        record.slice_key.single_slice_keys.add(column="label", int64_value=slice_label)
    for model_name, is_diff, value in values:
        item = record.metric_keys_and_values.add()
        item.key.name = "sparse_categorical_accuracy"
        item.key.model_name = model_name
        item.key.is_diff = is_diff
        item.value.double_value.value = value
    return record


def _write_evaluation(path, model_specs, records):
    run = config_pb2.EvalRun(eval_config=config_pb2.EvalConfig(model_specs=model_specs), version=tfma.VERSION_STRING)
    (path / "eval_config.json").write_text(json_format.MessageToJson(run))
    with tf.io.TFRecordWriter(str(path / "metrics.tfrecord")) as writer:
        for record in records:
            writer.write(record.SerializeToString())


def test_with_a_baseline_the_candidates_own_value_is_read(tmp_path):
    specs = [config_pb2.ModelSpec(name="candidate"), config_pb2.ModelSpec(name="baseline", is_baseline=True)]
    records = [
        _record([("candidate", False, 0.9)], slice_label=1),  # a slice, not the whole split
        _record([("candidate", True, 0.125), ("baseline", False, 0.5), ("candidate", False, 0.625)]),
    ]
    _write_evaluation(tmp_path, specs, records)
    assert finished_run.eval_accuracies(str(tmp_path)) == (0.625, 0.5)


def test_without_a_baseline_the_single_unnamed_model_is_read(tmp_path):
    _write_evaluation(tmp_path, [config_pb2.ModelSpec()], [_record([("", False, 0.375)])])
    assert finished_run.eval_accuracies(str(tmp_path)) == (0.375, None)
