"""Helpers the tests share: real image files of every kind, oriented JPEGs, the split of the sample."""

from pathlib import Path

# The checkout the tests run from.
REPO = Path(__file__).resolve().parents[2]
