"""Run a compiled KFP v2 / Vertex AI spec on this machine, task by task, as the cloud would.

A test harness, not a runner: it proves that the commands in the spec work
before an image is built and a paid run starts. Each container task runs in a
subprocess of this venv with the command and arguments exactly as the spec
gives them (`python` is this interpreter), after the placeholders are filled
the way the KFP v2 launcher fills them: `{{$}}` is the task's ExecutorInput as
JSON (parameters from the spec, input artifacts from the upstream tasks'
executor output files, output artifacts under the pipeline root). A local
directory stands in for gs://. A task's driver (`lifecycle.preCacheCheck`, the
FileBasedExampleGen's span and fingerprint) runs first with the same input;
the launcher then copies the artifact properties it wrote into the task's
output artifacts, and the entrypoint reads its updated parameters from the
shared output file. There is no metadata store, so every dry run is a first
run: resolver tasks (the latest blessed model) resolve to nothing, as on a
pipeline's first run on Vertex.

The working directory of every task is the repository, as /pipeline is in the
image (Dockerfile WORKDIR), and paths under /pipeline in the spec are read from
the repository.
"""

from __future__ import annotations

import copy
import dataclasses
import graphlib
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

from pipeline import configs

IMAGE_WORKDIR = "/pipeline"
ARTIFACT_NAME = "projects/local/locations/local/metadataStores/default/artifacts/{}"
LOG_TAIL_LINES = 30


def local_path(path: str) -> str:
    """A path inside the image (under /pipeline) as the same file in this repository."""
    if path == IMAGE_WORKDIR or path.startswith(IMAGE_WORKDIR + "/"):
        return str(configs.REPO_ROOT) + path[len(IMAGE_WORKDIR) :]
    return path


