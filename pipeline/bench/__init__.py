"""The benchmarks behind `flowers bench`: training input against the tutorial's pipeline, tf.data service,
the served model, and the augmentation pass by implementation."""
