"""The cache follows the data at any depth and the schema's content, and a failed
run never presents an earlier run's report (the ingest DAG on 25 real photos)."""

import json
import os
import shutil

import pytest

from pipeline import configs, metadata
from pipeline.runners import local
from tests.helpers import imagefiles

INGEST_NODES = ("FileBasedExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomaliesGate")
NESTED = os.path.join("daisy", "2024", "garden", "nested.jpg")  # four levels below the data root


def _states(config) -> dict[str, str]:
    nodes = metadata.read_run(config.metadata_path)
    return {name: nodes[name]["state"] for name in INGEST_NODES}


def _sample_photo(class_name: str) -> str:
    folder = os.path.join(configs.SAMPLE_DATA, class_name)
    return os.path.join(folder, sorted(os.listdir(folder))[0])


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """Two classes of the sample plus one photo four levels deep, ingested twice."""
    base = tmp_path_factory.mktemp("cache")
    data = imagefiles.copy_sample_classes(base / "photos")
    (data / NESTED).parent.mkdir(parents=True)
    shutil.copy(_sample_photo("dandelion"), data / NESTED)  # no copy of another photo: duplicates are skipped
    schema_dir = base / "schemas"
    shutil.copytree(configs.SCHEMA_DIR, schema_dir)
    config = configs.RunConfig(data=str(data), output=str(base / "out"), schema_dir=str(schema_dir))
    report = local.ingest(config)
    assert report["ingested_total"] == 25
    assert set(_states(config).values()) == {"COMPLETE"}
    local.ingest(config)
    assert set(_states(config).values()) == {"CACHED"}
    return config, data, schema_dir


def test_changing_a_nested_photo_reruns_ingestion_but_not_the_schema(ingested):
    config, data, _ = ingested
    shutil.copy(_sample_photo("tulips"), data / NESTED)  # new bytes, new size
    local.ingest(config)
    states = _states(config)
    assert states["ImportSchemaGen"] == "CACHED", states
    for node in ("FileBasedExampleGen", "StatisticsGen", "ExampleValidator", "AnomaliesGate"):
        assert states[node] == "COMPLETE", states


def test_editing_the_schema_reruns_what_reads_it_but_not_ingestion(ingested):
    config, _, schema_dir = ingested
    schema = schema_dir / "schema.pbtxt"
    text = schema.read_text()
    assert "max_image_byte_size: 20000000" in text
    schema.write_text(text.replace("max_image_byte_size: 20000000", "max_image_byte_size: 19000000"))
    local.ingest(config)
    states = _states(config)
    assert states["FileBasedExampleGen"] == "CACHED", states
    for node in ("ImportSchemaGen", "StatisticsGen", "ExampleValidator", "AnomaliesGate"):
        assert states[node] == "COMPLETE", states
    # The schema artifact holds the edited file, not the first one.
    schema_artifact = metadata.read_run(config.metadata_path)["ImportSchemaGen"]["outputs"]["Schema"]
    with open(os.path.join(schema_artifact.uri, "schema.pbtxt")) as f:
        assert "max_image_byte_size: 19000000" in f.read()


def test_the_root_steps_keys_hold_the_library_versions(ingested):
    from ml_metadata.proto import metadata_store_pb2

    from components import cache_keys

    config, _, _ = ingested
    store = metadata._store(config.metadata_path)
    versions = cache_keys.library_versions()
    assert versions.startswith("tensorflow 2.") and ", tfx 1." in versions
    types = {t.id: t.name for t in store.get_execution_types()}
    ran = {}  # a cached execution records no settings: the ones that ran hold the key
    for execution in store.get_executions():
        if execution.last_known_state == metadata_store_pb2.Execution.COMPLETE:
            ran.setdefault(types[execution.type_id].rsplit(".", 1)[-1], []).append(execution)
    assert len(ran["ExampleGen"]) >= 2 and len(ran["SchemaGen"]) >= 2
    for execution in ran["ExampleGen"] + ran["SchemaGen"]:
        assert execution.custom_properties[cache_keys.LIBRARY_VERSIONS_KEY].string_value == versions


def test_a_failed_run_presents_no_earlier_report(ingested):
    config, data, _ = ingested
    report_path = os.path.join(config.output, "ingest_report.json")
    summary_path = os.path.join(config.output, "run_summary.json")
    assert os.path.exists(report_path) and os.path.exists(summary_path)
    with open(summary_path) as f:
        earlier = json.load(f)
    away = str(data) + "_away"
    os.rename(data, away)  # the same source, gone: the run fails
    try:
        with pytest.raises(Exception, match=os.path.basename(str(data))):
            local.ingest(config)
    finally:
        os.rename(away, data)
    assert not os.path.exists(report_path)
    # The summary, when the failed run writes one, is its own: no earlier run's counts.
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            failed = json.load(f)
        assert failed["run_id"] != earlier["run_id"] and "counts" not in failed and not failed["blessed"]
