"""Bad invocations through the real command line: one sentence, exit code 2, no work done.

Every case fails before TensorFlow is imported (the augmentation spec too: it is
parsed by `components.trainer.augment.spec_parser`), so these subprocesses take a fraction of a
second each.
"""

import os
import subprocess
import sys

import pytest

from pipeline import configs

ACCEPTED = (
    "accepted: a folder of class folders (<root>/<class>/<image file>), a .tgz, .tar.gz, .tar or .zip of one, "
    "or tfds:tf_flowers."
)


def flowers(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True,
                          timeout=timeout, env=None if env is None else {**os.environ, **env})


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    (root / "empty").mkdir()
    (root / "only_readme").mkdir()
    (root / "only_readme" / "README.txt").write_text("no photos here")
    one = root / "one" / "daisy"
    one.mkdir(parents=True)
    for name in sorted(os.listdir(os.path.join(configs.SAMPLE_DATA, "daisy")))[:3]:
        (one / name).write_bytes(open(os.path.join(configs.SAMPLE_DATA, "daisy", name), "rb").read())
    (root / "photos.rar").write_bytes(b"Rar!\x1a\x07\x00")
    return root


def test_bad_arguments_get_one_sentence_and_exit_code_2(folders, tmp_path):
    out = str(tmp_path / "out")
    cases = [
        (["run", "--data", str(folders / "missing"), "--output", out],
         f"flowers run: --data {folders / 'missing'}: no such file or folder; {ACCEPTED}"),
        (["run", "--data", str(folders / "photos.rar"), "--output", out],
         f"flowers run: --data {folders / 'photos.rar'}: unsupported file type .rar; {ACCEPTED}"),
        (["ingest", "--data", str(folders / "empty"), "--output", out],
         f"flowers ingest: --data {folders / 'empty'} holds no photos in class folders; {ACCEPTED}"),
        (["ingest", "--data", str(folders / "only_readme"), "--output", out],
         f"flowers ingest: --data {folders / 'only_readme'} holds no photos in class folders; {ACCEPTED}"),
        (["run", "--data", str(folders / "one"), "--output", out],
         f"flowers run: --data {folders / 'one'} has photos of 1 class only (daisy); "
         "a classifier needs photos in at least 2 class folders."),
        (["run", "--epochs", "-1", "--output", out],
         "flowers run: --epochs -1 is not accepted: it must be a positive number."),
        (["run", "--batch-size", "0", "--output", out],
         "flowers run: --batch-size 0 is not accepted: it must be a positive number."),
        (["run", "--min-accuracy", "1.5", "--output", out],
         "flowers run: --min-accuracy 1.5 is not accepted: it must be a fraction between 0 and 1."),
        (["run", "--epochs", "three", "--output", out],
         "flowers run: argument --epochs: invalid int value: 'three' (see flowers run --help)."),
        (["predict", "--model", str(folders / "no_model"), "photo.jpg"],
         f"flowers predict: --model {folders / 'no_model'}: no such folder; accepted: a SavedModel folder "
         "or the Pusher's serving_model folder of numbered versions."),
        (["run", "--augment-in", "gpu", "--output", out],
         "flowers run: --augment-in gpu is not accepted: it must be input (in the tf.data input, on the CPU) or "
         "model (in the training model's first layer, on the device that trains)."),
        (["run", "--augment-in", "model", "--data-service", "grpc://localhost:5050", "--output", out],
         "flowers run: --augment-in model and --data-service do not go together: the service's workers are there "
         "to augment on other machines' CPUs; drop one of them."),
        (["compile", "--augment-in", "Model", "--output", out],
         "flowers compile: --augment-in Model is not accepted: it must be input (in the tf.data input, on the CPU) "
         "or model (in the training model's first layer, on the device that trains)."),
        # compile's --data names a path inside the image: not checked here, the epochs are.
        (["compile", "--data", "/nowhere/in/this/machine", "--epochs", "0", "--output", out],
         "flowers compile: --epochs 0 is not accepted: it must be a positive number."),
    ]
    for args, message in cases:
        result = flowers(*args)
        assert (result.returncode, result.stderr, result.stdout) == (2, message + "\n", ""), args
    assert not os.path.exists(out)


def test_a_bad_augmentation_spec_fails_before_any_work(tmp_path):
    out = tmp_path / "out"
    result = flowers("run", "--augmentation", "flip(sideways)|rotate(0.2)", "--output", str(out))
    assert result.returncode == 2
    assert result.stderr == (
        "flowers run: --augmentation 'flip(sideways)|rotate(0.2)' is not accepted: flip mode must be one of "
        "('horizontal', 'vertical', 'horizontal_and_vertical'), got 'sideways' "
        "(ops are named in components/trainer/augment/fused.py).\n"
    )
    assert result.stdout == ""
    # Refused before any work: no artifact, no metadata, not even a log.
    assert not os.path.exists(out)


def test_verbose_shows_the_library_output_that_the_quiet_console_hides(tmp_path):
    """`predict` on a folder with no model: TensorFlow loads, then the command fails (exit 1)."""
    (tmp_path / "no_model").mkdir()
    args = ("predict", "--model", str(tmp_path / "no_model"), str(tmp_path / "photo.jpg"))
    env = {"XDG_STATE_HOME": str(tmp_path)}  # the log of commands without an output folder goes there
    quiet, verbose = flowers(*args, env=env), flowers(*args, "--verbose", env=env)
    assert quiet.returncode == verbose.returncode == 1
    assert len(quiet.stderr.splitlines()) == 1 and "no SavedModel" in quiet.stderr
    # TensorFlow's import messages (C++ and Python) reach the console only with --verbose ...
    library_lines = verbose.stderr.splitlines()[:-1]
    assert library_lines and verbose.stderr.splitlines()[-1] == quiet.stderr.strip()
    # ... and the log file has them either way (both runs appended to it).
    log = (tmp_path / "flowers-tfx" / "logs" / "predict.log").read_text()
    assert all(line.split("] ", 1)[-1] in log for line in library_lines)
