"""Ingestion, TFX's ExampleGen: every photo of a folder, an archive or TFDS becomes one tf.Example of its
untouched bytes, label and file name, in seeded shards; every other file is listed with its reason."""
