"""The log of commands without an output folder lives in a private per-user folder and is
never opened through a link: nobody else can pre-create it or point it elsewhere."""

import os
import stat
import tempfile

import pytest

from pipeline import cli
from pipeline.cli import console


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "flowers-tfx" / "logs"


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_log_folder_is_created_private_and_made_private(state):
    assert console.default_log_path("predict") == str(state / "predict.log")
    assert (_mode(state), os.lstat(state).st_uid) == (0o700, os.getuid())
    os.chmod(state, 0o777)
    console.default_log_path("predict")
    assert _mode(state) == 0o700
    with console.open_log(str(state / "predict.log")) as log:
        log.write("a line\n")
    assert _mode(state / "predict.log") == 0o600


def test_a_linked_or_foreign_log_folder_is_refused(state, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state.parent.mkdir(parents=True)
    os.symlink(elsewhere, state)
    with pytest.raises(console.LogFileError, match=r"is not a folder of user \d+ \(it is a link or another user's\)"):
        console.default_log_path("predict")
    os.remove(state)
    if os.getuid() != 0:
        pytest.skip("only root can give a folder to another user")
    state.mkdir(mode=0o700)
    os.chown(state, 65534, 65534)
    with pytest.raises(console.LogFileError, match="another user's"):
        console.default_log_path("predict")


def test_a_symbolic_link_at_the_log_is_never_followed(state, tmp_path, capsys):
    target = tmp_path / "target.txt"
    target.write_text("not yours to append to\n")
    os.makedirs(state, mode=0o700)
    os.symlink(target, state / "predict.log")
    with pytest.raises(console.LogFileError, match="is a symbolic link, which is never followed"):
        console.open_log(str(state / "predict.log"))
    assert cli.main(["predict", "--model", str(tmp_path), str(tmp_path / "photo.jpg")]) == 2
    assert capsys.readouterr().err == (
        f"flowers predict: the log {state / 'predict.log'} is a symbolic link, which is never followed; "
        "remove it.\n")
    assert target.read_text() == "not yours to append to\n"


def test_without_a_writable_state_folder_the_log_goes_to_a_private_temp_folder(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "a_file" / "state"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    os.mkdir(tmp_path / "tmp")
    private = tmp_path / "tmp" / f"flowers-tfx-{os.getuid()}"
    assert console.default_log_path("bench") == str(private / "logs" / "bench.log")
    assert _mode(private) == _mode(private / "logs") == 0o700
