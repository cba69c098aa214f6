"""Optional inputs of the suite (shared chart sources, the policy pack's and the scanner's venvs).

On a developer machine a missing one skips the tests that need it, with the command that provides it.
Under CI (`CI=true`, as `.ci/run` is run) it fails them instead: a green CI must mean the tests ran.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(path: Path, what: str) -> None:
    """Skip (fail under CI) the calling test when `path` does not exist; `what` says how to provide it."""
    if path.exists():
        return
    message = f"{path} missing: {what}"
    if under_ci():
        pytest.fail(f"{message} (CI=true: a missing input fails instead of skipping)", pytrace=False)
    pytest.skip(message)
