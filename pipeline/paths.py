"""Where the bundled sample photos, the curated schema and a pushed model live (no heavy imports)."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = str(REPO_ROOT / "data" / "flower_photos_sample")
SCHEMA_DIR = str(REPO_ROOT / "schemas")


def resolve_model_dir(path: str) -> str:
    """A SavedModel directory, or the newest numeric version below a Pusher base."""
    import tensorflow as tf

    if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        return path
    names = tf.io.gfile.listdir(path) if tf.io.gfile.isdir(path) else []
    versions = [v.rstrip("/") for v in names if v.rstrip("/").isdigit()]
    if not versions:
        raise FileNotFoundError(f"no SavedModel in {path} (no saved_model.pb, no numbered version folder)")
    return os.path.join(path, max(versions, key=int))
