"""Each stage is one line: on a terminal its `started` line is rewritten in place by its
result, in a pipe there is none."""

import io
import logging

from pipeline.cli import stage_lines
from pipeline.cli.console import Console


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _run_two_stages(out: io.StringIO) -> str:
    console = Console(out, io.StringIO())
    view = stage_lines.StageView(console, lambda node: f"{node} done", interval=3600)
    log = logging.getLogger("stage-lines-test")
    for node in ("FileBasedExampleGen", "StatisticsGen"):
        for message in (stage_lines._RUNNING, stage_lines._FINISHED):
            view.emit(log.makeRecord("absl", logging.INFO, __file__, 0, message, (node,), None))
    view.detach()
    return out.getvalue()


def test_in_a_pipe_each_stage_prints_its_result_line_only():
    text = _run_two_stages(io.StringIO())
    lines = text.splitlines()
    assert [line.rsplit("   ", 1)[0] for line in lines] == [
        "ExampleGen        FileBasedExampleGen done", "StatisticsGen     StatisticsGen done"]
    assert "started" not in text and "\r" not in text


def test_on_a_terminal_the_started_line_is_rewritten_in_place():
    text = _run_two_stages(Terminal())
    assert text.count("\n") == 2  # one finished line per stage
    assert text.startswith("\r\x1b[KExampleGen        started")
    for line in text.split("\n")[:2]:
        final = line.rsplit("\r\x1b[K", 1)[-1]  # what remains on the screen
        assert final.endswith(" s") and "done" in final and "started" not in final
    assert "\r\x1b[KStatisticsGen     started" in text


def test_an_error_clears_a_status_line_first():
    out, err = Terminal(), io.StringIO()
    console = Console(out, err)
    console.status("Trainer           started")
    console.error("flowers run: Trainer failed")
    assert out.getvalue() == "\r\x1b[KTrainer           started\r\x1b[K"
    assert err.getvalue() == "flowers run: Trainer failed\n"


def test_the_periodic_line_never_reports_an_epoch_before_the_last_one_printed():
    """Short epochs send no step record of their own: the line a pipe gets every 30 s used to show the
    first epoch's step long after later epochs had ended."""
    import re

    out = io.StringIO()
    view = stage_lines.StageView(Console(out, io.StringIO()), lambda node: "done", interval=3600)
    log = logging.getLogger("stage-lines-test")
    view.emit(log.makeRecord("absl", logging.INFO, __file__, 0, stage_lines._RUNNING, ("Trainer",), None))

    def progress(**values):
        record = log.makeRecord("flowers.progress", logging.INFO, __file__, 0, "p", (), None)
        record.progress = dict(values, stage="Trainer")
        view.emit(record)

    progress(kind="step", epoch=1, epochs=10, step=1, steps=2, rate=2.0)
    for epoch in range(1, 8):
        progress(kind="epoch", epoch=epoch, epochs=10, metrics={"loss": 1.0}, rate=40.0, seconds=1.0)
    progress(kind="step", epoch=7, epochs=10, step=2, steps=2, rate=2.0)  # late: epoch 7 is already done
    line = view.periodic_line(view._started + 30.0)
    view.detach()
    printed = [int(m) for m in re.findall(r"^  epoch (\d+)/10", out.getvalue(), re.M)]
    assert printed == list(range(1, 8))
    assert line == "  Trainer  epoch 7/10 done  30.0 s"
    progress(kind="step", epoch=8, epochs=10, step=1, steps=2, rate=2.0)
    assert view.periodic_line(view._started + 31.0).startswith("  Trainer  epoch 8/10, step 1/2, ")
