"""Our augmentation pass beside albumentations', on the same photos and the same chain (issue 23).

The albumentations side runs from its own small virtualenv (numpy, OpenCV,
albumentations and what they need, `requirements-peers.lock`), so the
product's lock and its TFX resolution never see OpenCV or pydantic 2:

    python3 -m venv .venv-peers-legacy        # make bench-peers: one per stack
    .venv-peers-legacy/bin/pip install -r requirements-peers.lock
    TF_USE_LEGACY_KERAS=1 .venv/bin/python benchmarks/bench_peers.py \\
        --data ../shared/data/flower_photos.tgz --output peers.json --markdown peers.md

This process (the project's .venv) reads the archive as ExampleGen does
(`components.ingest.sources.archives`, byte-identical copies skipped, TFX's hash split),
keeps the 2,928 training photos decoded and resized by the Transform graph's
own `preprocess_encoded` as uint8 180x180, and writes them to one .npy file.
Every pipeline then runs in its own long-lived worker process (ours from
.venv, albumentations' from .venv-peers-<stack>), warmed up by one epoch; the workers
take turns, one epoch (91 batches of 32, float32 [0, 1] out) each per round.
A worker reports its wall time and its CPU time (user + system, `os.times`,
all threads; a pool's worker processes read from /proc), so images per
CPU-second hold even while other work shares the cores.

Pipelines: `ours` (the Trainer's pass: tf.data, index shuffle, batch, the
augmenter mapped in parallel, prefetch); albumentations' per-image loop
(`alb_loop`, one Compose per image, the batch stacked and scaled);
`alb_pool` (the same loop in a 2-process pool, uint8 batches sent back);
`alb_fused` (flips, one `Affine` for rotate + scale + shift, then colour).
A trailing 1 (`loop1`, `pool1`, `fused1`) pins OpenCV to one thread
(`cv2.setNumThreads(1)`): its best per CPU-second, its default two threads its best images/s.
NVIDIA DALI's CPU pipeline runs too with `--dali cpuN` (N threads) when
`nvidia-dali-cuda120` is installed in the peers' venv (424 MB, so not in the
lock; `benchmarks/peer_workers.py`). The chains, op by op (FULL_SPEC):
flips both ways; `Rotate(72, reflect)`; `Affine(scale 0.9-1.1, reflect)`;
`PadIfNeeded(186, reflect)` + `RandomCrop(180)`; `RandomBrightnessContrast`
(brightness +-0.2 of the maximum, contrast off); `ColorJitter` (contrast and
saturation 0.8-1.2, brightness and hue off); `InvertImg(p=0.05)`. Where their
ops differ in meaning from ours: docs/augmentation.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from peer_workers import BATCH, SEED, SIZE, alb_worker, dali_worker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAINS = ("full", "tutorial")


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the photos
def write_photos(data: str, path: str) -> int:
    """The training split's photos, as the Trainer's cache holds them, to `path` (.npz)."""
    import numpy as np
    import tensorflow as tf

    sys.path.insert(0, ROOT)
    from components.ingest import shard_write
    from components.ingest.sources import archives
    from components.trainer import input_pipeline
    from components.trainer.augment import per_image_random
    from components.transform import preprocessing

    copies: dict[bytes, list[tuple[str, bytes]]] = {}
    for entry, blob in archives.iter_archive(data, archives.archive_root(data), with_bytes=True):
        if blob is not None and entry.filename and entry.path.lower().endswith((".jpg", ".jpeg")):
            copies.setdefault(hashlib.sha256(blob).digest(), []).append((entry.filename, blob))
    # As ExampleGen: of byte-identical copies in one class the first name is kept;
    # copies under several classes are all quarantined.
    kept = [min(group) for group in copies.values() if len({name.split("/")[0] for name, _ in group}) == 1]
    kept = sorted(item for item in kept if shard_write.tfx_split_index(item[0], [8, 9, 10]) == 0)
    names, blobs = [name for name, _ in kept], [blob for _, blob in kept]
    images = []
    for start in range(0, len(blobs), 64):
        batch = preprocessing.preprocess_encoded(tf.constant(blobs[start:start + 64]))
        images.append(input_pipeline.to_uint8(batch).numpy())
    keys = per_image_random.filename_key(tf.constant(names)).numpy()
    np.savez(path, images=np.concatenate(images), keys=keys)
    return len(names)


# ---------------------------------------------------------------- workers
def ours_worker(photos, chain: str, variant: str, per_epoch: bool = False):
    import numpy as np
    import tensorflow as tf

    sys.path.insert(0, ROOT)
    from components.trainer.augment import fused

    spec = fused.FULL_SPEC if chain == "full" else fused.DEFAULT_SPEC
    kwargs = {} if variant == "default" else {"variant": variant}
    augmenter = fused.make_augmenter(spec, SEED, SIZE, batch_size=BATCH, **kwargs)
    images, keys = tf.constant(photos["images"]), tf.constant(photos["keys"])
    count = int(images.shape[0])

    # One dataset for the whole run, as the Trainer builds its input once: a new one per
    # epoch (tracing and instantiating its map function anew) cost 10-13% more CPU time
    # per image here (measured), which the Trainer never pays. The epoch number reaches
    # the map function through a variable; the shuffle reshuffles on each iteration.
    current = tf.Variable(0, dtype=tf.int64, trainable=False)

    def batch(index):
        epochs = tf.fill(tf.shape(index), current.read_value())
        return augmenter(tf.gather(images, index), tf.gather(keys, index), epochs)

    dataset = tf.data.Dataset.range(count).shuffle(count, seed=SEED, reshuffle_each_iteration=True)
    dataset = dataset.batch(BATCH, drop_remainder=True)
    dataset = dataset.map(batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    if per_epoch:  # the first measurements' way, kept to compare (`--ours-dataset per-epoch`)
        def per_epoch_dataset(number):
            def batch(index):
                epochs = tf.fill(tf.shape(index), tf.constant(number, tf.int64))
                return augmenter(tf.gather(images, index), tf.gather(keys, index), epochs)

            rebuilt = tf.data.Dataset.range(count).shuffle(count, seed=number).batch(BATCH, drop_remainder=True)
            return rebuilt.map(batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def epoch(number: int) -> int:
        current.assign(number)
        seen = 0
        out = None
        for out in per_epoch_dataset(number) if per_epoch else dataset:
            seen += int(out.shape[0])
        assert out.dtype == tf.float32 and np.isfinite(out.numpy()).all()
        return seen

    return epoch, lambda: augmenter.path


def worker(name: str, photos_path: str) -> None:
    """Serve `run` requests on stdin: one epoch each, a JSON line of timings on stdout."""
    import numpy as np

    side, chain, variant = name.split(":")
    photos = dict(np.load(photos_path))
    kwargs = {"per_epoch": os.environ.get("BENCH_PEERS_OURS_DATASET") == "per-epoch"} if side == "ours" else {}
    epoch, extra = {"ours": ours_worker, "alb": alb_worker, "dali": dali_worker}[side](photos, chain, variant,
                                                                                     **kwargs)
    epoch(0)  # warm-up: compiles, starts threads and pool workers
    info = extra() if side == "ours" else ""
    print(json.dumps({"ready": name, "path": info, "xla_flags": os.environ.get("XLA_FLAGS", "")}), flush=True)
    number = 1
    for line in sys.stdin:
        if line.strip() != "run":
            break
        pids = extra() if side != "ours" else []
        cpu0, child0, wall0 = _cpu_seconds(), sum(map(_proc_cpu, pids)), time.perf_counter()
        seen = epoch(number)
        wall = time.perf_counter() - wall0
        cpu = _cpu_seconds() - cpu0 + sum(map(_proc_cpu, pids)) - child0
        print(json.dumps({"images": seen, "wall": wall, "cpu": cpu}), flush=True)
        number += 1


# ---------------------------------------------------------------- the run
def _median_row(name: str, rounds: list[dict]) -> dict:
    rates = [r["images"] / r["wall"] for r in rounds]
    per_cpu = [r["images"] / r["cpu"] for r in rounds]
    return {"pipeline": name, "images_per_s": round(statistics.median(rates)),
            "images_per_cpu_s": round(statistics.median(per_cpu)),
            "rounds_images_per_s": [round(v) for v in rates], "rounds_images_per_cpu_s": [round(v) for v in per_cpu]}


def markdown(rows: list[dict], ratios: dict) -> str:
    lines = ["| pipeline | images/s (median) | images per CPU-second (median) | rounds: images/s | rounds: per CPU-s |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['pipeline']}` | {r['images_per_s']:,} | {r['images_per_cpu_s']:,} | "
                     f"{', '.join(f'{v:,}' for v in r['rounds_images_per_s'])} | "
                     f"{', '.join(f'{v:,}' for v in r['rounds_images_per_cpu_s'])} |")
    lines += ["", "| ratio | images/s | per CPU-second |", "|---|---|---|"]
    lines += [f"| {k} | {v['images_per_s']:.2f} | {v['images_per_cpu_s']:.2f} |" for k, v in ratios.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="flower_photos.tgz")
    parser.add_argument("--output", default="peers.json")
    parser.add_argument("--markdown", default="")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers-python", default=os.path.join(ROOT, ".venv-peers-legacy", "bin", "python"))
    parser.add_argument("--ours", default="default", help="comma-separated pass variants of ours (fused.VARIANTS)")
    parser.add_argument("--chains", default=",".join(CHAINS))
    parser.add_argument("--peers", default="loop,loop1,pool,pool1,fused,fused1",
                        help="albumentations variants (loop, pool, fused; loop1, pool1, fused1: OpenCV on one thread)")
    parser.add_argument("--dali", default="", help="DALI CPU variants, cpuN = N threads (e.g. cpu1,cpu2); "
                        "needs nvidia-dali in the peers' venv")
    parser.add_argument("--ours-dataset", choices=("once", "per-epoch"), default="once",
                        help="ours' tf.data pipeline built once for the run (as the Trainer does) or anew "
                             "each epoch (the first measurements)")
    parser.add_argument("--verbose", action="store_true",
                        help="show library logs on the console too (they always go to the log file)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--photos", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.photos)
        return
    if not args.data:
        parser.error("--data is required")
    names = []
    for chain in args.chains.split(","):
        names += [f"ours:{chain}:{v}" for v in args.ours.split(",")]
        names += [f"alb:{chain}:{v}" for v in args.peers.split(",") if v and (chain == "full" or v.startswith("loop"))]
        names += [f"dali:{chain}:{v}" for v in args.dali.split(",") if v]
    sys.path.insert(0, ROOT)
    from pipeline.cli import console as console_lib

    # As `flowers run`: TensorFlow's, CUDA's and XLA's lines (this process's and the workers', which inherit
    # its stderr) go to the log; the console shows the rounds and the table.
    log_path = os.path.join(os.path.dirname(os.path.abspath(args.output)), "logs", "bench_peers.log")
    with console_lib.session(log_path, verbose=args.verbose) as console:
        console.line(f"log: {log_path}")
        count, info, rounds = measure(args, names, console)
        report(args, names, count, info, rounds, console)


def measure(args, names: list[str], console) -> tuple[int, dict, dict]:
    """Every pipeline in its own worker, taking turns for `args.rounds` rounds; each round's line on the console."""
    with tempfile.TemporaryDirectory() as work:
        photos = os.path.join(work, "photos.npz")
        count = write_photos(args.data, photos)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_USE_LEGACY_KERAS="1",
                   BENCH_PEERS_OURS_DATASET=args.ours_dataset)
        workers, info = {}, {}
        for name in names:  # started one at a time, so warm-ups do not overlap
            python = sys.executable if name.startswith("ours") else args.peers_python
            proc = subprocess.Popen([python, os.path.abspath(__file__), "--worker", name, "--photos", photos],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            info[name] = json.loads(proc.stdout.readline())
            workers[name] = proc
        rounds: dict[str, list[dict]] = {n: [] for n in names}
        for number in range(args.rounds):
            for name, proc in workers.items():
                # The other (idle) workers' CPU time during this turn: it should be ~0; a peer
                # whose threads keep spinning after its own turn would show here.
                others = [p.pid for n, p in workers.items() if n != name]
                idle0 = sum(map(_proc_cpu, others))
                proc.stdin.write("run\n")
                proc.stdin.flush()
                rounds[name].append(json.loads(proc.stdout.readline()))
                rounds[name][-1]["others_cpu"] = round(sum(map(_proc_cpu, others)) - idle0, 3)
                console.line(f"round {number + 1} {name:22s} {rounds[name][-1]}")
        for proc in workers.values():
            proc.stdin.close()
            proc.wait()
    return count, info, rounds


def report(args, names, count, info, rounds, console) -> None:
    """The medians and ratios to the JSON (and markdown) files, the table on the console."""
    rows = [_median_row(n, rounds[n]) for n in names]
    by_name = {r["pipeline"]: r for r in rows}
    ratios = {}
    for ours in (r for r in rows if r["pipeline"].startswith("ours")):
        chain = ours["pipeline"].split(":")[1]
        for peer in (r for r in rows if r["pipeline"].split(":")[0] != "ours" and r["pipeline"].split(":")[1] == chain):
            ratios[f"{ours['pipeline']} / {peer['pipeline']}"] = {
                k: ours[k] / by_name[peer["pipeline"]][k] for k in ("images_per_s", "images_per_cpu_s")}
    result = {"photos": count, "batch": BATCH, "size": SIZE, "rounds": args.rounds, "cpus": os.cpu_count(),
              "ours_dataset": args.ours_dataset,
              "xla_flags": {n: i.get("xla_flags") for n, i in info.items() if n.startswith("ours")},
              "pipelines": rows, "ratios": {k: {m: round(v, 2) for m, v in r.items()} for k, r in ratios.items()},
              "ours_path": {n: i.get("path") for n, i in info.items() if n.startswith("ours")},
              "raw": rounds}
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    table = markdown(rows, ratios)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    console.line(table)


if __name__ == "__main__":
    main()
