"""How often the drift tests stop a night: clean spans, and spans with a simulated drift.

    .venv/bin/python benchmarks/drift_rates.py --archive ../shared/data/flower_photos.tgz \\
        --pairs 500 --markdown drift_rates.md

Reads only the archive's member headers (tarfile; nothing is extracted): a
photo's class is its folder (`flower_photos/<class>/<file>.jpg`), its size the
member's size in bytes; other members are ignored. For each span size n and
each of `--pairs` pairs (seeded), it draws two disjoint spans of n photos from
the archive, the previous span uniformly and the new one as the scenario says,
and calls `components.validation.drift_stats.decide` on them, the gate's own
function (its statistics, permutations and level):

- clean: the new span uniform too (how often a night stops for nothing);
- bytes halved: the new span uniform, every photo's size multiplied by 0.5
  (simulated: photos recompressed to half their bytes; no photo is re-encoded);
- class x3: the new span drawn without replacement with one class's photos
  weighted 3 (the class picked at random per pair), i.e. that class's odds
  tripled: daisy's share of 17% becomes about 38%, dandelion's 24% about 49%;
- class x2: the same with weight 2 (reported only).

It prints a markdown table of the share of pairs stopped (either test), the
command line and the time taken, then which test stopped them and the rates the
same p-values give at other levels (the p-values are resolved to
1 / (1 + permutations), so levels much below the default are coarse).

Goals: clean <= 1% at every n; bytes halved >= 95% at n >= 50; class x3 >=
95% at n >= 200.

The figures, with the command that produced them: docs/benchmarks.md, "Drift gate stop rates".
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tarfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from components.validation import drift_stats  # noqa: E402

SPAN_SIZES = (20, 50, 100, 200, 367)
SCENARIOS = ("clean", "halved", "tripled", "doubled")
HEADERS = {
    "clean": "clean (stopped)",
    "halved": "bytes halved, simulated (stopped)",
    "tripled": "one class x3 (stopped)",
    "doubled": "one class x2 (stopped)",
}
LEVELS = (0.001, 0.0015, 0.002, 0.0025, 0.003, 0.005, 0.01, 0.02)


def read_archive(path: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(class names, class index per photo, bytes per photo) from the archive's member headers."""
    names: dict[str, int] = {}
    classes, sizes = [], []
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or not parts[2].lower().endswith((".jpg", ".jpeg")):
                continue
            classes.append(names.setdefault(parts[1], len(names)))
            sizes.append(member.size)
    order = sorted(names, key=names.get)
    return order, np.array(classes, dtype=np.int64), np.array(sizes, dtype=np.int64)


def span(indices: np.ndarray, classes: np.ndarray, sizes: np.ndarray, names: list[str], scale: float = 1.0) -> dict:
    counts = np.bincount(classes[indices], minlength=len(names))
    return {
        "labels": {name: int(count) for name, count in zip(names, counts, strict=True) if count},
        "sizes": sizes[indices] * scale,
    }


def draw_pair(rng: np.random.Generator, scenario: str, n: int, classes: np.ndarray, n_classes: int):
    """Indices of the previous and the new span (disjoint), and the new span's size factor."""
    total = len(classes)
    if scenario in ("clean", "halved"):
        order = rng.permutation(total)[: 2 * n]
        return order[:n], order[n:], (0.5 if scenario == "halved" else 1.0)
    previous = rng.choice(total, size=n, replace=False)
    rest = np.setdiff1d(np.arange(total), previous)
    weight = 3.0 if scenario == "tripled" else 2.0
    weights = np.where(classes[rest] == rng.integers(n_classes), weight, 1.0)
    # Weighted sampling without replacement (Efraimidis-Spirakis): the n largest log(u) / w.
    keys = np.log(rng.random(len(rest))) / weights
    return previous, rest[np.argpartition(-keys, n)[:n]], 1.0


