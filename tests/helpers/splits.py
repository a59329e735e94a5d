"""The split ExampleGen gives a file, computed here as TFX computes it.

TFX's base ExampleGen executor hashes the serialized `filename` feature with
sha256 and takes it modulo the total of the hash buckets (8 train, 1 eval,
1 test); the split is the first whose cumulative bucket count is above it.
"""

import bisect
import hashlib
import os
from collections import Counter

import tensorflow as tf

SPLITS = ("train", "eval", "test")
CUMULATIVE_BUCKETS = (8, 9, 10)


def split_of(filename: str) -> str:
    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[filename.encode("utf-8")]))
    bucket = int(hashlib.sha256(feature.SerializeToString(deterministic=True)).hexdigest(), 16) % 10
    return SPLITS[bisect.bisect(CUMULATIVE_BUCKETS, bucket)]


def expected_counts(root: str) -> dict[str, Counter]:
    """{split: Counter(class: photos)} for a `<root>/<class>/<file>` folder of photos."""
    counts = {split: Counter() for split in SPLITS}
    for class_name in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, class_name))):
            counts[split_of(f"{class_name}/{name}")][class_name] += 1
    return counts
