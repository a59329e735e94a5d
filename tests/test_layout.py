"""The tree's shape: stages as packages, no import cycle, nothing in components/ reaching into pipeline/."""

import ast
import graphlib

from components import code_fingerprints
from tests.helpers import REPO

PACKAGES = ("components", "pipeline")


def _modules() -> dict[str, object]:
    found = {}
    for top in PACKAGES:
        for path in sorted((REPO / top).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _top_level_imports(module: str, path) -> set[str]:
    """Project modules imported when `module` is imported (module level, not inside functions)."""
    tree = ast.parse(path.read_bytes())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_nothing_in_components_imports_pipeline():
    offenders = []
    for module, path in _modules().items():
        if module.startswith("components"):
            imported = code_fingerprints._imported(module, path)  # every import, lazy ones too
            offenders += [f"{module} -> {name}" for name in imported if name.split(".")[0] == "pipeline"]
    assert offenders == []


def test_module_imports_form_no_cycle():
    modules = _modules()
    # A module's own packages run before it whatever it imports (`from package import sibling`):
    # those edges are not the module's choice, and are left out.
    graph = {m: {n for n in _top_level_imports(m, p) if n in modules and not (m + ".").startswith(n + ".")}
             for m, p in modules.items()}
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert len(order) == len(modules) > 70


def test_every_file_is_short_and_every_package_says_what_it_does():
    for top in (*PACKAGES, "tests", "scripts", "benchmarks"):
        for path in (REPO / top).rglob("*.py"):
            assert len(path.read_text().splitlines()) <= 320, path
    for module, path in _modules().items():
        if path.name == "__init__.py":
            docstring = ast.get_docstring(ast.parse(path.read_bytes()))
            assert docstring and len(docstring) > 40, module
