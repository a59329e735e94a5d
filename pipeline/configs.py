"""One object holds a run's settings, each declared once with its help text.

`flowers run`, `flowers ingest`, `flowers compile` and the compile's dry run take
their flags from these fields (`pipeline.cli.settings`): a setting added here is
a flag of each, reaches the local DAG and is written into the compiled spec.
A field's metadata holds its help text, and optionally `flag` (the flag's name
when it is not the field's), `choices`, `metavar`, and `ingest` (True: `flowers
ingest` takes it too). `output` is `run`'s own; `compile` names it --serving-root.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from components import features
from components.trainer.augment import placement, spec_parser
from pipeline.paths import REPO_ROOT, SAMPLE_DATA, SCHEMA_DIR  # noqa: F401 - REPO_ROOT is re-exported

PIPELINE_NAME = "flowers"
# The Dockerfile's WORKDIR: `compile`'s default paths are under it, and the dry run reads them from the repository.
IMAGE_WORKDIR = "/pipeline"

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"
RUN_FN = "components.trainer.run_fn.run_fn"

AUGMENT_IN_HELP = ("where the training augmentation runs: input (tf.data, on the CPU) or model (the training "
                   "model's first layer, on the device that trains); the served model is the same either way")
PRECISIONS = ("auto", "float32", "mixed_float16")


def setting(default: Any = dataclasses.MISSING, *, help: str, factory: Any = dataclasses.MISSING,  # noqa: A002
            **flag: Any) -> Any:
    """A RunConfig field: its default (or `factory`), its help text, and how its flag differs from the default."""
    return dataclasses.field(default=default, default_factory=factory, metadata={"help": help, **flag})


@dataclasses.dataclass
class RunConfig:
    """Everything a run needs; paths under `output` unless given."""

    data: str = setting(SAMPLE_DATA, ingest=True,
                        help="class folder, .tgz or .zip of one, or tfds:tf_flowers (default: the bundled sample)")
    output: str = setting("out", ingest=True, help="where artifacts, metadata, logs and the report go")
    epochs: int = setting(10, help="passes over the training window")
    seed: int = setting(42, help="seeds the augmentation draws, the shuffle and the model's initial weights")
    batch_size: int = setting(32, help="images per training step")
    learning_rate: float = setting(1e-3, help="Adam's learning rate (the start of the cosine schedule)")
    lr_schedule: str = setting("constant", choices=("constant", "cosine"),
                               help="constant, or cosine decay to zero over all epochs")
    patience: int = setting(0, help="stop when eval accuracy has not improved for this many epochs (0: never)")
    augmentation: str = setting(spec_parser.DEFAULT_SPEC,
                                help="augmentation spec, e.g. 'flip(horizontal)|rotate(0.2)|zoom(0.1)'")
    augment_in: str = setting(placement.DEFAULT, metavar="input|model", help=AUGMENT_IN_HELP)
    min_accuracy: float = setting(0.35, help="eval accuracy a model needs to be blessed and pushed")
    max_quarantined: float = setting(features.DEFAULT_MAX_QUARANTINE_FRACTION, ingest=True,
                                     help="fail when more than this fraction of files is quarantined")
    schema_dir: str = setting(SCHEMA_DIR, ingest=True, help="a folder holding schema.pbtxt")
    beam_args: list[str] = setting(factory=list, flag="--beam-arg", metavar="ARG", ingest=True,
                                   help="a Beam pipeline argument, repeatable, e.g. --beam-arg=--runner=DataflowRunner")
    pipeline_name: str = setting(PIPELINE_NAME, ingest=True,
                                 help="the pipeline's name: its ML Metadata context and its Vertex/KFP pipeline")
    tfds_data_dir: str | None = setting(None, ingest=True, help="where TFDS keeps its downloads, for --data tfds:...")
    precision: str = setting("auto", choices=PRECISIONS,
                             help="the training's float policy: auto is mixed_float16 on a GPU, float32 on the CPU")
    devices: list[str] = setting(factory=list, flag="--device", metavar="DEVICE",
                                 help="a device to train on, repeatable, e.g. --device=/gpu:0 --device=/gpu:1 "
                                      "(default: every GPU, else the CPU)")
    data_service: str = setting("", metavar="grpc://HOST:PORT",
                                help="augment the training data on tf.data service workers (flowers data-service)")
    spans: int = setting(0, metavar="K",
                         help="with --data ROOT of span-<N> folders: train on the last K spans (0: all)")
    warm_start: bool = setting(False, help="start from the weights of the latest model, same schedule")
    accept_drift: bool = setting(False, ingest=True,
                                 help="go on when the new span drifted from the previous one (recorded in the summary)")
    classes: str | None = setting(None, ingest=True, metavar="FILE",
                                  help="the label vocabulary, one class name a line in label order, for an output's "
                                       "first run (default: schemas/class_names.txt for tf_flowers classes, else the "
                                       "class folders sorted); later runs read the one pinned in "
                                       "OUTPUT/class_names.txt")

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output, "tfx")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output, "metadata.sqlite")

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.output, "serving_model")


def settings() -> tuple[dataclasses.Field, ...]:
    """RunConfig's fields, in declaration order."""
    return dataclasses.fields(RunConfig)


def default(field: dataclasses.Field) -> Any:
    return field.default_factory() if field.default is dataclasses.MISSING else field.default
