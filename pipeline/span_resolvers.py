"""Resolvers of the nightly loop, run by the orchestrator against ML Metadata.

Both see accepted spans only (`components.lineage`): a span a gate stopped is
never in a window and never a baseline, and each span is its newest examples
artifact (a span folder changed and ingested again replaces the older one).

- `SpanWindowStrategy`: the examples of the last K accepted spans (all of them
  for K = 0). It reads the `span` ExampleGen's driver records, as TFX's
  `SpanRangeStrategy` does, whose rolling range would keep every artifact of a
  span, rejected ones included.
- `PreviousSpanStrategy`: the examples of the newest accepted span below the
  span the run ingested, the drift gate's baseline; nothing on the first night.
  (A resolver that fails does not stop a LocalDagRunner run: its consumers
  get nothing. `DriftGate` would then see no baseline, so the nightly test
  checks the baseline it got.)

KFP v2 compiles only TFX's latest-artifact and latest-blessed-model resolvers,
so `create_pipeline(..., for_kfp=True)` replaces these two there (see
`pipeline.pipeline`).
"""

from __future__ import annotations

from tfx.dsl.components.common import resolver

from components import lineage

span_of = lineage.span_of


class SpanWindowStrategy(resolver.ResolverStrategy):
    """The newest examples artifact of each of the last `num_spans` accepted spans (0: every one), oldest first."""

    def __init__(self, num_spans: int = 0, code_fingerprint: str = ""):
        self._num_spans = int(num_spans)
        del code_fingerprint  # only in the node's config, so that a change of this code shows in the pipeline

    def resolve_artifacts(self, store, input_dict):
        result = {}
        for key, artifacts in input_dict.items():
            accepted = lineage.newest_accepted_per_span(store, list(artifacts))
            window = sorted(accepted)[-self._num_spans :] if self._num_spans > 0 else sorted(accepted)
            result[key] = [accepted[span] for span in window]
        return result if all(result.values()) else None


class PreviousSpanStrategy(resolver.ResolverStrategy):
    """`baseline`: the newest accepted span below the span of `statistics` (this run's, which carries its
    span); [] on the first night."""

    def __init__(self, code_fingerprint: str = ""):
        del code_fingerprint

    def resolve_artifacts(self, store, input_dict):
        statistics = list(input_dict.get("statistics", []))
        current = max((span_of(a) for a in statistics), default=0)
        accepted = lineage.newest_accepted_per_span(store, list(input_dict.get("baseline", [])))
        earlier = {span: a for span, a in accepted.items() if span < current}
        return {"statistics": statistics, "baseline": [earlier[max(earlier)]] if earlier else []}
