"""The installed `flowers` command, as the README runs it (`.venv/bin/flowers`).

The other command-line tests run `python -m pipeline`; this one runs the
console script pip wrote, from a directory outside the repository, so that
how the project is installed (pyproject.toml's build system, an editable
wheel) is tested too. An install through setuptools' old `develop` scripts
once made every `flowers run` fail at ExampleGen: they resolve the whole
dependency tree through pkg_resources once TFX imports setuptools.
"""

import json
import os
import subprocess
import sys


def test_installed_flowers_ingests_the_sample_quietly(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "flowers")
    assert os.access(script, os.X_OK), f"{script} is not installed: pip install -e . writes it"
    out = tmp_path / "out"
    result = subprocess.run([script, "ingest", "--output", str(out)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((out / "ingest_report.json").read_text())
    assert report["files_seen"] == 400
    assert report["ingested_total"] == 400
    assert sum(n for split in report["ingested"].values() for n in split.values()) == 400
    assert report["quarantined"] == [] and report["skipped"] == []
    console = (result.stdout + result.stderr).lower()
    # Quiet: stage lines only, no TensorFlow or pip chatter.
    assert "cuda" not in console and "warning" not in console and "traceback" not in console
    # One line per stage: in a pipe there is no `started` line, only the stage's result.
    example_gen = [line for line in result.stdout.splitlines() if line.startswith("ExampleGen")]
    assert len(example_gen) == 1 and example_gen[0].startswith("ExampleGen        400 photos -> train "), example_gen
    assert "started" not in result.stdout


def test_arguments_are_checked_without_tensorflow_for_an_archive_too(tmp_path):
    """Listing a local .tgz (`--data` check) imports no TensorFlow, so nothing is printed before
    the quiet console starts; a full-archive `flowers run` once began with a dozen CUDA lines."""
    import tarfile

    from pipeline import configs

    archive = tmp_path / "photos.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(configs.SAMPLE_DATA, arcname="flower_photos")
    probe = ("import sys; from pipeline.cli import validate; "
             f"print(validate.check_data({str(archive)!r}, 2), 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # The check stops at the first photos of two classes, so the file count is unknown (None).
    assert result.stdout.split() == ["None", "False"]


def test_help_imports_no_tensorflow():
    """`flowers --help` and a command's `--help` print at once: parsing flags imports no TensorFlow."""
    probe = ("import sys\nfrom pipeline import cli\nfor argv in (['--help'], ['run', '--help']):\n"
             "    try:\n        cli.main(argv)\n    except SystemExit as end:\n        assert end.code == 0\n"
             "print('tensorflow' in sys.modules, 'tfx' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage: flowers" in result.stdout
    assert result.stdout.split()[-2:] == ["False", "False"]
