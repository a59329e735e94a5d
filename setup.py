"""Installs the `pipeline` and `components` packages and the `flowers` command.

The exact versions of every dependency are pinned in two lock files, one per
stack: requirements.lock (TFX 1.21 on Python 3.13, the current stack) and
requirements-legacy.lock (TFX 1.16 on Python 3.10, for glibc older than 2.39).
The ranges here admit both.
"""

from setuptools import setup

setup(
    name="flowers-tfx",
    version="0.1.0",
    description="A production image input pipeline on TFX: photos in, a serving model out.",
    python_requires=">=3.10,<3.14",
    # Every package of the two trees (tests/pipeline/runners/test_compile.py keeps the list whole).
    packages=[
        "components",
        "components.ingest",
        "components.ingest.sources",
        "components.trainer",
        "components.trainer.augment",
        "components.transform",
        "components.validation",
        "pipeline",
        "pipeline.bench",
        "pipeline.cli",
        "pipeline.dry_run",
        "pipeline.report",
        "pipeline.runners",
    ],
    package_data={"pipeline.report": ["templates/*.html"]},
    install_requires=[
        "tfx>=1.16,<1.22",
        "tensorflow>=2.16,<2.22",
        "tf-keras>=2.16,<2.22",
        "tensorflow-transform>=1.16,<1.22",
        "tensorflow-datasets>=4.9",
        "apache-beam[gcp]>=2.60",
        "dill",
        "pillow",
        "jinja2>=3",
        "tqdm>=4",
        "matplotlib",
    ],
    extras_require={"kfp": ["kfp>=2.5,<3"], "test": ["pytest", "playwright>=1.40"]},
    entry_points={"console_scripts": ["flowers=pipeline.cli:main"]},
)
