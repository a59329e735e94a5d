"""The compiled Vertex spec run task by task through TFX's container entrypoint, and the image."""

import dataclasses
import glob
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components.ingest import data_fingerprint
from pipeline import cli, configs, metadata
from pipeline.dry_run import vertex as vertex_dry_run
from tests.helpers import REPO

RESOLVERS = ["latest_blessed_model_resolver-model-blessing-resolver", "latest_blessed_model_resolver-model-resolver",
             "previous_span_examples"]
CONTAINERS = [
    "FileBasedExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "AnomaliesGate", "DriftGate",
    "Transform", "Trainer", "Evaluator", "Pusher",
]


# Settings a user tuned (none at its default), trained for one epoch only: what the tuned dry run checks.
TUNED = {"epochs": 1, "seed": 7, "batch_size": 8, "learning_rate": 0.01, "lr_schedule": "cosine", "patience": 1,
         "augmentation": "flip(horizontal)|rotate(0.1)", "augment_in": "model", "precision": "float32",
         "max_quarantined": 0.05, "pipeline_name": "tuned", "accept_drift": True}


@pytest.fixture(scope="module")
def dry_run(first_run, tmp_path_factory):
    """The spec compiled with the settings of `first_run` (epochs, seed, min accuracy), run locally."""
    work_dir = str(tmp_path_factory.mktemp("dry_run"))
    spec_path = vertex_dry_run.compile_local(dataclasses.replace(first_run[0]), work_dir)
    return work_dir, vertex_dry_run.run_spec(spec_path)


def _local_artifact(first_run, node: str, type_name: str) -> str:
    return metadata.read_run(first_run[0].metadata_path)[node]["outputs"][type_name].uri


def _records(uri: str, split: str) -> list[bytes]:
    """The split's tf.Examples, re-serialized deterministically and sorted: contents, not file layout."""
    files = sorted(glob.glob(os.path.join(uri, f"Split-{split}", "*")))
    assert files, (uri, split)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return sorted(
        tf.train.Example.FromString(record.numpy()).SerializeToString(deterministic=True) for record in dataset
    )


def test_every_task_ran_in_dependency_order(dry_run):
    _, run = dry_run
    tasks = list(run.produced)
    assert sorted(tasks) == sorted(CONTAINERS + RESOLVERS)
    for task in CONTAINERS:
        assert os.path.isfile(os.path.join(run.root, run.job_id, task, "executor_output.json")), task
        assert os.path.isfile(os.path.join(run.log_dir, f"{task}.log")), task
    assert os.path.isfile(os.path.join(run.log_dir, "FileBasedExampleGen.driver.log"))
    for consumer, producer in [("StatisticsGen", "FileBasedExampleGen"), ("Transform", "AnomaliesGate"),
                               ("Evaluator", RESOLVERS[1]), (RESOLVERS[1], RESOLVERS[0]), ("Pusher", "Evaluator")]:
        assert tasks.index(producer) < tasks.index(consumer), (producer, consumer)
    # First run: nothing blessed yet, so the resolvers hand the Evaluator no baseline.
    assert run.produced[RESOLVERS[0]] == {"model_blessing": []}
    assert run.produced[RESOLVERS[1]] == {"model": []}
    # No earlier span either: the drift gate has no baseline and passes.
    assert run.produced[RESOLVERS[2]] == {"baseline": []}
    assert tasks.index("DriftGate") < tasks.index("Transform")
    # The driver's span and fingerprint (of the data, computed in the task) reached the examples artifact.
    examples = run.produced["FileBasedExampleGen"]["examples"][0]["metadata"]
    assert examples["input_fingerprint"] == data_fingerprint.data_fingerprint(configs.SAMPLE_DATA)
    assert os.path.isfile(os.path.join(run.log_dir, "ImportSchemaGen.driver.log"))


def test_the_spec_carries_the_local_run_settings(dry_run, first_run):
    spec = json.loads(Path(dry_run[0], "pipeline.json").read_text())["pipelineSpec"]
    parameters = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
    custom_config = json.loads(parameters["custom_config"]["runtimeValue"]["constantValue"]["stringValue"])
    assert (custom_config["epochs"], custom_config["seed"]) == (first_run[0].epochs, first_run[0].seed) == (10, 42)
    evaluator = spec["root"]["dag"]["tasks"]["Evaluator"]["inputs"]["parameters"]
    eval_config = json.loads(evaluator["eval_config"]["runtimeValue"]["constantValue"]["stringValue"])
    threshold = eval_config["metrics_specs"][0]["metrics"][0]["threshold"]["value_threshold"]
    assert threshold["lower_bound"] == first_run[0].min_accuracy == 0.35


