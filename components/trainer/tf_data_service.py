"""tf.data service for the Trainer's input: the dispatcher's address, checked, and the two servers.

The servers are TensorFlow's own (`DispatchServer`, `WorkerServer`), started by
`flowers data-service` (`pipeline/cli/data_service.py`) or by the manifests in
`deploy/`; the Trainer step only needs to know the address is well formed and answers.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from urllib.parse import urlparse


class UnreachableDispatcherError(ConnectionError):
    """The dispatcher named by --data-service does not answer."""


def parse_address(address: str) -> tuple[str, int]:
    """`grpc://host:port` or `host:port` to (host, port); a clear error otherwise."""
    parsed = urlparse(address if "://" in address else f"grpc://{address}")
    if parsed.scheme != "grpc" or not parsed.hostname or not parsed.port:
        raise ValueError(f"tf.data service address must look like grpc://HOST:PORT, got {address!r}")
    return parsed.hostname, parsed.port


def check_reachable(address: str, timeout: float = 5.0) -> str:
    """Fail within `timeout` seconds when nothing listens at the dispatcher's address.

    The tf.data service client retries an unreachable dispatcher for a long time;
    a plain TCP connect answers at once. Returns the address as `grpc://host:port`.
    """
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as err:
        raise UnreachableDispatcherError(
            f"the tf.data service dispatcher at grpc://{host}:{port} is unreachable ({err.strerror or err}); "
            "start one with `flowers data-service dispatcher --port PORT`"
        ) from None
    return f"grpc://{host}:{port}"


def wait_reachable(address: str, wait_seconds: float, on_wait: Callable[[str], None] | None = None,
                   poll_seconds: float = 0.5) -> str:
    """`check_reachable`, retried for up to `wait_seconds`: a worker may start before its dispatcher.

    Says once, through `on_wait`, that it waits (as TensorFlow's own worker does),
    and fails with one sentence only when the bound has passed.
    """
    host, port = parse_address(address)
    deadline = time.monotonic() + wait_seconds
    waiting = False
    while True:
        remaining = deadline - time.monotonic()
        try:
            return check_reachable(address, timeout=max(0.1, min(5.0, remaining)))
        except UnreachableDispatcherError as err:
            if remaining <= 0:
                raise UnreachableDispatcherError(
                    f"the tf.data service dispatcher at grpc://{host}:{port} did not answer within "
                    f"{wait_seconds:g} s; start it with `flowers data-service dispatcher --port {port}` "
                    "or raise --wait-seconds"
                ) from err
        if not waiting and on_wait is not None:
            on_wait(f"waiting for dispatcher {host}:{port}")
        waiting = True
        time.sleep(max(0.0, min(poll_seconds, deadline - time.monotonic())))


DEFAULT_PORT = 5050


def start_dispatcher(port: int = DEFAULT_PORT, work_dir: str | None = None):
    import tensorflow as tf

    config = tf.data.experimental.service.DispatcherConfig(
        port=port, work_dir=work_dir, fault_tolerant_mode=bool(work_dir)
    )
    return tf.data.experimental.service.DispatchServer(config)


def start_worker(dispatcher: str, port: int = 0, worker_address: str | None = None):
    import tensorflow as tf

    host, dispatcher_port = parse_address(dispatcher)
    config = tf.data.experimental.service.WorkerConfig(
        dispatcher_address=f"{host}:{dispatcher_port}",
        port=port,
        worker_address=worker_address or "localhost:%port%",
    )
    return tf.data.experimental.service.WorkerServer(config)
