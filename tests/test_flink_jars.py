"""flink/jars.py: the pins catch a changed, missing or extra jar; the launcher's manifest is one java reads."""

import zipfile

import pytest

from flink import jars


@pytest.fixture
def folder(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    names = [f"dependency-with-a-rather-long-name-{i}-1.0.0.jar" for i in range(5)]
    for i, name in enumerate(names):
        (lib / name).write_bytes(b"jar %d" % i)
    pins = tmp_path / "jars.sha256"
    monkeypatch.setattr(jars, "PINS", str(pins))
    assert jars.main([str(tmp_path), "--pin"]) == 0
    return tmp_path, names


def test_pinned_jars_pass_and_every_change_is_named(folder):
    root, names = folder
    lib = root / "lib"
    assert jars.check(str(lib)) == []
    (lib / names[0]).write_bytes(b"another jar")
    (lib / names[1]).unlink()
    (lib / "unpinned-2.0.jar").write_bytes(b"x")
    problems = jars.check(str(lib))
    assert len(problems) == 3
    assert any(names[0] in p and "has sha256" in p for p in problems)
    assert any(names[1] in p and "is missing" in p for p in problems)
    assert any("unpinned-2.0.jar is not pinned" in p for p in problems)
    assert jars.main([str(root)]) == 1
    assert not (root / jars.LAUNCHER).exists()


def test_launcher_manifest(folder):
    root, names = folder
    assert jars.main([str(root)]) == 0
    with zipfile.ZipFile(root / jars.LAUNCHER) as jar:
        assert jar.namelist() == ["META-INF/MANIFEST.MF"]
        raw = jar.read("META-INF/MANIFEST.MF")
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 72
    assert raw.endswith(b"\r\n\r\n")
    attributes, key = {}, ""
    for line in lines:
        if line.startswith(b" "):
            attributes[key] += line[1:].decode()
        elif line:
            key, value = line.decode().split(": ", 1)
            attributes[key] = value
    assert attributes["Main-Class"] == jars.MAIN_CLASS
    assert attributes["Class-Path"].split() == [f"lib/{name}" for name in sorted(names)]
    assert attributes["Add-Opens"].split() == list(jars.OPENS)
    assert len(jars.jvm_options()) == len(jars.OPENS) + len(jars.EXPORTS)
