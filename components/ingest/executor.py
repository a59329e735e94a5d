"""The custom ExampleGen: photos in, tf.Examples of untouched image bytes out.

A `FileBasedExampleGen` runs this executor (a Beam pipeline). It reads a folder,
an archive or `tfds:tf_flowers`, checks every image by its content on the Beam
workers (`image_check`), writes `image` (the file's bytes, untouched), `label`
and `filename` for every usable photo, split 80/10/10 by TFX's hash of
`filename` and written as shards in a seeded random order (`shard_write`). Every other file is listed with its reason in
`ingest_report.json`, written into the examples artifact beside the splits.
The Beam graph itself is `components.ingest.beam_graph`. The run fails, with the
report, when too many files are quarantined or fewer than two classes received
images (`IngestRejectedError`).
"""

from __future__ import annotations

import json
import os
from typing import Any

import apache_beam as beam
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import code_fingerprints, features
from components.ingest import beam_graph, shard_write, spans
from components.ingest.sources.entry import QUARANTINED, SKIPPED

REPORT_FILE = features.INGEST_REPORT_FILE
CLASS_NAMES_PROPERTY = "class_names"
# The settings key (filled in by the driver, `components.cache_keys`) of the accepted earlier spans' examples URIs.
EARLIER_EXAMPLES_KEY = "earlier_examples"
_PARTS_DIR = "_ingest_parts"


def make_custom_config(
    source: str,
    class_names: list[str] | tuple[str, ...],
    max_pixels: int = features.MAX_PIXELS,
    max_quarantine_fraction: float = features.DEFAULT_MAX_QUARANTINE_FRACTION,
    tfds_data_dir: str | None = None,
    code_fingerprint: str = "",
    num_shards: int = shard_write.DEFAULT_NUM_SHARDS,
    shuffle_seed: int = shard_write.DEFAULT_SEED,
    spans: bool = False,
    vocabulary_file: str = "",
) -> example_gen_pb2.CustomConfig:
    """The CustomConfig proto that tells the executor what to read."""
    struct = struct_pb2.Struct()
    struct.update(
        {
            "source": source,
            "class_names": list(class_names),
            "max_pixels": max_pixels,
            "max_quarantine_fraction": max_quarantine_fraction,
            "tfds_data_dir": tfds_data_dir or "",
            "code_fingerprint": code_fingerprint,
            "num_shards": num_shards,
            "shuffle_seed": shuffle_seed,
            "spans": spans,
            "vocabulary_file": vocabulary_file,
        }
    )
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(struct)
    return config


def read_custom_config(exec_properties: dict[str, Any]) -> dict[str, Any]:
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], config)
    struct = struct_pb2.Struct()
    config.custom_config.Unpack(struct)
    return json_format.MessageToDict(struct)


def _write_counts(counted: beam.PCollection, parts_dir: str) -> None:
    _ = (
        counted
        | "CountPerClass" >> beam.combiners.Count.PerElement()
        | "CountsToJson" >> beam.Map(lambda kv: json.dumps({"split": kv[0][0], "label": kv[0][1], "count": kv[1]}))
        | "WriteCounts" >> beam.io.WriteToText(os.path.join(parts_dir, "counts"), file_name_suffix=".jsonl")
    )


def _layout_for(exec_properties: dict[str, Any], examples, config: dict[str, Any]) -> shard_write.Layout:
    """Split names, dirs and cumulative hash buckets from the output config;
    sets the artifact's split names."""
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
    splits = output_config.split_config.splits
    if not splits or output_config.split_config.partition_feature_name != features.FILENAME_KEY:
        raise ValueError(
            f"output_config {output_config}: this ExampleGen splits by hash buckets on "
            "partition_feature_name 'filename' only"
        )
    buckets = [sum(s.hash_buckets for s in splits[: i + 1]) for i in range(len(splits))]
    names = [s.name for s in splits]
    examples.split_names = artifact_utils.encode_split_names(names)
    dirs = [artifact_utils.get_split_uri([examples], name) for name in names]
    return shard_write.Layout(
        names,
        dirs,
        buckets,
        int(config.get("num_shards", shard_write.DEFAULT_NUM_SHARDS)),
        int(config.get("shuffle_seed", shard_write.DEFAULT_SEED)),
    )


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """ExampleGen executor for class-labelled photos, with an ingest report.

    Replaces the base `Do`: the split is decided on file names and each split is
    written as shards in a seeded random order (`shard_write`), not through
    TFX's `WriteSplit`, which would reshuffle every image's bytes.
    """

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError("this executor writes its own shards in Do")

    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        config = read_custom_config(exec_properties)
        code_fingerprints.check_image_code("FileBasedExampleGen", config.get("code_fingerprint", ""))
        layout = _layout_for(exec_properties, examples, config)
        parts_dir = os.path.join(examples.uri, _PARTS_DIR)
        span = int(exec_properties.get("span") or 0)
        root = config["source"]
        if config.get("spans"):  # read the newest span's folder only (the driver chose it)
            config = {**config, "source": spans.span_source(root, span),
                      "filename_prefix": spans.filename_prefix(root, span)}
        accepted = exec_properties.get(EARLIER_EXAMPLES_KEY)
        accepted = json.loads(accepted) if accepted else None
        earlier = spans.earlier_hashes(examples.uri, span, accepted) if span > 0 else {}
        examples.span = span  # the property StatisticsGen copies to its statistics, beside the driver's custom one
        # The labels' meaning, recorded with the artifact: the Trainer refuses a window whose vocabularies disagree.
        examples.set_string_custom_property(CLASS_NAMES_PROPERTY, json.dumps(list(config["class_names"])))
        with self._make_beam_pipeline() as pipeline:
            counted = beam_graph.images_to_shards(pipeline, config, layout, parts_dir, earlier)
            _write_counts(counted, parts_dir)
        layout.ensure_files()
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")
        report = build_report(parts_dir, config, layout.names)
        report["span"] = span
        kept = _read_jsonl(os.path.join(parts_dir, beam_graph.KEPT + "*"))
        tf.io.gfile.rmtree(parts_dir)
        with tf.io.gfile.GFile(os.path.join(examples.uri, REPORT_FILE), "w") as f:
            json.dump(report, f, indent=2, sort_keys=True)
        check_quarantine(report, float(config["max_quarantine_fraction"]))
        check_classes(report)
        spans.write_hashes(examples.uri, span, [tuple(row) for row in kept])


