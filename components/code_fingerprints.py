"""Fingerprints of the code behind each custom step, and the image's check of them.

TFX caches a component on its inputs and settings, never on the code a dotted
path names, so `create_pipeline` puts a fingerprint of that code into each
custom component's settings: editing the code reruns the component. The code is
the import closure, within this project (`components` and `pipeline`), of the
step's entry module: ExampleGen's executor, the `preprocessing_fn`'s module,
the `run_fn`'s module. The closure is read statically with `ast` (every
`import`, at any depth, lazy imports inside functions too), so computing it
imports nothing.

On Vertex the spec is compiled on one machine and run in an image built
elsewhere. The image carries its own fingerprints, written when it is built:

    RUN python -m components.code_fingerprints > /pipeline/code_fingerprints.json

and each step run from it (`IMAGE_FINGERPRINTS` exists) compares them with the
compiled ones before any work (`check_image_code`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from pathlib import Path

PACKAGES = ("components", "pipeline")
# The checkout (or the image's /pipeline): the folder that holds both packages.
REPO_ROOT = Path(__file__).resolve().parents[1]
# The entry module of each custom step (the executor; the preprocessing_fn's and
# the run_fn's modules, as pipeline.configs names them; the two gates; the
# nightly resolvers' strategies).
ENTRY_MODULES = {
    "FileBasedExampleGen": "components.cache_keys",  # the component: its driver and, imported there, its executor
    "Transform": "components.transform.preprocessing",
    "Trainer": "components.trainer.run_fn",
    "AnomaliesGate": "components.validation.anomalies_gate",
    "DriftGate": "components.validation.drift",
    "span_resolvers": "pipeline.span_resolvers",
}
IMAGE_FINGERPRINTS = "/pipeline/code_fingerprints.json"


class ImageCodeMismatchError(RuntimeError):
    """The container image runs other code than the spec was compiled from."""


def module_path(module: str, root: Path = REPO_ROOT) -> Path | None:
    """The source file of a project module (a package's __init__.py), None when there is none."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(module: str, path: Path) -> set[str]:
    """Every module name `module`'s source imports, absolute, at any depth of the file."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def closure(entries: list[str] | tuple[str, ...], root: Path = REPO_ROOT) -> list[str]:
    """The sorted project modules that importing `entries` can load, the packages above them included."""
    found: set[str] = set()
    pending = list(entries)
    while pending:
        module = pending.pop()
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            name = ".".join(parts[:depth])
            path = module_path(name, root)
            if name in found or path is None:
                continue
            found.add(name)
            pending.extend(_imported(name, path))
    return sorted(found)


def fingerprint(entries: list[str] | tuple[str, ...], root: Path = REPO_ROOT) -> str:
    """sha256 (16 hex digits) over the name and source of every module in the closure, in sorted order."""
    digest = hashlib.sha256()
    for name in closure(entries, root):
        source = module_path(name, root).read_bytes()
        digest.update(f"{name}\0{len(source)}\0".encode())
        digest.update(source)
    return digest.hexdigest()[:16]


def component_fingerprint(component: str, root: Path = REPO_ROOT) -> str:
    return fingerprint([ENTRY_MODULES[component]], root)


def all_fingerprints(root: Path = REPO_ROOT) -> dict[str, str]:
    return {component: component_fingerprint(component, root) for component in sorted(ENTRY_MODULES)}


def check_image_code(component: str, compiled: str, path: str | None = None) -> None:
    """In the container (the image's fingerprint file exists): fail when its code is not the compiled code.

    Outside an image, or for a spec compiled without a fingerprint, nothing is checked.
    """
    path = path or IMAGE_FINGERPRINTS
    if not compiled or not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        image = json.load(f).get(component)
    if image != compiled:
        raise ImageCodeMismatchError(
            f"the container image's code (fingerprint {image}) is not the code this pipeline spec was "
            f"compiled from ({compiled}): rebuild and push the image"
        )


def main() -> int:
    """Print every step's fingerprint as JSON (the Dockerfile writes it into the image)."""
    print(json.dumps(all_fingerprints(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
