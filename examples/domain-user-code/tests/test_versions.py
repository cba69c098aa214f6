"""The image's Dagster must be the platform's Dagster chart version (its webserver and daemon talk to this code)."""

import re
from importlib.metadata import version
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[1]
CHARTS = Path(__file__).parents[3] / "components" / "charts.py"


def test_dagster_pins_match_the_platform_chart() -> None:
    if not CHARTS.is_file():
        pytest.skip("not inside the platform repository")
    chart = re.search(r'^DAGSTER_VERSION = "(\d+)\.(\d+)\.(\d+)"', CHARTS.read_text(), re.MULTILINE)
    assert chart, "components/charts.py no longer defines DAGSTER_VERSION"
    major, minor, patch = chart.groups()
    dagster, dagster_dbt = f"{major}.{minor}.{patch}", f"0.{int(minor) + 16}.{patch}"

    requirements = (EXAMPLE / "requirements.txt").read_text().splitlines()

    assert f"dagster=={dagster}" in requirements
    assert f"dagster-dbt=={dagster_dbt}" in requirements
    assert (version("dagster"), version("dagster-dbt")) == (dagster, dagster_dbt)
