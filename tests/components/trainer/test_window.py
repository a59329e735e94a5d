"""The Trainer's check of its window before any training: labels that keep their meaning, and an eval
and a test split with photos in them."""

import json
import os

import pytest

from components import features, vocabulary
from components.trainer import run_fn


def _artifact(tmp_path, name, span, class_names, eval_count, test_count=2, train_count=16):
    folder = tmp_path / name
    (folder / "Split-train").mkdir(parents=True)
    report = {"span": span, "class_names": list(class_names),
              "ingested": {"train": {class_names[0]: train_count}, "eval": {class_names[0]: eval_count},
                           "test": {class_names[0]: test_count}}}
    (folder / features.INGEST_REPORT_FILE).write_text(json.dumps(report))
    return os.path.join(str(folder), "Split-train", "*")


def test_the_window_counts_every_spans_photos(tmp_path):
    patterns = [_artifact(tmp_path, "a", 1, features.TF_FLOWERS_CLASSES, 0),
                _artifact(tmp_path, "b", 3, features.TF_FLOWERS_CLASSES, 2, test_count=0)]
    # A small night (no eval photo of its own, no test photo in the other) still trains on the window's splits.
    assert run_fn.check_window(patterns, features.TF_FLOWERS_CLASSES) == {"train": 32, "eval": 2, "test": 2}


@pytest.mark.parametrize("split", ["eval", "test"])
def test_a_window_with_an_empty_split_stops_in_one_sentence(tmp_path, split):
    counts = {"eval_count": 0 if split == "eval" else 3, "test_count": 0 if split == "test" else 3}
    patterns = [_artifact(tmp_path, "a", 2, features.TF_FLOWERS_CLASSES, **counts)]
    with pytest.raises(run_fn.WindowTooSmallError) as err:
        run_fn.check_window(patterns, features.TF_FLOWERS_CLASSES)
    message = str(err.value)
    assert message.startswith(f"the {split} split of the training window (spans [2]) holds 0 photos, and the model "
                              "needs at least 1 there to be evaluated")
    assert "\n" not in message


def test_a_span_of_other_labels_is_refused_and_appended_classes_are_not(tmp_path):
    grown = features.TF_FLOWERS_CLASSES + ("zinnia",)
    patterns = [_artifact(tmp_path, "a", 1, features.TF_FLOWERS_CLASSES, 2)]
    assert run_fn.check_window(patterns, grown)["eval"] == 2  # appending a class keeps span 1's labels
    shuffled = ("daisy", "dandelion", "tulips", "sunflowers", "roses")
    patterns.append(_artifact(tmp_path, "b", 2, shuffled, 2))
    with pytest.raises(vocabulary.VocabularyError, match=r"^span 2 was ingested with the labels daisy, dandelion, "):
        run_fn.check_window(patterns, grown)
