"""Fixtures: the stand-ins, and an environment cleared of every variable the kit reads."""

from collections.abc import Iterator

import pytest
from dataplatform_kit import settings as kit_settings
from standins import StandIn, stand_in

KIT_ENV = [value for name, value in vars(kit_settings).items() if name.endswith("_ENV")]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KIT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture
def gms() -> Iterator[StandIn]:
    with stand_in() as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[StandIn]:
    with stand_in() as server:
        yield server
