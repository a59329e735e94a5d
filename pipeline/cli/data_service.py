"""`flowers data-service`: tf.data service servers for the Trainer's input.

The Trainer's augmented training dataset (`components.trainer.input_pipeline`) can run
on other machines' CPUs: a dispatcher hands its source splits to workers, each
worker reads, decodes, augments and batches, and the Trainer only receives
batches. The servers are TensorFlow's own (`DispatchServer`, `WorkerServer`);
this command starts them (`components.trainer.tf_data_service`) and checks an address.

    flowers data-service dispatcher --port 5050
    flowers data-service worker --dispatcher dispatcher-host:5050 --port 5051
    flowers run --data-service grpc://dispatcher-host:5050 ...
"""

from __future__ import annotations

import argparse

from components.trainer.tf_data_service import (
    DEFAULT_PORT,
    UnreachableDispatcherError,
    start_dispatcher,
    start_worker,
    wait_reachable,
)

DEFAULT_WAIT_SECONDS = 60.0


def add_parser(parser: argparse.ArgumentParser) -> None:
    """The two roles of the `data-service` command."""
    roles = parser.add_subparsers(dest="role", required=True)
    dispatcher = roles.add_parser("dispatcher", help="the dispatcher the Trainer's --data-service names")
    dispatcher.add_argument("--port", type=int, default=DEFAULT_PORT, help="the port the dispatcher listens on")
    dispatcher.add_argument("--work-dir", default=None,
                            help="journal for a dispatcher that survives restarts (fault-tolerant mode)")
    worker = roles.add_parser("worker", help="a worker that runs the input pipeline for the dispatcher")
    worker.add_argument("--dispatcher", required=True, help="HOST:PORT (or grpc://HOST:PORT) of the dispatcher")
    worker.add_argument("--port", type=int, default=0, help="0: any free port")
    worker.add_argument("--worker-address", default=None,
                        help="HOST:PORT under which clients reach this worker (default localhost:<port>)")
    worker.add_argument("--wait-seconds", type=float, default=DEFAULT_WAIT_SECONDS,
                        help="how long to wait for a dispatcher that is not up yet")


def main(args: argparse.Namespace, console) -> int:
    """Start the server and serve until interrupted."""
    if args.role == "dispatcher":
        server = start_dispatcher(args.port, args.work_dir)
        console.line(f"tf.data service dispatcher: {server.target}")
    else:
        try:
            wait_reachable(args.dispatcher, args.wait_seconds, on_wait=console.line)
        except UnreachableDispatcherError as err:
            console.error(f"flowers data-service worker: {err}.")
            return 1
        server = start_worker(args.dispatcher, args.port, args.worker_address)
        port = args.port or "any free port"
        console.line(f"tf.data service worker ({port}) for dispatcher {args.dispatcher}")
    try:
        server.join()
    except KeyboardInterrupt:
        console.line("stopped")
    return 0
