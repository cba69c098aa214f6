"""Settings for every test process.

- One folder per test run for the harness's shared program cache (tests/harness.py): the main pytest
  process creates it before xdist starts its workers (they inherit the environment) and removes it at
  the end, so no run ever reads another run's programs.
- The cyclic garbage collector runs in larger batches (as platformctl.simulate does during a run): with
  the default threshold it took about 30% of the suite's CPU time, scanning the large heap of imported
  SDK modules and cached runs thousands of times.
- At exit (after pytest's own last collection, which reports unraisable exceptions) the heap is frozen:
  the interpreter's final collection over it took seconds per worker, and the main process waits for it.
"""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import tempfile

import pytest

CACHE_ENV = "DATAPLATFORM_TEST_PROGRAM_CACHE"  # read by tests/harness.py
GC_YOUNG_THRESHOLD = 50_000  # platformctl.simulate's (not imported: the main process needs no Pulumi SDK)


def pytest_configure(config: pytest.Config) -> None:
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    atexit.register(gc.freeze)
    if hasattr(config, "workerinput"):  # an xdist worker: use the controller's folder
        return
    config.stash[_FOLDER] = os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="dataplatform-programs-")


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_FOLDER, None)
    if folder:
        os.environ.pop(CACHE_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


_FOLDER = pytest.StashKey[str]()
