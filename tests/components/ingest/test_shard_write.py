"""ExampleGen's own write: TFX's filename split, several shards, a seeded mixed order."""

import os

import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.proto import example_gen_pb2

from components.ingest import beam_graph, shard_write
from pipeline import configs
from tests.helpers.example_gen import run_executor

SPLITS = ("train", "eval", "test")
MULTI_PROCESSING = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")


def test_split_of_a_filename_is_tfxs():
    split_config = example_gen_pb2.SplitConfig(partition_feature_name="filename")
    names = [f"{c}/{i}_x.jpg" for c in ("daisy", "roses", "tulips") for i in range(200)] + ["é/ü.png"]
    for buckets in ([8, 9, 10], [3, 7]):
        ours = [shard_write.tfx_split_index(name, buckets) for name in names]
        theirs = [
            base_example_gen_executor._PartitionFn(
                beam_graph.make_example(b"", 0, name), len(buckets), buckets, split_config
            )
            for name in names
        ]
        assert ours == theirs
        assert len(set(ours)) == len(buckets)


def test_shard_and_key_depend_on_seed_and_name_only():
    assert shard_write.shard_and_key("daisy/a.jpg", 1, 4) == shard_write.shard_and_key("daisy/a.jpg", 1, 4)
    shards = {shard_write.shard_and_key(f"daisy/{i}.jpg", 1, 4)[0] for i in range(100)}
    assert shards == {0, 1, 2, 3}
    keys = [shard_write.shard_and_key(f"daisy/{i}.jpg", s, 4)[1] for s in (1, 2) for i in range(5)]
    assert len(set(keys)) == 10


def split_records(out_dir, split):
    """(file, serialized record) of a split, files in name order, records in written order."""
    files = sorted(tf.io.gfile.glob(os.path.join(out_dir, f"Split-{split}", "*")))
    return [
        (os.path.basename(f), r.numpy()) for f in files for r in tf.data.TFRecordDataset([f], compression_type="GZIP")
    ]


def _fields(record):
    feature = tf.train.Example.FromString(record).features.feature
    return feature["filename"].bytes_list.value[0].decode(), int(feature["label"].int64_list.value[0])


def test_splits_are_sharded_in_a_mixed_order_with_tfxs_membership(tmp_path):
    # The sample folder lists class by class: daisy first, then dandelion, ...
    report = run_executor(configs.SAMPLE_DATA, tmp_path / "out", num_shards=3)
    total = 0
    for index, split in enumerate(SPLITS):
        records = split_records(tmp_path / "out", split)
        files = sorted(os.listdir(tmp_path / "out" / f"Split-{split}"))
        assert files == [f"data_tfrecord-{s:05d}-of-00003.gz" for s in range(3)]
        names = [_fields(r)[0] for _, r in records]
        assert [shard_write.tfx_split_index(n, [8, 9, 10]) for n in names] == [index] * len(names)
        assert len(names) == sum(report["ingested"][split].values())
        total += len(names)
    assert total == 400
    first = [_fields(r)[1] for _, r in split_records(tmp_path / "out", "train")[:20]]
    assert len(set(first)) >= 3, first


def test_multi_process_direct_runner_writes_the_same_examples(tmp_path):
    run_executor(configs.SAMPLE_DATA, tmp_path / "inproc")
    report = run_executor(configs.SAMPLE_DATA, tmp_path / "multi", beam_args=MULTI_PROCESSING)
    assert report["ingested_total"] == 400
    for split in SPLITS:
        inproc = split_records(tmp_path / "inproc", split)
        multi = split_records(tmp_path / "multi", split)
        assert len(multi) == len(inproc) > 0
        assert {r for _, r in multi} == {r for _, r in inproc}


def test_a_retried_shard_leaves_one_whole_file_with_each_record_once(tmp_path):
    """A runner may run a bundle twice (a retry, a speculative copy) or lose an attempt part-way."""
    from components.ingest.sources.entry import Entry

    layout = shard_write.Layout(["train"], [str(tmp_path / "Split-train")], [1], 1, 42)
    names = [f"daisy/{i}.jpg" for i in range(5)]
    group = ((0, 0), [(shard_write.shard_and_key(n, 42, 1)[1], Entry(path=n, filename=n))
                      for n in names])

    def check(entry, data, duplicates, fail_at=None):
        if entry.filename == fail_at:
            raise OSError("the worker lost its disk")
        yield beam_graph.make_example(data, 1, entry.filename)

    def attempt(fail_at=None):
        writer = shard_write.WriteShard(layout, lambda e: (e, e.filename.encode()),
                                        lambda e, d, dup: check(e, d, dup, fail_at))
        return list(writer.process(group, {}))

    def records():
        path = layout.path(0, 0)
        return sorted(tf.train.Example.FromString(r.numpy()).features.feature["filename"].bytes_list.value[0]
                      for r in tf.data.TFRecordDataset([path], compression_type="GZIP"))

    assert len(attempt()) == 5
    assert len(attempt()) == 5  # the retry: its file replaces the first, whole
    assert records() == sorted(n.encode() for n in names)
    try:
        attempt(fail_at="daisy/3.jpg")  # an attempt that dies part-way leaves the complete file as it was
    except OSError:
        pass
    assert records() == sorted(n.encode() for n in names)
    assert sorted(os.listdir(tmp_path / "Split-train")) == [os.path.basename(layout.path(0, 0))]
    stray = tmp_path / "Split-train" / f".{os.path.basename(layout.path(0, 0))}.dead.tmp"
    stray.write_bytes(b"half a shard")  # a killed worker's file
    layout.ensure_files()
    assert sorted(os.listdir(tmp_path / "Split-train")) == [os.path.basename(layout.path(0, 0))]
