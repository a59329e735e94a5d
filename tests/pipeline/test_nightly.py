"""The nightly loop on spans cut from the sample: one span ingested per night, a
window of accepted spans trained on, a pinned label vocabulary, a warm start,
and drift stopping a run.

One module fixture runs the nights in one output folder, in order (with TFX's
cache on, as a nightly job would):
- night 1 trains (5 short epochs) on span 1 and pins the vocabulary;
- night 2's span holds a `zinnia/` folder beside the five flower folders: its
  photos are quarantined (the class is not in the vocabulary) and ExampleGen
  stops the run, over the quarantine limit;
- night 3 is the corrected re-delivery: span 2's five flower folders, the same
  bytes, as span 3 (span 2 left where it was). It trains warm-started on the
  window of the last 2 accepted spans, 1 and 3, and once more cold;
- night 4 brings a span skewed to one class: the drift gate stops it;
- night 5 is skewed too, goes through with --accept-drift, and holds a copy of
  a span-4 photo (ingested: span 4 was rejected, so none of its photos is
  kept) and of a span-1 photo (skipped as a duplicate).
"""

import glob
import json
import os
import shutil

import pytest

from components import features
from pipeline import configs
from pipeline.report import outcomes
from pipeline.runners import local
from tests.helpers import imagefiles
from tests.helpers.spans import CLASSES, SAMPLE, write_span

RESOLVERS = ("latest_model_resolver", "span_window", "previous_span_examples")


def _skewed_span(root, night, quality):
    """16 daisies and one photo of each other class (daisy 80%), re-encoded at `quality` so no byte
    is shared with earlier spans."""
    import tensorflow as tf

    def write(cls, source, name, q):
        image = tf.io.decode_image(tf.io.read_file(source), channels=3, expand_animations=False)
        tf.io.write_file(os.path.join(root, f"span-{night}", cls, name), tf.io.encode_jpeg(image, quality=q))

    daisies = sorted(os.listdir(os.path.join(SAMPLE, "daisy")))
    for cls in CLASSES:
        os.makedirs(os.path.join(root, f"span-{night}", cls), exist_ok=True)
    for i in range(16):
        write("daisy", os.path.join(SAMPLE, "daisy", daisies[i % 12]), f"new{i}.jpg", quality - i // 12 * 10)
    for cls in CLASSES[:1] + CLASSES[2:]:
        write(cls, os.path.join(SAMPLE, cls, sorted(os.listdir(os.path.join(SAMPLE, cls)))[0]), "new.jpg", quality)


def _report(summary):
    with open(summary["ingest_report"]) as f:
        return json.load(f)


def _history(summary):
    with open(os.path.join(os.path.dirname(summary["curves"]), "metrics.json")) as f:
        return json.load(f)["history"]


def _records(examples_dir):
    import tensorflow as tf

    for split in ("train", "eval", "test"):
        files = glob.glob(os.path.join(examples_dir, f"Split-{split}", "*.gz"))
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            feature = tf.train.Example.FromString(record.numpy()).features.feature
            yield split, feature["filename"].bytes_list.value[0].decode(), int(feature["label"].int64_list.value[0])


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("spans"))
    output = str(tmp_path_factory.mktemp("nightly"))
    base = dict(data=root, output=output, epochs=1, batch_size=8, augmentation="", min_accuracy=0.0)

    def night(stop_after, **kwargs):
        return local.run(configs.RunConfig(**{**base, **kwargs}), stop_after=stop_after)

    result = {"output": output, "root": root}
    write_span(root, 1)
    result[1] = night("Trainer", epochs=5)
    write_span(root, 2)
    zinnia = os.path.join(root, "span-2", "zinnia")
    os.makedirs(zinnia)
    for i in range(4):
        with open(os.path.join(zinnia, f"z{i}.jpg"), "wb") as f:
            f.write(imagefiles.jpeg(64, 48, seed=900 + i))
    try:
        night("AnomaliesGate", spans=2)
    except Exception as err:  # noqa: BLE001 - the stop is the point
        result["night2_error"] = err
    shutil.copytree(os.path.join(root, "span-2"), os.path.join(root, "span-3"),
                    ignore=shutil.ignore_patterns("zinnia"))
    result[3] = night("Trainer", spans=2, warm_start=True)
    result["config3"] = configs.RunConfig(**{**base, "spans": 2, "warm_start": True})
    describe = outcomes.describer(result["config3"].metadata_path)
    result["lines3"] = {node: describe(node) for node in RESOLVERS}
    result["cold"] = night("Trainer", spans=2)
    _skewed_span(root, 4, quality=90)
    try:
        night("AnomaliesGate", spans=2)
    except Exception as err:  # noqa: BLE001 - the drift stop is the point
        result["drift_error"] = err
    _skewed_span(root, 5, quality=40)
    from_1 = os.path.join("daisy", sorted(os.listdir(os.path.join(root, "span-1", "daisy")))[0])
    shutil.copy(os.path.join(root, "span-1", from_1), os.path.join(root, "span-5", "daisy", "again1.jpg"))
    shutil.copy(os.path.join(root, "span-4", "roses", "new.jpg"), os.path.join(root, "span-5", "roses", "again4.jpg"))
    result[5] = night("Transform", spans=2, accept_drift=True)
    result["from_1"] = from_1
    return result


