"""ExampleGen's Beam graph: read a source, drop byte-identical copies, check and write every image.

No step holds more than one image:
- a folder is listed, each name is given its split, shard and sort key
  (`shard_write.Layout`), and only the names are grouped by shard; an archive
  or a TFDS shard is one stream, read in order by one worker (an archive is
  read twice: the duplicate pass also learns its root, which the second
  pass is given);
- the duplicate pass reads the bytes and keeps only `(sha256, name)` pairs,
  grouped by hash; in a group within one class folder the copy whose
  `filename` sorts first is kept (it keeps its own filename-hash split) and
  the others are skipped; a group spanning class folders is a label conflict,
  every copy quarantined; both become a small set of names to drop;
- the check-and-write pass reads each file again in the worker that writes its
  shard: a tf.Example appended to the shard, or a quarantine / skip record; the
  names to drop reach it as a side input.
Rejected files go to side files under `parts_dir`, read back into the report;
so do the written photos' (sha256, filename, bytes, label), the sidecar of
`components.ingest.spans`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from typing import Any

import apache_beam as beam
import tensorflow as tf

from components import features, progress
from components.ingest import image_check, shard_write, sources
from components.ingest.sources import archives, tfds_source
from components.ingest.sources.entry import QUARANTINED, SKIPPED, Entry


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def make_example(image: bytes, label: int, filename: str) -> tf.train.Example:
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                features.IMAGE_KEY: _bytes_feature(image),
                features.LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                features.FILENAME_KEY: _bytes_feature(filename.encode("utf-8")),
            }
        )
    )


def _record(entry: Entry, verdict: str, reason: str) -> dict[str, str]:
    return {"verdict": verdict, "path": entry.path, "reason": reason}


REJECTED = "rejected"


class Checker:
    """Entry + bytes in; a tf.Example out, or a tagged quarantine/skip record."""

    def __init__(self, class_names: list[str], max_pixels: int, filename_prefix: str = "", vocabulary_file: str = ""):
        self._labels = {name: i for i, name in enumerate(class_names)}
        self._vocabulary = vocabulary_file
        self._max_pixels = max_pixels
        self._prefix = filename_prefix  # `span-<N>/` for a span's photos

    def __call__(self, entry: Entry, data: bytes | None, duplicates: dict[str, tuple[str, str]]):
        progress.FILES_CHECKED.add()
        if entry.verdict is not None:
            yield beam.pvalue.TaggedOutput(REJECTED, _record(entry, entry.verdict, entry.reason))
            return
        if entry.path in duplicates:
            verdict, reason = duplicates[entry.path]
            kind = "duplicate" if verdict == SKIPPED else "label_conflict"
            if verdict == QUARANTINED:
                beam.metrics.Metrics.counter("ingest", "quarantined").inc()
            yield beam.pvalue.TaggedOutput(REJECTED, {**_record(entry, verdict, reason), kind: True})
            return
        label = self._labels.get(entry.class_name)
        if label is None:
            where = f" {self._vocabulary}" if self._vocabulary else ""
            names = ", ".join(self._labels)
            reason = (f"class folder {entry.class_name!r} is not in the label vocabulary{where} ({names}); "
                      "to train on it, add its name there")
            beam.metrics.Metrics.counter("ingest", "quarantined").inc()
            yield beam.pvalue.TaggedOutput(REJECTED, _record(entry, QUARANTINED, reason))
            return
        try:
            image_check.check_image(data, self._max_pixels)
        except image_check.NotAnImageError as err:
            beam.metrics.Metrics.counter("ingest", "quarantined").inc()
            yield beam.pvalue.TaggedOutput(REJECTED, _record(entry, QUARANTINED, str(err)))
            return
        beam.metrics.Metrics.counter("ingest", "ingested").inc()
        filename = self._prefix + entry.filename
        # What the duplicate check of later spans knows: only photos written here, never a copy that
        # the image check or the vocabulary refused (`components.ingest.spans`).
        yield beam.pvalue.TaggedOutput(KEPT, (hashlib.sha256(data).hexdigest(), filename, len(data), label))
        yield make_example(data, label, filename)


def _scan(item: tuple[Entry, bytes | None]) -> tuple[Entry, str | None]:
    """The entry and the SHA-256 of its bytes: all that leaves the reading worker."""
    entry, data = item
    return entry, (hashlib.sha256(data).hexdigest() if entry.verdict is None and data is not None else None)


def _content_key(scanned: tuple[Entry, str | None]):
    """(sha256 of the bytes, (filename, path)) for every candidate photo."""
    entry, digest = scanned
    if digest is not None:
        yield digest, (entry.filename, entry.path)


_NAMED_COPIES = 5  # a label conflict's reason names at most this many other copies
KEPT = "kept"


def _copies_to_drop(group: tuple[str, Any], earlier: dict[str, str], prefix: str = ""):
    """(path, (verdict, reason)) for every copy that must not be ingested.

    Copies under one class folder: all but the one whose filename sorts first are
    skipped. Copies under several class folders are a label conflict: which label
    is right cannot be known, so every copy is quarantined, naming the others.
    A photo an earlier span already holds (`earlier`: sha256 -> filename) is
    skipped as a duplicate of it, or quarantined when it is there under another class.
    """
    digest, names = group[0], sorted(group[1])
    if digest in earlier:
        first = earlier[digest]
        parts = first.split("/")
        earlier_class = parts[1] if len(parts) > 2 and parts[0].startswith("span-") else parts[0]
        for filename, path in names:
            if filename.split("/", 1)[0] == earlier_class:
                yield path, (SKIPPED, f"duplicate: byte-identical to {first} of an earlier span, which is kept")
            else:
                yield path, (QUARANTINED, f"label conflict: byte-identical to {first} of an earlier span")
        return
    if len({filename.split("/", 1)[0] for filename, _ in names}) == 1:
        kept = prefix + names[0][0]
        for _, path in names[1:]:
            yield path, (SKIPPED, f"duplicate: byte-identical to {kept}, which is kept")
        return
    for i, (_, path) in enumerate(names):
        others = [prefix + filename for j, (filename, _) in enumerate(names) if j != i]
        more = len(others) - _NAMED_COPIES
        listed = ", ".join(others[:_NAMED_COPIES]) + (f" and {more} more" if more > 0 else "")
        yield path, (QUARANTINED, f"label conflict: byte-identical to {listed}")


def _archive_items(item: tuple[str, tuple[str, str | None]]):
    """The archive's entries with bytes; `item` is (tag, (path, root))."""
    path, root = item[1]
    return archives.iter_archive(path, root, with_bytes=True)


