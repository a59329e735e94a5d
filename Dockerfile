# The image every step of the compiled KFP v2 / Vertex AI pipeline runs in
# (pipeline/runners/kubeflow_v2.py), and the Vertex AI training job of the Trainer.
# The current stack (requirements.lock, TFX 1.21):
#   docker build -t gcr.io/YOUR_PROJECT/flowers-tfx:latest . && docker push gcr.io/YOUR_PROJECT/flowers-tfx:latest
# The legacy stack (requirements-legacy.lock, TFX 1.16 on Python 3.10):
#   docker build --build-arg TFX_VERSION=1.16.0 -t gcr.io/YOUR_PROJECT/flowers-tfx:legacy .
ARG TFX_VERSION=1.21.0
FROM tensorflow/tfx:${TFX_VERSION}

ENV TF_USE_LEGACY_KERAS=1

# /pipeline is also the working directory, so a Beam `--setup_file=./setup.py` resolves
# and the bundled sample is /pipeline/data/flower_photos_sample (schema: /pipeline/schemas).
WORKDIR /pipeline
COPY setup.py pyproject.toml requirements.lock requirements-legacy.lock ./
COPY pipeline/ pipeline/
COPY components/ components/
COPY schemas/ schemas/
COPY data/ data/

# --no-deps: the TFX image already holds the whole stack this code needs (TFX,
# TensorFlow, tf-keras, tensorflow-transform, TFMA, Beam), built to work together;
# resolving setup.py's ranges again could replace parts of it with other versions.
# The lock files record the versions tested locally. For --data tfds:tf_flowers the
# image also needs tensorflow-datasets (pinned in the lock files).
RUN pip install --no-cache-dir --no-deps --no-build-isolation /pipeline

# The code fingerprints of the image's own code: each step compares them with the
# ones compiled into the pipeline spec and stops with one sentence when the image
# is older or newer than the spec (components/code_fingerprints.py).
RUN python -m components.code_fingerprints > /pipeline/code_fingerprints.json