def test_the_first_night_pins_the_tf_flowers_vocabulary(nights):
    pinned = os.path.join(nights["output"], "class_names.txt")
    from components import vocabulary

    assert vocabulary.read(pinned) == features.TF_FLOWERS_CLASSES
    assert _report(nights[1])["vocabulary"] == pinned
    assert _report(nights[3])["class_names"] == list(features.TF_FLOWERS_CLASSES)


def test_an_unknown_class_folder_is_quarantined_and_stops_the_night(nights):
    from components.ingest import executor

    err = nights["night2_error"]
    assert isinstance(err, executor.TooManyQuarantinedError)
    quarantined = err.report["quarantined"]
    assert sorted(q["path"] for q in quarantined) == [f"span-2/zinnia/z{i}.jpg" for i in range(4)]
    pinned = os.path.join(nights["output"], "class_names.txt")
    for entry in quarantined:
        assert entry["reason"].startswith(f"class folder 'zinnia' is not in the label vocabulary {pinned} (")
    # The five flower folders kept their tf_flowers indices.
    assert err.report["class_names"] == list(features.TF_FLOWERS_CLASSES)
    assert err.report["ingested_total"] == 20


def test_the_corrected_redelivery_ingests_every_photo_with_the_vocabularys_labels(nights):
    summary = nights[3]
    report = _report(summary)
    assert report["span"] == 3 and report["files_seen"] == 20
    assert report["ingested_total"] == 20 and report["skipped"] == [] and report["duplicates"] == 0
    seen = 0
    for _, filename, label in _records(os.path.dirname(summary["ingest_report"])):
        span, cls, _ = filename.split("/")
        assert span == "span-3" and label == features.TF_FLOWERS_CLASSES.index(cls)
        seen += 1
    assert seen == 20


def test_the_window_holds_the_accepted_spans_only(nights):
    assert nights[1]["window"]["spans"] == [1]
    night3 = nights[3]["window"]
    assert night3["spans"] == [1, 3] and night3["requested"] == 2  # span 2 was stopped
    assert night3["train_examples"] == nights[1]["counts"]["train"] + nights[3]["counts"]["train"]
    assert nights[3]["drift"]["previous_span"] == 1


def test_filenames_are_unique_across_spans_and_the_split_follows_the_photo(nights):
    from components.ingest import shard_write

    examples = os.path.dirname(nights[3]["ingest_report"])
    for split, filename, _ in _records(examples):
        span, photo = filename.split("/", 1)
        assert span == "span-3"
        # The split is the hash of <class>/<file>, whichever span the photo came in.
        assert shard_write.tfx_split_index(photo, [8, 9, 10]) == ("train", "eval", "test").index(split)


