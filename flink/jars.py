"""The Flink jars of `make flink-jars`: check them against flink/jars.sha256 and
write the job server's launcher jar.

    python flink/jars.py .flink            # check .flink/lib, write the launcher
    python flink/jars.py .flink --pin      # (re)write flink/jars.sha256 from .flink/lib

The launcher, .flink/beam-flink-job-server.jar, holds only a manifest: Beam's
FlinkJobServerDriver as its main class, the jars of .flink/lib on its class path
and the packages Flink opens on Java 17 (`Add-Opens`), so that
`java -jar .flink/beam-flink-job-server.jar` is what Beam's FlinkRunner starts
from `--flink_job_server_jar` (Beam 2.74 puts `--job_server_jvm_properties`
after `-jar`, where java reads them as the jar's name, so the manifest carries
them instead).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PINS = os.path.join(HERE, "jars.sha256")
LAUNCHER = "beam-flink-job-server.jar"
MAIN_CLASS = "org.apache.beam.runners.flink.FlinkJobServerDriver"
# java.base packages Flink's serializers (Kryo) and its network stack reach into,
# as Flink's own Java 17 options name them.
OPENS = tuple(
    "java.base/" + p
    for p in ("java.lang", "java.lang.reflect", "java.io", "java.net", "java.nio", "java.text", "java.time",
              "java.util", "java.util.concurrent", "java.util.concurrent.atomic", "java.util.concurrent.locks",
              "sun.nio.ch")
)
EXPORTS = ("java.base/sun.net.util", "java.rmi/sun.rmi.registry", "java.security.jgss/sun.security.krb5")


def jvm_options() -> list[str]:
    """The options a Flink JVM needs on Java 17 (the JobManager's and the TaskManager's)."""
    return [f"--add-opens={p}=ALL-UNNAMED" for p in OPENS] + [f"--add-exports={p}=ALL-UNNAMED" for p in EXPORTS]


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def jars(lib: str) -> list[str]:
    return sorted(name for name in os.listdir(lib) if name.endswith(".jar"))


def read_pins() -> dict[str, str]:
    pins = {}
    with open(PINS) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                digest, name = line.split()
                pins[name] = digest
    return pins


def check(lib: str) -> list[str]:
    """Problems of `lib` against the pins, one sentence each (none: it matches)."""
    pins, found = read_pins(), set(jars(lib))
    problems = [f"{lib}/{name} is missing (pinned in {PINS})" for name in sorted(set(pins) - found)]
    problems += [f"{lib}/{name} is not pinned in {PINS}" for name in sorted(found - set(pins))]
    problems += [f"{lib}/{name} has sha256 {sha256(os.path.join(lib, name))}, {PINS} pins {pins[name]}"
                 for name in sorted(found & set(pins)) if sha256(os.path.join(lib, name)) != pins[name]]
    return problems


def manifest_line(key: str, value: str) -> str:
    """One manifest attribute, wrapped as the JAR format wants (72 bytes a line)."""
    text = f"{key}: {value}".encode()
    lines = [text[:72]] + [b" " + text[i:i + 71] for i in range(72, len(text), 71)]
    return "".join(line.decode() + "\r\n" for line in lines)


def write_launcher(folder: str) -> str:
    path = os.path.join(folder, LAUNCHER)
    manifest = (manifest_line("Manifest-Version", "1.0") + manifest_line("Main-Class", MAIN_CLASS)
                + manifest_line("Class-Path", " ".join("lib/" + name for name in jars(os.path.join(folder, "lib"))))
                + manifest_line("Add-Opens", " ".join(OPENS)) + manifest_line("Add-Exports", " ".join(EXPORTS))
                + "\r\n")
    with zipfile.ZipFile(path + ".partial", "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", manifest)
    os.replace(path + ".partial", path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="where `make flink-jars` put the jars (their lib/ folder is checked)")
    parser.add_argument("--pin", action="store_true", help="write the pins from the jars found")
    args = parser.parse_args(argv)
    lib = os.path.join(args.folder, "lib")
    if args.pin:
        with open(PINS, "w") as f:
            f.write("# sha256 of every jar of flink/pom.xml's resolution (python flink/jars.py .flink --pin)\n")
            f.writelines(f"{sha256(os.path.join(lib, name))}  {name}\n" for name in jars(lib))
        return 0
    problems = check(lib)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(write_launcher(args.folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
