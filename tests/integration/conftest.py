import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from ptserve_harness import Server  # noqa: E402


@pytest.fixture(scope="session")
def server():
    """One server on the bundled example models for the whole session."""
    with Server() as s:
        yield s
