"""The Beam stages on a real Flink cluster give what the DirectRunner gives.

ExampleGen, StatisticsGen and Transform, then the Evaluator, run on a Flink 1.19 session cluster (a
JobManager and a TaskManager, separate JVMs on 127.0.0.1, with Beam's Flink job
server: tests/helpers/flink_cluster.py) by the Beam arguments a user passes,
through the project's own DAG (`local.run(..., stop_after="Transform")`), and
the Evaluator's executor on the model the DirectRunner's run trained. That run,
the DirectRunner's side, is the suite's shared run of the whole DAG on the same
photos (`first_run`, tests/conftest.py).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from components import features
from pipeline import configs, metadata
from pipeline.runners import local
from tests.helpers import flink_cluster

SPLITS = ("train", "eval", "test")
# TFDV's quantiles sketch: a boundary may sit this fraction of the examples off its rank.
QUANTILES_EPSILON = 0.01


@pytest.fixture(scope="module")
def flink(tmp_path_factory):
    cluster = flink_cluster.FlinkCluster(str(tmp_path_factory.mktemp("flink-cluster")))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def runs(flink, first_run, tmp_path_factory):
    """{"direct": nodes, "flink": nodes}: the DirectRunner's and Flink's outputs per node."""
    config = configs.RunConfig(output=str(tmp_path_factory.mktemp("flink-run")), beam_args=flink.beam_args())
    local.run(config, stop_after="Transform")
    return {"direct": metadata.read_run(first_run[0].metadata_path, run_id=first_run[1]["run_id"]),
            "flink": metadata.read_run(config.metadata_path)}


def _uri(nodes, node, type_name):
    return nodes[node]["outputs"][type_name].uri


def _records(examples_uri, split):
    files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _stats(statistics_uri, split):
    import tensorflow_data_validation as tfdv

    stats = tfdv.load_stats_binary(os.path.join(statistics_uri, f"Split-{split}", "FeatureStats.pb"))
    return stats.datasets[0]


def test_the_jobs_ran_on_the_cluster(runs, flink):
    """One Flink job per Beam stage, none failed: the stages did not fall back to a local runner."""
    overview = flink.overview()
    assert overview["jobs-failed"] == 0
    assert overview["jobs-finished"] >= 2  # ExampleGen and StatisticsGen at least
    assert overview["taskmanagers"] == 1
    for node in ("FileBasedExampleGen", "StatisticsGen", "Transform"):
        assert runs["flink"][node]["state"] == "COMPLETE", node


def test_same_examples_in_every_split(runs):
    direct, on_flink = (_uri(runs[k], "FileBasedExampleGen", "Examples") for k in ("direct", "flink"))
    total = 0
    for split in SPLITS:
        records = _records(on_flink, split)
        assert len(records) == len(set(records))
        assert set(records) == set(_records(direct, split)), split
        total += len(records)
    assert total == sum(len(files) for _, _, files in os.walk(configs.SAMPLE_DATA))


def _sorted_values(examples_uri, split, feature):
    values = []
    for record in _records(examples_uri, split):
        kind = tf.train.Example.FromString(record).features.feature[feature]
        values += list(kind.int64_list.value) + list(kind.float_list.value)
    return np.sort(values)


def test_same_statistics(runs):
    direct, on_flink = (_uri(runs[k], "StatisticsGen", "ExampleStatistics") for k in ("direct", "flink"))
    examples = _uri(runs["flink"], "FileBasedExampleGen", "Examples")
    for split in SPLITS:
        ours, theirs = _stats(on_flink, split), _stats(direct, split)
        assert ours.num_examples == theirs.num_examples > 0
        features = {f.path.step[-1]: f for f in theirs.features}
        assert {f.path.step[-1] for f in ours.features} == set(features)
        for feature in ours.features:
            name, other = feature.path.step[-1], features[feature.path.step[-1]]
            assert feature.type == other.type, name
            if not feature.HasField("num_stats"):
                continue
            mine, base = feature.num_stats, other.num_stats
            assert mine.common_stats.num_non_missing == base.common_stats.num_non_missing, name
            assert (mine.mean, mine.min, mine.max, mine.num_zeros) == pytest.approx(
                (base.mean, base.min, base.max, base.num_zeros), rel=1e-9), name
            standard = [h for h in mine.histograms if h.type == h.STANDARD]
            assert [(b.low_value, b.high_value, b.sample_count) for h in standard for b in h.buckets] == [
                (b.low_value, b.high_value, b.sample_count)
                for h in base.histograms if h.type == h.STANDARD for b in h.buckets], name
            values = _sorted_values(examples, split, name)
            for h in mine.histograms:
                if h.type == h.QUANTILES:
                    _check_quantiles(h, values, name)


def _check_quantiles(histogram, values, name):
    """Each boundary lies between the true values `QUANTILES_EPSILON` of the examples either side of its rank."""
    n, k = len(values), len(histogram.buckets)
    for i, bucket in enumerate(histogram.buckets):
        rank = i / k
        low = values[max(0, int(np.floor((rank - QUANTILES_EPSILON) * n)))]
        high = values[min(n - 1, int(np.ceil((rank + QUANTILES_EPSILON) * n)))]
        assert low <= bucket.low_value <= high, (name, i, bucket.low_value, low, high)


def test_same_transform_output_on_the_same_photos(runs):
    import tensorflow_transform as tft

    examples = _uri(runs["flink"], "FileBasedExampleGen", "Examples")
    raw = [tf.train.Example.FromString(r) for r in _records(examples, "eval")[:6]]
    outputs = {}
    for runner in ("direct", "flink"):
        graph = tft.TFTransformOutput(_uri(runs[runner], "Transform", "TransformGraph"))
        spec = graph.raw_feature_spec()
        parsed = tf.io.parse_example([e.SerializeToString() for e in raw], spec)
        outputs[runner] = {k: v.numpy() for k, v in graph.transform_features_layer()(parsed).items()}
    assert set(outputs["flink"]) == set(outputs["direct"])
    assert outputs["flink"][features.TRANSFORMED_IMAGE_KEY].shape == (len(raw), 180, 180, 3)
    for key, value in outputs["flink"].items():
        np.testing.assert_array_equal(value, outputs["direct"][key], err_msg=key)


def _metrics(evaluation_uri):
    import tensorflow_model_analysis as tfma

    return {(item.key.name, item.key.model_name, item.key.is_diff): round(item.value.double_value.value, 6)
            for record in tfma.load_metrics(evaluation_uri) for item in record.metric_keys_and_values}


def test_same_evaluation_of_the_same_model(runs, flink, first_run, tmp_path):
    """TFMA's Beam job on Flink: the DirectRunner run's model on its eval split, against that run's Evaluator."""
    from tfx.components.evaluator import executor
    from tfx.types import artifact_utils, standard_artifacts
    from tfx.types import standard_component_specs as specs
    from tfx.utils import proto_utils

    from pipeline import pipeline as pipeline_lib

    direct = runs["direct"]
    examples, model = standard_artifacts.Examples(), standard_artifacts.Model()
    examples.uri, model.uri = _uri(direct, "FileBasedExampleGen", "Examples"), _uri(direct, "Trainer", "Model")
    examples.split_names = artifact_utils.encode_split_names(list(SPLITS))
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(tmp_path / "evaluation"), str(tmp_path / "blessing")
    context = executor.Executor.Context(beam_pipeline_args=flink.beam_args(), tmp_dir=str(tmp_path / "tmp"),
                                        unique_id="flink")
    finished = flink.overview()["jobs-finished"]
    executor.Executor(context).Do(
        {specs.EXAMPLES_KEY: [examples], specs.MODEL_KEY: [model]},
        {specs.EVALUATION_KEY: [evaluation], specs.BLESSING_KEY: [blessing]},
        {specs.EVAL_CONFIG_KEY: proto_utils.proto_to_json(pipeline_lib.make_eval_config(first_run[0].min_accuracy)),
         specs.EXAMPLE_SPLITS_KEY: '["eval"]'},
    )
    assert flink.overview()["jobs-finished"] == finished + 1
    ours, theirs = _metrics(evaluation.uri), _metrics(_uri(direct, "Evaluator", "ModelEvaluation"))
    count = ("example_count", "", False)
    assert ours[count] == len(_records(examples.uri, "eval")) > 0
    assert {k: v for k, v in ours.items() if not k[2]} == {k: v for k, v in theirs.items() if not k[2]}