def compile_local(config: configs.RunConfig, work_dir: str) -> str:
    """Compile `config` with WORK_DIR/tfx as the pipeline root and WORK_DIR as the serving root.

    Returns the path of the written spec, WORK_DIR/pipeline.json.
    """
    from pipeline.runners import kubeflow_v2

    work_dir = os.path.abspath(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    local = dataclasses.replace(
        config, output=work_dir, data=local_path(config.data), schema_dir=local_path(config.schema_dir)
    )
    spec_path = os.path.join(work_dir, "pipeline.json")
    kubeflow_v2.compile_pipeline(local, spec_path, "local-dry-run", local.pipeline_root)
    return spec_path


def task_order(dag: dict[str, Any]) -> list[str]:
    """Task names in an order where every task comes after the tasks it depends on."""
    graph = {}
    for name, task in sorted(dag["tasks"].items()):
        upstream = set(task.get("dependentTasks", []))
        for channel in task.get("inputs", {}).get("artifacts", {}).values():
            upstream.add(channel["taskOutputArtifact"]["producerTask"])
        graph[name] = sorted(upstream)
    return list(graphlib.TopologicalSorter(graph).static_order())


def _parameters(task_name: str, task: dict[str, Any]) -> tuple[dict, dict]:
    """The task's constant parameters, as `parameters` (KFP Value) and `parameterValues` (plain)."""
    legacy, plain = {}, {}
    for key, value in task.get("inputs", {}).get("parameters", {}).items():
        constant = value.get("runtimeValue", {}).get("constantValue")
        if constant is None:
            raise ValueError(f"task {task_name}: parameter {key} is {value}; the dry run takes constant values only")
        legacy[key] = constant
        kind, raw = next(iter(constant.items()))
        plain[key] = int(raw) if kind == "intValue" else raw
    return legacy, plain


class DryRun:
    """One dry run of a compiled job spec: the pipeline root, the artifacts made so far."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.spec = job["pipelineSpec"]
        self.root = job["runtimeConfig"]["gcsOutputDirectory"]
        # A new job id per run, as Vertex gives each run its own task directories.
        self.job_id = time.strftime("dry-run-%Y%m%d-%H%M%S")
        self.log_dir = os.path.join(self.root, self.job_id, "logs")
        self.produced: dict[str, dict[str, list[dict]]] = {}  # task -> output key -> artifacts
        self._artifact_count = 0

    def _component(self, task: dict[str, Any]) -> dict[str, Any]:
        return self.spec["components"][task["componentRef"]["name"]]

    def executor_input(self, task_name: str) -> dict[str, Any]:
        """The ExecutorInput the KFP v2 launcher would hand this task."""
        task = self.spec["root"]["dag"]["tasks"][task_name]
        component = self._component(task)
        input_types = component.get("inputDefinitions", {}).get("artifacts", {})
        inputs: dict[str, Any] = {}
        for key, channel in task.get("inputs", {}).get("artifacts", {}).items():
            source = channel["taskOutputArtifact"]
            artifacts = copy.deepcopy(self.produced[source["producerTask"]][source["outputArtifactKey"]])
            for artifact in artifacts:  # executor outputs carry no type; the launcher adds it from MLMD
                artifact["type"] = input_types[key]["artifactType"]
            inputs[key] = {"artifacts": artifacts}
        task_root = os.path.join(self.root, self.job_id, task_name)
        # On Vertex the artifacts live in a bucket, which needs no folders; a local
        # disk does (a value artifact such as DriftGate's is a file in this folder).
        os.makedirs(task_root, exist_ok=True)
        outputs = {}
        for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
            self._artifact_count += 1
            artifact = {
                "name": ARTIFACT_NAME.format(self._artifact_count),
                "type": definition["artifactType"],
                "uri": os.path.join(task_root, key),
                "metadata": {},
            }
            outputs[key] = {"artifacts": [artifact]}
        parameters, parameter_values = _parameters(task_name, task)
        return {
            "inputs": {"artifacts": inputs, "parameters": parameters, "parameterValues": parameter_values},
            "outputs": {"artifacts": outputs, "outputFile": os.path.join(task_root, "executor_output.json")},
        }

    def run_task(self, task_name: str) -> None:
        """Run one task (its driver first, if it has one) and record what it produced."""
        task = self.spec["root"]["dag"]["tasks"][task_name]
        executor = self.spec["deploymentSpec"]["executors"][self._component(task)["executorLabel"]]
        executor_input = self.executor_input(task_name)
        if "resolver" in executor:
            # No metadata store keeps earlier runs: the queries match nothing, as on a first run.
            self.produced[task_name] = {key: [] for key in executor["resolver"]["outputArtifactQueries"]}
            return
        if "container" not in executor:
            raise ValueError(f"task {task_name}: executor kind {sorted(executor)} is not one the dry run runs "
                             "(container and resolver tasks only)")
        container = executor["container"]
        output_file = executor_input["outputs"]["outputFile"]
        driver = container.get("lifecycle", {}).get("preCacheCheck")
        if driver:
            self._run_process(f"{task_name}.driver", driver, executor_input)
            driven = _read_json(output_file, f"{task_name}'s driver")
            for key, listed in driven.get("artifacts", {}).items():  # one artifact per TFX output
                [artifact], [updated] = executor_input["outputs"]["artifacts"][key]["artifacts"], listed["artifacts"]
                artifact["metadata"].update(updated.get("metadata", {}))
        self._run_process(task_name, container, executor_input)
        written = _read_json(output_file, task_name)
        self.produced[task_name] = {
            key: listed.get("artifacts", []) for key, listed in written.get("artifacts", {}).items()
        }
        for key in executor_input["outputs"]["artifacts"]:
            if key not in self.produced[task_name]:
                raise RuntimeError(f"task {task_name}: {output_file} lists no artifact for output {key}")

    def _run_process(self, label: str, container: dict[str, Any], executor_input: dict[str, Any]) -> None:
        command = [sys.executable if part == "python" else part for part in container["command"]]
        argv = command + [fill_placeholders(arg, executor_input) for arg in container.get("args", [])]
        log_path = os.path.join(self.log_dir, f"{label}.log")
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}  # the Dockerfile's ENV
        with open(log_path, "w") as log:
            code = subprocess.call(argv, cwd=configs.REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        if code != 0:
            with open(log_path) as log:
                tail = "".join(log.readlines()[-LOG_TAIL_LINES:])
            raise RuntimeError(f"task {label} exited with {code} (log: {log_path}):\n{tail}")


_PLACEHOLDER = re.compile(r"\{\{\$[^}]*\}\}")


def fill_placeholders(arg: str, executor_input: dict[str, Any]) -> str:
    """An argument with its KFP placeholders filled from the ExecutorInput, as the launcher does."""
    values = {
        "{{$}}": json.dumps(executor_input),
        "{{$.outputs.output_file}}": executor_input["outputs"]["outputFile"],
    }

    def fill(match: re.Match) -> str:
        if match.group(0) not in values:
            raise ValueError(f"placeholder {match.group(0)} in {arg!r}: the dry run fills {sorted(values)} only")
        return values[match.group(0)]

    return _PLACEHOLDER.sub(fill, arg)


def _read_json(path: str, producer: str) -> dict[str, Any]:
    if not os.path.exists(path):
        raise RuntimeError(f"{producer} wrote no executor output at {path}")
    with open(path) as f:
        return json.load(f)


def run_spec(spec_path: str) -> DryRun:
    """Run every task of the compiled job spec at `spec_path`, in dependency order."""
    with open(spec_path) as f:
        job = json.load(f)
    dry_run = DryRun(job)
    os.makedirs(dry_run.log_dir, exist_ok=True)
    for task_name in task_order(dry_run.spec["root"]["dag"]):
        print(f"dry run: {task_name}", flush=True)
        dry_run.run_task(task_name)
    return dry_run


def pushed_model(dry_run: DryRun) -> str | None:
    """Where the Pusher pushed the model, or None when it did not push (not blessed)."""
    for task_outputs in dry_run.produced.values():
        for artifact in task_outputs.get("pushed_model", []):
            if artifact.get("metadata", {}).get("pushed"):
                return artifact["metadata"]["pushed_destination"]
    return None


def dry_run_local(config: configs.RunConfig, work_dir: str) -> dict[str, Any]:
    """Compile `config` for WORK_DIR and run it; what ran and where the model went."""
    spec_path = compile_local(config, work_dir)
    dry_run = run_spec(spec_path)
    return {
        "spec": spec_path,
        "tasks": list(dry_run.produced),
        "logs": dry_run.log_dir,
        "pushed_model": pushed_model(dry_run),
    }
