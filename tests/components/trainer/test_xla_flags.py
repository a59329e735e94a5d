"""XLA's process-wide flags: set where a process starts, gated on the CPU and TensorFlow, never on import."""

import os
import subprocess
import sys

from components.trainer import xla_flags

AVX512 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n"
AVX2 = "processor\t: 0\nflags\t\t: fpu sse2 avx2\n"


def test_importing_the_trainer_changes_no_environment_variable():
    # TensorFlow itself sets a few variables on import (TF2_BEHAVIOR, on 2.21 TPU_ML_PLATFORM...): the
    # snapshot is taken after it, so what is compared is what our modules do.
    code = (
        "import os, json, tensorflow, tensorflow_transform, tf_keras; before = dict(os.environ)\n"
        "import components.trainer.augment.fused, components.trainer.run_fn\n"
        "print(json.dumps(sorted(set(os.environ.items()) ^ set(before.items()))))"
    )
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_wide_vectors_only_with_avx512_and_a_tensorflow_that_knows_the_flag():
    assert xla_flags.wide_vector_flags("", (2, 21), avx512=True) == xla_flags.WIDE_VECTORS
    assert xla_flags.wide_vector_flags("--xla_cpu_enable_fast_math=true", (2, 22), True) == (
        "--xla_cpu_enable_fast_math=true " + xla_flags.WIDE_VECTORS)
    assert xla_flags.wide_vector_flags("", (2, 21), avx512=False) is None
    assert xla_flags.wide_vector_flags("", (2, 16), avx512=True) is None  # 2.16's XLA aborts on it
    assert xla_flags.wide_vector_flags("--xla_cpu_prefer_vector_width=256", (2, 21), True) is None


def test_set_at_process_start_reads_the_cpu_and_the_setting(tmp_path, monkeypatch):
    monkeypatch.setattr(xla_flags, "tf_version", lambda: (2, 21))
    (tmp_path / "avx512").write_text(AVX512)
    (tmp_path / "avx2").write_text(AVX2)
    assert xla_flags.cpu_has_avx512(str(tmp_path / "avx512")) and not xla_flags.cpu_has_avx512(str(tmp_path / "avx2"))
    assert not xla_flags.cpu_has_avx512(str(tmp_path / "absent"))
    environ = {"XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    assert not xla_flags.set_at_process_start(True, environ, str(tmp_path / "avx2"))
    assert not xla_flags.set_at_process_start(False, environ, str(tmp_path / "avx512"))
    assert environ == {"XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    assert xla_flags.set_at_process_start(True, environ, str(tmp_path / "avx512"))
    assert environ == {"XLA_FLAGS": "--xla_dump_to=/tmp/x " + xla_flags.WIDE_VECTORS}
    monkeypatch.setattr(xla_flags, "tf_version", lambda: (2, 16))
    assert not xla_flags.set_at_process_start(True, {}, str(tmp_path / "avx512"))
