"""One object holds a run's settings; the CLI builds it from flags."""

from __future__ import annotations

import dataclasses
import hashlib
import os

from components import augment, example_gen, limits
from pipeline.paths import REPO_ROOT, SAMPLE_DATA, SCHEMA_DIR

PIPELINE_NAME = "flowers"

PREPROCESSING_FN = "components.preprocessing.preprocessing_fn"
RUN_FN = "components.trainer.run_fn"


# The modules each custom step runs. TFX caches a component on its inputs and
# settings, not on the code behind a dotted path, so a fingerprint of that code
# goes into the component's settings: editing the code reruns the component.
EXAMPLE_GEN_MODULES = (
    "example_gen", "ingest_beam", "sources", "entries", "archives", "image_check", "labels", "limits",
)
TRANSFORM_MODULES = ("preprocessing", "image_graph", "limits")
TRAINER_MODULES = (
    "trainer", "input_pipeline", "augment", "augment_spec", "random_hash", "warp", "model", "serving",
    "preprocessing", "image_graph", "limits", "reports", "progress", "data_service", "watchdog",
)


def code_fingerprint(modules: tuple[str, ...]) -> str:
    """sha256 (16 hex digits) of the source of these `components` modules."""
    digest = hashlib.sha256()
    for name in modules:
        digest.update((REPO_ROOT / "components" / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


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
    augmentation: str = augment.DEFAULT_SPEC
    min_accuracy: float = 0.3
    max_quarantined: float = example_gen.DEFAULT_MAX_QUARANTINE_FRACTION
    max_pixels: int = limits.MAX_PIXELS
    schema_dir: str = SCHEMA_DIR
    beam_args: list[str] = dataclasses.field(default_factory=list)
    pipeline_name: str = PIPELINE_NAME
    tfds_data_dir: str | None = None
    precision: str = "auto"
    devices: list[str] = dataclasses.field(default_factory=list)
    data_service: str = ""

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output, "tfx")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output, "metadata.sqlite")

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.output, "serving_model")
