"""Two nights of the compiled Vertex spec, dry run on the same work dir.

Night 1 runs the spec on a span root holding span 1 (4 photos of each class
cut from the sample); span 2 (4 other photos of each class) is added and the
same spec runs again in the same work dir, with `--warm-start`. The dry run's
artifact record stands in for Vertex's metadata store, so night 2's resolver
tasks find night 1's artifacts: the previous examples for the drift gate,
the latest model for the warm start, the latest blessed model for the
Evaluator. The KFP DAG has no window of spans (TFX's KFP v2 compiler compiles
no resolver over several artifacts): night 2's Trainer trains on span 2 alone.
"""

import glob
import json
import os
import time

import pytest

from pipeline import configs
from pipeline.dry_run import record as dry_run_record
from pipeline.dry_run import vertex as vertex_dry_run
from tests.helpers.spans import write_span


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("spans"))
    work_dir = str(tmp_path_factory.mktemp("dry_run_spans"))
    config = configs.RunConfig(data=root, output=work_dir, epochs=1, batch_size=8, augmentation="",
                               min_accuracy=0.0, warm_start=True)
    write_span(root, 1)
    spec_path = vertex_dry_run.compile_local(config, work_dir)
    runs, seconds = {}, {}
    for night in (1, 2):
        if night == 2:
            write_span(root, 2)  # the same spec runs again: a schedule runs one compiled spec every night
        start = time.monotonic()
        runs[night] = vertex_dry_run.run_spec(spec_path)
        seconds[night] = round(time.monotonic() - start, 1)
    print(f"dry run nights: {seconds} s")
    return {"spec": spec_path, "work_dir": work_dir, "seconds": seconds, **runs}


def _output(run, task, key="examples"):
    [artifact] = run.produced[task][key]
    return artifact


def _examples(uri):
    """{split: [filename, ...]} of an examples artifact."""
    import tensorflow as tf

    names = {}
    for split in ("train", "eval", "test"):
        files = sorted(glob.glob(os.path.join(uri, f"Split-{split}", "*")))
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
        names[split] = sorted(
            tf.train.Example.FromString(r.numpy()).features.feature["filename"].bytes_list.value[0].decode()
            for r in dataset
        )
    return names


def _drift(run):
    with open(_output(run, "DriftGate", "drift")["uri"]) as f:
        return json.load(f)


def _trainer_metrics(run):
    with open(os.path.join(_output(run, "Trainer", "model_run")["uri"], "metrics.json")) as f:
        return json.load(f)


def test_each_night_ingests_only_its_new_span(nights):
    for night in (1, 2):
        examples = _output(nights[night], "FileBasedExampleGen")
        assert examples["metadata"]["span"] == night
        names = _examples(examples["uri"])
        assert sum(len(n) for n in names.values()) == 20  # 4 photos x 5 classes: tonight's span only
        assert {name.split("/")[0] for n in names.values() for name in n} == {f"span-{night}"}
        with open(os.path.join(examples["uri"], "ingest_report.json")) as f:
            report = json.load(f)
        # Night 2 lists span 2's folder only, not the 40 photos under the root.
        assert (report["span"], report["files_seen"], report["ingested_total"]) == (night, 20, 20)
    # Both nights ran the whole spec in the same work dir, under their own job ids.
    assert nights[1].job_id != nights[2].job_id
    assert nights[1].root == nights[2].root


def test_night_2_resolved_night_1s_artifacts(nights):
    one, two = nights[1], nights[2]
    # On the first night the record is empty: every resolver resolves to nothing.
    assert all(not artifacts for resolved in one.resolved.values() for artifacts in resolved.values())
    assert two.resolved == {
        "previous_span_examples": {"baseline": [_output(one, "FileBasedExampleGen", "examples")["uri"]]},
        "latest_model_resolver": {"model": [_output(one, "Trainer", "model")["uri"]]},
        "latest_blessed_model_resolver-model-blessing-resolver": {
            "model_blessing": [_output(one, "Evaluator", "blessing")["uri"]]
        },
        "latest_blessed_model_resolver-model-resolver": {"model": [_output(one, "Trainer", "model")["uri"]]},
    }
    assert _output(one, "Evaluator", "blessing")["metadata"]["blessed"] == 1  # --min-accuracy 0, no baseline
    # Night 2's Evaluator compared its model with night 1's, found by name from night 1's blessing.
    night_1_model = _output(one, "Trainer", "model")["name"]
    assert _output(two, "Evaluator", "blessing")["metadata"]["baseline_model_id"] == night_1_model
    record = dry_run_record.ArtifactRecord(os.path.join(nights["work_dir"], dry_run_record.ARTIFACT_RECORD))
    assert record.data["runs"] == [one.job_id, two.job_id]
    assert {a["run"] for a in record.artifacts} == {one.job_id, two.job_id}
    assert len({a["name"] for a in record.artifacts}) == len(record.artifacts)  # names stay unique across runs


