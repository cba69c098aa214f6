"""One folder per test run for the harness's shared program cache (tests/harness.py).

The main pytest process creates it before xdist starts its workers (they inherit the environment)
and removes it at the end, so no run ever reads another run's programs.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

CACHE_ENV = "DATAPLATFORM_TEST_PROGRAM_CACHE"  # read by tests/harness.py


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: use the controller's folder
        return
    config.stash[_FOLDER] = os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="dataplatform-programs-")


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_FOLDER, None)
    if folder:
        os.environ.pop(CACHE_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


_FOLDER = pytest.StashKey[str]()
