import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The helpers beside the tests (imagefiles) import by plain name.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
