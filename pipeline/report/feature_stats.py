"""The statistics view: StatisticsGen's figures per split as plain tables and bars, no script.

TFDV's own page (Facets) loads its code from cdnjs and from a GitHub branch when
it is opened, so it is blank on a closed network and runs whatever that branch
holds today. This view is drawn from the same protos (`FeatureStats.pb` per
split) by the report's template: examples per split, the label's histogram by
class, and per feature its presence and its summary (numbers: mean, spread,
quantiles and a histogram; bytes: sizes; strings: distinct values and the most
frequent ones). Every figure carries an element id (`stat-examples-train`,
`stat-label-train-daisy`, ...).
"""

from __future__ import annotations

import os
from typing import Any

STATISTICS_FILE = "statistics.html"
TOP_VALUES = 3


def load(statistics_uri: str, splits: list[str]) -> dict[str, Any]:
    """Split -> its DatasetFeatureStatistics, as StatisticsGen wrote it (`Split-<split>/FeatureStats.pb`)."""
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import statistics_pb2

    found = {}
    for split in splits:
        path = os.path.join(statistics_uri, f"Split-{split}", "FeatureStats.pb")
        if not tf.io.gfile.exists(path):
            continue
        with tf.io.gfile.GFile(path, "rb") as f:
            stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())
        if stats.datasets:
            found[split] = stats.datasets[0]
    return found


def _common(feature) -> Any:
    kind = feature.WhichOneof("stats")
    return getattr(feature, kind).common_stats if kind in ("num_stats", "string_stats", "bytes_stats") else None


def _bars(counts: list[float]) -> list[int]:
    """Bar lengths in percent of the largest count."""
    peak = max(counts, default=0) or 1
    return [round(100 * c / peak) for c in counts]


def _histogram(num_stats) -> list[dict[str, Any]]:
    """The standard (equal-width) histogram's buckets, with bar heights."""
    standard = [h for h in num_stats.histograms if h.type == h.STANDARD]
    buckets = list(standard[0].buckets) if standard else []
    heights = _bars([b.sample_count for b in buckets])
    return [{"low": round(b.low_value, 4), "high": round(b.high_value, 4), "count": round(b.sample_count),
             "height": h} for b, h in zip(buckets, heights, strict=True)]


def _summary(feature) -> dict[str, Any]:
    """What one split's statistics say of one feature."""
    kind = feature.WhichOneof("stats")
    common = _common(feature)
    row: dict[str, Any] = {"kind": kind, "present": int(common.num_non_missing) if common else None,
                           "missing": int(common.num_missing) if common else None}
    if kind == "num_stats":
        s = feature.num_stats
        row.update(mean=round(s.mean, 4), std_dev=round(s.std_dev, 4), min=round(s.min, 4), median=round(s.median, 4),
                   max=round(s.max, 4), zeros=int(s.num_zeros), histogram=_histogram(s))
    elif kind == "bytes_stats":
        s = feature.bytes_stats
        row.update(min_bytes=round(s.min_num_bytes), avg_bytes=round(s.avg_num_bytes),
                   max_bytes=round(s.max_num_bytes))
    elif kind == "string_stats":
        s = feature.string_stats
        row.update(unique=int(s.unique), avg_length=round(s.avg_length, 1),
                   top=[(v.value, round(v.frequency)) for v in s.top_values[:TOP_VALUES]])
    return row


def _label_counts(feature, class_names: list[str]) -> dict[str, int]:
    """Class -> examples, from a categorical label's value counts (its values are class indices)."""
    counts = dict.fromkeys(class_names, 0)
    if feature.WhichOneof("stats") != "string_stats":
        return counts
    stats = feature.string_stats
    pairs = [(b.label, b.sample_count) for b in stats.rank_histogram.buckets] or [
        (v.value, v.frequency) for v in stats.top_values]
    for value, count in pairs:
        index = int(value) if value.isdigit() else -1
        name = class_names[index] if index < len(class_names) and index >= 0 else value
        counts[name] = counts.get(name, 0) + round(count)
    return counts


def view(statistics: dict[str, Any], class_names: list[str], label: str = "label") -> dict[str, Any] | None:
    """What the template draws, from `load`'s protos; None when StatisticsGen did not run."""
    if not statistics:
        return None
    splits = list(statistics)
    names: list[str] = []
    rows: dict[str, dict[str, Any]] = {}
    label_counts: dict[str, dict[str, int]] = {}
    for split, dataset in statistics.items():
        for feature in dataset.features:
            name = ".".join(feature.path.step) or feature.name
            if name not in rows:
                names.append(name)
                rows[name] = {"name": name, "type": type(feature).Type.Name(feature.type), "splits": {}}
            rows[name]["splits"][split] = _summary(feature)
            if name == label:
                label_counts[split] = _label_counts(feature, class_names)
    classes = list(dict.fromkeys(c for counts in label_counts.values() for c in counts))
    label_rows = [{"name": c, "counts": {s: label_counts[s].get(c, 0) for s in label_counts}} for c in classes]
    for split in label_counts:
        for row, bar in zip(label_rows, _bars([r["counts"][split] for r in label_rows]), strict=True):
            row.setdefault("bars", {})[split] = bar
    return {
        "splits": splits,
        "examples": {split: int(dataset.num_examples) for split, dataset in statistics.items()},
        "features": [rows[n] for n in sorted(names)],
        "label": {"splits": list(label_counts), "classes": label_rows} if label_rows else None,
    }
