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

import hashlib
import json
import os
from typing import Any

import apache_beam as beam
import tensorflow as tf

from components import archives, image_check, progress, sources
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


class _CheckImage(beam.DoFn):
    """Entry + bytes in; a tf.Example out, or a quarantine/skip record."""

    REJECTED = "rejected"

    def __init__(self, class_names: list[str], max_pixels: int):
        self._labels = {name: i for i, name in enumerate(class_names)}
        self._max_pixels = max_pixels

    def process(self, item: tuple[Entry, bytes | None], duplicates: dict[str, str]):
        entry, data = item
        progress.FILES_CHECKED.add()
        if entry.verdict is not None:
            yield beam.pvalue.TaggedOutput(self.REJECTED, _record(entry, entry.verdict, entry.reason))
            return
        if entry.path in duplicates:
            reason = f"duplicate: byte-identical to {duplicates[entry.path]}, which is kept"
            yield beam.pvalue.TaggedOutput(self.REJECTED, dict(_record(entry, SKIPPED, reason), duplicate=True))
            return
        label = self._labels.get(entry.class_name)
        if label is None:
            reason = f"class folder {entry.class_name!r} is not one of the run's classes {sorted(self._labels)}"
            yield beam.pvalue.TaggedOutput(self.REJECTED, _record(entry, QUARANTINED, reason))
            return
        try:
            image_check.check_image(data, self._max_pixels)
        except image_check.NotAnImageError as err:
            beam.metrics.Metrics.counter("ingest", "quarantined").inc()
            yield beam.pvalue.TaggedOutput(self.REJECTED, _record(entry, QUARANTINED, str(err)))
            return
        beam.metrics.Metrics.counter("ingest", "ingested").inc()
        yield make_example(data, label, entry.filename)


def _content_key(item: tuple[Entry, bytes | None]):
    """(sha256 of the bytes, (filename, path)) for every candidate photo; nothing else travels."""
    entry, data = item
    if entry.verdict is None and data is not None:
        yield hashlib.sha256(data).hexdigest(), (entry.filename, entry.path)


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
    dataset = builder.as_dataset(
        split="train", decoders={"image": tfds.decode.SkipDecoding()}, shuffle_files=False
    )
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


def _read(pipeline: beam.Pipeline, config: dict[str, Any]) -> beam.PCollection:
    """(Entry, bytes | None) for every file of the source named in the config."""
    source = config["source"]
    if sources.is_tfds(source):
        return pipeline | "ReadTfds" >> beam.Create(
            list(iter_tfds(source[len(sources.TFDS_PREFIX) :], config.get("tfds_data_dir")))
        )
    if sources.is_archive(source):
        root = archives.archive_root(source)
        return (
            pipeline
            | "Archive" >> beam.Create([source])
            | "ReadArchive" >> beam.FlatMap(lambda path: archives.iter_archive(path, root, with_bytes=True))
        )
    return (
        pipeline
        | "ListFolder" >> beam.Create(list(sources.iter_folder(source)))
        # Sizes are checked and read errors become quarantine records here.
        | "ReadFiles" >> beam.Map(lambda entry: sources.read_folder_item(source, entry))
    )


def _write_jsonl(rows: beam.PCollection, label: str, prefix: str) -> None:
    _ = (
        rows
        | f"{label}ToJson" >> beam.Map(json.dumps, sort_keys=True)
        | f"Write{label}" >> beam.io.WriteToText(prefix, file_name_suffix=".jsonl")
    )


def images_to_examples(pipeline: beam.Pipeline, config: dict[str, Any], parts_dir: str) -> beam.PCollection:
    """The tf.Examples of every usable photo; what was seen and rejected goes to `parts_dir`."""
    items = _read(pipeline, config)
    seen = items | "CountSeen" >> beam.combiners.Count.Globally() | "Seen" >> beam.Map(lambda n: {"files_seen": n})
    _write_jsonl(seen, "Seen", os.path.join(parts_dir, "seen"))
    duplicates = (
        items
        | "ContentKeys" >> beam.FlatMap(_content_key)
        | "GroupByContent" >> beam.GroupByKey()
        | "CopiesToDrop" >> beam.FlatMap(_copies_to_drop)
    )
    results = (
        items
        # Break fusion so the decode checks spread over the workers.
        | "Spread" >> beam.Reshuffle()
        | "CheckImages"
        >> beam.ParDo(
            _CheckImage(list(config["class_names"]), int(config["max_pixels"])),
            duplicates=beam.pvalue.AsDict(duplicates),
        ).with_outputs(_CheckImage.REJECTED, main="examples")
    )
    _write_jsonl(results[_CheckImage.REJECTED], "Rejected", os.path.join(parts_dir, "rejected"))
    return results["examples"]
