"""ExampleGen and the schema import, with cache keys computed where the step runs.

TFX reuses a step's earlier output when its inputs and settings are unchanged.
ExampleGen and the schema import have no input artifacts: what they read comes
from outside, so a driver adds its fingerprint (`components.ingest.data_fingerprint`) to the
step's settings just before the cache is looked up:

- `ExampleGen`: the data (every file below a folder at any depth, the archive
  file, or a TFDS dataset's prepared files), as `input_fingerprint`;
- `SchemaGen`: the schema file's content, as `schema_fingerprint`. TFX's
  ImportSchemaGen alone keys on the file's path, so an edited schema would keep
  its stale artifact and every step after it would be reused.

Both also add the TensorFlow and TFX versions of the process that runs them
(`library_versions`). Every other step takes their artifacts as inputs, so no
step's cached result crosses from one stack to the other. Locally, ExampleGen's
key also names the accepted earlier spans whose photos its duplicate check
reads (`accepted_earlier_examples`).

LocalDagRunner runs these drivers in-process. On Vertex AI / KFP v2 the same
code runs in the container as each task's pre-cache-check hook (`python -m
components.cache_keys`, set by `pipeline.runners.kubeflow_v2`), so nothing
measured on the compiling machine is baked into the spec.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from tfx.components import FileBasedExampleGen
from tfx.components.example_gen import driver as example_gen_driver
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.base import base_driver
from tfx.orchestration import data_types_utils
from tfx.orchestration.portable import base_driver as portable_driver
from tfx.proto import example_gen_pb2
from tfx.proto.orchestration import driver_output_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.ingest import data_fingerprint, executor, spans

SCHEMA_FINGERPRINT_KEY = "schema_fingerprint"
PRE_CACHE_CHECK_COMMAND = ["python", "-m", "components.cache_keys"]


LIBRARY_VERSIONS_KEY = "library_versions"


def library_versions() -> str:
    """The TensorFlow and TFX versions of the process that runs the step: in the two root steps' keys,
    so a step of another stack never reuses their artifacts, nor, through them, any step after them."""
    import tensorflow as tf
    from tfx import version as tfx_version

    return f"tensorflow {tf.__version__}, tfx {tfx_version.__version__}"


def accepted_earlier_examples(store, span: int) -> list[str]:
    """The URIs of the newest examples artifact of each accepted span below `span` (`components.lineage`)."""
    from components import lineage

    artifacts = []
    for context in store.get_contexts_by_type("node"):
        if context.name.endswith(".FileBasedExampleGen"):
            artifacts.extend(store.get_artifacts_by_context(context.id))
    types = {t.id: t.name for t in store.get_artifact_types()}
    examples = [a for a in artifacts if types.get(a.type_id) == "Examples"]
    accepted = lineage.newest_accepted_per_span(store, examples)
    return sorted(a.uri for s, a in accepted.items() if s < span)


def example_gen_properties(exec_properties: dict[str, Any], store=None) -> dict[str, Any]:
    """ExampleGen's settings with the data's span, version and fingerprint filled in.

    With a `span-{SPAN}/*` input pattern, TFX resolves the newest span (and writes
    its number into the pattern); the fingerprint is then that span's folder, at
    any depth. Any other source is span 0, fingerprinted whole. With a metadata
    `store` (LocalDagRunner), the accepted earlier spans' examples, whose photos
    the duplicate check knows, are named too; and the library versions always.
    """
    config = executor.read_custom_config(exec_properties)
    source = config["source"]
    span = 0
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
    if any("{SPAN}" in split.pattern for split in input_config.splits):
        _, span, _ = example_gen_utils.calculate_splits_fingerprint_span_and_version(source, input_config.splits)
        exec_properties[standard_component_specs.INPUT_CONFIG_KEY] = proto_utils.proto_to_json(input_config)
        source = spans.span_source(source, span)
    exec_properties[example_gen_utils.SPAN_PROPERTY_NAME] = span
    exec_properties[example_gen_utils.VERSION_PROPERTY_NAME] = None
    exec_properties[example_gen_utils.FINGERPRINT_PROPERTY_NAME] = data_fingerprint.data_fingerprint(
        source, config.get("tfds_data_dir") or None
    )
    exec_properties[LIBRARY_VERSIONS_KEY] = library_versions()
    if store is not None and span > 0:
        exec_properties[executor.EARLIER_EXAMPLES_KEY] = json.dumps(accepted_earlier_examples(store, span))
    return exec_properties


class ExampleGenDriver(example_gen_driver.FileBasedDriver):
    """TFX's ExampleGen driver, fingerprinting the whole source instead of one glob."""

    def resolve_exec_properties(self, exec_properties, pipeline_info, component_info):
        del pipeline_info, component_info
        with self._metadata_handle as handle:  # reference-counted: entering it again is safe
            return example_gen_properties(exec_properties, handle.store)


