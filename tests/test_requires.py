"""The rule for optional inputs: skipped on a developer machine, a failure under CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.requires import require


def test_missing_input_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make setup"):
        require(tmp_path / "absent", "make setup")


def test_missing_input_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require(tmp_path / "absent", "make setup")


def test_present_input_passes_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CI", "true")
    require(tmp_path, "make setup")  # raises nothing
