"""Every input of a step is in its cache key by content: drift.json, the vocabulary, the code of every
custom step and resolver strategy (the library versions: tests/components/test_cache_keys.py)."""

import json
import shutil

from components import code_fingerprints, features
from pipeline import configs
from pipeline import pipeline as pipeline_lib
from tests.helpers.spans import write_span


def _nodes(config, class_names=features.TF_FLOWERS_CLASSES):
    pipeline = pipeline_lib.create_pipeline(config, class_names)
    return {node.id: node for node in pipeline.components}


def test_drift_json_enters_the_gates_settings_by_content(tmp_path):
    schema_dir = tmp_path / "schemas"
    shutil.copytree(configs.SCHEMA_DIR, schema_dir)
    config = configs.RunConfig(output=str(tmp_path / "out"), schema_dir=str(schema_dir))
    before = _nodes(config)["DriftGate"].exec_properties["drift_config"]
    assert json.loads(before)["significance"] == 0.0025
    (schema_dir / "drift.json").write_text(json.dumps({"significance": 0.01}))
    after = _nodes(config)["DriftGate"].exec_properties["drift_config"]
    assert json.loads(after) == {"significance": 0.01}  # the same path, another key


def test_the_vocabulary_enters_ingestions_and_the_trainers_settings(tmp_path):
    from components.ingest import executor

    config = configs.RunConfig(output=str(tmp_path / "out"))
    names = ("daisy", "roses", "tulips")
    nodes = _nodes(config, names)
    trainer = nodes["Trainer"].exec_properties["custom_config"]
    assert json.loads(trainer)["class_names"] == list(names)
    custom = executor.read_custom_config(nodes["FileBasedExampleGen"].exec_properties)
    assert custom["class_names"] == list(names)


def test_every_custom_step_and_resolver_carries_its_codes_fingerprint(tmp_path):
    root = tmp_path / "spans"
    write_span(str(root), 1)
    nodes = _nodes(configs.RunConfig(data=str(root), output=str(tmp_path / "out")))
    expected = code_fingerprints.all_fingerprints()
    assert nodes["AnomaliesGate"].exec_properties["code_fingerprint"] == expected["AnomaliesGate"]
    assert nodes["DriftGate"].exec_properties["code_fingerprint"] == expected["DriftGate"]
    for resolver in ("span_window", "previous_span_examples"):
        assert nodes[resolver]._config["code_fingerprint"] == expected["span_resolvers"]  # noqa: SLF001
