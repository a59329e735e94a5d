"""One run at a time in an output, and one source per output."""

import os
import subprocess
import sys
import textwrap

import pytest

from pipeline.runners import output_guard


def test_a_second_run_into_a_held_output_is_refused_naming_the_holder(tmp_path):
    out = str(tmp_path / "out")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pipeline.runners import output_guard
            with output_guard.hold({out!r}, "run"):
                print("held", flush=True)
                sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=os.getcwd(),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(output_guard.OutputInUseError) as err:
            with output_guard.hold(out, "run"):
                pass
        message = str(err.value)
        assert message.startswith(f"{out} is in use by another flowers run (pid {holder.pid}, flowers run, started ")
        assert "\n" not in message
    finally:
        holder.communicate("\n", timeout=60)
    # Released when the holder ends: the next run holds it; this process may take it again inside.
    with output_guard.hold(out, "run"):
        with output_guard.hold(out, "ingest"):
            pass


def test_an_output_keeps_one_source(tmp_path):
    out = str(tmp_path / "out")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    output_guard.check_source(out, str(first))
    output_guard.check_source(out, str(first) + "/")  # the same folder, named otherwise
    with open(os.path.join(out, output_guard.SOURCE_FILE)) as f:
        assert f.read().strip() == os.path.realpath(first)
    with pytest.raises(output_guard.OtherSourceError) as err:
        output_guard.check_source(out, str(second))
    assert str(err.value).startswith(f"{out} holds the runs of {os.path.realpath(first)}, and this run reads "
                                     f"{os.path.realpath(second)}")
    output_guard.check_source(str(tmp_path / "tfds"), "tfds:tf_flowers")
    with pytest.raises(output_guard.OtherSourceError):
        output_guard.check_source(str(tmp_path / "tfds"), str(first))


def test_the_command_line_refuses_another_source_before_any_work(tmp_path):
    from pipeline import cli

    out = tmp_path / "out"
    out.mkdir()
    (out / output_guard.SOURCE_FILE).write_text("/somewhere/else\n")
    assert cli.main(["ingest", "--output", str(out)]) == 2
    assert sorted(os.listdir(out)) == [output_guard.LOCK_FILE, output_guard.SOURCE_FILE]  # no log, no report
