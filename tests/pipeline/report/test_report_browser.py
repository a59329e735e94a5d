"""report.html and statistics.html in a real headless Chromium (Debian's `chromium`, driven by Playwright),
with every request that would leave the machine aborted, for the sample run and for a run stopped by the
anomalies gate; and that run's console."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from playwright.sync_api import sync_playwright

from pipeline import configs
from pipeline.report.outcomes import DISPLAY_NAMES

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
IMAGES_JS = "Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth, src: i.src}))"
COUNTS_JS = "Object.fromEntries(Array.from(document.querySelectorAll('[id^=count-]')).map(e => [e.id, e.textContent]))"
STATS_JS = "Object.fromEntries(Array.from(document.querySelectorAll('[id^=stat-]')).map(e => [e.id, e.innerText]))"
LOCAL = ("file:", "data:")


def _offline(route, blocked: list) -> None:
    """Let the page read its own file and data: URIs; abort (and note) anything bound for a network."""
    if route.request.url.startswith(LOCAL):
        route.continue_()
    else:
        blocked.append(route.request.url)
        route.abort("internetdisconnected")


def open_report(path: str) -> dict:
    """What the browser saw, offline: images, counts and statistics by element id, text, every request URL and
    the ones aborted."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(offline=True)
        requests, blocked = [], []
        context.route("**/*", lambda route: _offline(route, blocked))
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"file://{os.path.abspath(path)}", wait_until="load")
        seen = {
            "images": page.evaluate(IMAGES_JS),
            "counts": {k: int(v.replace(",", "")) for k, v in page.evaluate(COUNTS_JS).items()},
            "statistics": page.evaluate(STATS_JS),
            "text": page.inner_text("body"),
            "requests": requests,
            "blocked": blocked,
        }
        browser.close()
    return seen


def test_offline_the_report_opens_with_the_outcome_and_the_statistics_view_has_its_numbers(first_run):
    config, summary = first_run
    with open(summary["ingest_report"]) as f:
        ingested = json.load(f)["ingested"]
    assert summary["statistics_html"] == os.path.join(config.output, "statistics.html")  # the console's pointer
    pages = {path: open_report(path) for path in (os.path.join(config.output, "report.html"),
                                                  summary["statistics_html"])}
    for seen in pages.values():
        assert seen["blocked"] == [] and all(url.startswith(LOCAL) for url in seen["requests"]), seen["requests"]
        stats = seen["statistics"]
        for split in ("train", "eval", "test"):
            assert int(stats[f"stat-examples-{split}"]) == summary["counts"][split]
            assert {name: int(stats[f"stat-label-{split}-{name}"]) for name in summary["classes"]} == \
                ingested[split]
            for feature in ("image", "label", "filename"):
                assert int(stats[f"stat-{feature}-{split}-present"]) == summary["counts"][split]

    # The report's first lines after its title: blessed or not and why, the accuracies, the pushed model.
    text = pages[os.path.join(config.output, "report.html")]["text"]
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[2:6] == [
        f"Blessed: eval accuracy {summary['eval_accuracy']} against the threshold {config.min_accuracy}.",
        f"eval accuracy\t{summary['eval_accuracy']}", f"test accuracy\t{summary['test_accuracy']}",
        f"pushed model\t{summary['pushed_model']}"]
    assert lines[6] == "Photos per split and class"


