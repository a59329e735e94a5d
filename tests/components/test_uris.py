"""One test tells a remote URI from a local path, and it is the only one in the code."""

import os
import re

from components import uris
from tests.helpers import REPO


def test_remote_uris_and_local_paths():
    local = os.path.abspath("photos")
    assert [uris.is_remote(p) for p in ("gs://b/photos", "ram://x", "s3://b/k", local, "photos",
                                        "./a:b", "C:\\photos")] == [True, True, True, False, False, False, False]
    assert uris.join("gs://b/base", "span-3", "daisy") == "gs://b/base/span-3/daisy"
    assert uris.join(local, "span-3") == f"{local}{os.sep}span-3"


def test_no_other_module_spells_the_remote_test():
    spelled = []
    for path in sorted((REPO / "components").rglob("*.py")) + sorted((REPO / "pipeline").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"""["']://["'] in """, line) and path.name != "uris.py":
                spelled.append(f"{path.relative_to(REPO)}:{number}")
    # components/trainer/tf_data_service.py parses a dispatcher address (host:port or grpc://host:port), not a path.
    assert spelled == ["components/trainer/tf_data_service.py:22"]
