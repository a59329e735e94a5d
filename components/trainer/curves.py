"""What people look at after a run: training curves (the statistics view is `pipeline.report.feature_stats`)."""

from __future__ import annotations

import io

# Files every Trainer run writes into its model_run artifact.
METRICS_FILE = "metrics.json"
CURVES_FILE = "training_curves.png"


def plot_history(history: dict[str, list[float]], path: str) -> str:
    """Loss and accuracy per epoch, train and eval, side by side, as a PNG.

    `path` may be on any filesystem TensorFlow knows (gs:// on Vertex): the PNG
    is drawn in memory and written through tf.io.gfile.
    """
    import matplotlib
    import tensorflow as tf

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = range(1, len(history.get("loss", [])) + 1)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric, title in ((axes[0], "loss", "Loss"), (axes[1], "accuracy", "Accuracy")):
        for prefix, label in (("", "train"), ("val_", "eval")):
            values = history.get(prefix + metric)
            if values:
                axis.plot(epochs, values, marker="o", label=label)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    plt.close(figure)
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(png.getvalue())
    return path
