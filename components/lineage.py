"""Which spans the gates accepted, read from ML Metadata's lineage.

A span is accepted when the run that ingested it got past both data gates:
its examples went into a `DriftGate` execution (as `examples`, never as the
`baseline`) that completed or was reused from the cache. `DriftGate` runs after
`AnomaliesGate`, so a span that either gate stopped has no such execution; nor
does one whose ExampleGen stopped (over the quarantine limit), which published
no examples at all. With `--accept-drift` the gate completes, so the span is
accepted.

The nightly window, the drift baseline and ExampleGen's duplicate check read
only accepted spans (`pipeline.span_resolvers`, `components.cache_keys`), each
span by its newest examples artifact: a span ingested again replaces its
earlier artifact everywhere, and when its new artifact was rejected, the span
is out until it is fixed.
"""

from __future__ import annotations

from collections.abc import Iterable

from ml_metadata.proto import metadata_store_pb2

GATE_TYPE_SUFFIX = "DriftGate"
GATE_INPUT_KEY = "examples"  # the gate's input of the span it judges (its `baseline` is another key)
_PASSED = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)


def _key(event) -> str:
    return event.path.steps[0].key if event.path.steps else ""


def _executions_of_type(store, execution_ids: Iterable[int], suffix: str) -> dict[int, object]:
    executions = store.get_executions_by_id(sorted(set(execution_ids))) if execution_ids else []
    type_ids = sorted({e.type_id for e in executions})
    names = {t.id: t.name for t in store.get_execution_types_by_id(type_ids)} if type_ids else {}
    return {e.id: e for e in executions if names.get(e.type_id, "").endswith(suffix)}


def accepted_examples(store, examples_ids: Iterable[int]) -> set[int]:
    """The examples artifacts (ids) that a passed DriftGate took as the span it judged."""
    ids = sorted(set(examples_ids))
    if not ids:
        return set()
    events = [
        e for e in store.get_events_by_artifact_ids(ids)
        if e.type == metadata_store_pb2.Event.INPUT and _key(e) == GATE_INPUT_KEY
    ]
    gates = _executions_of_type(store, {e.execution_id for e in events}, GATE_TYPE_SUFFIX)
    passed = {i for i, execution in gates.items() if execution.last_known_state in _PASSED}
    return {e.artifact_id for e in events if e.execution_id in passed}


def span_of(artifact) -> int:
    """The span ExampleGen's driver recorded (a custom property), or the artifact's `span` property.

    Takes a TFX artifact or an MLMD artifact proto.
    """
    proto = getattr(artifact, "mlmd_artifact", artifact)
    for props in (proto.custom_properties, proto.properties):
        if "span" in props:
            value = props["span"]
            which = value.WhichOneof("value")
            if which == "int_value":
                return int(value.int_value)
            if which == "string_value" and value.string_value:
                return int(value.string_value)
    return 0


def newest_accepted_per_span(store, artifacts: list) -> dict[int, object]:
    """span -> its newest examples artifact, for the spans whose newest artifact was accepted."""
    newest: dict[int, object] = {}
    for artifact in artifacts:
        span = span_of(artifact)
        if span not in newest or artifact.id > newest[span].id:
            newest[span] = artifact
    accepted = accepted_examples(store, [a.id for a in newest.values()])
    return {span: a for span, a in newest.items() if a.id in accepted}
