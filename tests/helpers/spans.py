"""Nightly spans cut from the bundled sample, for the tests of the nightly loop (locally and on the dry run)."""

import os
import shutil

from pipeline import configs

SAMPLE = configs.SAMPLE_DATA
CLASSES = ("dandelion", "daisy", "tulips", "sunflowers", "roses")
OFFSETS = (5, 6, 7)


def write_span(root, night):
    """Span `night` (1-3): every 20th photo of each class of the sample (80 a class), from the
    OFFSETS[night - 1]th on, 4 per class, as `root/span-<night>/`; the three spans share no photo,
    and each holds 2 to 4 eval and 2 to 4 test photos of its 20 (ExampleGen's split hash)."""
    for cls in CLASSES:
        names = sorted(os.listdir(os.path.join(SAMPLE, cls)))
        folder = os.path.join(root, f"span-{night}", cls)
        os.makedirs(folder, exist_ok=True)
        for name in names[OFFSETS[night - 1] :: 20]:
            shutil.copy(os.path.join(SAMPLE, cls, name), folder)