_ROOT = "root"


def _scan_archive(item: tuple[str, str]):
    """One pass over the archive: (entry, sha256) per file, and its root (tagged)."""
    root, items = archives.read_archive(item[1], summarize=lambda data: hashlib.sha256(data).hexdigest())
    yield beam.pvalue.TaggedOutput(_ROOT, (root,))
    yield from items


def _tfds_items(item: tuple[str, tfds_source.ShardSpec]):
    return tfds_source.iter_shard(item[1])


def _archive_streams(pipeline: beam.Pipeline, source: str):
    """The archive as one stream, read once to list it (and learn its root),
    once more to write it; (stream, scanned)."""
    stream = pipeline | "Streams" >> beam.Create([("", source)])
    listed = stream | "Scan" >> beam.FlatMap(_scan_archive).with_outputs(_ROOT, main="scanned")
    root = beam.pvalue.AsSingleton(listed[_ROOT])
    rooted = stream | "WithRoot" >> beam.Map(lambda item, found: (item[0], (item[1], found[0])), root)
    return rooted, listed.scanned


def _tfds_streams(pipeline: beam.Pipeline, config: dict[str, Any]):
    """(tag, shard spec) per TFDS shard, each a stream read in order."""
    source = config["source"]
    specs = tfds_source.shard_specs(source[len(sources.TFDS_PREFIX) :], config.get("tfds_data_dir") or None)
    streams = [(f"s{i:05d}", spec) for i, spec in enumerate(specs)]
    # Only the small specs are reshuffled, so the streams spread over the workers.
    return pipeline | "Streams" >> beam.Create(streams) | "SpreadStreams" >> beam.Reshuffle()


