"""Benchmark commands keep library logs in their log file, as `flowers run` does (issue 32)."""

import json
import os
import subprocess
import sys
import tarfile

from pipeline import configs
from tests.helpers import REPO


def test_bench_peers_prints_its_results_only_and_logs_the_libraries(tmp_path):
    """One round of our pass alone on the bundled sample, as a .tgz: TensorFlow set to log everything
    (TF_CPP_MIN_LOG_LEVEL=0), yet stdout holds the log's path, the round and the table, and stderr nothing."""
    archive = tmp_path / "sample.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(configs.SAMPLE_DATA, arcname="flower_photos")
    output = tmp_path / "bench" / "peers.json"
    output.parent.mkdir()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "TF_USE_LEGACY_KERAS": "1"}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_peers.py"), "--data", str(archive), "--output", str(output),
         "--chains", "tutorial", "--peers", "", "--rounds", "1"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    log = output.parent / "logs" / "bench_peers.log"
    assert done.returncode == 0, done.stderr[-2000:] + log.read_text()[-2000:]
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == f"log: {log}"
    assert [line.split()[:3] for line in lines[1:2]] == [["round", "1", "ours:tutorial:default"]]
    table = [line for line in lines[2:] if line]
    assert table[0].startswith("| pipeline |") and table[2].startswith("| `ours:tutorial:default` |")
    assert len(lines) == 2 + len(table) + lines[2:].count("")
    # The libraries did speak: into the log.
    text = log.read_text()
    assert "tensorflow" in text.lower() and len(text.splitlines()) >= 3
    assert json.loads(output.read_text())["pipelines"][0]["pipeline"] == "ours:tutorial:default"
