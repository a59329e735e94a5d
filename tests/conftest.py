import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The helpers beside the tests (imagefiles) import by plain name.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def first_run(tmp_path_factory):
    """One `flowers run` of the whole DAG on the bundled sample (in this process),
    shared by the tests that need its artifacts, its report or its console
    (about two minutes on two cores). Returns the config and run_summary.json.
    `--min-accuracy 0` blesses it whatever it learned, for the serving tests; the
    threshold itself is tested on the same model at its accuracy +/- 0.05."""
    import json

    from pipeline import cli, configs

    output = str(tmp_path_factory.mktemp("run"))
    assert cli.main(["run", "--output", output, "--epochs", "2", "--min-accuracy", "0"]) == 0
    with open(os.path.join(output, "run_summary.json")) as f:
        return configs.RunConfig(output=output, epochs=2, min_accuracy=0.0), json.load(f)
