"""Drift between two spans as significance tests, instead of fixed distance thresholds.

The drift gate compares the night's span with the previous one. A fixed threshold
on a distance (the label shares' L-infinity distance, the mean size's relative
change) ignores how many photos the spans hold: two clean random spans of 20
photos differ by chance more than the threshold on about 4% of nights, while a
class whose share tripled passes at 200 photos. A test answers the question the
gate means to ask, "could the two spans come from the same photos?", at any span
size, with one figure: the p-value, the probability that two spans drawn from the
same pool differ at least as much as these two do.

Two tests, each a permutation test (exact: valid at any span size):

- `label_p_value`: homogeneity of the two label count vectors (the 2 x K table of
  span by class), Pearson's chi-square as the statistic.
- `size_p_value`: the difference in mean log(bytes) of a photo (two-sided).

Why permutation: a nightly span can be small (tens of photos), and with five
classes and 20 photos a span the chi-square table's expected counts are about 2,
where the chi-square distribution's approximation of the statistic's law is
unreliable (the usual rule wants expected counts of at least 5). A permutation
test needs no such approximation: under the null hypothesis (both spans drawn
from one pool of photos) every split of the pooled photos into spans of these
sizes is equally likely, so the statistic's null law is the law of the statistic
over random splits. Drawing `permutations` random splits gives the Monte Carlo
p-value p = (1 + #{null >= observed}) / (1 + permutations), which is exactly
valid: P(p <= a) <= a for every level a under the null, at any span size.

Significance: the gate stops on a test when its p-value is below `significance`,
so each test stops a clean night with probability at most `significance` (a
little less for the label test, whose statistic takes few values on small spans).
Two tests run each night, so a night's false-stop rate is at most about twice
the level. `DEFAULT_SIGNIFICANCE` is chosen by the measurements of
`benchmarks/drift_rates.py` (see there and the constant's comment). The
smallest p-value a Monte Carlo test can give is 1 / (1 + permutations), so the
number of permutations is at least 20 / significance: a p-value below the level
is then resolved by at least 20 null draws' worth of precision.

Deterministic: every call draws from a numpy Generator with a fixed seed, so the
same inputs give the same p-values (on one numpy version: numpy does not promise
the same stream across versions).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

# A per-test level, chosen with `benchmarks/drift_rates.py` (clean nights stopped at most
# 1% at every span size, half-size photos caught from 50 photos; the rates by span size
# are in docs/benchmarks.md, "Drift gate stop rates").
DEFAULT_SIGNIFICANCE = 0.0025

# Enough random splits to resolve a p-value below the level: 20 / level.
PERMUTATIONS = math.ceil(20 / DEFAULT_SIGNIFICANCE)

# Above this many photos on both sides the size test uses Welch's statistic with
# the normal approximation, which is accurate there (log sizes have a finite
# variance, the two means are averages of thousands) and costs O(photos) once
# instead of O(photos) per permutation.
LARGE_SPAN = 2000

_LABEL_SEED = 20_240_611
_SIZE_SEED = 20_240_612

# Memory bound of one chunk of the size test's permutations: cells of the
# (permutations x photos) "taken" matrix, one byte each.
_CHUNK_CELLS = 1 << 23
# Index subsets up to this many int32 cells (16 MB) are kept for the next call
# with the same span sizes (same seed, same draws: only a speed-up), two at most.
_CACHE_CELLS = 1 << 22
# Photo sizes gathered at a time (float64, 8 MB).
_GATHER_CELLS = 1 << 20

# Null statistics within this relative distance of the observed one count as ties.
_TIE = 1e-9


def permutations_for(significance: float) -> int:
    """The permutations a test at `significance` draws: at least 20 / significance."""
    if not 0.0 < significance < 1.0:
        raise ValueError(f"significance must be in (0, 1), not {significance}")
    return max(PERMUTATIONS, math.ceil(20 / significance))


def _chi_square(first_rows: np.ndarray, totals: np.ndarray, n_first: int, n_all: int) -> np.ndarray:
    """Pearson's chi-square of 2 x K tables given by their first rows (..., K).

    With column totals c, row totals n1 and n2 = N - n1 and first-row counts x,
    the second row is c - x and both rows' deviations from the expected counts
    are x - n1 c / N (opposite signs), so the sum over the 2K cells is
    N^2 / (n1 n2) * sum_k (x_k - n1 c_k / N)^2 / c_k.
    """
    expected = totals * (n_first / n_all)
    deviations = first_rows - expected
    factor = n_all * n_all / (n_first * (n_all - n_first))
    return factor * np.sum(deviations * deviations / totals, axis=-1)


def label_p_value(
    current: Mapping[str, int], previous: Mapping[str, int], *, permutations: int = PERMUTATIONS
) -> float:
    """Permutation test that the two spans' label counts come from one label distribution.

    The statistic is Pearson's chi-square of the 2 x K table (span x class) of
    counts. Under the null hypothesis (both spans are random parts of the pooled
    photos) the current span's counts follow the multivariate hypergeometric law
    of drawing its number of photos from the pooled class counts without
    replacement; `permutations` such draws (numpy's
    Generator.multivariate_hypergeometric, fixed seed) give
    p = (1 + #{null chi-square >= observed}) / (1 + permutations).

    Exact at any span size, unlike the chi-square distribution's approximation
    which fails for small spans (five classes, 20 photos a span: expected counts
    about 2; for 16/1/1/1/1 against 4/4/4/4/4 it says 0.0061 where the exact
    p-value is 0.0022; at the level 0.0025 it stopped 3 of 4,000 clean pairs of
    20-photo flower spans where this test stopped 6: too few, so less power).
    A class absent from one side counts 0 there; classes absent from both do
    not matter. An empty span, or a single class in all the photos,
    gives p = 1 (nothing to compare).
    """
    names = sorted(set(current) | set(previous))
    first = np.array([int(current.get(name, 0)) for name in names], dtype=np.int64)
    second = np.array([int(previous.get(name, 0)) for name in names], dtype=np.int64)
    if (first < 0).any() or (second < 0).any():
        raise ValueError("label counts must not be negative")
    totals = first + second
    keep = totals > 0
    first, totals = first[keep], totals[keep]
    n_first, n_all = int(first.sum()), int(totals.sum())
    if n_first == 0 or n_first == n_all or len(totals) < 2:
        return 1.0
    observed = float(_chi_square(first.astype(float), totals.astype(float), n_first, n_all))
    rng = np.random.default_rng(_LABEL_SEED)
    exceed = 0
    # 100,000 draws x K classes of int64 at most at a time.
    for start in range(0, permutations, 100_000):
        size = min(100_000, permutations - start)
        draws = rng.multivariate_hypergeometric(totals, n_first, size=size)
        null = _chi_square(draws.astype(float), totals.astype(float), n_first, n_all)
        exceed += int(np.count_nonzero(null >= observed * (1.0 - _TIE)))
    return (1 + exceed) / (1 + permutations)


def _subset_chunks(m: int, n_all: int, permutations: int) -> Iterator[np.ndarray]:
    """Random m-subsets of range(n_all), one a row, in chunks of rows (fixed seed).

    Floyd's algorithm, vectorized over the rows: for j = n_all - m ... n_all - 1
    draw t uniform in [0, j]; take t, or j when t is taken already. Every row is a
    uniformly random m-subset; the cost is m steps over the rows plus a
    rows x n_all bytes "taken" matrix, bounded by _CHUNK_CELLS.
    """
    rng = np.random.default_rng(_SIZE_SEED)
    rows_per_chunk = max(1, min(permutations, _CHUNK_CELLS // n_all))
    for start in range(0, permutations, rows_per_chunk):
        rows = min(rows_per_chunk, permutations - start)
        taken = np.zeros(rows * n_all, dtype=bool)
        offsets = np.arange(rows, dtype=np.int64) * n_all
        subset = np.empty((rows, m), dtype=np.int32)
        for k, j in enumerate(range(n_all - m, n_all)):
            t = rng.integers(0, j + 1, size=rows)
            t[taken[offsets + t]] = j
            taken[offsets + t] = True
            subset[:, k] = t
        yield subset


@functools.lru_cache(maxsize=2)
def _cached_subsets(m: int, n_all: int, permutations: int) -> np.ndarray:
    subsets, start = np.empty((permutations, m), dtype=np.int32), 0
    for chunk in _subset_chunks(m, n_all, permutations):
        subsets[start : start + len(chunk)] = chunk
        start += len(chunk)
    subsets.flags.writeable = False
    return subsets


def _log_sizes(sizes: Sequence[float]) -> np.ndarray:
    values = np.asarray(sizes, dtype=np.float64).ravel()
    if not np.isfinite(values).all():
        raise ValueError("photo sizes must be finite numbers of bytes")
    # An empty photo (0 bytes) counts as 1 byte: log(0) is not a size.
    return np.log(np.maximum(values, 1.0))


def _welch_normal_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p of Welch's t with the normal approximation (both spans large)."""
    difference = float(a.mean() - b.mean())
    error = math.sqrt(float(a.var(ddof=1)) / len(a) + float(b.var(ddof=1)) / len(b))
    if error == 0.0:
        return 1.0 if difference == 0.0 else 0.0
    return math.erfc(abs(difference) / error / math.sqrt(2.0))


def size_p_value(
    current_sizes: Sequence[float], previous_sizes: Sequence[float], *, permutations: int = PERMUTATIONS
) -> float:
    """Two-sided test that the two spans' photos have the same mean log(bytes).

    The statistic is |mean log(bytes) of the current span - that of the previous|
    (log: a recompression scales every photo's bytes, a shift in log; and the log
    tames the few very large photos). Permutation test: under the null hypothesis
    (both spans are random parts of the pooled photos) every split of the pooled
    photos into spans of these sizes is equally likely; `permutations` random
    splits (fixed seed) give p = (1 + #{null >= observed}) / (1 + permutations).

    Vectorized and chunked: each split is drawn as a random subset of the smaller
    span's size (Floyd's algorithm over a chunk of splits at once), whose sum
    gives both means; memory stays under about 8 MB a chunk plus the subsets
    (permutations x smaller span, int32) and the cost is in proportion to the
    photos times the permutations. When both spans hold more than LARGE_SPAN
    photos the p-value is instead Welch's t on the log sizes with the normal
    approximation (two-sided): accurate at that size and O(photos).

    An empty side gives p = 1. Sizes of 0 bytes count as 1 byte.
    """
    a, b = _log_sizes(current_sizes), _log_sizes(previous_sizes)
    if len(a) == 0 or len(b) == 0:
        return 1.0
    if len(a) > LARGE_SPAN and len(b) > LARGE_SPAN:
        return _welch_normal_p(a, b)
    pooled = np.concatenate([a, b])
    n_all = len(pooled)
    m = min(len(a), len(b))
    total = float(pooled.sum())
    observed = abs(float(a.mean() - b.mean()))

    def exceeding(subsets: np.ndarray) -> int:
        # Each subset is the smaller span, the rest the other one; gathered _GATHER_CELLS at a time.
        count, step = 0, max(1, _GATHER_CELLS // m)
        for start in range(0, len(subsets), step):
            inside = pooled[subsets[start : start + step]].sum(axis=1)
            null = np.abs(inside / m - (total - inside) / (n_all - m))
            count += int(np.count_nonzero(null >= observed * (1.0 - _TIE)))
        return count

    if permutations * m <= _CACHE_CELLS:
        exceed = exceeding(_cached_subsets(m, n_all, permutations))
    else:
        exceed = sum(exceeding(subsets) for subsets in _subset_chunks(m, n_all, permutations))
    return (1 + exceed) / (1 + permutations)


def decide(current: Mapping[str, Any], previous: Mapping[str, Any], significance: float = DEFAULT_SIGNIFICANCE) -> dict:
    """The two tests on two spans and which of them is below the significance.

    `current` and `previous` are {"labels": {name: count}, "sizes": [bytes, ...]}.
    Returns {"p_value": {"label": p, "image": p}, "significance": s, "over": [...]},
    `over` naming the tests with p < s (the night stops on any). "image" is left
    out when either span has no sizes. Each test stops a clean night with
    probability at most s, so the night's false-stop rate is at most about 2 s.
    Both tests draw permutations_for(s) permutations (>= 20 / s).
    """
    permutations = permutations_for(significance)
    labels_now, labels_before = current.get("labels") or {}, previous.get("labels") or {}
    p_values = {"label": label_p_value(labels_now, labels_before, permutations=permutations)}
    current_sizes, previous_sizes = current.get("sizes"), previous.get("sizes")
    if current_sizes is not None and previous_sizes is not None and len(current_sizes) and len(previous_sizes):
        p_values["image"] = size_p_value(current_sizes, previous_sizes, permutations=permutations)
    over = [name for name, p in p_values.items() if p < significance]
    return {"p_value": p_values, "significance": significance, "over": over}
