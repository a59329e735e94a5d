"""The 10x benchmark's tools: the data-set maker and the process-tree memory sampler."""

import importlib.util
import io
import subprocess
import sys
import tarfile
import time

import pytest

from pipeline import configs
from pipeline.bench import memory
from tests.helpers import imagefiles as images


def _script(folder, name):
    spec = importlib.util.spec_from_file_location(name, configs.REPO_ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the worker pool pickles its functions by module name
    spec.loader.exec_module(module)
    return module


def test_make_10x_reencodes_every_photo_at_ten_qualities(tmp_path):
    archive = tmp_path / "photos.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for class_name in ("daisy", "roses"):
            for i in range(2):
                data = images.jpeg(32, 24, seed=i + (10 if class_name == "roses" else 0))
                member = tarfile.TarInfo(f"flower_photos/{class_name}/p{i}.jpg")
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
        tar.addfile(tarfile.TarInfo("flower_photos/LICENSE.txt"), io.BytesIO(b""))
    make_10x = _script("benchmarks", "make_10x")
    assert make_10x.main([str(archive), str(tmp_path / "out")]) == 0
    x1 = sorted((tmp_path / "out" / "x1" / "flower_photos").rglob("*.jpg"))
    x10 = sorted((tmp_path / "out" / "x10" / "flower_photos").rglob("*.jpg"))
    assert len(x1) == 4 and len(x10) == 40
    assert len({p.read_bytes() for p in x10}) == 40  # no byte-identical copies for the duplicate pass to drop
    with tarfile.open(tmp_path / "out" / "x10.tgz") as tar:
        assert len([m for m in tar if m.isfile()]) == 40


def test_tree_memory_counts_child_processes():
    before = memory.rss(tree=True)
    child = subprocess.Popen([sys.executable, "-c", "import time; b = b'x' * (300 << 20); time.sleep(30)"])
    try:
        deadline = time.time() + 20
        grown = 0
        while time.time() < deadline and grown < 250 << 20:
            time.sleep(0.2)
            grown = memory.rss(tree=True) - before
        assert grown >= 250 << 20
    finally:
        child.kill()
        child.wait()


def test_make_spans_deals_every_photo_to_one_span_with_each_class_split_evenly(tmp_path):
    spans = _script("scripts", "make_spans")
    archive = tmp_path / "photos.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for c, class_name in enumerate(("daisy", "roses", "tulips")):
            for i in range(6 + c):
                data = images.jpeg(16, 16, seed=100 * c + i)
                member = tarfile.TarInfo(f"flower_photos/{class_name}/p{i}.jpg")
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
        licence = tarfile.TarInfo("flower_photos/LICENSE.txt")
        tar.addfile(licence, io.BytesIO(b""))
    out = tmp_path / "spans"
    assert spans.main([str(archive), str(out), "--spans", "3"]) == 0
    per_span = {k: sorted(str(p.relative_to(out / f"span-{k}")) for p in (out / f"span-{k}").rglob("*.jpg"))
                for k in (1, 2, 3)}
    assert [len(v) for v in per_span.values()] == [7, 7, 7]
    assert len({name for names in per_span.values() for name in names}) == 21  # each photo in one span
    for names in per_span.values():  # daisy 6, roses 7, tulips 8: every span holds a third of each, within one
        counts = [sum(n.startswith(c + "/") for n in names) for c in ("daisy", "roses", "tulips")]
        assert counts[0] == 2 and 2 <= counts[1] <= 3 and 2 <= counts[2] <= 3
    flat = tmp_path / "flat"
    assert spans.main([str(archive), str(flat), "--flat"]) == 0
    assert len(list(flat.rglob("*.jpg"))) == 21 and not (flat / "LICENSE.txt").exists()
    with pytest.raises(SystemExit):  # a span already written is never written again
        spans.main([str(archive), str(out), "--spans", "3", "--span", "2"])
