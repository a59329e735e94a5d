# The image every step of the compiled KFP v2 / Vertex AI pipeline runs in
# (pipeline/kubeflow_v2_runner.py), and the Vertex AI training job of the Trainer:
#   docker build -t gcr.io/YOUR_PROJECT/flowers-tfx:latest . && docker push gcr.io/YOUR_PROJECT/flowers-tfx:latest
FROM tensorflow/tfx:1.16.0

ENV TF_USE_LEGACY_KERAS=1

# /pipeline is also the working directory, so a Beam `--setup_file=./setup.py` resolves
# and the bundled sample is /pipeline/data/flower_photos_sample (schema: /pipeline/schemas).
WORKDIR /pipeline
COPY setup.py requirements.lock ./
COPY pipeline/ pipeline/
COPY components/ components/
COPY schemas/ schemas/
COPY data/ data/

# --no-deps: the TFX image already holds the whole stack this code needs (tfx 1.16,
# TensorFlow 2.16, tf-keras, tensorflow-transform, TFMA, Beam), built to work together;
# resolving setup.py's ranges again could replace parts of it with other versions.
# requirements.lock records the versions tested locally. For --data tfds:tf_flowers
# the image also needs tensorflow-datasets (==4.9.10 in requirements.lock).
RUN pip install --no-cache-dir --no-deps --no-build-isolation /pipeline
