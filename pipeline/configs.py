"""One object holds a run's settings; the CLI builds it from flags."""

from __future__ import annotations

import dataclasses
import os

from components import features
from components.trainer.augment import placement, spec_parser
from pipeline.paths import REPO_ROOT, SAMPLE_DATA, SCHEMA_DIR  # noqa: F401 - REPO_ROOT is re-exported

PIPELINE_NAME = "flowers"

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"
RUN_FN = "components.trainer.run_fn.run_fn"


@dataclasses.dataclass
class RunConfig:
    """Everything a run needs; paths under `output` unless given."""

    data: str = SAMPLE_DATA
    output: str = "out"
    epochs: int = 10
    seed: int = 42
    batch_size: int = 32
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    patience: int = 0
    augmentation: str = spec_parser.DEFAULT_SPEC
    augment_in: str = placement.DEFAULT  # where the augmentation runs: "input" (tf.data) or "model" (its 1st layer)
    min_accuracy: float = 0.35
    max_quarantined: float = features.DEFAULT_MAX_QUARANTINE_FRACTION
    max_pixels: int = features.MAX_PIXELS
    schema_dir: str = SCHEMA_DIR
    beam_args: list[str] = dataclasses.field(default_factory=list)
    pipeline_name: str = PIPELINE_NAME
    tfds_data_dir: str | None = None
    precision: str = "auto"
    devices: list[str] = dataclasses.field(default_factory=list)
    data_service: str = ""
    spans: int = 0  # the Trainer's window: the last N spans of a span root (0: every span)
    warm_start: bool = False
    accept_drift: bool = False
    classes: str | None = None  # a label vocabulary file; by default the output's pinned one (components.vocabulary)

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output, "tfx")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output, "metadata.sqlite")

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.output, "serving_model")