def _read_jsonl(pattern: str) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(tf.io.gfile.glob(pattern)):
        with tf.io.gfile.GFile(path) as f:
            rows.extend(json.loads(line) for line in f if line.strip())
    return rows


def build_report(parts_dir: str, config: dict[str, Any], split_names: list[str]) -> dict[str, Any]:
    """The ingest report from the pipeline's side files."""
    class_names = list(config["class_names"])
    ingested: dict[str, dict[str, int]] = {s: {c: 0 for c in class_names} for s in split_names}
    for row in _read_jsonl(os.path.join(parts_dir, "counts-*")):
        ingested[row["split"]][class_names[row["label"]]] = row["count"]
    rejected = sorted(_read_jsonl(os.path.join(parts_dir, "rejected*")), key=lambda r: r["path"])
    quarantined = [{"path": r["path"], "reason": r["reason"]} for r in rejected if r["verdict"] == QUARANTINED]
    skipped = [{"path": r["path"], "reason": r["reason"]} for r in rejected if r["verdict"] == SKIPPED]
    total_ingested = sum(sum(per_class.values()) for per_class in ingested.values())
    return {
        "data": config["source"],
        "class_names": class_names,
        "vocabulary": config.get("vocabulary_file", ""),
        "files_seen": sum(r["files_seen"] for r in _read_jsonl(os.path.join(parts_dir, "seen*"))),
        "ingested": ingested,
        "ingested_total": total_ingested,
        "quarantined": quarantined,
        "skipped": skipped,
        "duplicates": sum(1 for r in rejected if r.get("duplicate")),
        "label_conflicts": sum(1 for r in rejected if r.get("label_conflict")),
    }


class IngestRejectedError(RuntimeError):
    """The data cannot make a run; carries the whole ingest report, since a
    failed run publishes no artifact."""

    def __init__(self, message: str, report: dict[str, Any]):
        super().__init__(message)
        self.report = report


class TooManyQuarantinedError(IngestRejectedError):
    """More than the allowed share of the candidate images were bad."""


class TooFewClassesError(IngestRejectedError):
    """Fewer than two classes received images: nothing to tell apart."""


def check_quarantine(report: dict[str, Any], max_fraction: float) -> None:
    """Fail when more than `max_fraction` of the candidate images were bad."""
    bad = report["quarantined"]
    candidates = report["ingested_total"] + len(bad)
    if not bad:
        return
    fraction = len(bad) / max(candidates, 1)
    if fraction > max_fraction:
        first = "\n".join(f"  {q['path']}: {q['reason']}" for q in bad[:5])
        raise TooManyQuarantinedError(
            f"{len(bad)} of {candidates} files quarantined ({fraction:.1%}), above the "
            f"{max_fraction:.1%} limit. First ones:\n{first}\n"
            "Fix or remove these files, or raise --max-quarantined.",
            report,
        )


def check_classes(report: dict[str, Any]) -> None:
    """Fail when fewer than two classes received images.

    Counts what was ingested, not the class names: a `daisy/`-only flower
    folder gets all five tf_flowers names but holds one class.
    """
    per_class: dict[str, int] = {}
    for split in report["ingested"].values():
        for name, count in split.items():
            per_class[name] = per_class.get(name, 0) + count
    found = {name: n for name, n in per_class.items() if n > 0}
    if len(found) < 2:
        listed = ", ".join(f"{name}: {n} images" for name, n in sorted(found.items())) or "none"
        noun = "class" if len(found) == 1 else "classes"
        raise TooFewClassesError(
            f"{len(found)} {noun} with images ({listed}), but a classifier needs at least two: "
            "add photos as <root>/<class>/<image file> for two or more classes.",
            report,
        )


_SPLIT_ORDER = {"train": 0, "eval": 1, "test": 2}


def counts_by_split(report: dict[str, Any]) -> dict[str, int]:
    """Images per split (train, eval, test first), then the quarantined count."""
    splits = sorted(report["ingested"], key=lambda s: (_SPLIT_ORDER.get(s, 3), s))
    counts = {s: sum(report["ingested"][s].values()) for s in splits}
    counts["quarantined"] = len(report["quarantined"])
    return counts
