"""The drift gate's permutation tests: figures on known tables, determinism, large spans, empty spans."""

import itertools
import math
import time
import tracemalloc

import numpy as np
import pytest

from components.validation import drift_stats
from components.validation.drift_stats import DEFAULT_SIGNIFICANCE, decide, label_p_value, size_p_value

FIVE = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


def _counts(*values: int) -> dict[str, int]:
    return dict(zip(FIVE, values, strict=False))


def _exact_label_p(first: list[int], second: list[int]) -> float:
    """The exact permutation p-value, by enumerating every first row of the 2 x K table."""
    totals = [a + b for a, b in zip(first, second, strict=True)]
    n1, n = sum(first), sum(totals)

    def chi(row):
        return sum((x - n1 * c / n) ** 2 / c for x, c in zip(row, totals, strict=True)) * n * n / (n1 * (n - n1))

    observed, hits = chi(first), 0
    for row in itertools.product(*(range(c + 1) for c in totals)):
        if sum(row) == n1 and chi(row) >= observed * (1 - 1e-9):
            hits += math.prod(math.comb(c, x) for c, x in zip(totals, row, strict=True))
    return hits / math.comb(n, n1)


def _photo_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    # Like the flower photos: median about 60 KB, log-size spread 0.7 (the archive's is 0.70).
    return np.round(np.exp(rng.normal(math.log(60_000), 0.7, size=n)))


def test_the_level_is_resolved_by_the_permutations():
    assert drift_stats.PERMUTATIONS >= 20 / DEFAULT_SIGNIFICANCE
    assert drift_stats.permutations_for(DEFAULT_SIGNIFICANCE) == drift_stats.PERMUTATIONS
    assert drift_stats.permutations_for(0.001) == 20_000
    with pytest.raises(ValueError):
        drift_stats.permutations_for(0.0)


def test_identical_spans_give_p_near_one():
    counts = _counts(12, 18, 13, 14, 16)
    assert label_p_value(counts, dict(counts)) == 1.0
    sizes = _photo_sizes(np.random.default_rng(1), 73)
    assert size_p_value(sizes, sizes.copy()) == 1.0
    assert decide({"labels": counts, "sizes": sizes}, {"labels": counts, "sizes": sizes}) == {
        "p_value": {"label": 1.0, "image": 1.0},
        "significance": DEFAULT_SIGNIFICANCE,
        "over": [],
    }


def test_one_class_taking_over_a_small_span_is_below_the_level():
    # 16/1/1/1/1 against 4/4/4/4/4 (20 photos each): chi-square 14.4, expected counts 2.5 in four
    # columns. Exact p = 0.00219 (enumerated); the chi-square distribution (4 df) would say 0.0061.
    current, previous = _counts(16, 1, 1, 1, 1), _counts(4, 4, 4, 4, 4)
    assert _exact_label_p([16, 1, 1, 1, 1], [4, 4, 4, 4, 4]) == pytest.approx(0.0021896, abs=1e-6)
    p = label_p_value(current, previous)
    assert p < DEFAULT_SIGNIFICANCE
    assert decide({"labels": current}, {"labels": previous})["over"] == ["label"]


def test_the_label_p_value_matches_the_exact_one():
    # A p-value away from the edges: the Monte Carlo one within 4 standard errors of the enumerated one.
    first, second = [9, 3, 2, 4, 2], [4, 5, 4, 3, 4]
    exact = _exact_label_p(first, second)
    assert 0.05 < exact < 0.5
    error = math.sqrt(exact * (1 - exact) / drift_stats.PERMUTATIONS)
    assert label_p_value(_counts(*first), _counts(*second)) == pytest.approx(exact, abs=4 * error)


def test_halved_bytes_on_60_photos_are_stopped():
    rng = np.random.default_rng(7)
    previous, current = _photo_sizes(rng, 60), _photo_sizes(rng, 60) * 0.5
    labels = _counts(12, 12, 12, 12, 12)
    result = decide({"labels": labels, "sizes": current}, {"labels": labels, "sizes": previous})
    assert result["p_value"]["image"] < DEFAULT_SIGNIFICANCE
    assert result["over"] == ["image"]
    # The same photos unchanged (another draw of 60): not stopped.
    result = decide({"labels": labels, "sizes": _photo_sizes(rng, 60)}, {"labels": labels, "sizes": previous})
    assert result["p_value"]["image"] > 0.05
    assert result["over"] == []


def test_same_inputs_same_answer(monkeypatch):
    rng = np.random.default_rng(3)
    first, second = _photo_sizes(rng, 40), _photo_sizes(rng, 35) * 0.8
    labels_now, labels_before = _counts(9, 3, 2, 4, 2), _counts(4, 5, 4, 3, 4)
    p = size_p_value(first, second)
    assert size_p_value(list(first), list(second)) == p
    assert label_p_value(labels_now, labels_before) == label_p_value(dict(labels_now), dict(labels_before))
    assert decide({"labels": labels_now, "sizes": first}, {"labels": labels_before, "sizes": second}) == decide(
        {"labels": labels_now, "sizes": first}, {"labels": labels_before, "sizes": second}
    )
    # The chunked path (no cache) draws the same splits as the cached one.
    drift_stats._cached_subsets.cache_clear()
    monkeypatch.setattr(drift_stats, "_CACHE_CELLS", 0)
    assert size_p_value(first, second) == p


def test_large_spans_are_quick_and_memory_bounded():
    rng = np.random.default_rng(11)
    big, other, small = _photo_sizes(rng, 20_000), _photo_sizes(rng, 20_000), _photo_sizes(rng, 300)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        same = size_p_value(big, other)  # both large: Welch's t, normal approximation
        halved = size_p_value(big * 0.5, other)
        mixed = size_p_value(big, small)  # 20,000 against 300: permutations, chunked
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seconds < 5.0
    assert peak < 48 * 2**20
    assert same > 0.01 and mixed > 0.01
    assert halved < 1e-12


def test_empty_or_single_class_spans_give_p_one():
    assert label_p_value({}, {}) == 1.0
    assert label_p_value(_counts(3, 4, 0, 0, 0), {}) == 1.0
    assert label_p_value({}, _counts(3, 4, 0, 0, 0)) == 1.0
    assert label_p_value({"daisy": 5}, {"daisy": 70}) == 1.0
    assert label_p_value({"daisy": 0, "roses": 0}, {"daisy": 0}) == 1.0
    assert size_p_value([], []) == 1.0
    assert size_p_value([], [1000, 2000]) == 1.0
    assert size_p_value([1000.0], []) == 1.0
    assert decide({"labels": {}}, {"labels": {}}) == {
        "p_value": {"label": 1.0},
        "significance": DEFAULT_SIGNIFICANCE,
        "over": [],
    }
    result = decide({"labels": {"daisy": 2}, "sizes": []}, {"labels": {"daisy": 3}, "sizes": [5000, 6000, 7000]})
    assert result["p_value"] == {"label": 1.0}


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        label_p_value({"daisy": -1}, {"daisy": 3})
    with pytest.raises(ValueError):
        size_p_value([1000, float("nan")], [2000])
