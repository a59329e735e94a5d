"""ExampleGen's Beam graph: read a source, drop byte-identical copies, check every image.

Three passes over one stream of `(Entry, bytes)`:
- count every file seen;
- the duplicate pass: `(sha256, name)` pairs only, grouped by hash; in each
  group the copy whose `filename` sorts first is kept (it keeps its own
  filename-hash split) and the others become a small set of names to drop;
- the check: every photo is checked by its content (`image_check`) and becomes
  a tf.Example, or a quarantine / skip record; the names to drop reach it as a
  side input, so the images themselves are never grouped or held.
Rejected files go to side files under `parts_dir`, read back into the report.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from typing import Any

import apache_beam as beam
import tensorflow as tf

from components import archives, image_check, progress, shard_write, sources
from components.entries import QUARANTINED, SKIPPED, Entry


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def make_example(image: bytes, label: int, filename: str) -> tf.train.Example:
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "image": _bytes_feature(image),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                "filename": _bytes_feature(filename.encode("utf-8")),
            }
        )
    )


def _record(entry: Entry, verdict: str, reason: str) -> dict[str, str]:
    return {"verdict": verdict, "path": entry.path, "reason": reason}


REJECTED = "rejected"


class Checker:
    """Entry + bytes in; a tf.Example out, or a tagged quarantine/skip record."""

    def __init__(self, class_names: list[str], max_pixels: int):
        self._labels = {name: i for i, name in enumerate(class_names)}
        self._max_pixels = max_pixels

    def __call__(self, entry: Entry, data: bytes | None, duplicates: dict[str, str]):
        progress.FILES_CHECKED.add()
        if entry.verdict is not None:
            yield beam.pvalue.TaggedOutput(REJECTED, _record(entry, entry.verdict, entry.reason))
            return
        if entry.path in duplicates:
            reason = f"duplicate: byte-identical to {duplicates[entry.path]}, which is kept"
            yield beam.pvalue.TaggedOutput(REJECTED, dict(_record(entry, SKIPPED, reason), duplicate=True))
            return
        label = self._labels.get(entry.class_name)
        if label is None:
            reason = f"class folder {entry.class_name!r} is not one of the run's classes {sorted(self._labels)}"
            yield beam.pvalue.TaggedOutput(REJECTED, _record(entry, QUARANTINED, reason))
            return
        try:
            image_check.check_image(data, self._max_pixels)
        except image_check.NotAnImageError as err:
            beam.metrics.Metrics.counter("ingest", "quarantined").inc()
            yield beam.pvalue.TaggedOutput(REJECTED, _record(entry, QUARANTINED, str(err)))
            return
        beam.metrics.Metrics.counter("ingest", "ingested").inc()
        yield make_example(data, label, entry.filename)


def _scan(item: tuple[Entry, bytes | None]) -> tuple[Entry, str | None]:
    """The entry and the SHA-256 of its bytes: all that leaves the reading worker."""
    entry, data = item
    return entry, (hashlib.sha256(data).hexdigest() if entry.verdict is None and data is not None else None)


def _content_key(scanned: tuple[Entry, str | None]):
    """(sha256 of the bytes, (filename, path)) for every candidate photo."""
    entry, digest = scanned
    if digest is not None:
        yield digest, (entry.filename, entry.path)


def _copies_to_drop(group: tuple[str, Any]):
    """(path, kept filename) for every copy but the one whose filename sorts first."""
    _, names = group
    kept, *others = sorted(names)
    for _, path in others:
        yield path, kept[0]


def iter_tfds(name: str, data_dir: str | None):
    """(Entry, bytes) for every example of a TFDS image-classification dataset.

    Uses the real builder: `download_and_prepare`, then `as_dataset` with the
    image left encoded (`SkipDecoding`), so the bytes are the photo's own. TFDS
    does not keep the original file names, so `filename` is
    `<class>/<first 16 hex digits of the bytes' SHA-256>.<format>`: stable for a
    photo, so its split never moves.
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir or None)
    builder.download_and_prepare()
    names = builder.info.features["label"].names
    dataset = builder.as_dataset(split="train", decoders={"image": tfds.decode.SkipDecoding()}, shuffle_files=False)
    for index, record in enumerate(dataset.as_numpy_iterator()):
        data = bytes(record["image"])
        class_name = names[int(record["label"])]
        try:
            fmt = image_check.read_header(data).format
        except image_check.NotAnImageError:
            fmt = "bin"
        digest = hashlib.sha256(data).hexdigest()[:16]
        filename = f"{class_name}/{digest}.{fmt.replace('jpeg', 'jpg')}"
        yield Entry(f"{name}/train/{index}", filename=filename), data


def _archive_items(source: str):
    return archives.iter_archive(source, archives.archive_root(source), with_bytes=True)


def _tfds_items(source: str, data_dir: str | None):
    return iter_tfds(source[len(sources.TFDS_PREFIX) :], data_dir)


def _sequential_reader(config: dict[str, Any]):
    """For a source read in one stream: a function from the source to its (Entry, bytes)."""
    if sources.is_tfds(config["source"]):
        return functools.partial(_tfds_items, data_dir=config.get("tfds_data_dir") or None)
    return _archive_items


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


def images_to_shards(
    pipeline: beam.Pipeline, config: dict[str, Any], layout: shard_write.Layout, parts_dir: str
) -> beam.PCollection:
    """Writes every usable photo into its split's shards; returns (split name, label) per
    written photo. What was seen and rejected goes to `parts_dir`."""
    source = config["source"]
    check = Checker(list(config["class_names"]), int(config["max_pixels"]))
    if sources.is_tfds(source) or sources.is_archive(source):
        read_all = _sequential_reader(config)
        stream = pipeline | "Source" >> beam.Create([("", source)])
        scanned = stream | "Scan" >> beam.FlatMap(lambda kv: map(_scan, read_all(kv[1])))
        writer = shard_write.WriteSequential(layout, read_all, check)
    else:
        stream = (
            pipeline
            | "ListFolder" >> beam.Create(list(sources.iter_folder(source)))
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
    duplicates = (
        scanned
        | "ContentKeys" >> beam.FlatMap(_content_key)
        | "GroupByContent" >> beam.GroupByKey()
        | "CopiesToDrop" >> beam.FlatMap(_copies_to_drop)
    )
    results = stream | "CheckAndWrite" >> beam.ParDo(writer, duplicates=beam.pvalue.AsDict(duplicates)).with_outputs(
        REJECTED, shard_write.COUNTED
    )
    _write_jsonl(results[REJECTED], "Rejected", os.path.join(parts_dir, "rejected"))
    return results[shard_write.COUNTED]
