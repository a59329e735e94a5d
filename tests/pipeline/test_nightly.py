"""The nightly loop on spans cut from the sample: one span ingested per night, a
window of spans trained on, a warm start, and drift stopping a run.

One module fixture runs the nights in one output folder, in order (with TFX's
cache on, as a nightly job would): night 1 trains (5 short epochs), night 2
ingests only, night 3 trains warm-started on the last 2 spans and once more
cold for comparison, night 4 brings a span skewed to one class and stops
before Transform, then goes through with --accept-drift.
"""

import json
import os
import shutil

import pytest

from pipeline import configs
from pipeline.report import outcomes
from pipeline.runners import local
from tests.helpers.spans import CLASSES, SAMPLE, write_span

RESOLVERS = ("latest_model_resolver", "span_window", "previous_span_statistics")


def _skewed_span(root, night, again):
    """16 daisies and one photo of each other class (daisy 80%), re-encoded so
    no byte is shared with earlier spans; plus `again`, a span-1 photo copied as is."""
    import tensorflow as tf

    def write(cls, source, name, quality):
        image = tf.io.decode_image(tf.io.read_file(source), channels=3, expand_animations=False)
        tf.io.write_file(os.path.join(root, f"span-{night}", cls, name), tf.io.encode_jpeg(image, quality=quality))

    daisies = sorted(os.listdir(os.path.join(SAMPLE, "daisy")))
    for cls in CLASSES:
        os.makedirs(os.path.join(root, f"span-{night}", cls), exist_ok=True)
    for i in range(16):
        write("daisy", os.path.join(SAMPLE, "daisy", daisies[i % 12]), f"new{i}.jpg", 90 - i // 12 * 10)
    for cls in CLASSES[:1] + CLASSES[2:]:
        write(cls, os.path.join(SAMPLE, cls, sorted(os.listdir(os.path.join(SAMPLE, cls)))[0]), "new.jpg", 90)
    shutil.copy(os.path.join(root, "span-1", again), os.path.join(root, f"span-{night}", again))


def _report(summary):
    with open(summary["ingest_report"]) as f:
        return json.load(f)


def _history(output, summary):
    model_run = os.path.dirname(summary["curves"])
    with open(os.path.join(model_run, "metrics.json")) as f:
        return json.load(f)["history"]


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("spans"))
    output = str(tmp_path_factory.mktemp("nightly"))
    base = dict(data=root, output=output, epochs=1, batch_size=8, augmentation="", min_accuracy=0.0)

    def night(stop_after, **kwargs):
        return local.run(configs.RunConfig(**{**base, **kwargs}), stop_after=stop_after)

    result = {}
    write_span(root, 1)
    result[1] = night("Trainer", epochs=5)
    write_span(root, 2)
    result[2] = night("AnomaliesGate", spans=2)
    write_span(root, 3)
    result[3] = night("Trainer", spans=2, warm_start=True)
    result["config3"] = configs.RunConfig(**{**base, "spans": 2, "warm_start": True})
    describe = outcomes.describer(result["config3"].metadata_path)
    result["lines3"] = {node: describe(node) for node in RESOLVERS}
    result["cold"] = night("Trainer", spans=2)
    again = os.path.join("daisy", sorted(os.listdir(os.path.join(root, "span-1", "daisy")))[0])
    _skewed_span(root, 4, again)
    try:
        night("AnomaliesGate", spans=2)
    except Exception as err:  # noqa: BLE001 - the drift stop is the point
        result["drift_error"] = err
    result[4] = night("Transform", spans=2, accept_drift=True)
    result["again"] = again
    return result


def test_each_night_ingests_only_its_new_span(nights):
    for night in (1, 2, 3):
        summary = nights[night]
        assert summary["span"] == night
        report = _report(summary)
        assert report["span"] == night
        assert report["files_seen"] == 20  # 4 photos x 5 classes: this span's only
        assert sum(summary["counts"][s] for s in ("train", "eval", "test")) == 20
    # Night 3 trained on span 3 ingested tonight and span 2's examples from ML Metadata.
    assert nights[3]["stage_state"]["FileBasedExampleGen"] == "COMPLETE"