def test_the_warm_start_starts_lower_than_a_cold_start_on_the_same_data(nights):
    warm, cold = nights[3], nights["cold"]
    assert warm["warm_start"]["requested"] and warm["warm_start"]["from_model"]
    assert cold["warm_start"] == {"requested": False, "from_model": None}
    assert warm["window"] == cold["window"]
    assert _history(warm)["loss"][0] < _history(cold)["loss"][0]


def test_drift_figures_are_in_the_summary(nights):
    drift = nights[3]["drift"]
    assert drift["previous_span"] == 1 and drift["span"] == 3
    assert drift["distance"]["label"] == 0.0  # both spans hold 4 photos of each class
    assert drift["p_value"]["label"] == 1.0 and drift["over"] == []
    assert drift["significance"] == 0.0025  # schemas/drift.json
    assert drift["current"]["examples"] == drift["previous"]["examples"] == 20
    assert nights[1]["drift"]["previous_span"] is None  # nothing to compare on the first night


def test_the_report_shows_the_night(nights):
    from pipeline.report import finished_run, page

    run = finished_run.read(nights["config3"].metadata_path, run_id=nights[3]["run_id"])
    html = page.render(page.gather(nights["config3"], "ingest", run, None, None, None))
    assert "span:            3, window [1, 3]" in html
    assert "warm start:      " + nights[3]["warm_start"]["from_model"] in html
    assert "drift:           against span 1: " in html


def test_a_skewed_span_stops_before_transform_with_one_sentence(nights):
    from components.validation import drift

    err = nights["drift_error"]
    assert isinstance(err, drift.DataDriftError)
    message = str(err)
    assert "\n" not in message
    assert message.startswith(
        "Data drift in span 4 against span 3: feature label, the label distribution changed (p = ")
    assert "below the significance 0.0025; change 0.6)" in message


def test_a_rejected_span_is_no_baseline_no_window_and_keeps_no_photo(nights):
    night5 = nights[5]
    assert night5["drift"]["previous_span"] == 3  # not span 4, which the drift gate stopped
    assert night5["window"]["spans"] == [3, 5]
    report = _report(night5)
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    # A span-1 photo brought again is a duplicate of span 1's, found by its hash ...
    assert skipped == {"span-5/daisy/again1.jpg": (
        f"duplicate: byte-identical to span-1/{nights['from_1']} of an earlier span, which is kept")}
    # ... while a span-4 photo is new: span 4 was never kept.
    names = {filename for _, filename, _ in _records(os.path.dirname(night5["ingest_report"]))}
    assert "span-5/roses/again4.jpg" in names
    assert report["ingested_total"] == 21 and report["duplicates"] == 1


def test_accept_drift_goes_on_and_is_recorded(nights):
    night5 = nights[5]
    # Re-encoded at quality 40 and 30, its photos are smaller than span 3's (quality 80).
    assert night5["drift"]["over"] == ["image"] and night5["drift"]["accepted"] is True
    assert night5["drift"]["p_value"]["image"] < night5["drift"]["significance"]
    assert night5["stage_state"]["Transform"] in ("COMPLETE", "CACHED")


def test_the_summary_describes_its_own_run(nights):
    from pipeline import metadata

    store = metadata._store(nights["config3"].metadata_path)
    run_ids = [c.name for c in store.get_contexts_by_type("pipeline_run")]
    assert len(set(run_ids)) == len(run_ids) == 6  # one per night (night 2's stopped run too) and the cold run
    for key in (1, 3, "cold", 5):
        assert nights[key]["run_id"] in run_ids
    assert len({nights[key]["run_id"] for key in (1, 3, "cold", 5)}) == 4
    nodes = metadata.read_run(nights["config3"].metadata_path, run_id=nights[3]["run_id"])
    assert nodes["FileBasedExampleGen"]["outputs"]["Examples"].uri == os.path.dirname(nights[3]["ingest_report"])


def test_the_resolver_lines_name_what_was_resolved(nights):
    # Resolvers record what they resolved as INTERNAL_OUTPUT events, not OUTPUT ones.
    lines = nights["lines3"]
    assert lines["latest_model_resolver"] == "warm start from " + nights[3]["warm_start"]["from_model"]
    assert lines["span_window"] == lines["previous_span_examples"] == "resolved"