def test_the_drift_gate_compared_span_2_with_span_1(nights):
    assert _drift(nights[1])["previous_span"] is None  # nothing to compare on the first night
    drift = _drift(nights[2])
    assert (drift["span"], drift["previous_span"]) == (2, 1)
    assert drift["distance"]["label"] == 0.0  # both spans hold 4 photos of each class
    assert 0.0 < drift["distance"]["image"] < 0.5
    assert drift["p_value"]["label"] > 0.9  # the same label counts: no evidence of a change
    assert 0.0 < drift["p_value"]["image"] <= 1.0 and drift["over"] == []
    assert drift["current"]["examples"] == drift["previous"]["examples"] == 20
    assert drift["current"]["labels"] == drift["previous"]["labels"]
    assert sorted(drift["current"]["labels"].values()) == [4] * 5


def test_night_2_warm_started_from_night_1s_model(nights):
    assert _trainer_metrics(nights[1])["warm_started_from"] is None  # the first night starts cold
    night_1_model = _output(nights[1], "Trainer", "model")["uri"]
    assert _trainer_metrics(nights[2])["warm_started_from"].startswith(night_1_model + os.sep)


def test_the_kfp_trainer_trains_on_the_runs_own_span_only(nights):
    """No window on Vertex: the Trainer reads tonight's ExampleGen output, one artifact."""
    spec = json.loads(open(nights["spec"]).read())["pipelineSpec"]
    trainer_inputs = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["artifacts"]
    assert trainer_inputs["examples"]["taskOutputArtifact"]["producerTask"] == "FileBasedExampleGen"
    for night in (1, 2):
        metrics = _trainer_metrics(nights[night])
        train = _examples(_output(nights[night], "FileBasedExampleGen")["uri"])["train"]
        assert metrics["train_artifacts"] == 1
        assert metrics["train_examples"] == len(train)
        assert {name.split("/")[0] for name in train} == {f"span-{night}"}


def test_a_filter_the_dry_run_does_not_read_is_refused_in_one_sentence():
    with pytest.raises(ValueError) as err:
        dry_run_record.parse_filter("r", 'schema_title="tfx.Model" AND state=LIVE AND create_time>"2024"', {})
    message = str(err.value)
    assert "\n" not in message and message.count(". ") == 0 and message.endswith(".")
    assert message.startswith("task r: the dry run does not understand 'create_time>\"2024\"' in the resolver filter")
    with pytest.raises(ValueError, match="state=DELETED"):
        dry_run_record.parse_filter("r", 'schema_title="tfx.Model" AND state=DELETED', {})


def test_a_filter_matches_the_artifacts_the_spec_asks_for():
    def artifact(name, title, **metadata):
        return {"name": name, "schema_title": title, "state": "LIVE", "metadata": metadata}

    blessed = dry_run_record.parse_filter(
        "r", 'schema_title="tfx.ModelBlessing" AND state=LIVE AND metadata.blessed.number_value=1', {})
    assert blessed(artifact("a/1", "tfx.ModelBlessing", blessed=1.0))
    assert not blessed(artifact("a/2", "tfx.ModelBlessing", blessed=0.0))
    assert not blessed(artifact("a/3", "tfx.ModelBlessing"))
    assert not blessed(artifact("a/4", "tfx.Model", blessed=1))
    query = ('schema_title="tfx.Model" AND state=LIVE AND '
             "name=\"{{$.inputs.artifacts['input'].metadata['current_model_id']}}\"")
    inputs = {"input": {"artifacts": [{"name": "a/1", "metadata": {"current_model_id": "a/7"}}]}}
    model = dry_run_record.parse_filter("r", query, inputs)
    assert model(artifact("a/7", "tfx.Model")) and not model(artifact("a/8", "tfx.Model"))
    # No blessing resolved: no model either.
    nothing = dry_run_record.parse_filter("r", query, {"input": {"artifacts": []}})
    assert not nothing(artifact("a/7", "tfx.Model"))


def test_compile_takes_warm_start_and_accept_drift(tmp_path, monkeypatch):
    from pipeline import cli

    calls = []
    monkeypatch.setattr(vertex_dry_run, "dry_run_local",
                        lambda config, work_dir: calls.append(config) or {"pushed_model": None})
    assert cli.main(["compile", "--dry-run-local", str(tmp_path)]) == 0
    assert cli.main(["compile", "--dry-run-local", str(tmp_path), "--warm-start", "--accept-drift"]) == 0
    assert [(c.warm_start, c.accept_drift) for c in calls] == [(False, False), (True, True)]
