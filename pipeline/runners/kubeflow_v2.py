"""Compile the same DAG to a KFP v2 / Vertex AI Pipelines job spec (JSON).

Nothing runs here: `KubeflowV2DagRunner` only writes the spec, which Vertex AI
Pipelines (or KFP v2) then runs with every component in `image` (see the
Dockerfile). Paths in the config are compiled as given, so on the cloud `data`,
`schema_dir` and `output` (the Pusher's `serving_model` sits under it) should be
gs:// paths or paths inside the image.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import tensorflow as tf
from tfx import v1 as tfx

from components import cache_keys
from pipeline import configs
from pipeline import pipeline as pipeline_lib

DEFAULT_IMAGE = "gcr.io/YOUR_PROJECT/flowers-tfx:latest"
DEFAULT_MACHINE_TYPE = "n1-standard-8"
DEFAULT_ACCELERATOR_TYPE = "NVIDIA_TESLA_T4"


@dataclasses.dataclass
class RemoteRunConfig(configs.RunConfig):
    """A RunConfig whose pipeline root is given (a gs:// path), not derived from `output`."""

    remote_pipeline_root: str = ""

    @property
    def pipeline_root(self) -> str:
        return self.remote_pipeline_root


def vertex_trainer_factory(image: str, vertex_training: dict[str, Any]):
    """A `trainer_factory` for `create_pipeline`: the Trainer as a Vertex AI custom job.

    `vertex_training` holds `project` and `region`, and optionally `machine_type`,
    `accelerator_type` and `accelerator_count`. The run_fn settings in the
    Trainer's custom_config are kept; the Vertex keys are added beside them.
    """
    ai_platform = tfx.extensions.google_cloud_ai_platform
    machine_spec = {
        "machine_type": vertex_training.get("machine_type", DEFAULT_MACHINE_TYPE),
        "accelerator_type": vertex_training.get("accelerator_type", DEFAULT_ACCELERATOR_TYPE),
        "accelerator_count": vertex_training.get("accelerator_count", 1),
    }
    vertex_config = {
        ai_platform.ENABLE_VERTEX_KEY: True,
        ai_platform.VERTEX_REGION_KEY: vertex_training["region"],
        ai_platform.TRAINING_ARGS_KEY: {
            "project": vertex_training["project"],
            "worker_pool_specs": [
                {"machine_spec": machine_spec, "replica_count": 1, "container_spec": {"image_uri": image}}
            ],
        },
    }

    def make_trainer(*, custom_config: dict[str, Any] | None = None, **kwargs: Any):
        return ai_platform.Trainer(custom_config={**(custom_config or {}), **vertex_config}, **kwargs)

    return make_trainer


def compile_pipeline(
    config: configs.RunConfig,
    output_file: str,
    image: str,
    pipeline_root: str,
    class_names: tuple[str, ...] | None = None,
    vertex_training: dict | None = None,
    target: str = "vertex",
    stop_after: str | None = None,
) -> dict:
    """Build `create_pipeline(...)` for `pipeline_root`, write its spec to `output_file`, return what was written.

    `target` "vertex": the PipelineJob (JSON), the pipeline root in its runtimeConfig, as Vertex AI Pipelines
    takes it. "kubeflow": the PipelineSpec alone (YAML), the root as its defaultPipelineRoot, as a Kubeflow
    Pipelines 2 server takes it (its API server reads a PipelineSpec document and refuses a PipelineJob).
    `stop_after` compiles the DAG up to that component only (`pipeline.create_pipeline`).
    """
    if target not in ("vertex", "kubeflow"):
        raise ValueError(f"target must be vertex or kubeflow, not {target!r}")
    if target == "kubeflow" and vertex_training:
        raise ValueError("a Vertex AI training job (vertex_training) does not run on Kubeflow Pipelines")
    if class_names is None:  # the dry run: its data and schema folder are on this machine
        from components import vocabulary
        from pipeline import paths
        from pipeline.runners import local

        schema_dir = config.schema_dir if os.path.isdir(config.schema_dir) else paths.SCHEMA_DIR
        class_names = (vocabulary.read(config.classes) if config.classes
                       else local.discover_classes(config.data, schema_dir, config.tfds_data_dir))
    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(configs.RunConfig)}
    remote_config = RemoteRunConfig(**values, remote_pipeline_root=pipeline_root)
    trainer_factory = vertex_trainer_factory(image, vertex_training) if vertex_training else None
    pipeline = pipeline_lib.create_pipeline(
        remote_config, tuple(class_names), trainer_factory=trainer_factory, for_kfp=True, stop_after=stop_after
    )
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
    )
    job = runner.run(pipeline, write_out=False)
    hook_fingerprints_in_containers(job["pipelineSpec"])
    output_dir = os.path.dirname(output_file)  # "" means the working directory; gs:// works too
    if output_dir:
        tf.io.gfile.makedirs(output_dir)
    if target == "kubeflow":
        import yaml

        job = {**job["pipelineSpec"], "defaultPipelineRoot": pipeline_root}
    with tf.io.gfile.GFile(output_file, "w") as f:
        if target == "kubeflow":
            yaml.safe_dump(job, f, sort_keys=True)
        else:
            json.dump(job, f, sort_keys=True)
    return job


def pipeline_spec(written: dict[str, Any]) -> dict[str, Any]:
    """The PipelineSpec of what `compile_pipeline` wrote: a Vertex PipelineJob's, or a Kubeflow spec itself."""
    return written.get("pipelineSpec", written)


def hook_fingerprints_in_containers(pipeline_spec: dict[str, Any]) -> None:
    """Make ExampleGen and ImportSchemaGen compute their cache keys in their containers.

    TFX compiles ExampleGen's pre-cache-check hook to its own driver, which
    fingerprints one glob of files; ImportSchemaGen gets none. Both hooks run
    `components.cache_keys` instead (see there).
    """
    executors = pipeline_spec["deploymentSpec"]["executors"]
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    for task in ("FileBasedExampleGen", "ImportSchemaGen"):
        label = pipeline_spec["components"][tasks[task]["componentRef"]["name"]]["executorLabel"]
        container = executors[label]["container"]
        hook = container.setdefault("lifecycle", {}).setdefault("preCacheCheck", {})
        hook["command"] = list(cache_keys.PRE_CACHE_CHECK_COMMAND)
        hook.setdefault("args", ["--json_serialized_invocation_args", "{{$}}"])
