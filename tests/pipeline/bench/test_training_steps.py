"""`flowers bench --training` (`pipeline.bench.training_steps`): both placements timed on the same data.

One round of one step each on the session run's training split, so it checks
what the report holds, not the speeds (those are in docs/benchmarks.md).
"""

import glob
import os

import tensorflow_transform as tft

from pipeline.bench import training_steps


def test_both_placements_are_timed_side_by_side_on_the_same_split(first_run):
    root = first_run[0].pipeline_root
    examples = glob.glob(os.path.join(root, "FileBasedExampleGen", "examples", "*"))[0]
    graph = glob.glob(os.path.join(root, "Transform", "transform_graph", "*"))[0]
    files = training_steps._train_files(examples)  # noqa: SLF001
    report = training_steps.time_placements(files, tft.TFTransformOutput(graph), 0, "flip(horizontal)|rotate(0.1)",
                                            batch_size=8, rounds=1, steps=1)
    assert set(report["steps_per_second"]) == {"input", "model"}
    assert all(rate > 0 for rate in report["steps_per_second"].values())
    assert abs(report["images_per_second"]["model"] - report["steps_per_second"]["model"] * 8) < 0.1
    assert [len(v) for v in report["rounds"].values()] == [1, 1]
    assert len(report["ratio_model_over_input_per_round"]) == 1
    assert report["augment_path"] == {"input": "xla", "model": "xla"}
    assert report["train_images"] == first_run[1]["counts"]["train"] and report["steps_per_round"] == 1
