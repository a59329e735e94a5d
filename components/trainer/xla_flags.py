"""XLA's CPU flags for a whole process, set where the process starts.

XLA's CPU code generator vectorizes with 256-bit vectors unless told to prefer
512-bit ones; on an AVX-512 machine that ran the augmentation's per-pixel pass
faster per CPU-second under TensorFlow 2.21 (docs/benchmarks.md), with the
same values. XLA reads XLA_FLAGS once, at its first compile, and every
child process inherits it, so the flag is a setting of the process: its entry
point (the CLI, the Trainer's `run_fn`) calls `set_at_process_start` before
anything compiles. It is added only where it helps and is understood: a CPU
with AVX-512 and a TensorFlow whose XLA knows the flag (2.16's aborts on an
unknown flag, so a 2.16 child of a process that set it would die); a width
already in XLA_FLAGS is left as it is.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

WIDE_VECTORS = "--xla_cpu_prefer_vector_width=512"
WIDE_VECTORS_FROM = (2, 21)  # the first TensorFlow whose XLA knows the flag
CPUINFO = "/proc/cpuinfo"


def cpu_has_avx512(cpuinfo: str = CPUINFO) -> bool:
    """Whether the CPU lists the AVX-512 foundation (avx512f) among its flags; False where unknown."""
    try:
        with open(cpuinfo) as f:
            return any(line.startswith("flags") and "avx512f" in line.split() for line in f)
    except OSError:
        return False


def wide_vector_flags(current: str, tf_version: tuple[int, ...], avx512: bool) -> str | None:
    """XLA_FLAGS with WIDE_VECTORS added, or None where it should not be: no AVX-512, a TensorFlow
    older than WIDE_VECTORS_FROM, or a vector width already chosen."""
    if not avx512 or tf_version < WIDE_VECTORS_FROM or "xla_cpu_prefer_vector_width" in current:
        return None
    return f"{current} {WIDE_VECTORS}".strip()


def tf_version() -> tuple[int, ...]:
    """The installed TensorFlow's (major, minor), read from its package metadata: no import, so a
    command's entry point can call this before TensorFlow loads (and prints)."""
    from importlib import metadata

    for name in ("tensorflow", "tensorflow-cpu", "tensorflow-intel"):
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    import tensorflow as tf

    return tuple(int(part) for part in tf.__version__.split(".")[:2] if part.isdigit())


def set_at_process_start(xla: bool = True, environ: MutableMapping[str, str] | None = None,
                         cpuinfo: str = CPUINFO) -> bool:
    """Add WIDE_VECTORS to this process's XLA_FLAGS where `wide_vector_flags` allows and the run
    compiles with XLA (`xla`, the Trainer's setting); True if added. Call it first thing, once."""
    environ = os.environ if environ is None else environ
    if not xla:
        return False
    flags = wide_vector_flags(environ.get("XLA_FLAGS", ""), tf_version(), cpu_has_avx512(cpuinfo))
    if flags is None:
        return False
    environ["XLA_FLAGS"] = flags
    return True