def test_the_sample_runs_report_shows_every_picture_and_the_summarys_counts(first_run):
    config, summary = first_run
    seen = open_report(os.path.join(config.output, "report.html"))

    assert seen["requests"] and all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
    assert all(image["src"].startswith("data:image/") for image in seen["images"])
    assert [image for image in seen["images"] if not image["complete"] or image["width"] == 0] == []

    counts = summary["counts"]
    assert {split: seen["counts"][f"count-{split}"] for split in counts} == counts
    for split in ("train", "eval", "test"):
        per_class = [v for k, v in seen["counts"].items() if k.startswith(f"count-{split}-")]
        assert len(per_class) == 5 and sum(per_class) == counts[split]

    # The Trainer's test accuracy and the report's serving-model predictions agree.
    misclassified = round(counts["test"] * (1 - summary["test_accuracy"]))
    assert f"{misclassified} misclassified" in seen["text"]
    assert len(seen["images"]) == 9 + 1 + 1 + min(misclassified, 48)
    blessing = f"Blessed: eval accuracy {summary['eval_accuracy']} against the threshold {config.min_accuracy}"
    assert blessing in seen["text"]
    assert "curl -d" in seen["text"] and summary["pushed_model"] in seen["text"]
    for stage in ("ExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"):
        assert re.search(rf"^{stage}\s+SUCCESS|^{stage}\s+CACHED|^{stage}\s+COMPLETE", seen["text"], re.M), stage


@pytest.fixture(scope="module")
def gate_stopped(tmp_path_factory):
    """`flowers ingest` on daisies and roses with a schema whose labels stop at 3 (roses are 4)."""
    root = tmp_path_factory.mktemp("gate")
    for name in ("daisy", "roses"):
        shutil.copytree(os.path.join(configs.SAMPLE_DATA, name), root / "photos" / name)
    (root / "schema").mkdir()
    schema = open(os.path.join(configs.SCHEMA_DIR, "schema.pbtxt")).read()
    (root / "schema" / "schema.pbtxt").write_text(schema.replace("min: 0 max: 4", "min: 0 max: 3"))
    output = root / "out"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "ingest", "--data", str(root / "photos"), "--output", str(output),
         "--schema-dir", str(root / "schema")],
        capture_output=True, text=True, timeout=600,
    )
    return output, result


def test_a_failed_run_names_the_component_and_the_log_and_keeps_the_console_quiet(gate_stopped):
    output, result = gate_stopped
    assert result.returncode == 1
    err = result.stderr.splitlines()
    assert err[0] == "flowers ingest: AnomaliesGate failed: ExampleValidator found data anomalies; " \
                     "the run stops before Transform:"
    assert re.match(r"  (train|eval|test): label: Out-of-range values", err[1])
    assert err[-2:] == [f"log: {output / 'logs' / 'run.log'}", f"report: {output / 'report.html'}"]
    # Library output went to the log; the console has only stage lines.
    names = {DISPLAY_NAMES.get(n, n) for n in ("FileBasedExampleGen", "StatisticsGen", "ImportSchemaGen",
                                                "ExampleValidator", "AnomaliesGate")}
    out = result.stdout.splitlines()
    assert {line.split()[0] for line in out} == names, out
    assert len(out) == len(names)  # one line per stage: the started line is only shown on a terminal
    # Roses fall in all three splits (the split is a hash of the file name): one anomaly per split.
    assert "ExampleValidator  3 anomalies   " in result.stdout
    assert "Component ExampleValidator is running." in (output / "logs" / "run.log").read_text()


def test_the_report_of_a_run_stopped_by_the_gate_names_the_anomalies(gate_stopped):
    output, _ = gate_stopped
    seen = open_report(str(output / "report.html"))
    assert "AnomaliesGate failed:" in seen["text"]
    anomalies = re.findall(r"^(train|eval|test): label: Out-of-range values", seen["text"], re.M)
    assert sorted(anomalies) == ["eval", "test", "train"]
    photos = sum(len(os.listdir(os.path.join(configs.SAMPLE_DATA, name))) for name in ("daisy", "roses"))
    assert seen["counts"]["count-train"] + seen["counts"]["count-eval"] + seen["counts"]["count-test"] == photos
    assert seen["counts"]["count-quarantined"] == 0
    assert len(seen["images"]) == 9 and all(image["width"] > 0 for image in seen["images"])
    assert all(url.startswith(("file:", "data:")) for url in seen["requests"])
