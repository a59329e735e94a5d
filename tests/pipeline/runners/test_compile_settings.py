"""`flowers compile` takes every setting `flowers run` takes (`pipeline.configs.RunConfig`) and writes each into
the spec; `--target kubeflow` writes the PipelineSpec a Kubeflow Pipelines 2 server uploads."""

import json
import shutil

import pytest
import yaml

from pipeline import cli, configs
from pipeline.cli import settings
from pipeline.runners import kubeflow_v2

IMAGE = "eu.gcr.io/p/flowers:1"
ROOT = "gs://b/root"
BEAM_TASKS = ("FileBasedExampleGen", "StatisticsGen", "Transform", "Evaluator")


def _flags(values: dict) -> list[str]:
    """The command line that sets `values` (RunConfig field -> value); `output` is compile's --serving-root."""
    fields = {f.name: f for f in configs.settings()}
    argv = []
    for name, value in values.items():
        flag = "--serving-root" if name == "output" else settings.flag_name(fields[name])
        if value is True:
            argv.append(flag)
        else:
            argv += [f"{flag}={item}" for item in (value if isinstance(value, list) else [value])]
    return argv


def _parameter(spec: dict, task: str, name: str):
    constant = spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"][name]["runtimeValue"]["constantValue"]
    kind, value = next(iter(constant.items()))
    return int(value) if kind == "intValue" else value


def _found(spec: dict, name: str, value):
    """Where the setting `name` sits in the compiled spec, read back."""
    trainer = json.loads(_parameter(spec, "Trainer", "custom_config"))
    example_gen = json.loads(_parameter(spec, "FileBasedExampleGen", "custom_config"))["custom_config"]["value"]
    if name in ("epochs", "seed", "batch_size", "learning_rate", "lr_schedule", "patience", "augmentation",
                "augment_in", "precision", "devices", "data_service"):
        return trainer[name]
    if name == "warm_start":
        return trainer[name] and "latest_model_resolver" in spec["root"]["dag"]["tasks"]
    if name == "classes":  # the file's names, in both the ingestion and the Trainer
        assert trainer["class_names"] == example_gen["class_names"]
        return "".join(f"{n}\n" for n in trainer["class_names"])
    if name == "data":
        return _parameter(spec, "FileBasedExampleGen", "input_base")
    if name in ("max_quarantined", "tfds_data_dir"):
        return example_gen["max_quarantine_fraction" if name == "max_quarantined" else name]
    if name == "min_accuracy":
        eval_config = json.loads(_parameter(spec, "Evaluator", "eval_config"))
        return eval_config["metrics_specs"][0]["metrics"][0]["threshold"]["value_threshold"]["lower_bound"]
    if name == "schema_dir":
        return _parameter(spec, "ImportSchemaGen", "schema_file").removesuffix("/schema.pbtxt")
    if name == "beam_args":
        executors = spec["deploymentSpec"]["executors"]
        found = [[a for a in executors[spec["components"][spec["root"]["dag"]["tasks"][t]["componentRef"]["name"]][
            "executorLabel"]]["container"]["args"] if a in value] for t in BEAM_TASKS]
        assert all(f == found[0] for f in found), found
        return found[0]
    if name == "pipeline_name":
        return spec["pipelineInfo"]["name"]
    if name == "accept_drift":
        return bool(_parameter(spec, "DriftGate", "accept_drift"))
    if name == "output":
        return json.loads(_parameter(spec, "Pusher", "push_destination"))["filesystem"]["base_directory"]
    raise AssertionError(f"the test does not know where {name} goes in the spec")


@pytest.fixture(scope="module")
def non_default(tmp_path_factory):
    """Every setting at a value that is not its default; the tf.data service apart, as augment_in model
    excludes it. --spans is refused (test below)."""
    folder = tmp_path_factory.mktemp("settings")
    shutil.copytree(configs.SCHEMA_DIR, folder / "schemas")
    (folder / "classes.txt").write_text("tulips\nroses\ndaisy\n")
    values = {
        "data": "gs://b/photos", "output": "gs://b/serve", "epochs": 3, "seed": 7, "batch_size": 16,
        "learning_rate": 0.01, "lr_schedule": "cosine", "patience": 2, "augmentation": "flip(horizontal)|rotate(0.1)",
        "augment_in": "model", "min_accuracy": 0.5, "max_quarantined": 0.05, "schema_dir": str(folder / "schemas"),
        "beam_args": ["--direct_num_workers=2", "--direct_running_mode=multi_processing"], "pipeline_name": "tulips",
        "tfds_data_dir": "gs://b/tfds", "precision": "float32", "devices": ["/gpu:0", "/gpu:1"], "warm_start": True,
        "accept_drift": True, "classes": str(folder / "classes.txt"),
    }
    service = {"data_service": "grpc://flowers-data-dispatcher:5050"}
    return folder, values, service


def test_every_setting_reaches_the_compiled_spec(non_default, capsys):
    folder, values, service = non_default
    untested = {f.name for f in configs.settings()} - set(values) - set(service) - {"spans"}
    assert untested == set()  # a new setting needs a value here, and a place in `_found`
    fields = {f.name: f for f in configs.settings()}
    for name, value in {**values, **service}.items():
        assert value != configs.default(fields[name]), name
    for group in (values, service):
        out = folder / "pipeline.json"
        argv = ["compile", "--output", str(out), "--image", IMAGE, "--pipeline-root", ROOT, *_flags(group)]
        assert cli.main(argv) == 0, capsys.readouterr()
        spec = json.loads(out.read_text())["pipelineSpec"]
        for name, value in group.items():
            expected = {"classes": (folder / "classes.txt").read_text(), "output": "gs://b/serve/serving_model"}
            assert _found(spec, name, value) == expected.get(name, value), name


def test_compile_refuses_a_window_of_spans(capsys):
    assert cli.main(["compile", "--spans", "2"]) == 2
    assert "--spans 2 is not accepted by compile" in capsys.readouterr().err


def test_kubeflow_target_writes_the_pipeline_spec_with_its_root(tmp_path, capsys):
    out = tmp_path / "flowers.yaml"
    argv = ["compile", "--target", "kubeflow", "--output", str(out), "--image", IMAGE, "--pipeline-root", ROOT,
            "--epochs", "4"]
    assert cli.main(argv) == 0
    assert f"{out}: 13 tasks" in capsys.readouterr().out
    spec = yaml.safe_load(out.read_text())
    # A PipelineSpec document (what KFP's API server recognizes), not a PipelineJob around one.
    assert "pipelineSpec" not in spec and "runtimeConfig" not in spec
    assert spec["defaultPipelineRoot"] == ROOT and spec["pipelineInfo"]["name"] == configs.PIPELINE_NAME
    assert len(spec["root"]["dag"]["tasks"]) == 13 and kubeflow_v2.pipeline_spec(spec) is spec
    assert json.loads(_parameter(spec, "Trainer", "custom_config"))["epochs"] == 4
    containers = [e["container"] for e in spec["deploymentSpec"]["executors"].values() if "container" in e]
    assert {c["image"] for c in containers} == {IMAGE}
    assert cli.main(["compile", "--target", "kubeflow", "--vertex-project", "p"]) == 2
    assert "--vertex-project trains on Vertex AI" in capsys.readouterr().err
