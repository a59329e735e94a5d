"""The `tfds:` source, read shard by shard through TFDS.

The builder is prepared once (`download_and_prepare`) when the Beam graph is
built; its `train` split's shard lengths give one `[start:end]` range per TFDS
shard, and each range becomes one Beam element that a worker reads on its own
with `as_dataset(split="train[start:end]")` (TFDS reads only that shard's
file). No step collects the examples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from components.ingest import image_check
from components.ingest.sources.entry import Entry

ShardSpec = tuple[str, str, int, int]
"""(dataset name, data dir or "", first index, end index) of one TFDS shard."""


def _builder(name: str, data_dir: str | None):
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir or None)
    builder.download_and_prepare()
    return builder


def shard_specs(name: str, data_dir: str | None) -> list[ShardSpec]:
    """One spec per shard of the dataset's `train` split, preparing it if needed."""
    lengths = _builder(name, data_dir).info.splits["train"].shard_lengths
    specs, start = [], 0
    for length in lengths:
        specs.append((name, data_dir or "", start, start + length))
        start += length
    return specs


def iter_shard(spec: ShardSpec) -> Iterator[tuple[Entry, bytes]]:
    """(Entry, bytes) for every example of one TFDS shard.

    The image is left encoded (`SkipDecoding`), so the bytes are the photo's
    own. TFDS does not keep the original file names, so `filename` is
    `<class>/<first 16 hex digits of the bytes' SHA-256>.<format>`: stable for
    a photo, so its split never moves.
    """
    import tensorflow_datasets as tfds

    name, data_dir, start, end = spec
    builder = _builder(name, data_dir)
    names = builder.info.features["label"].names
    dataset = builder.as_dataset(
        split=f"train[{start}:{end}]", decoders={"image": tfds.decode.SkipDecoding()}, shuffle_files=False
    )
    for offset, record in enumerate(dataset.as_numpy_iterator()):
        data = bytes(record["image"])
        try:
            fmt = image_check.read_header(data).format
        except image_check.NotAnImageError:
            fmt = "bin"
        digest = hashlib.sha256(data).hexdigest()[:16]
        filename = f"{names[int(record['label'])]}/{digest}.{fmt.replace('jpeg', 'jpg')}"
        yield Entry(f"{name}/train/{start + offset}", filename=filename), data
