"""A real Flink session cluster for the tests, from the jars `make flink-jars` pins.

Three java processes, each in a process group of its own and listening on
127.0.0.1 only: a JobManager (Flink's StandaloneSessionClusterEntrypoint), a
TaskManager (TaskManagerRunner) and Beam's Flink job server (the launcher jar,
as FlinkRunner starts it from `--flink_job_server_jar`). `beam_args()` are the
arguments a user passes to run the Beam stages there.

The SDK workers are LOOPBACK: Flink's tasks call back into the Python process
that submitted the job, which already imports this project's modules, tfx_bsl and
the Transform's preprocessing_fn. An EXTERNAL worker pool would need the same
environment started beside the cluster, which is what a real cluster's workers
(a container of the project's Dockerfile) give; here it would prove nothing more.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

from flink import jars
from tests.helpers import REPO

FLINK_DIR = str(REPO / ".flink")
START_SECONDS = 180  # JVMs on two busy cores: about 20 s measured, bounded well above
STOP_SECONDS = 20
SLOTS = 2
# A TaskManager's memory, every part given (the start scripts derive these; java
# started directly must be told), 1.3 GB in all.
TASK_MANAGER_MEMORY = {
    "framework.heap.size": "128m", "task.heap.size": "512m", "managed.size": "128m",
    "framework.off-heap.size": "128m", "task.off-heap.size": "0m", "network.min": "128m", "network.max": "128m",
    "jvm-metaspace.size": "192m", "jvm-overhead.min": "128m", "jvm-overhead.max": "128m",
}
LOG_TIMES = "-Dorg.slf4j.simpleLogger.showDateTime=true"
TASK_MANAGER_JVM = ["-Xms640m", "-Xmx640m", "-XX:MaxDirectMemorySize=256m", "-XX:MaxMetaspaceSize=192m"]


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    found = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not found or not os.path.exists(found):
        raise RuntimeError("no java found (JAVA_HOME or PATH): the Flink tests need Java 17")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FlinkCluster:
    def __init__(self, workdir: str, flink_dir: str = FLINK_DIR):
        self.workdir = workdir
        self.flink_dir = flink_dir
        self.launcher = os.path.join(flink_dir, jars.LAUNCHER)
        self.rest_port, self.rpc_port, self.job_port = free_port(), free_port(), free_port()
        self.processes: dict[str, subprocess.Popen] = {}

    def _config(self) -> str:
        conf = os.path.join(self.workdir, "conf")
        os.makedirs(os.path.join(self.workdir, "tmp"), exist_ok=True)
        os.makedirs(conf, exist_ok=True)
        settings = {
            "jobmanager.rpc.address": "127.0.0.1", "jobmanager.rpc.port": self.rpc_port,
            "jobmanager.bind-host": "127.0.0.1", "jobmanager.memory.process.size": "768m",
            "rest.address": "127.0.0.1", "rest.bind-address": "127.0.0.1", "rest.port": self.rest_port,
            "taskmanager.host": "127.0.0.1", "taskmanager.bind-host": "127.0.0.1",
            # Named here, else the TaskManager names itself after the machine's host name,
            # which the Debian 13 root (scripts/debian13.sh) cannot resolve.
            "taskmanager.resource-id": "taskmanager-1",
            "taskmanager.numberOfTaskSlots": SLOTS, "taskmanager.cpu.cores": SLOTS,
            # Beam's batch jobs deploy every task at once, and each of Flink's sort-merge
            # shuffles wants 512 network buffers by default: 8192 ran out on ExampleGen.
            "taskmanager.network.sort-shuffle.min-buffers": 64,
            # Two cores shared with other work: Flink's defaults (10 s to start its RPC
            # system, 10 s an RPC call) failed under load.
            "pekko.startup-timeout": "120 s", "pekko.ask.timeout": "120 s", "pekko.tcp.timeout": "120 s",
            "heartbeat.timeout": 180000, "web.timeout": 120000,
            "io.tmp.dirs": os.path.join(self.workdir, "tmp"),
            **{f"taskmanager.memory.{k}": v for k, v in TASK_MANAGER_MEMORY.items()},
        }
        with open(os.path.join(conf, "config.yaml"), "w") as f:
            f.writelines(f"{key}: {value}\n" for key, value in settings.items())
        return conf

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(os.path.join(self.workdir, f"{name}.log"), "wb")  # noqa: SIM115 (the process keeps it)
        with log:
            self.processes[name] = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.workdir, start_new_session=True,
            )

    def start(self) -> FlinkCluster:
        lib = os.path.join(self.flink_dir, "lib")
        problems = jars.check(lib) if os.path.isdir(lib) else [f"{lib} is missing"]
        if not problems and not os.path.exists(self.launcher):
            problems = [f"{self.launcher} is missing"]
        if problems:
            raise RuntimeError(f"{problems[0]}: run `make flink-jars` (the pinned Flink jars)")
        conf = self._config()
        classpath = os.pathsep.join(os.path.join(lib, name) for name in jars.jars(lib))
        jvm, classpath = [java(), LOG_TIMES, *jars.jvm_options()], ["-cp", classpath]
        self._spawn("jobmanager", [*jvm, "-Xmx512m", *classpath,
                                   "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
                                   "--configDir", conf])
        self._spawn("taskmanager", [*jvm, *TASK_MANAGER_JVM, *classpath,
                                    "org.apache.flink.runtime.taskexecutor.TaskManagerRunner", "--configDir", conf])
        self._spawn("jobserver", [java(), LOG_TIMES, "-Xmx512m", "-jar", self.launcher, "--flink-master", self.master,
                                  "--job-host", "127.0.0.1", "--job-port", str(self.job_port),
                                  "--artifact-port", "0", "--expansion-port", "0",
                                  "--artifacts-dir", os.path.join(self.workdir, "artifacts")])
        self._wait()
        return self

    @property
    def master(self) -> str:
        return f"127.0.0.1:{self.rest_port}"

    def overview(self) -> dict:
        with urllib.request.urlopen(f"http://{self.master}/overview", timeout=5) as response:
            return json.load(response)

    def _ready(self) -> bool:
        with contextlib.suppress(OSError, ValueError):
            if self.overview()["slots-total"] >= SLOTS:
                with socket.create_connection(("127.0.0.1", self.job_port), timeout=2):
                    return True
        return False

    def _wait(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            dead = [name for name, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"the Flink {dead[0]} exited with {self.processes[dead[0]].returncode}: "
                                   f"{self.log_tail(dead[0])}")
            if self._ready():
                return
            time.sleep(1)
        raise TimeoutError(f"the Flink cluster was not up within {START_SECONDS} s; logs in {self.workdir}")

    def log_tail(self, name: str, lines: int = 15) -> str:
        with open(os.path.join(self.workdir, f"{name}.log"), errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def beam_args(self, parallelism: int = SLOTS, own_job_server: bool = False) -> list[str]:
        """What a user passes (each as `--beam-arg=...`) to run the Beam stages on this cluster: through
        this job server, or with `own_job_server` through one FlinkRunner starts from the launcher jar."""
        server = ([f"--flink_job_server_jar={self.launcher}"] if own_job_server
                  else [f"--job_endpoint=127.0.0.1:{self.job_port}"])
        return ["--runner=FlinkRunner", f"--flink_master={self.master}", *server,
                "--environment_type=LOOPBACK", f"--parallelism={parallelism}"]

    def stop(self) -> None:
        """Stop every process started here (their whole process groups): TERM, then KILL."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_SECONDS)


def main() -> None:
    """`python -m tests.helpers.flink_cluster DIR`: a cluster until Ctrl+C, for trying `flowers run` on it."""
    import sys

    workdir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "out-flink")
    os.makedirs(workdir, exist_ok=True)
    cluster = FlinkCluster(workdir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        cluster.start()
        print("flowers run " + " ".join(f"--beam-arg={a}" for a in cluster.beam_args(own_job_server=True)), flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
