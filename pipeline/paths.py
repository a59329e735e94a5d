"""Where the bundled sample photos and the curated schema live (no heavy imports)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = str(REPO_ROOT / "data" / "flower_photos_sample")
SCHEMA_DIR = str(REPO_ROOT / "schemas")
