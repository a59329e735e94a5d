"""Installs the `pipeline` and `components` packages and the `flowers` command.

The exact versions of every dependency are pinned in requirements.lock; the
ranges here say what the code needs.
"""

from setuptools import setup

setup(
    name="flowers-tfx",
    version="0.1.0",
    description="A production image input pipeline on TFX: photos in, a serving model out.",
    python_requires=">=3.9,<3.11",
    packages=["pipeline", "components"],
    package_data={"pipeline": ["templates/*.html"]},
    install_requires=[
        "tfx==1.16.0",
        "tensorflow>=2.16,<2.17",
        "tf-keras>=2.16,<2.17",
        "tensorflow-transform==1.16.0",
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
