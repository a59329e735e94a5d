import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from pipeline import configs  # noqa: E402

# The first run is `flowers run` as a newcomer types it: the bundled sample (400
# photos, 40 of them in eval) with every default, 10 epochs and the bless
# threshold of 0.35 included. Its blessing is this suite's proof that the first
# run pushes a model (measured eval accuracies at other seeds: docs/benchmarks.md).
EPOCHS = configs.RunConfig.epochs
MIN_ACCURACY = configs.RunConfig.min_accuracy


@pytest.fixture(scope="session")
def first_run(tmp_path_factory):
    """One `flowers run --output DIR` of the whole DAG on the bundled sample, with
    every other setting at its default (in this process), shared by the tests that
    need its artifacts, its report or its console (about two minutes on two cores).
    Returns the config and run_summary.json. The threshold itself is tested on the
    same model at its accuracy +/- 0.05."""
    import json

    from pipeline import cli

    output = str(tmp_path_factory.mktemp("run"))
    assert cli.main(["run", "--output", output]) == 0
    with open(os.path.join(output, "run_summary.json")) as f:
        return configs.RunConfig(output=output), json.load(f)
