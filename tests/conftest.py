import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The helpers beside the tests (imagefiles) import by plain name.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def first_run(tmp_path_factory):
    """One LocalDagRunner run of the whole DAG on the bundled sample, shared by the
    tests that need its artifacts (it costs about two minutes on two cores)."""
    from pipeline import configs, local_runner

    output = str(tmp_path_factory.mktemp("run"))
    config = configs.RunConfig(output=output, epochs=2, min_accuracy=0.0)
    return config, local_runner.run(config)
