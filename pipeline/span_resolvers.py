"""Resolvers of the nightly loop, run by the orchestrator against ML Metadata.

- `SpanWindowStrategy`: the examples of the last K spans ExampleGen produced
  (all of them for K = 0), the newest artifact of each span (a span folder
  changed and ingested again replaces its older artifact). It reads the
  `span` ExampleGen's driver records, as TFX's `SpanRangeStrategy` does, whose
  rolling range would keep every artifact of a span.
- `PreviousSpanStrategy`: the statistics of the newest span below the span the
  run ingested, the drift gate's baseline; nothing on the first night.

KFP v2 compiles only TFX's latest-artifact and latest-blessed-model resolvers,
so `create_pipeline(..., for_kfp=True)` replaces these two there (see
`pipeline.pipeline`).
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.common import resolver

SPAN = "span"


def span_of(artifact: types.Artifact) -> int:
    """The span ExampleGen's driver recorded (a custom property), or the artifact's span property."""
    if artifact.has_custom_property(SPAN):
        value = artifact.get_string_custom_property(SPAN) or artifact.get_int_custom_property(SPAN)
        return int(value)
    return int(getattr(artifact, SPAN, 0) or 0)


def newest_per_span(artifacts: list[types.Artifact]) -> dict[int, types.Artifact]:
    latest: dict[int, types.Artifact] = {}
    for artifact in artifacts:
        span = span_of(artifact)
        if span not in latest or artifact.id > latest[span].id:
            latest[span] = artifact
    return latest


class SpanWindowStrategy(resolver.ResolverStrategy):
    """The newest examples artifact of each of the last `num_spans` spans (0: every span), oldest first."""

    def __init__(self, num_spans: int = 0):
        self._num_spans = int(num_spans)

    def resolve_artifacts(self, store, input_dict):
        del store
        result = {}
        for key, artifacts in input_dict.items():
            latest = newest_per_span(artifacts)
            window = sorted(latest)[-self._num_spans :] if self._num_spans > 0 else sorted(latest)
            result[key] = [latest[span] for span in window]
        return result if all(result.values()) else None


class PreviousSpanStrategy(resolver.ResolverStrategy):
    """`statistics`: the newest statistics of the newest span below the span of `examples` (this run's)."""

    def resolve_artifacts(self, store, input_dict):
        del store
        current = max((span_of(a) for a in input_dict.get("examples", [])), default=0)
        earlier = {s: a for s, a in newest_per_span(input_dict.get("statistics", [])).items() if s < current}
        previous = [earlier[max(earlier)]] if earlier else []
        return {"statistics": previous, "examples": list(input_dict.get("examples", []))}