def test_the_window_holds_the_spans_asked_for(nights):
    assert nights[1]["window"]["spans"] == [1]
    night3 = nights[3]["window"]
    assert night3["spans"] == [2, 3] and night3["requested"] == 2
    train_2 = nights[2]["counts"]["train"]
    assert night3["train_examples"] == train_2 + nights[3]["counts"]["train"]


def test_filenames_are_unique_across_spans_and_the_split_follows_the_photo(nights):
    import glob

    import tensorflow as tf

    from components.ingest import shard_write

    examples = os.path.dirname(nights[3]["ingest_report"])
    buckets = [8, 9, 10]
    seen = 0
    for index, split in enumerate(("train", "eval", "test")):
        files = glob.glob(os.path.join(examples, f"Split-{split}", "*.gz"))
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
            name = tf.train.Example.FromString(record.numpy()).features.feature["filename"].bytes_list.value[0]
            span, photo = name.decode().split("/", 1)
            assert span == "span-3"
            # The split is the hash of <class>/<file>, whichever span the photo came in.
            assert shard_write.tfx_split_index(photo, buckets) == index
            seen += 1
    assert seen == 20


def test_the_warm_start_starts_lower_than_a_cold_start_on_the_same_data(nights):
    warm, cold = nights[3], nights["cold"]
    assert warm["warm_start"]["requested"] and warm["warm_start"]["from_model"]
    assert cold["warm_start"] == {"requested": False, "from_model": None}
    assert warm["window"] == cold["window"]
    warm_loss = _history(None, warm)["loss"][0]
    cold_loss = _history(None, cold)["loss"][0]
    assert warm_loss < cold_loss, (warm_loss, cold_loss)


def test_drift_figures_are_in_the_summary(nights):
    drift = nights[3]["drift"]
    assert drift["previous_span"] == 2 and drift["span"] == 3
    assert drift["distance"]["label"] == 0.0  # both spans hold 4 photos of each class
    assert drift["threshold"] == {"label": 0.25, "image": 0.5}
    assert drift["over"] == []
    assert nights[1]["drift"]["previous_span"] is None  # nothing to compare on the first night


def test_the_report_shows_the_night(nights):
    from pipeline.report import page

    html = page.render({**page.gather(nights["config3"], "ingest", 0.0, nights[3], None, None, None)})
    assert "span:            3, window [2, 3]" in html
    assert "warm start:      " + nights[3]["warm_start"]["from_model"] in html
    assert "drift:           against span 2: " in html


def test_a_skewed_span_stops_before_transform_with_one_sentence(nights):
    from components.validation import drift

    err = nights["drift_error"]
    assert isinstance(err, drift.DataDriftError)
    message = str(err)
    assert "\n" not in message
    assert message.startswith("Data drift in span 4 against span 3: feature label,")
    assert "L-infinity distance 0.6 is over the threshold 0.25" in message


def test_accept_drift_goes_on_and_is_recorded(nights):
    night4 = nights[4]
    assert night4["drift"]["over"][0] == "label" and night4["drift"]["accepted"] is True
    assert night4["drift"]["distance"]["label"] == 0.6
    assert night4["stage_state"]["Transform"] in ("COMPLETE", "CACHED")
    report = _report(night4)
    # The span-1 photo brought again is a duplicate of span 1's, found by its hash.
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert skipped[f"span-4/{nights['again']}"] == (
        f"duplicate: byte-identical to span-1/{nights['again']} of an earlier span, which is kept"
    )
    assert report["ingested_total"] == 20 and report["duplicates"] == 1


def test_the_resolver_lines_name_what_was_resolved(nights):
    # Resolvers record what they resolved as INTERNAL_OUTPUT events, not OUTPUT ones.
    lines = nights["lines3"]
    assert lines["latest_model_resolver"] == "warm start from " + nights[3]["warm_start"]["from_model"]
    assert lines["span_window"] == lines["previous_span_statistics"] == "resolved"