def test_blessed_model_is_pushed_under_the_stand_in_serving_root(dry_run):
    work_dir, run = dry_run
    blessing = run.produced["Evaluator"]["blessing"][0]["metadata"]
    assert blessing["blessed"] == 1.0
    pushed = vertex_dry_run.pushed_model(run)
    assert pushed is not None and os.path.dirname(pushed) == os.path.join(work_dir, "serving_model")
    assert os.path.isfile(os.path.join(pushed, "saved_model.pb"))


def test_examples_equal_the_local_run(dry_run, first_run):
    """ExampleGen's examples are the only data on disk (Transform materializes none)."""
    dry_uri = dry_run[1].produced["FileBasedExampleGen"]["examples"][0]["uri"]
    local_uri = _local_artifact(first_run, "FileBasedExampleGen", "Examples")
    counts = []
    for split in ("train", "eval", "test"):
        dry, here = _records(dry_uri, split), _records(local_uri, split)
        assert dry == here, split
        counts.append(len(dry))
    assert sum(counts) == 400


def test_pushed_model_classifies_the_sample_as_the_local_run(dry_run, first_run):
    photos = sorted(glob.glob(os.path.join(configs.SAMPLE_DATA, "*", "*")))
    assert len(photos) == 400
    blobs = tf.constant([Path(p).read_bytes() for p in photos])
    probabilities = []
    for model_dir in (vertex_dry_run.pushed_model(dry_run[1]), first_run[1]["pushed_model"]):
        serve = tf.saved_model.load(model_dir).signatures["serving_images"]
        probabilities.append(serve(image_bytes=blobs)["probabilities"].numpy())
    dry, here = probabilities
    assert dry.shape == here.shape == (400, 5)
    # Same data, code and seed on the same CPU: training repeats in another process.
    assert (dry.argmax(axis=1) == here.argmax(axis=1)).sum() == 400
    np.testing.assert_allclose(dry, here, atol=1e-5)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """The DAG up to the Trainer with the TUNED settings, on 20 photos of the sample: run locally,
    and its compiled spec dry run."""
    from pipeline.runners import local
    from tests.helpers.spans import write_span

    photos = tmp_path_factory.mktemp("tuned_photos")
    write_span(photos, 1)
    config = configs.RunConfig(data=str(photos / "span-1"), output=str(tmp_path_factory.mktemp("tuned_local")), **TUNED)
    local.run(config, stop_after="Trainer")
    work_dir = str(tmp_path_factory.mktemp("tuned_dry_run"))
    return config, vertex_dry_run.run_spec(vertex_dry_run.compile_local(config, work_dir, stop_after="Trainer"))


def _local_trainer(metadata_path: str) -> tuple[dict, str]:
    """The local Trainer's recorded custom_config (its execution's property in ML Metadata) and model_run folder."""
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    store = metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path))
    [trainer] = [e for e in store.get_executions() if "run_fn" in e.custom_properties]
    events = [e for e in store.get_events_by_execution_ids([trainer.id]) if e.path.steps[0].key == "model_run"]
    [model_run] = store.get_artifacts_by_id([events[0].artifact_id])
    return json.loads(trainer.custom_properties["custom_config"].string_value), model_run.uri


def _metrics(model_run: str) -> dict:
    from components.trainer import curves

    return json.loads(Path(model_run, curves.METRICS_FILE).read_text())


