"""The same DAG compiled to a KFP v2 / Vertex AI Pipelines job spec, and the image it runs in."""

import ast
import json
import posixpath
import re

import pytest

from components import features
from pipeline import configs
from pipeline.runners import kubeflow_v2
from tests.helpers import REPO

IMAGE = "us-docker.pkg.dev/p/flowers/flowers-tfx:test"
ROOT = "gs://bucket/flowers/tfx"
BEAM_ARGS = ["--runner=DataflowRunner", "--project=p", "--setup_file=./setup.py"]
VERTEX = {"project": "p", "region": "us-central1", "machine_type": "n1-standard-16", "accelerator_count": 2}

# The eleven components; the latest-blessed-model Resolver compiles to one resolver
# task per input channel, the previous span's statistics (a latest-artifact resolver) to one.
RESOLVER_TASKS = {
    "latest_blessed_model_resolver-model-resolver",
    "latest_blessed_model_resolver-model-blessing-resolver",
    "previous_span_examples",
}
CONTAINER_TASKS = {
    "FileBasedExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "AnomaliesGate",
    "DriftGate",
    "Transform",
    "Trainer",
    "Evaluator",
    "Pusher",
}
BEAM_TASKS = ["FileBasedExampleGen", "StatisticsGen", "Transform", "Evaluator"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The default compile: the standard Trainer, class names read from the sample."""
    path = tmp_path_factory.mktemp("kfp") / "pipeline.json"
    config = configs.RunConfig(output="gs://bucket/flowers", beam_args=list(BEAM_ARGS))
    returned = kubeflow_v2.compile_pipeline(config, str(path), IMAGE, ROOT)
    return config, path, returned, json.loads(path.read_text())


@pytest.fixture(scope="module")
def vertex_spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("kfp_vertex") / "pipeline.json"
    config = configs.RunConfig(beam_args=list(BEAM_ARGS))
    kubeflow_v2.compile_pipeline(
        config, str(path), IMAGE, ROOT, class_names=("cats", "dogs"), vertex_training=dict(VERTEX)
    )
    return json.loads(path.read_text())["pipelineSpec"]


def _executor(spec: dict, task: str) -> dict:
    label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]


def _parameter(spec: dict, task: str, name: str) -> str:
    return spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"][name]["runtimeValue"]["constantValue"][
        "stringValue"
    ]


def test_the_file_holds_the_returned_job_spec(compiled):
    _, _, returned, from_file = compiled
    assert returned == from_file
    assert from_file["pipelineSpec"]["pipelineInfo"]["name"] == configs.PIPELINE_NAME


def test_every_component_is_a_task(compiled):
    spec = compiled[3]["pipelineSpec"]
    assert set(spec["root"]["dag"]["tasks"]) == CONTAINER_TASKS | RESOLVER_TASKS
    for task in RESOLVER_TASKS:
        assert "resolver" in _executor(spec, task)
    assert spec["root"]["dag"]["tasks"]["Pusher"]["dependentTasks"] == ["Evaluator", "Trainer"]


def test_every_container_runs_the_given_image(compiled):
    spec = compiled[3]["pipelineSpec"]
    containers = [e["container"] for e in spec["deploymentSpec"]["executors"].values() if "container" in e]
    assert len(containers) == len(CONTAINER_TASKS)
    assert {c["image"] for c in containers} == {IMAGE}


def test_the_pipeline_root_is_the_given_one(compiled):
    config, _, _, job = compiled
    assert job["runtimeConfig"]["gcsOutputDirectory"] == ROOT
    assert config.pipeline_root == "gs://bucket/flowers/tfx"  # the caller's config is left as it was
    assert "gs://bucket/flowers/serving_model" in _parameter(job["pipelineSpec"], "Pusher", "push_destination")


def test_beam_args_reach_every_beam_component(compiled):
    spec = compiled[3]["pipelineSpec"]
    for task in BEAM_TASKS:
        args = _executor(spec, task)["container"]["args"]
        for arg in BEAM_ARGS:
            assert arg in args, (task, arg)
    driver = _executor(spec, "FileBasedExampleGen")["container"]["lifecycle"]["preCacheCheck"]
    assert set(BEAM_ARGS) <= set(driver["args"])


def test_standard_trainer_by_default(compiled):
    spec = compiled[3]["pipelineSpec"]
    args = _executor(spec, "Trainer")["container"]["args"]
    assert args[args.index("--executor_class_path") + 1] == "tfx.components.trainer.executor.GenericExecutor"
    custom_config = json.loads(_parameter(spec, "Trainer", "custom_config"))
    assert tuple(custom_config["class_names"]) == features.TF_FLOWERS_CLASSES
    assert "ai_platform_training_args" not in custom_config
    # Every Trainer setting the spec carries defaults to RunConfig's (`flowers run`'s).
    fields = {f.name: f for f in configs.settings()}
    for key in set(custom_config) & set(fields):
        assert custom_config[key] == configs.default(fields[key]), key
    assert custom_config["augment_in"] == "input"


def test_vertex_training_compiles_a_gpu_worker_pool(vertex_spec):
    from tfx.v1.extensions import google_cloud_ai_platform as ai_platform

    args = _executor(vertex_spec, "Trainer")["container"]["args"]
    assert args[args.index("--executor_class_path") + 1] == (
        "tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor"
    )
    custom_config = json.loads(_parameter(vertex_spec, "Trainer", "custom_config"))
    assert custom_config[ai_platform.ENABLE_VERTEX_KEY] is True
    assert custom_config[ai_platform.VERTEX_REGION_KEY] == "us-central1"
    training_args = custom_config[ai_platform.TRAINING_ARGS_KEY]
    assert training_args["project"] == "p"
    assert training_args["worker_pool_specs"] == [
        {
            "machine_spec": {
                "machine_type": "n1-standard-16",
                "accelerator_type": "NVIDIA_TESLA_T4",
                "accelerator_count": 2,
            },
            "replica_count": 1,
            "container_spec": {"image_uri": IMAGE},
        }
    ]
    # The run_fn's own settings travel beside the Vertex keys.
    assert custom_config["class_names"] == ["cats", "dogs"]
    assert custom_config["epochs"] == configs.RunConfig.epochs
    # Only the Trainer changes: same tasks, same wiring downstream.
    assert set(vertex_spec["root"]["dag"]["tasks"]) == CONTAINER_TASKS | RESOLVER_TASKS
    evaluator_model = vertex_spec["root"]["dag"]["tasks"]["Evaluator"]["inputs"]["artifacts"]["model"]
    assert evaluator_model["taskOutputArtifact"]["producerTask"] == "Trainer"


def test_dockerfile_copies_existing_paths_and_installs_this_package():
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    # The base image is the TFX release of the current lock; the legacy one is a build argument.
    assert instructions[0] == f"ARG TFX_VERSION={_locked_tfx('requirements.lock')}"
    assert instructions[1] == "FROM tensorflow/tfx:${TFX_VERSION}"
    legacy_build = f"docker build --build-arg TFX_VERSION={_locked_tfx('requirements-legacy.lock')} "
    assert legacy_build in (REPO / "Dockerfile").read_text()
    assert "ENV TF_USE_LEGACY_KERAS=1" in instructions
    workdir = next(line.split()[1] for line in instructions if line.startswith("WORKDIR "))
    copied = {}  # source in the repo -> where it lands in the image
    for line in instructions:
        if line.startswith("COPY "):
            *sources, destination = line.split()[1:]
            base = posixpath.normpath(posixpath.join(workdir, destination))
            for source in (s.rstrip("/") for s in sources):
                assert (REPO / source).exists(), source
                # a file copied into a directory keeps its name; a directory's contents land in the destination
                copied[source] = posixpath.join(base, source) if (REPO / source).is_file() else base
    assert {"setup.py", "pyproject.toml", "requirements.lock", "requirements-legacy.lock",
            "pipeline", "components", "schemas", "data"} <= set(copied)
    install = next(line for line in instructions if line.startswith("RUN pip install"))
    assert "--no-deps" in install.split()
    package_dir = install.split()[-1]
    assert copied["setup.py"] == f"{package_dir}/setup.py"

    setup_call = next(
        node
        for node in ast.walk(ast.parse((REPO / "setup.py").read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup"
    )
    setup_kwargs = {k.arg: ast.literal_eval(k.value) for k in setup_call.keywords if k.arg in ("name", "packages")}
    assert setup_kwargs["name"] == "flowers-tfx"
    on_disk = {str(init.parent.relative_to(REPO)).replace("/", ".")
               for top in ("pipeline", "components") for init in (REPO / top).rglob("__init__.py")}
    assert set(setup_kwargs["packages"]) == on_disk and len(on_disk) == 13
    for package in ("pipeline", "components"):
        assert copied[package] == f"{package_dir}/{package}"
        assert (REPO / package / "__init__.py").exists()
    # The image writes its own code fingerprints where the steps look for them.
    from components import code_fingerprints
    assert f"RUN python -m components.code_fingerprints > {code_fingerprints.IMAGE_FINGERPRINTS}" in instructions
    assert instructions.index(install) < len(instructions) - 1
    assert _locked_tfx("requirements.lock").startswith("1.21.")
    assert _locked_tfx("requirements-legacy.lock").startswith("1.16.")


def _locked_tfx(lock: str) -> str:
    return re.search(r"^tfx==(\S+)$", (REPO / lock).read_text(), re.MULTILINE).group(1)


def test_compile_command_writes_the_vertex_spec(tmp_path, capsys):
    from pipeline import cli

    out = tmp_path / "pipeline.json"
    args = ["compile", "--target", "vertex", "--output", str(out), "--image", "eu.gcr.io/p/flowers:1",
            "--pipeline-root", "gs://b/root", "--serving-root", "gs://b/flowers"]
    assert cli.main(args) == 0
    spec = json.loads(out.read_text())
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == "gs://b/root"
    assert len(spec["pipelineSpec"]["root"]["dag"]["tasks"]) == 13
    assert "gs://b/flowers/serving_model" in out.read_text()
    assert "13 tasks" in capsys.readouterr().out
