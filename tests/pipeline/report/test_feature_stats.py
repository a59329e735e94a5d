"""The statistics view from StatisticsGen's protos: examples, the label by class, and per feature its summary
(a numeric feature's quantities and histogram too), for every split written."""

from tensorflow_metadata.proto.v0 import statistics_pb2

from pipeline.report import feature_stats

CLASSES = ["dandelion", "daisy", "tulips"]


def _dataset(examples: int, labels: dict[str, int], widths: list[int]) -> statistics_pb2.DatasetFeatureStatistics:
    dataset = statistics_pb2.DatasetFeatureStatistics(num_examples=examples)
    label = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.INT)
    label.path.step.append("label")
    label.string_stats.common_stats.num_non_missing = examples
    for value, count in labels.items():
        label.string_stats.rank_histogram.buckets.add(label=value, sample_count=count)
    width = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.FLOAT)
    width.path.step.append("width")
    width.num_stats.common_stats.num_non_missing = examples - 1
    width.num_stats.common_stats.num_missing = 1
    width.num_stats.mean, width.num_stats.min, width.num_stats.max, width.num_stats.median = 150.5, 100, 240, 140
    histogram = width.num_stats.histograms.add(type=statistics_pb2.Histogram.STANDARD)
    for low, count in zip((100, 150, 200), widths, strict=True):
        histogram.buckets.add(low_value=low, high_value=low + 50, sample_count=count)
    image = dataset.features.add(type=statistics_pb2.FeatureNameStatistics.BYTES)
    image.path.step.append("image")
    image.bytes_stats.common_stats.num_non_missing = examples
    image.bytes_stats.min_num_bytes, image.bytes_stats.avg_num_bytes, image.bytes_stats.max_num_bytes = 10, 20.4, 31
    return dataset


def test_every_split_every_feature_and_the_label_by_class_name(tmp_path):
    written = {"train": _dataset(8, {"0": 5, "2": 3}, [2, 4, 1]), "eval": _dataset(3, {"1": 3}, [0, 2, 0])}
    for split, dataset in written.items():
        (tmp_path / f"Split-{split}").mkdir()
        stats = statistics_pb2.DatasetFeatureStatisticsList(datasets=[dataset])
        (tmp_path / f"Split-{split}" / "FeatureStats.pb").write_bytes(stats.SerializeToString())
    loaded = feature_stats.load(str(tmp_path), ["train", "eval", "test"])  # no test split was written
    view = feature_stats.view(loaded, CLASSES)

    assert view["splits"] == ["train", "eval"] and view["examples"] == {"train": 8, "eval": 3}
    assert [(c["name"], c["counts"], c["bars"]) for c in view["label"]["classes"]] == [
        ("dandelion", {"train": 5, "eval": 0}, {"train": 100, "eval": 0}),
        ("daisy", {"train": 0, "eval": 3}, {"train": 0, "eval": 100}),
        ("tulips", {"train": 3, "eval": 0}, {"train": 60, "eval": 0})]
    features = {f["name"]: f for f in view["features"]}
    assert list(features) == ["image", "label", "width"]
    assert (features["width"]["type"], features["image"]["type"]) == ("FLOAT", "BYTES")
    width = features["width"]["splits"]["train"]
    assert (width["present"], width["missing"], width["mean"], width["median"], width["max"]) == (7, 1, 150.5, 140, 240)
    assert [(b["low"], b["high"], b["count"], b["height"]) for b in width["histogram"]] == [
        (100, 150, 2, 50), (150, 200, 4, 100), (200, 250, 1, 25)]
    image = features["image"]["splits"]["eval"]
    assert (image["min_bytes"], image["avg_bytes"], image["max_bytes"]) == (10, 20, 31)


def test_no_statistics_no_view():
    assert feature_stats.view({}, CLASSES) is None
