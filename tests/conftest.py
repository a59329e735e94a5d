import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

# The sample's eval split is 7 photos, so its accuracy moves in steps of 1/7 and
# says little about the model: too small for a meaningful threshold. Measured on
# the sample with these settings (TFX 1.16 / TF 2.16, CPU), eval accuracy after
# 6 epochs: 3/7 = 0.429 at seeds 42, 7, 1 and 3, 2/7 = 0.286 at seed 5 (after 2
# epochs, the old setting: 0/7 at seeds 42, 1 and 5). 0.25 is above chance (0.2)
# and needs 2 of the 7: every measured run passes it, by one or two photos.
# Since an epoch is one pass of whole batches (the 43 training photos make one
# batch of 32, the partial 11 dropped), 6 epochs are 6 steps, not the 12 they
# were (2 per epoch, across epochs): 1/7 at seed 42. 12 epochs, the same 12
# steps: 2/7 at seed 42 (the only seed measured so far; by one photo).
EPOCHS = 12
MIN_ACCURACY = 0.25


@pytest.fixture(scope="session")
def first_run(tmp_path_factory):
    """One `flowers run` of the whole DAG on the bundled sample (in this process),
    shared by the tests that need its artifacts, its report or its console
    (about two minutes on two cores). Returns the config and run_summary.json.
    It must be blessed at `--min-accuracy` MIN_ACCURACY, a threshold above chance;
    the threshold itself is tested on the same model at its accuracy +/- 0.05."""
    import json

    from pipeline import cli, configs

    output = str(tmp_path_factory.mktemp("run"))
    args = ["run", "--output", output, "--epochs", str(EPOCHS), "--min-accuracy", str(MIN_ACCURACY)]
    assert cli.main(args) == 0
    with open(os.path.join(output, "run_summary.json")) as f:
        return configs.RunConfig(output=output, epochs=EPOCHS, min_accuracy=MIN_ACCURACY), json.load(f)
