"""Each custom step's code fingerprint covers its whole import closure, and an image
whose code differs from the compiled spec's stops the step with one sentence."""

import json
import os
import shutil
import subprocess
import sys
import types

import pytest

from components import code_fingerprints
from pipeline.paths import REPO_ROOT

_PROBE = """
import json, sys
before = set(sys.modules)
import {module}
loaded = set(sys.modules) - before
print(json.dumps(sorted(m for m in loaded if m.split(".")[0] in ("components", "pipeline"))))
"""


@pytest.mark.parametrize("component", sorted(code_fingerprints.ENTRY_MODULES))
def test_the_closure_holds_every_project_module_a_real_import_loads(component):
    module = code_fingerprints.ENTRY_MODULES[component]
    result = subprocess.run([sys.executable, "-c", _PROBE.format(module=module)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    closure = code_fingerprints.closure([module])
    assert module in loaded and "components" in loaded
    assert sorted(set(loaded) - set(closure)) == []


def test_closures_name_the_modules_the_hand_kept_lists_missed():
    example_gen = code_fingerprints.closure(["components.ingest.executor"])
    for module in ("components.ingest.shard_write", "components.ingest.sources.tfds_source",
                   "components.progress", "components.ingest.beam_graph", "components.ingest.sources.archives",
                   "components.code_fingerprints"):
        assert module in example_gen
    assert "components.trainer.run_fn" not in example_gen
    transform = code_fingerprints.closure(["components.transform.preprocessing"])
    assert transform == ["components", "components.code_fingerprints", "components.features", "components.transform",
                         "components.transform.image_ops", "components.transform.preprocessing"]


def test_relative_and_function_level_imports_are_followed(tmp_path):
    package = tmp_path / "components"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "entry.py").write_text("from . import sibling\n\ndef later():\n    import components.lazy\n")
    (package / "sibling.py").write_text("from .deep import thing\n")
    (package / "deep.py").write_text("thing = 1\n")
    (package / "lazy.py").write_text("import os\n")
    (package / "unused.py").write_text("")
    assert code_fingerprints.closure(["components.entry"], tmp_path) == [
        "components", "components.deep", "components.entry", "components.lazy", "components.sibling"]


@pytest.fixture
def checkout(tmp_path):
    for package in code_fingerprints.PACKAGES:
        shutil.copytree(REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_editing_a_module_in_the_closure_changes_the_fingerprint_and_no_other(checkout):
    first = code_fingerprints.all_fingerprints(checkout)
    assert first == code_fingerprints.all_fingerprints(REPO_ROOT)
    assert len(set(first.values())) == len(first) == 6 and all(len(v) == 16 for v in first.values())
    with open(checkout / "components" / "report_unused_probe.py", "w") as f:
        f.write("x = 1\n")  # a new module nothing imports
    page = checkout / "pipeline" / "report" / "page.py"
    page.write_text("# edited\n" + page.read_text())
    assert code_fingerprints.all_fingerprints(checkout) == first
    shard_write = checkout / "components" / "ingest" / "shard_write.py"
    shard_write.write_text(shard_write.read_text() + "\n# edited\n")
    second = code_fingerprints.all_fingerprints(checkout)
    assert second["FileBasedExampleGen"] != first["FileBasedExampleGen"]
    assert (second["Transform"], second["Trainer"]) == (first["Transform"], first["Trainer"])
    shared = checkout / "components" / "features.py"
    shared.write_text(shared.read_text() + "\n# edited\n")
    third = code_fingerprints.all_fingerprints(checkout)
    assert all(third[name] != second[name] for name in ("FileBasedExampleGen", "Transform", "Trainer"))
    assert third["span_resolvers"] == second["span_resolvers"]  # it does not import features
    lineage = checkout / "components" / "lineage.py"
    lineage.write_text(lineage.read_text() + "\n# edited\n")
    fourth = code_fingerprints.all_fingerprints(checkout)
    assert fourth["span_resolvers"] != third["span_resolvers"]
    assert fourth["FileBasedExampleGen"] != third["FileBasedExampleGen"]  # its driver's duplicate check reads it


def test_entry_modules_are_the_ones_the_pipeline_runs():
    from components import cache_keys
    from components.ingest import executor
    from components.validation import anomalies_gate, drift
    from pipeline import configs, span_resolvers

    example_gen = code_fingerprints.ENTRY_MODULES["FileBasedExampleGen"]
    assert executor.Executor.__module__ in code_fingerprints.closure([example_gen])
    assert code_fingerprints.ENTRY_MODULES == {
        "FileBasedExampleGen": cache_keys.ExampleGen.__module__,
        "Transform": configs.PREPROCESSING_FN.rsplit(".", 1)[0],
        "Trainer": configs.RUN_FN.rsplit(".", 1)[0],
        "AnomaliesGate": anomalies_gate.__name__,
        "DriftGate": drift.__name__,
        "span_resolvers": span_resolvers.SpanWindowStrategy.__module__,
    }


def test_the_image_fingerprint_file_is_what_the_module_prints():
    result = subprocess.run([sys.executable, "-m", "components.code_fingerprints"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == code_fingerprints.all_fingerprints()


def test_a_step_in_an_image_of_other_code_stops_with_one_sentence(tmp_path, monkeypatch):
    image_file = tmp_path / "code_fingerprints.json"
    code_fingerprints.check_image_code("Trainer", "0123456789abcdef", str(image_file))  # no file: not an image
    image_file.write_text(json.dumps({"Trainer": "0123456789abcdef", "Transform": "fedcba9876543210"}))
    code_fingerprints.check_image_code("Trainer", "0123456789abcdef", str(image_file))
    with pytest.raises(code_fingerprints.ImageCodeMismatchError) as raised:
        code_fingerprints.check_image_code("Trainer", "1111111111111111", str(image_file))
    assert str(raised.value) == (
        "the container image's code (fingerprint 0123456789abcdef) is not the code this pipeline spec was "
        "compiled from (1111111111111111): rebuild and push the image")
    # The Transform step checks through the custom_config TFX binds to preprocessing_fn.
    monkeypatch.setattr(code_fingerprints, "IMAGE_FINGERPRINTS", str(image_file))
    from components.transform import preprocessing

    with pytest.raises(code_fingerprints.ImageCodeMismatchError, match=r"fingerprint fedcba9876543210\) .*\(abc\)"):
        preprocessing.preprocessing_fn({}, custom_config={"code_fingerprint": "abc"})
    from components.trainer import run_fn

    with pytest.raises(code_fingerprints.ImageCodeMismatchError, match=r"fingerprint 0123456789abcdef\) .*\(abc\)"):
        run_fn.run_fn(types.SimpleNamespace(custom_config={"code_fingerprint": "abc"}))
