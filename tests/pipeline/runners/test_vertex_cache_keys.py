"""On Vertex AI the cache keys are computed in the step's container, never baked into
the compiled spec: ExampleGen's and ImportSchemaGen's pre-cache-check hooks run
`components.cache_keys`, and no core count of the compiling machine is in it."""

import json
import os
import re

import pytest

from components import cache_keys
from components.ingest import data_fingerprint
from pipeline import configs
from pipeline.runners import kubeflow_v2
from tests.helpers import imagefiles

IMAGE = "us-docker.pkg.dev/p/flowers/flowers-tfx:test"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    base = tmp_path_factory.mktemp("vertex")
    data = imagefiles.copy_sample_classes(base / "photos")
    config = configs.RunConfig(data=str(data), output="gs://bucket/flowers")
    job = kubeflow_v2.compile_pipeline(config, str(base / "pipeline.json"), IMAGE, "gs://bucket/root",
                                              class_names=("daisy", "roses"))
    assert json.loads((base / "pipeline.json").read_text()) == job
    return base, data, job["pipelineSpec"]


def _executor(spec, task):
    label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"]


def _invocation(spec, task, output_file, artifacts=None):
    """The ExecutorInput Vertex hands a task's hook: the compiled parameters as constants."""
    parameters = {}
    for name, value in spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"].items():
        parameters[name] = value["runtimeValue"]["constantValue"]
    outputs = {"outputFile": str(output_file), "artifacts": artifacts or {}}
    return json.dumps({"inputs": {"parameters": parameters}, "outputs": outputs})


def test_no_fingerprint_or_core_count_is_baked_into_the_spec(compiled):
    base, data, spec = compiled
    text = json.dumps(spec)
    assert "sha256:" not in text and data_fingerprint.data_fingerprint(str(data)) not in text
    # A worker count, if any, is 0: Beam counts the cores where the step runs.
    assert set(re.findall(r"--direct_num_workers=(\d+)", text)) <= {"0"}
    for task in ("FileBasedExampleGen", "ImportSchemaGen"):
        hook = _executor(spec, task)["lifecycle"]["preCacheCheck"]
        assert hook["command"] == cache_keys.PRE_CACHE_CHECK_COMMAND
        assert hook["args"][:2] == ["--json_serialized_invocation_args", "{{$}}"]


def test_the_example_gen_hook_fingerprints_every_file_where_it_runs(compiled):
    base, data, spec = compiled
    artifacts = {"examples": {"artifacts": [
        {"name": "projects/p/artifacts/examples", "type": {"schemaTitle": "tfx.Examples"}, "uri": str(base / "ex")}
    ]}}

    def hook_output():
        out = base / "driver_output.json"
        assert cache_keys.main(["--json_serialized_invocation_args",
                                   _invocation(spec, "FileBasedExampleGen", out, artifacts)]) == 0
        return json.loads(out.read_text())

    first = hook_output()
    value = first["parameterValues"]["input_fingerprint"]
    assert value == data_fingerprint.data_fingerprint(str(data))
    examples = first["artifacts"]["examples"]["artifacts"][0]
    assert examples["metadata"]["input_fingerprint"] == value and first["parameterValues"]["span"] == 0
    assert first["parameterValues"][cache_keys.LIBRARY_VERSIONS_KEY] == cache_keys.library_versions()
    # The entrypoint of our (pre-2.1) spec reads the deprecated `parameters`: the span is there too.
    assert first["parameters"]["span"] == {"intValue": "0"}
    assert first["parameters"]["input_fingerprint"] == {"stringValue": value}
    nested = data / "daisy" / "a" / "b" / "deep.jpg"
    nested.parent.mkdir(parents=True)
    nested.write_bytes(b"not yet a photo")
    assert hook_output()["parameterValues"]["input_fingerprint"] != value


def test_the_schema_hook_fingerprints_the_schema_content(compiled, tmp_path):
    base, _, spec = compiled
    out = tmp_path / "schema_hook.json"
    assert cache_keys.main(["--json_serialized_invocation_args", _invocation(spec, "ImportSchemaGen", out)]) == 0
    schema_file = os.path.join(configs.SCHEMA_DIR, "schema.pbtxt")
    assert json.loads(out.read_text())["parameterValues"] == {
        cache_keys.SCHEMA_FINGERPRINT_KEY: data_fingerprint.file_fingerprint(schema_file),
        cache_keys.LIBRARY_VERSIONS_KEY: cache_keys.library_versions(),  # measured where the step runs
    }