class SchemaDriver(base_driver.BaseDriver, portable_driver.BaseDriver):
    """Adds the schema file's content fingerprint to ImportSchemaGen's settings."""

    def __init__(self, metadata_handle):
        base_driver.BaseDriver.__init__(self, metadata_handle)
        portable_driver.BaseDriver.__init__(self, metadata_handle)

    def run(self, execution_info) -> driver_output_pb2.DriverOutput:
        result = driver_output_pb2.DriverOutput()
        schema_file = execution_info.exec_properties[standard_component_specs.SCHEMA_FILE_KEY]
        data_types_utils.set_metadata_value(
            result.exec_properties[SCHEMA_FINGERPRINT_KEY], data_fingerprint.file_fingerprint(schema_file)
        )
        data_types_utils.set_metadata_value(result.exec_properties[LIBRARY_VERSIONS_KEY], library_versions())
        return result


class ExampleGen(FileBasedExampleGen):
    """FileBasedExampleGen whose cache key follows every file of the source."""

    DRIVER_CLASS = ExampleGenDriver


class SchemaGen(ImportSchemaGen):
    """ImportSchemaGen whose cache key follows the schema file's content."""

    DRIVER_CLASS = SchemaDriver


def pre_cache_check(invocation_json: str) -> None:
    """The KFP v2 pre-cache-check hook: write this task's fingerprint where Vertex reads it."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.dsl.io import fileio
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as entrypoint

    executor_input = pipeline_spec_pb2.ExecutorInput()
    json_format.Parse(invocation_json, executor_input, ignore_unknown_fields=True)
    exec_properties = entrypoint.parse_execution_properties(
        executor_input.inputs.parameter_values, executor_input.inputs.parameters
    )
    output = pipeline_spec_pb2.ExecutorOutput()
    if standard_component_specs.SCHEMA_FILE_KEY in exec_properties:
        schema_file = exec_properties[standard_component_specs.SCHEMA_FILE_KEY]
        output.parameter_values[SCHEMA_FINGERPRINT_KEY].string_value = data_fingerprint.file_fingerprint(schema_file)
        output.parameter_values[LIBRARY_VERSIONS_KEY].string_value = library_versions()
    else:
        properties = example_gen_properties(exec_properties)
        output.parameter_values[example_gen_utils.SPAN_PROPERTY_NAME].number_value = properties[
            example_gen_utils.SPAN_PROPERTY_NAME
        ]
        output.parameter_values[example_gen_utils.FINGERPRINT_PROPERTY_NAME].string_value = properties[
            example_gen_utils.FINGERPRINT_PROPERTY_NAME
        ]
        output.parameter_values[standard_component_specs.INPUT_CONFIG_KEY].string_value = properties[
            standard_component_specs.INPUT_CONFIG_KEY
        ]
        output.parameter_values[LIBRARY_VERSIONS_KEY].string_value = properties[LIBRARY_VERSIONS_KEY]
        name_from_id: dict[int, str] = {}
        outputs = entrypoint.parse_raw_artifact_dict(executor_input.outputs.artifacts, name_from_id)
        examples = outputs[standard_component_specs.EXAMPLES_KEY][0]
        example_gen_driver.update_output_artifact(properties, examples.mlmd_artifact)
        output.artifacts[standard_component_specs.EXAMPLES_KEY].artifacts.add().CopyFrom(
            entrypoint.to_runtime_artifact(examples, name_from_id)
        )
    # The entrypoint of a spec compiled without pipeline spec 2.1 (ours) reads its
    # exec properties from the deprecated `parameters` field, not `parameter_values`:
    # write both, or the executor never sees the span the driver resolved.
    for key, value in output.parameter_values.items():
        legacy = output.parameters[key]
        if value.WhichOneof("kind") == "number_value":
            legacy.int_value = int(value.number_value)
        else:
            legacy.string_value = value.string_value
    output_file = executor_input.outputs.output_file
    fileio.makedirs(os.path.dirname(output_file))
    with fileio.open(output_file, "wb") as f:
        f.write(json_format.MessageToJson(output, sort_keys=True))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.cache_keys")
    parser.add_argument("--json_serialized_invocation_args", required=True)
    args, _beam_and_other_args = parser.parse_known_args(argv)
    pre_cache_check(args.json_serialized_invocation_args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
