"""A `flowers data-service worker` started before its dispatcher waits for it, within a bound
(127.0.0.1 only; every server is stopped, every wait bounded)."""

import os
import queue
import socket
import subprocess
import sys
import threading
import time

from pipeline.cli import data_service as servers


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker(port: int, wait_seconds: float, tmp_path) -> tuple[subprocess.Popen, queue.Queue]:
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "data-service", "worker", "--dispatcher", f"127.0.0.1:{port}",
         "--worker-address", "127.0.0.1:%port%", "--wait-seconds", str(wait_seconds)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    return process, lines


def _next_line(lines: queue.Queue, timeout: float) -> str:
    return lines.get(timeout=timeout).rstrip("\n")


def test_a_worker_waits_for_a_dispatcher_that_starts_after_it(tmp_path):
    port = _free_port()
    worker, lines = _worker(port, 120, tmp_path)
    dispatcher = None
    try:
        assert _next_line(lines, 60) == f"waiting for dispatcher 127.0.0.1:{port}"
        time.sleep(2)
        assert worker.poll() is None  # still waiting, not gone
        dispatcher = servers.start_dispatcher(port=port)
        assert _next_line(lines, 120) == f"tf.data service worker (any free port) for dispatcher 127.0.0.1:{port}"
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait(timeout=30)
        if dispatcher is not None:
            dispatcher._stop()
    assert lines.empty()  # "waiting" was said once


def test_a_worker_gives_up_after_its_bound_with_one_sentence(tmp_path):
    port = _free_port()
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "data-service", "worker", "--dispatcher", f"127.0.0.1:{port}",
         "--wait-seconds", "2"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
    )
    assert time.monotonic() - started >= 2
    assert (result.returncode, result.stdout) == (1, f"waiting for dispatcher 127.0.0.1:{port}\n")
    assert result.stderr == (
        f"flowers data-service worker: the tf.data service dispatcher at grpc://127.0.0.1:{port} did not answer "
        f"within 2 s; start it with `flowers data-service dispatcher --port {port}` or raise --wait-seconds.\n")
