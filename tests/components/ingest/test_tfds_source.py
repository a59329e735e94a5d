"""The `tfds:` source reads a real prepared TFDS dataset shard by shard."""

import os

import tensorflow_datasets as tfds

from components import features
from components.ingest.sources import tfds_source
from tests.helpers import imagefiles as images
from tests.helpers.example_gen import read_split, run_executor

SPLITS = ("train", "eval", "test")
PHOTOS = {("daisy", i): images.jpeg(24, 24, seed=i) for i in range(12)}
PHOTOS.update({("roses", i): images.jpeg(24, 24, seed=100 + i) for i in range(12)})


class ShardedPhotos(tfds.core.GeneratorBasedBuilder):
    """24 small photos of two flower classes, registered as `sharded_photos`."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(encoding_format="jpeg"),
                    "label": tfds.features.ClassLabel(names=["daisy", "roses"]),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for (class_name, i), data in PHOTOS.items():
            yield f"{class_name}-{i}", {"image": data, "label": class_name}


def test_tfds_source_is_read_shard_by_shard(tmp_path):
    data_dir = str(tmp_path / "tfds")
    config = tfds.download.DownloadConfig(num_shards=3)
    tfds.builder("sharded_photos", data_dir=data_dir).download_and_prepare(download_config=config)
    specs = tfds_source.shard_specs("sharded_photos", data_dir)
    assert len(specs) == 3
    assert specs[0][2] == 0 and specs[-1][3] == 24
    assert all(a[3] == b[2] for a, b in zip(specs, specs[1:], strict=False))
    per_shard = [list(tfds_source.iter_shard(spec)) for spec in specs]
    assert [len(items) for items in per_shard] == [end - start for _, _, start, end in specs]

    report = run_executor("tfds:sharded_photos", tmp_path / "out", tfds_data_dir=data_dir)
    assert report["files_seen"] == 24 and report["ingested_total"] == 24
    rows = {}
    for split in SPLITS:
        rows.update(read_split(tmp_path / "out", split))
    by_bytes = {data: (label, name) for name, (label, data) in rows.items()}
    assert len(by_bytes) == 24
    for (class_name, _), data in PHOTOS.items():
        label, filename = by_bytes[data]
        assert label == features.TF_FLOWERS_CLASSES.index(class_name)
        assert filename.startswith(class_name + "/") and filename.endswith(".jpg")
    # Each TFDS shard is its own stream, written to its own files.
    train_files = os.listdir(tmp_path / "out" / "Split-train")
    tags = {name.split("-")[1] for name in train_files if name.split("-")[1].startswith("s")}
    assert tags == {"s00000", "s00001", "s00002"}
