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
shared output file.

In place of Vertex's metadata store, the dry run keeps a record of the
artifacts every dry run produced, `dry_run_artifacts.json` beside the spec:
each artifact's name, schema title, uri, metadata (custom properties such as
`span` and `blessed`), state (LIVE) and the run and task that made it. It is
an emulation of what the launcher asks the store, not a store: a resolver task
(`executor.resolver.outputArtifactQueries` in the spec) resolves each query to
the newest artifact of an earlier dry run of the same work dir that matches its
filter, as a resolver task with no upstream task on Vertex runs as the job
starts and sees only what earlier jobs made. The filters read are the ones
TFX's compiler writes for our resolvers, joined by `AND`: `schema_title="..."`,
`state=LIVE`, `metadata.<key>.number_value=<number>` and `name="..."` (whose
`{{$.inputs.artifacts['<key>'].metadata['<key>']}}` placeholder is filled from
the resolver's input artifact); any other clause stops the dry run with one
sentence. So the first dry run in a work dir is a pipeline's first run (every
resolver resolves to nothing), and the next one finds the previous run's
statistics, latest model and latest blessed model. Not emulated: caching,
pipeline contexts (the record is one pipeline's), and artifacts of other
pipelines or runs made meanwhile.

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
from pipeline.dry_run.record import ARTIFACT_RECORD, ArtifactRecord, parse_filter, read_json, schema_title

IMAGE_WORKDIR = configs.IMAGE_WORKDIR
ARTIFACT_NAME = "projects/local/locations/local/metadataStores/default/artifacts/{}"
LOG_TAIL_LINES = 30


def local_path(path: str) -> str:
    """A path inside the image (under /pipeline) as the same file in this repository."""
    if path == IMAGE_WORKDIR or path.startswith(IMAGE_WORKDIR + "/"):
        return str(configs.REPO_ROOT) + path[len(IMAGE_WORKDIR) :]
    return path


def compile_local(config: configs.RunConfig, work_dir: str, stop_after: str | None = None) -> str:
    """Compile `config` with WORK_DIR/tfx as the pipeline root and WORK_DIR as the serving root (the DAG up to
    `stop_after`, as `pipeline.create_pipeline` builds it, when given).

    Returns the path of the written spec, WORK_DIR/pipeline.json.
    """
    from pipeline.runners import kubeflow_v2

    work_dir = os.path.abspath(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    local = dataclasses.replace(
        config, output=work_dir, data=local_path(config.data), schema_dir=local_path(config.schema_dir)
    )
    spec_path = os.path.join(work_dir, "pipeline.json")
    kubeflow_v2.compile_pipeline(local, spec_path, "local-dry-run", local.pipeline_root, stop_after=stop_after)
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

    def __init__(self, job: dict[str, Any], record_path: str | None = None) -> None:
        self.spec = job["pipelineSpec"]
        self.root = job["runtimeConfig"]["gcsOutputDirectory"]
        self.record = ArtifactRecord(record_path or os.path.join(os.path.dirname(self.root), ARTIFACT_RECORD))
        # What the store held as the job started: a resolver task with no
        # upstream task runs then, before this job has published anything.
        self.earlier = list(self.record.artifacts)
        # A new job id per run, as Vertex gives each run its own task directories.
        job_id = time.strftime("dry-run-%Y%m%d-%H%M%S")
        self.job_id, suffix = job_id, 1
        while self.job_id in self.record.data["runs"] or os.path.exists(os.path.join(self.root, self.job_id)):
            suffix += 1
            self.job_id = f"{job_id}-{suffix}"
        self.record.data["runs"].append(self.job_id)
        self.log_dir = os.path.join(self.root, self.job_id, "logs")
        self.produced: dict[str, dict[str, list[dict]]] = {}  # task -> output key -> artifacts
        self.resolved: dict[str, dict[str, list[str]]] = {}  # resolver task -> output key -> uris
        # Artifact names go on from the earlier runs': Vertex's are unique in the store.
        self._artifact_count = self.record.next_id() - 1

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
            self.produced[task_name] = self.resolve(task_name, executor["resolver"], executor_input)
            self.resolved[task_name] = {
                key: [artifact["uri"] for artifact in artifacts] for key, artifacts in self.produced[task_name].items()
            }
            return
        if "container" not in executor:
            raise ValueError(f"task {task_name}: executor kind {sorted(executor)} is not one the dry run runs "
                             "(container and resolver tasks only)")
        container = executor["container"]
        output_file = executor_input["outputs"]["outputFile"]
        driver = container.get("lifecycle", {}).get("preCacheCheck")
        if driver:
            self._run_process(f"{task_name}.driver", driver, executor_input)
            driven = read_json(output_file, f"{task_name}'s driver")
            for key, listed in driven.get("artifacts", {}).items():  # one artifact per TFX output
                [artifact], [updated] = executor_input["outputs"]["artifacts"][key]["artifacts"], listed["artifacts"]
                artifact["metadata"].update(updated.get("metadata", {}))
        self._run_process(task_name, container, executor_input)
        written = read_json(output_file, task_name)
        self.produced[task_name] = {
            key: listed.get("artifacts", []) for key, listed in written.get("artifacts", {}).items()
        }
        for key in executor_input["outputs"]["artifacts"]:
            if key not in self.produced[task_name]:
                raise RuntimeError(f"task {task_name}: {output_file} lists no artifact for output {key}")
        self._publish(task_name, executor_input)

    def _publish(self, task_name: str, executor_input: dict[str, Any]) -> None:
        """Record the task's output artifacts, LIVE, as the launcher publishes them to the store."""
        types = {key: listed["artifacts"][0]["type"] for key, listed in executor_input["outputs"]["artifacts"].items()}
        entries = []
        for key, artifacts in sorted(self.produced[task_name].items()):
            for artifact in artifacts:
                name = artifact.get("name", "")
                entries.append({
                    "id": int(name.rsplit("/", 1)[-1]) if name.startswith(ARTIFACT_NAME.format("")) else 0,
                    "name": name,
                    "schema_title": schema_title(types[key]),
                    "type": types[key],
                    "uri": artifact["uri"],
                    "metadata": artifact.get("metadata", {}),
                    "state": "LIVE",
                    "run": self.job_id,
                    "task": task_name,
                    "output_key": key,
                })
        self.record.add(entries)

    def resolve(self, task_name: str, resolver: dict[str, Any], executor_input: dict[str, Any]) -> dict[str, list]:
        """Each query of a resolver task: the newest artifact of an earlier run that its filter matches, or none."""
        outputs = {}
        for key, query in sorted(resolver["outputArtifactQueries"].items()):
            matches = parse_filter(task_name, query["filter"], executor_input["inputs"]["artifacts"])
            found = [artifact for artifact in self.earlier if matches(artifact)]
            outputs[key] = [
                {"name": artifact["name"], "uri": artifact["uri"], "metadata": copy.deepcopy(artifact["metadata"])}
                for artifact in found[-1:]
            ]
        return outputs

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


def run_spec(spec_path: str) -> DryRun:
    """Run every task of the compiled job spec at `spec_path`, in dependency order.

    The artifact record (`ARTIFACT_RECORD`) sits beside the spec: the
    resolvers of this run read the earlier runs' artifacts from it, and this
    run's artifacts are added to it.
    """
    with open(spec_path) as f:
        job = json.load(f)
    dry_run = DryRun(job, os.path.join(os.path.dirname(os.path.abspath(spec_path)), ARTIFACT_RECORD))
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
        "record": dry_run.record.path,
        "resolved": dry_run.resolved,
        "pushed_model": pushed_model(dry_run),
    }
