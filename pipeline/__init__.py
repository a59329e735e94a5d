"""The pipeline definition, its settings, runners, command line and report.

`components` is imported first: it sets the legacy-Keras switch before anything
here imports TensorFlow.
"""

import components  # noqa: F401
