"""`flowers bench --training`: training steps per second, the augmentation in the input against in the model.

Both placements train the Trainer's model (`components.trainer.model.build_model`,
the same initial weights) with Keras `fit` on the same training split, read
from the same ExampleGen files through the same Transform graph and cache, with
the same spec and seed:

- `input`: the input pipeline augments each batch (`components.trainer.input_pipeline`,
  a tf.data map on the CPU) and the model trains on float32 pixels;
- `model`: the input feeds uint8 pixels with their keys and epochs, and the
  pass runs as the training model's first layer (`components.trainer.augment.in_model`),
  inside the train step, on the device the step runs on.

Each is warmed up by one pass over the data plus a step (the cache filled, the
step traced and the pass compiled; its time is reported apart), then the two
take turns, one whole epoch (`steps_per_epoch` steps, a new `fit` call) each,
`rounds` times, the order swapped every round, so both see the same machine.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any

import tensorflow as tf

from components.trainer import input_pipeline
from components.trainer import model as model_lib
from components.trainer.augment import fused, in_model, placement
from pipeline import configs, metadata
from pipeline.runners import local

BATCH = 32
NUM_CLASSES = 5


def _train_files(examples_uri: str) -> list[str]:
    return input_pipeline.list_files(os.path.join(examples_uri, "Split-train", "*"))


ENOUGH_EPOCHS = 10_000  # more than any timing reads


def make_trainer(where: str, files: list[str], tft_output, count: int, seed: int, spec: str, batch_size: int):
    """(the model `fit` trains, its dataset, the augmenter) for one placement, as `run_fn` builds them."""
    import tf_keras as keras

    # As run_fn: no global seed while the datasets are built (the previous placement's
    # `set_random_seed` set one; TensorFlow's dataset seeding fails on a global seed of 0).
    tf.random.set_seed(None)
    config = input_pipeline.InputConfig(batch_size=batch_size, seed=seed, augmentation=spec, augment_in=where)
    augmenter = input_pipeline.make_augmenter(config)
    dataset = input_pipeline.train_dataset(files, tft_output, config, count, ENOUGH_EPOCHS, augmenter)
    keras.utils.set_random_seed(seed)
    classifier = model_lib.build_model(NUM_CLASSES)
    if where == placement.INPUT:
        return classifier, dataset, augmenter
    layer = in_model.AugmentInModel(spec, seed, batch_size=batch_size, augmenter=augmenter)
    return in_model.build_training_model(classifier, layer), dataset, augmenter


def _fit_seconds(model, dataset, steps: int) -> float:
    started = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return time.perf_counter() - started


def time_placements(files: list[str], tft_output, seed: int, spec: str, batch_size: int = BATCH,
                    rounds: int = 3, steps: int | None = None) -> dict[str, Any]:
    """Steps per second of each placement, taking turns; `steps` per turn (default: one epoch)."""
    count = input_pipeline.count_records(files)
    steps_per_epoch = input_pipeline.steps_per_epoch(count, batch_size)
    steps = steps or steps_per_epoch
    trainers, warm_up, paths = {}, {}, {}
    for where in placement.PLACEMENTS:
        model, dataset, augmenter = make_trainer(where, files, tft_output, count, seed, spec, batch_size)
        # One pass and a step: the cache is complete once the pass behind it has ended.
        warm_up[where] = _fit_seconds(model, dataset, steps_per_epoch + 1)
        trainers[where] = (model, dataset)
        paths[where] = augmenter.path
    samples: dict[str, list[float]] = {where: [] for where in placement.PLACEMENTS}
    for turn in range(rounds):
        order = placement.PLACEMENTS if turn % 2 == 0 else placement.PLACEMENTS[::-1]
        for where in order:
            model, dataset = trainers[where]
            samples[where].append(steps / _fit_seconds(model, dataset, steps))
    rates = {where: statistics.median(values) for where, values in samples.items()}
    # Each round's two turns ran back to back: their ratio is less exposed to the machine's load drifting.
    paired = [m / i for m, i in zip(samples[placement.MODEL], samples[placement.INPUT], strict=True)]
    return {
        "steps_per_second": {where: round(rate, 3) for where, rate in rates.items()},
        "images_per_second": {where: round(rate * batch_size, 1) for where, rate in rates.items()},
        "ratio_model_over_input": round(rates[placement.MODEL] / rates[placement.INPUT], 3),
        "ratio_model_over_input_per_round": [round(r, 3) for r in paired],
        "ratio_model_over_input_median_of_rounds": round(statistics.median(paired), 3),
        "rounds": {where: [round(v, 3) for v in values] for where, values in samples.items()},
        "warm_up_seconds": {where: round(v, 1) for where, v in warm_up.items()},
        "augment_path": paths,
        "devices": [d.name for d in tf.config.list_logical_devices() if d.device_type in ("CPU", "GPU")],
        "train_images": count,
        "steps_per_round": steps,
        "batch_size": batch_size,
        "augmentation": spec,
        "seed": seed,
    }


def run_training_bench(data: str, output: str, work_dir: str, seed: int = 0,
                       spec: str = fused.DEFAULT_SPEC, rounds: int = 3) -> dict[str, Any]:
    """ExampleGen and Transform (cached in `work_dir`), then both placements side by side, in this process."""
    import tensorflow_transform as tft

    config = configs.RunConfig(data=data, output=work_dir)
    local.run(config, stop_after="Transform")
    nodes = metadata.read_run(config.metadata_path)
    examples_uri = nodes["FileBasedExampleGen"]["outputs"]["Examples"].uri
    graph_uri = nodes["Transform"]["outputs"]["TransformGraph"].uri
    report = time_placements(_train_files(examples_uri), tft.TFTransformOutput(graph_uri), seed, spec, rounds=rounds)
    report["data"] = data
    report["load_average"] = [round(v, 2) for v in os.getloadavg()]
    with open(output, "w") as f:
        json.dump(report, f, indent=2)
    return report
