"""Split on file names, then write each split as shards in a seeded random order.

TFX's `WriteSplit` reshuffles every serialized example (on the DirectRunner it
holds them all, and keeps the source order). Here the split, the shard and the
place in the shard are all decided from the file NAME before any byte is read:
- the split is TFX's own filename hash (`tfx_split_index`, the same function
  as `base_example_gen_executor._PartitionFn`), so no photo changes split;
- the shard and the sort key come from a SHA-256 of `(seed, filename)`.
Only `(shard, sort key, Entry)` records are grouped. The worker that gets a
shard reads each file's bytes in sort-key order, checks it and appends it to
the shard's GZIP TFRecord file, so it holds one image at a time.

A shard is written under a temporary name of its own and renamed to its final
name once it is complete, as Beam's file sinks do: a bundle that a runner
retries (Dataflow, Flink) or runs twice never leaves a partial file or two
writers on one path, and the last complete attempt's file is the shard.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
import tensorflow as tf

from components import features
from components.ingest.sources.entry import Entry

FILE_PREFIX = "data_tfrecord"
DEFAULT_NUM_SHARDS = 4
DEFAULT_SEED = 42


def tfx_split_index(filename: str, buckets: list[int]) -> int:
    """The split TFX's ExampleGen gives a record whose `filename` feature is
    `filename`, for cumulative `buckets` (e.g. [8, 9, 10] for 8/1/1)."""
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[filename.encode("utf-8")]))
    key = feature.SerializeToString(deterministic=True)
    bucket = int(hashlib.sha256(key).hexdigest(), 16) % buckets[-1]
    return bisect.bisect(buckets, bucket)


def shard_and_key(filename: str, seed: int, num_shards: int) -> tuple[int, str]:
    """(shard index, sort key) of a file: a seeded hash of its name only."""
    digest = hashlib.sha256(f"{seed}:{filename}".encode()).hexdigest()
    return int(digest[:8], 16) % num_shards, digest[8:]


def shard_path(split_dir: str, shard: int, num_shards: int) -> str:
    """TFX's layout: `Split-<name>/data_tfrecord-00000-of-00004.gz`."""
    return os.path.join(split_dir, f"{FILE_PREFIX}-{shard:05d}-of-{num_shards:05d}.gz")


class Layout:
    """Where every file goes: split names and dirs, cumulative buckets, shards per split, seed."""

    def __init__(self, names: list[str], split_dirs: list[str], buckets: list[int], num_shards: int, seed: int):
        if not len(names) == len(split_dirs) == len(buckets):
            raise ValueError(f"splits {names} with dirs {split_dirs} and buckets {buckets}: need one of each")
        self.names = names
        self.split_dirs = split_dirs
        self.buckets = buckets
        self.num_shards = num_shards
        self.seed = seed

    def place(self, filename: str) -> tuple[int, int, str]:
        """(split index, shard index, sort key) of a file name."""
        shard, key = shard_and_key(filename, self.seed, self.num_shards)
        return tfx_split_index(filename, self.buckets), shard, key

    def path(self, split: int, shard: int) -> str:
        return shard_path(self.split_dirs[split], shard, self.num_shards)

    def ensure_files(self) -> None:
        """An empty shard for every shard no file went to, so each split has all its shards; no temporary
        file of an attempt that died (a killed worker) is left beside them."""
        for split in range(len(self.split_dirs)):
            tf.io.gfile.makedirs(self.split_dirs[split])
            for leftover in tf.io.gfile.glob(os.path.join(self.split_dirs[split], f".{FILE_PREFIX}-*.tmp")):
                tf.io.gfile.remove(leftover)
            for shard in range(self.num_shards):
                path = self.path(split, shard)
                if not tf.io.gfile.exists(path):
                    with tf.io.TFRecordWriter(path, options="GZIP"):
                        pass


class _ShardFile:
    """A GZIP TFRecord writer on a temporary name, renamed to `path` when closed whole; removed otherwise."""

    def __init__(self, path: str):
        import uuid

        tf.io.gfile.makedirs(os.path.dirname(path))
        self.path = path
        self.temp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
        self._writer = tf.io.TFRecordWriter(self.temp, options="GZIP")

    def write(self, record: bytes) -> None:
        self._writer.write(record)

    def finish(self, complete: bool) -> None:
        self._writer.close()
        if complete:
            tf.io.gfile.rename(self.temp, self.path, overwrite=True)
        elif tf.io.gfile.exists(self.temp):
            tf.io.gfile.remove(self.temp)


def _written(layout: Layout, split: int, example: tf.train.Example, writer) -> beam.pvalue.TaggedOutput:
    writer.write(example.SerializeToString(deterministic=True))
    label = int(example.features.feature[features.LABEL_KEY].int64_list.value[0])
    return beam.pvalue.TaggedOutput(COUNTED, (layout.names[split], label))


COUNTED = "counted"


class WriteShard(beam.DoFn):
    """One shard's names in, its GZIP TFRecord file written: each file is read
    (`read`), checked (`check`) and written in sort-key order, one at a time."""

    def __init__(self, layout: Layout, read: Callable[[Entry], tuple[Entry, bytes | None]], check_fn):
        self._layout = layout
        self._read = read
        self._check_fn = check_fn

    def process(
        self, group: tuple[tuple[int, int], Iterable[tuple[str, Entry]]], duplicates: dict[str, tuple[str, str]]
    ):
        (split, shard), keyed = group
        writer = _ShardFile(self._layout.path(split, shard))
        complete = False
        try:
            for _, entry in sorted(keyed, key=lambda kv: (kv[0], kv[1].path)):
                for out in self._check_fn(*self._read(entry), duplicates):
                    if isinstance(out, tf.train.Example):
                        yield _written(self._layout, split, out, writer)
                    else:
                        yield out
            complete = True
        finally:
            writer.finish(complete)


class WriteSequential(beam.DoFn):
    """A stream that can only be read in order (an archive, a TFDS shard) in;
    every record is appended to its hash-assigned shard as it comes, so the
    order inside a shard is the stream's order. Writers are per worker bundle:
    `tag` keeps the file names of different streams apart."""

    def __init__(self, layout: Layout, read_all: Callable[[Any], Iterator], check_fn):
        self._layout = layout
        self._read_all = read_all
        self._check_fn = check_fn

    def process(self, element: tuple[str, Any], duplicates: dict[str, tuple[str, str]]):
        """`element` is (tag, what to read); `read_all` gets the whole element."""
        tag = element[0]
        writers: dict[tuple[int, int], _ShardFile] = {}
        complete = False
        try:
            for entry, data in self._read_all(element):
                outputs = list(self._check_fn(entry, data, duplicates))
                for out in outputs:
                    if not isinstance(out, tf.train.Example):
                        yield out
                        continue
                    split, shard, _ = self._layout.place(entry.filename)
                    if (split, shard) not in writers:
                        path = self._layout.path(split, shard)
                        if tag:
                            path = path.replace(f"{FILE_PREFIX}-", f"{FILE_PREFIX}-{tag}-")
                        writers[(split, shard)] = _ShardFile(path)
                    yield _written(self._layout, split, out, writers[(split, shard)])
            complete = True
        finally:
            for writer in writers.values():
                writer.finish(complete)
