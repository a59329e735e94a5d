"""The dry run's stand-in for Vertex's metadata store: a record of what each dry run produced, and the
resolver filters read against it (`pipeline.dry_run.vertex` says what is emulated and what is not)."""

from __future__ import annotations

import json
import os
import re
from typing import Any

ARTIFACT_RECORD = "dry_run_artifacts.json"


def read_json(path: str, producer: str) -> dict[str, Any]:
    if not os.path.exists(path):
        raise RuntimeError(f"{producer} wrote no executor output at {path}")
    with open(path) as f:
        return json.load(f)


class ArtifactRecord:
    """What a metadata store would keep of the dry runs in one work dir: every artifact they produced.

    A JSON file, `{"runs": [job ids], "artifacts": [...]}`, the artifacts in the
    order they were published (the last is the newest). It is rewritten after
    every task, so a run that stops keeps the artifacts of the tasks that ran,
    as Vertex keeps them.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.data: dict[str, Any] = {"runs": [], "artifacts": []}
        if os.path.exists(path):
            self.data = read_json(path, "an earlier dry run")

    @property
    def artifacts(self) -> list[dict[str, Any]]:
        return self.data["artifacts"]

    def next_id(self) -> int:
        return max((artifact["id"] for artifact in self.artifacts), default=0) + 1

    def add(self, entries: list[dict[str, Any]]) -> None:
        self.artifacts.extend(entries)
        self.save()

    def save(self) -> None:
        partial = self.path + ".partial"
        with open(partial, "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(partial, self.path)


def schema_title(artifact_type: dict[str, Any]) -> str:
    """The schema title of a spec's artifactType (`tfx.Model`): its schemaTitle, or the title of its instanceSchema."""
    if "schemaTitle" in artifact_type:
        return artifact_type["schemaTitle"]
    title = re.search(r"^title: (\S+)$", artifact_type.get("instanceSchema", ""), re.MULTILINE)
    if not title:
        raise ValueError(f"artifact type {artifact_type} names no schema title")
    return title.group(1)


_FILTER_INPUT = re.compile(r"\{\{\$\.inputs\.artifacts\['(\w+)'\]\.metadata\['(\w+)'\]\}\}")
_CLAUSES = {
    "schema_title": re.compile(r'schema_title="([^"]+)"'),
    "state": re.compile(r"state=(LIVE)"),
    "metadata": re.compile(r"metadata\.(\w+)\.number_value=(-?[0-9]+(?:\.[0-9]+)?)"),
    "name": re.compile(r'name="([^"]*)"'),
}
NO_MATCH = object()


def parse_filter(task_name: str, query: str, inputs: dict[str, Any]):
    """A predicate on a recorded artifact for the resolver filter `query`, after its input placeholders are filled.

    Only the clauses TFX's KFP v2 compiler writes for our resolvers are read
    (see the module docstring); a clause of any other form raises ValueError.
    A placeholder naming an input that resolved to nothing matches no artifact.
    """
    missing = False

    def fill(match: re.Match) -> str:
        nonlocal missing
        input_key, property_key = match.groups()
        if input_key not in inputs:
            raise ValueError(f"task {task_name}: the resolver filter {query!r} names input {input_key!r}, "
                             f"which the task does not have")
        artifacts = inputs[input_key]["artifacts"]
        if not artifacts:
            missing = True
            return ""
        value = artifacts[0].get("metadata", {}).get(property_key)
        if value is None:
            raise ValueError(f"task {task_name}: the resolver filter {query!r} reads metadata {property_key!r} "
                             f"of input {input_key!r}, which its artifact {artifacts[0].get('name')} does not have")
        return str(value)

    filled = _FILTER_INPUT.sub(fill, query)
    tests = []
    for clause in filled.split(" AND "):
        kind = next((k for k, pattern in _CLAUSES.items() if pattern.fullmatch(clause.strip())), None)
        if kind is None:
            raise ValueError(
                f"task {task_name}: the dry run does not understand {clause.strip()!r} in the resolver filter "
                f"{query!r}; it reads only schema_title=\"...\", state=LIVE, metadata.<key>.number_value=<number> "
                'and name="..." clauses joined by AND.'
            )
        groups = _CLAUSES[kind].fullmatch(clause.strip()).groups()
        if kind == "schema_title":
            tests.append(lambda a, title=groups[0]: a["schema_title"] == title)
        elif kind == "state":
            tests.append(lambda a, state=groups[0]: a["state"] == state)
        elif kind == "metadata":
            tests.append(lambda a, key=groups[0], number=float(groups[1]): _number(a["metadata"].get(key)) == number)
        else:
            tests.append(lambda a, name=groups[0]: a["name"] == name)
    if missing:
        return lambda artifact: False
    return lambda artifact: all(test(artifact) for test in tests)


def _number(value: Any) -> Any:
    """A metadata value as a number, or NO_MATCH when it is none (`number_value` matches numbers only)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return NO_MATCH
    return float(value)
