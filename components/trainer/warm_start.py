"""`--warm-start`: the night's Trainer starts from the weights of the latest model.

The Trainer's `base_model` input is filled by a latest-artifact resolver; the
run_fn builds the same model as a cold start, then copies the base model's
weights into it and trains with the same schedule. A base model of other
classes (names or order) or of another shape is refused with one sentence:
its weights would mean something else.

Every model the Trainer writes holds its class names in
`assets.extra/class_names.json` (TF Serving ignores `assets.extra`).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf
import tf_keras as keras

CLASS_NAMES_FILE = os.path.join("assets.extra", "class_names.json")


class WarmStartError(ValueError):
    pass


def write_class_names(serving_model_dir: str, class_names: tuple[str, ...]) -> None:
    path = os.path.join(serving_model_dir, CLASS_NAMES_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(list(class_names), f)


def read_class_names(model_dir: str) -> list[str] | None:
    path = os.path.join(model_dir, CLASS_NAMES_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def load_base_weights(model: keras.Model, base_model_dir: str, class_names: tuple[str, ...]) -> None:
    """Copy the weights of the model at `base_model_dir` into `model`, or refuse in one sentence."""
    base_classes = read_class_names(base_model_dir)
    if base_classes != list(class_names):
        raise WarmStartError(
            f"--warm-start refused: the latest model ({base_model_dir}) was trained on classes "
            f"{base_classes or 'unknown'}, this run has {list(class_names)}; train it cold, without --warm-start."
        )
    base = keras.models.load_model(base_model_dir, compile=False)
    have = [tuple(w.shape) for w in base.get_weights()]
    want = [tuple(w.shape) for w in model.get_weights()]
    if have != want:
        raise WarmStartError(
            f"--warm-start refused: the latest model ({base_model_dir}) has another shape "
            f"({len(have)} weight tensors, first difference {_first_difference(have, want)}); "
            "train it cold, without --warm-start."
        )
    model.set_weights(base.get_weights())


def _first_difference(have: list, want: list) -> str:
    for i, (a, b) in enumerate(zip(have, want, strict=False)):
        if a != b:
            return f"tensor {i}: {a} where this model has {b}"
    return f"{len(have)} tensors where this model has {len(want)}"