def _write_jsonl(rows: beam.PCollection, label: str, prefix: str) -> None:
    _ = (
        rows
        | f"{label}ToJson" >> beam.Map(json.dumps, sort_keys=True)
        | f"Write{label}" >> beam.io.WriteToText(prefix, file_name_suffix=".jsonl")
    )


def _shard_key(entry: Entry, layout: shard_write.Layout):
    """((split, shard), (sort key, entry)); an entry without a class file name goes
    to the first shard, where the check only records its verdict."""
    if not entry.filename:
        return (0, 0), ("", entry)
    split, shard, key = layout.place(entry.filename)
    return (split, shard), (key, entry)


def _prefixed(entry: Entry, prefix: str) -> Entry:
    """A span's entry: reported as `span-<N>/...`, still read relative to the span's folder."""
    if not prefix:
        return entry
    return dataclasses.replace(entry, path=prefix + entry.path, os_path=entry.os_path or entry.path)


def images_to_shards(
    pipeline: beam.Pipeline,
    config: dict[str, Any],
    layout: shard_write.Layout,
    parts_dir: str,
    earlier: dict[str, str] | None = None,
) -> beam.PCollection:
    """Writes every usable photo into its split's shards; returns (split name, label) per
    written photo. What was seen and rejected goes to `parts_dir`, the kept photos'
    hashes too (`spans`); `earlier` holds the earlier spans' hashes."""
    source = config["source"]
    prefix = config.get("filename_prefix", "")
    check = Checker(list(config["class_names"]), int(config["max_pixels"]), prefix, config.get("vocabulary_file", ""))
    if sources.is_tfds(source):
        stream = _tfds_streams(pipeline, config)
        scanned = stream | "Scan" >> beam.FlatMap(lambda item: map(_scan, _tfds_items(item)))
        writer = shard_write.WriteSequential(layout, _tfds_items, check)
    elif sources.is_archive(source):
        stream, scanned = _archive_streams(pipeline, source)
        writer = shard_write.WriteSequential(layout, _archive_items, check)
    else:
        stream = (
            pipeline
            | "ListFolder" >> beam.Create([_prefixed(e, prefix) for e in sources.iter_folder(source)])
            # Names only from here: each shard's worker reads its own files.
            | "Place" >> beam.Map(_shard_key, layout)
            | "GroupNamesByShard" >> beam.GroupByKey()
        )
        read = functools.partial(sources.read_folder_item, source)
        scanned = (
            stream
            | "Names" >> beam.FlatMap(lambda kv: [entry for _, entry in kv[1]])
            | "Scan" >> beam.Map(lambda entry: _scan(read(entry)))
        )
        writer = shard_write.WriteShard(layout, read, check)
    seen = scanned | "CountSeen" >> beam.combiners.Count.Globally() | "Seen" >> beam.Map(lambda n: {"files_seen": n})
    _write_jsonl(seen, "Seen", os.path.join(parts_dir, "seen"))
    contents = (
        scanned
        | "ContentKeys" >> beam.FlatMap(_content_key)
        | "GroupByContent" >> beam.GroupByKey()
        | "CopiesToDrop" >> beam.FlatMap(_copies_to_drop, earlier or {}, prefix)
    )
    results = stream | "CheckAndWrite" >> beam.ParDo(writer, duplicates=beam.pvalue.AsDict(contents)).with_outputs(
        REJECTED, shard_write.COUNTED, KEPT
    )
    _write_jsonl(results[KEPT], "Kept", os.path.join(parts_dir, KEPT))
    _write_jsonl(results[REJECTED], "Rejected", os.path.join(parts_dir, "rejected"))
    return results[shard_write.COUNTED]
