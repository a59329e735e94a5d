"""Class names and their label indices."""

from __future__ import annotations

from collections.abc import Iterable

# The TFDS tf_flowers order (tfds.builder('tf_flowers').info.features['label'].names).
TF_FLOWERS_CLASSES = ("dandelion", "daisy", "tulips", "sunflowers", "roses")


def class_names_for(folders: Iterable[str]) -> tuple[str, ...]:
    """The label vocabulary for a dataset whose class folders are `folders`.

    A dataset whose classes are all tf_flowers classes gets the full TFDS order,
    so a model trained on a folder, on the `.tgz` or on `tfds:tf_flowers` gives
    every flower the same index. Any other dataset gets its folder names sorted.
    """
    names = sorted(set(folders))
    if not names:
        raise ValueError("no class folders found: expected <root>/<class>/<image file>")
    if set(names) <= set(TF_FLOWERS_CLASSES):
        return TF_FLOWERS_CLASSES
    return tuple(names)
