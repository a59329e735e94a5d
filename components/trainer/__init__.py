"""The Trainer: `run_fn` builds the tutorial's `prepare(ds, shuffle, augment)` in tf.data on the CPU, fits the
tutorial's model (on a GPU when there is one) and exports it with the Transform graph as its serving signatures."""
