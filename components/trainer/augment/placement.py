"""Where the training augmentation runs: in the tf.data input or in the training model.

`input` (the default): the input pipeline augments each batch on the CPU, in one
XLA pass (`components.trainer.augment.fused`), and the model sees augmented
float32 pixels. `model`: the input feeds the cached, un-augmented uint8 pixels
with each image's filename key and epoch, and the same pass runs as the first
layer of the training model (`components.trainer.augment.in_model`), on the
device that trains, in training only. Either way the served model is the
classifier alone, behind the Transform graph.

No TensorFlow here: the command line checks the flag with it before any work.
"""

from __future__ import annotations

INPUT = "input"
MODEL = "model"
PLACEMENTS = (INPUT, MODEL)
DEFAULT = INPUT

# The training model's inputs when the augmentation is in the model: the cached
# pixels (uint8 [b, size, size, 3]), each image's filename key and its epoch
# (int64 [b], the pass over the data it belongs to), as the input path keys its draws.
PIXELS_KEY = "pixels"
IMAGE_KEY_KEY = "image_key"
EPOCH_KEY = "epoch"

_MEANINGS = {
    INPUT: "in the tf.data input, on the CPU",
    MODEL: "in the training model's first layer, on the device that trains",
}


def check(value: str) -> str:
    """`value` when it names a placement; otherwise ValueError in one sentence."""
    if value not in PLACEMENTS:
        accepted = " or ".join(f"{name} ({_MEANINGS[name]})" for name in PLACEMENTS)
        raise ValueError(f"the augmentation placement {value!r} is not accepted: it must be {accepted}")
    return value
