"""The label vocabulary: pinned on an output's first run, read from there ever after."""

import os

import pytest

from components import features, vocabulary
from pipeline import paths


def test_the_curated_vocabulary_is_the_tfds_order():
    assert vocabulary.read(os.path.join(paths.SCHEMA_DIR, vocabulary.VOCABULARY_FILE)) == features.TF_FLOWERS_CLASSES
    assert features.TF_FLOWERS_CLASSES.index("dandelion") == 0 and features.TF_FLOWERS_CLASSES.index("roses") == 4


def test_a_first_run_of_flower_folders_pins_the_tf_flowers_order(tmp_path):
    names = vocabulary.first_run_names(["roses", "daisy"], paths.SCHEMA_DIR)
    assert names == features.TF_FLOWERS_CLASSES
    # Another dataset: its folders, sorted; one unknown folder among flowers makes it another dataset.
    assert vocabulary.first_run_names(["zebra", "ant"], paths.SCHEMA_DIR) == ("ant", "zebra")
    assert vocabulary.first_run_names(["daisy", "zinnia"], paths.SCHEMA_DIR) == ("daisy", "zinnia")
    with pytest.raises(vocabulary.VocabularyError, match="no class folders"):
        vocabulary.first_run_names([], paths.SCHEMA_DIR)


def test_the_pinned_vocabulary_is_never_derived_again(tmp_path):
    calls = []

    def discover():
        calls.append(1)
        return ("daisy", "roses")

    first = vocabulary.resolve(str(tmp_path), None, discover)
    assert first.names == ("daisy", "roses") and first.pinned_now and calls == [1]
    assert first.path == os.path.join(str(tmp_path), "class_names.txt")
    # A later run: whatever the folders hold now, the pinned file decides.
    later = vocabulary.resolve(str(tmp_path), None, lambda: ("a", "b", "c"))
    assert later.names == ("daisy", "roses") and not later.pinned_now and calls == [1]
    # Adding a class is an edit of the pinned file; indices of the earlier classes stay.
    with open(first.path, "a") as f:
        f.write("tulips\n")
    grown = vocabulary.resolve(str(tmp_path), None, discover)
    assert grown.names == ("daisy", "roses", "tulips")
    assert vocabulary.is_prefix(first.names, grown.names) and not vocabulary.is_prefix(grown.names, first.names)
    assert not vocabulary.is_prefix(("roses", "daisy"), grown.names)


def test_a_given_file_is_pinned_and_a_different_one_refused(tmp_path):
    given = tmp_path / "labels.txt"
    given.write_text("# my classes\ncat\ndog  # the second\n\nbird\n")
    out = tmp_path / "out"
    assert vocabulary.resolve(str(out), str(given), lambda: ()).names == ("cat", "dog", "bird")
    assert vocabulary.resolve(str(out), str(given), lambda: ()).names == ("cat", "dog", "bird")
    other = tmp_path / "other.txt"
    other.write_text("dog\ncat\nbird\n")
    with pytest.raises(vocabulary.VocabularyError, match="differs from the vocabulary this output is pinned to"):
        vocabulary.resolve(str(out), str(other), lambda: ())


@pytest.mark.parametrize("text, problem", [
    ("daisy\n", "lists 1 class name"),
    ("daisy\nroses\ndaisy\n", "line 3: class 'daisy' is listed twice"),
    ("daisy\n../etc\n", "line 2: '../etc' is not a class folder name"),
])
def test_a_bad_vocabulary_file_is_refused_naming_the_line(tmp_path, text, problem):
    path = tmp_path / "v.txt"
    path.write_text(text)
    with pytest.raises(vocabulary.VocabularyError, match=problem.replace("(", r"\(").replace(".", r"\.")):
        vocabulary.read(str(path))
