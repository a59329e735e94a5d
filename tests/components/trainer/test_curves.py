"""The Trainer's curves reach any filesystem TensorFlow writes to, not only local paths."""

import tensorflow as tf

from components.trainer import curves


def test_curves_are_written_to_a_non_local_filesystem():
    history = {"loss": [1.2, 0.9, 0.7], "val_loss": [1.3, 1.0, 0.9], "accuracy": [0.3, 0.5, 0.6],
               "val_accuracy": [0.2, 0.4, 0.5]}
    path = "ram://model_run/7/" + curves.CURVES_FILE
    assert curves.plot_history(history, path) == path
    with tf.io.gfile.GFile(path, "rb") as f:
        png = f.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert tuple(tf.io.decode_png(png).shape) == (400, 1000, 4)  # figsize (10, 4) at 100 dpi