def test_the_dry_run_trains_with_the_settings_of_a_local_run(tuned):
    config, run = tuned
    assert list(run.produced)[-1] == "Trainer" and "Evaluator" not in run.produced
    local_config, local_run = _local_trainer(config.metadata_path)
    spec = json.loads(Path(run.root).parent.joinpath("pipeline.json").read_text())["pipelineSpec"]
    parameters = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
    dry_config = json.loads(parameters["custom_config"]["runtimeValue"]["constantValue"]["stringValue"])
    assert dry_config == local_config
    trainer_keys = set(TUNED) - {"max_quarantined", "pipeline_name", "accept_drift"}
    assert {k: dry_config[k] for k in trainer_keys} == {k: TUNED[k] for k in trainer_keys}
    assert spec["pipelineInfo"]["name"] == "tuned"
    # What each Trainer wrote of its training: the same settings, the same curves.
    dry, here = _metrics(run.produced["Trainer"]["model_run"][0]["uri"]), _metrics(local_run)
    assert (dry["epochs"], dry["augment_in"], dry["augmentation"], dry["precision"]) == (
        1, "model", TUNED["augmentation"], "float32")
    assert {k: v for k, v in dry.items() if k != "history"} == {k: v for k, v in here.items() if k != "history"}
    assert sorted(dry["history"]) == sorted(here["history"]) and len(dry["history"]["loss"]) == 1
    for key, values in dry["history"].items():
        np.testing.assert_allclose(values, here["history"][key], atol=1e-5, err_msg=key)


def test_placeholders_the_dry_run_cannot_fill_are_named():
    executor_input = {"outputs": {"outputFile": "/r/t/executor_output.json"}}
    assert vertex_dry_run.fill_placeholders("{{$}}", executor_input) == json.dumps(executor_input)
    assert vertex_dry_run.fill_placeholders("--out={{$.outputs.output_file}}", executor_input) == (
        "--out=/r/t/executor_output.json"
    )
    with pytest.raises(ValueError, match=r"\{\{\$.inputs.parameters\['x'\]\}\}"):
        vertex_dry_run.fill_placeholders("{{$.inputs.parameters['x']}}", executor_input)


def test_compile_dry_run_flag_runs_the_sample_spec_locally(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(vertex_dry_run, "dry_run_local",
                        lambda config, work_dir: calls.append((config, work_dir)) or {"pushed_model": None})
    assert cli.main(["compile", "--dry-run-local", str(tmp_path), "--epochs", "1"]) == 0
    [(config, work_dir)] = calls
    assert work_dir == str(tmp_path) and config.epochs == 1
    assert vertex_dry_run.local_path(config.data) == configs.SAMPLE_DATA
    assert vertex_dry_run.local_path(config.schema_dir) == configs.SCHEMA_DIR
    assert '"pushed_model": null' in capsys.readouterr().out
    # The GPU Trainer is a Vertex AI training job: it cannot run here.
    assert cli.main(["compile", "--dry-run-local", str(tmp_path), "--vertex-project", "p"]) == 2
    assert len(calls) == 1


def _dockerfile_instructions() -> list[str]:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_dockerfile_matches_the_lock_the_readme_install_and_the_compile_defaults():
    instructions = _dockerfile_instructions()
    locked_tfx = re.search(r"^tfx==(\S+)$", (REPO / "requirements.lock").read_text(), re.MULTILINE).group(1)
    assert instructions[:2] == [f"ARG TFX_VERSION={locked_tfx}", "FROM tensorflow/tfx:${TFX_VERSION}"]
    # The project installs as the Makefile (`make run`, README) installs it into .venv: without
    # dependencies (the lock, here the image, provides them) and without build isolation.
    makefile = (REPO / "Makefile").read_text()
    make_install = next(line for line in makefile.splitlines() if "pip install" in line and " -e . " in f"{line} ")
    make_flags = {flag for flag in make_install.split() if flag.startswith("--")} - {"--quiet"}
    docker_install = next(line for line in instructions if line.startswith("RUN pip install"))
    assert make_flags == {"--no-deps", "--no-build-isolation"}
    assert make_flags <= set(docker_install.split())
    assert "export TF_USE_LEGACY_KERAS := 1" in makefile and "ENV TF_USE_LEGACY_KERAS=1" in instructions
    # `compile`'s defaults are the bundled sample and schemas as copied into the image's WORKDIR.
    workdir = next(line.split()[1] for line in instructions if line.startswith("WORKDIR "))
    assert workdir == vertex_dry_run.IMAGE_WORKDIR
    assert docker_install.split()[-1] == workdir
    defaults = cli.build_parser().parse_args(["compile"])
    assert defaults.data == f"{workdir}/{Path(configs.SAMPLE_DATA).relative_to(REPO).as_posix()}"
    assert defaults.schema_dir == f"{workdir}/{Path(configs.SCHEMA_DIR).relative_to(REPO).as_posix()}"
    for path in (configs.SAMPLE_DATA, configs.SCHEMA_DIR):
        top = Path(path).relative_to(REPO).parts[0]
        assert f"COPY {top}/ {top}/" in instructions, top
