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


def test_auto_cache_reads_the_containers_memory_limit(tmp_path):
    """A pod's cgroup limit below the host's free memory: "auto" must pick the file cache, not an in-memory
    cache the pod would be killed for."""
    from components.trainer import input_pipeline

    image = features.IMAGE_SIZE * features.IMAGE_SIZE * 3
    host = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    examples = 1000  # about 97 MB of pixels: far below the host's free memory here
    assert examples * image < 0.5 * host
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text(f"{150 * 2**20}\n")  # a 150 MiB pod
    (v2 / "memory.current").write_text(f"{50 * 2**20}\n")  # of which 50 are in use
    assert input_pipeline.container_available(str(v2)) == 100 * 2**20
    assert not input_pipeline.fits_in_memory(examples, cgroup_root=str(v2))
    assert input_pipeline.fits_in_memory(examples // 10, cgroup_root=str(v2))
    (v2 / "memory.max").write_text("max\n")  # no limit: the host decides
    assert input_pipeline.container_available(str(v2)) is None
    assert input_pipeline.fits_in_memory(examples, cgroup_root=str(v2))
    v1 = tmp_path / "v1" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text(f"{120 * 2**20}\n")
    (v1 / "memory.usage_in_bytes").write_text("0\n")
    assert not input_pipeline.fits_in_memory(examples, cgroup_root=str(tmp_path / "v1"))
    (v1 / "memory.limit_in_bytes").write_text(f"{2**63 - 4096}\n")  # v1's "no limit"
    assert input_pipeline.container_available(str(tmp_path / "v1")) is None
