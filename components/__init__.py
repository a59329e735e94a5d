"""The pipeline's own steps: ingestion, validation, Transform, Trainer, serving.

Importing this package sets `TF_USE_LEGACY_KERAS=1` (unless it is set already)
before any of its modules imports TensorFlow: tensorflow-transform builds on
tf_keras (Keras 2) on both locked stacks, and TensorFlow reads the switch once,
at its import. This is the one place the code sets it; `pipeline` imports this
package first, and the Makefile and the Dockerfile set it for what they start.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