def run(path: str, pairs: int, seed: int, significance: float, scenarios: tuple[str, ...] = SCENARIOS) -> dict:
    names, classes, sizes = read_archive(path)
    results: dict = {"photos": len(classes), "classes": names, "rows": {}}
    for n in SPAN_SIZES:
        if 2 * n > len(classes):
            continue
        started = time.perf_counter()
        row = {}
        for index, scenario in enumerate(SCENARIOS):
            if scenario not in scenarios:
                continue
            rng = np.random.default_rng([seed, n, index])
            p_values = np.ones((pairs, 2))
            stopped = {"any": 0, "label": 0, "image": 0}
            for pair in range(pairs):
                previous, current, scale = draw_pair(rng, scenario, n, classes, len(names))
                answer = drift_stats.decide(
                    span(current, classes, sizes, names, scale), span(previous, classes, sizes, names), significance
                )
                p_values[pair] = answer["p_value"]["label"], answer["p_value"].get("image", 1.0)
                stopped["any"] += bool(answer["over"])
                for name in answer["over"]:
                    stopped[name] += 1
            row[scenario] = {"stopped": stopped, "p_values": p_values}
        row["seconds"] = time.perf_counter() - started
        results["rows"][n] = row
    return results


def rate(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f}% ({count}/{total})"


def markdown(results: dict, pairs: int, command: str, seconds: float, significance: float) -> str:
    rows = results["rows"]
    ran = [s for s in SCENARIOS if all(s in row for row in rows.values())]
    permutations = drift_stats.permutations_for(significance)
    lines = [
        f"Drift gate stop rates: {results['photos']:,} photos of the archive, {pairs} random pairs of disjoint spans "
        f"per cell, significance {significance} per test (2 tests), {permutations} permutations.",
        "",
        "| photos a span | " + " | ".join(HEADERS[s] for s in ran) + " |",
        "|---:|" + "---:|" * len(ran),
    ]
    for n, row in rows.items():
        lines.append(f"| {n} | " + " | ".join(rate(row[s]["stopped"]["any"], pairs) for s in ran) + " |")
    times = ", ".join(f"n={n}: {row['seconds']:.1f} s" for n, row in rows.items())
    lines += [
        "",
        f"Command: `{command}`",
        "",
        f"Wall time: {seconds:.1f} s ({times}; the rest reading the archive's headers).",
        "",
        "Which test stopped them (label / image; a pair can count in both):",
        "",
        "| photos a span | " + " | ".join(ran) + " |",
        "|---:|" + "---:|" * len(ran),
    ]
    for n, row in rows.items():
        cells = [f"{row[s]['stopped']['label']} / {row[s]['stopped']['image']}" for s in ran]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")

    def stops(n: int, scenario: str, level: float) -> int:
        return int(np.count_nonzero((rows[n][scenario]["p_values"] < level).any(axis=1)))

    # Per scenario: the span sizes its goal covers, and whether the worst case is the most or the fewest stops.
    columns = [("clean", 0, max), ("halved", 50, min), ("tripled", 200, min), ("doubled", max(rows), min)]
    columns = [column for column in columns if column[0] in ran]
    titles = {
        "clean": "clean, worst n",
        "halved": "bytes halved, n >= 50",
        "tripled": "class x3, n >= 200",
        "doubled": "class x2, largest n",
    }
    lines += [
        "",
        "The same p-values at other levels (stop: either p < level), worst n of each goal's range:",
        "",
        "| level | " + " | ".join(titles[c[0]] for c in columns) + " |",
        "|---:|" + "---:|" * len(columns),
    ]
    for level in LEVELS:
        cells = []
        for scenario, smallest, worst in columns:
            covered = [n for n in rows if n >= smallest]
            if not covered:
                cells.append("-")
                continue
            n = worst(covered, key=lambda n, s=scenario, a=level: stops(n, s, a))
            cells.append(f"{rate(stops(n, scenario, level), pairs)} at n={n}")
        marker = " (default)" if level == drift_stats.DEFAULT_SIGNIFICANCE else ""
        lines.append(f"| {level}{marker} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", required=True, help="flower_photos.tgz (read in place, never extracted)")
    parser.add_argument("--pairs", type=int, default=500, help="random span pairs per span size and scenario")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--significance", type=float, default=drift_stats.DEFAULT_SIGNIFICANCE)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated, of " + ", ".join(SCENARIOS))
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    results = run(args.archive, args.pairs, args.seed, args.significance, scenarios)
    seconds = time.perf_counter() - started
    command = "python " + shlex.join(sys.argv if argv is None else [sys.argv[0], *argv])
    text = markdown(results, args.pairs, command, seconds, args.significance)
    print(text, end="")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
