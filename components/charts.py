"""Every Helm chart the platform deploys, pinned in one place.

A stack may override a chart's repository or version (`dataplatform:charts`), for example to test
an upgrade in dev first. Values builders are written against the versions pinned here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from components.validation import StrictModel

ChartName = Literal[
    "aws-load-balancer-controller",
    "dagster",
    "airbyte",
    "superset",
    "datahub",
    "datahub-prerequisites",
]

# The Dagster chart is released with Dagster itself (same version); domain user-code images must
# run this Dagster version, because the webserver and daemon images come from the chart.
DAGSTER_VERSION = "1.12.13"


@dataclass(frozen=True)
class Chart:
    chart: str
    repo: str
    version: str


PINNED: dict[str, Chart] = {
    "aws-load-balancer-controller": Chart(
        chart="aws-load-balancer-controller", repo="https://aws.github.io/eks-charts", version="3.5.0"
    ),
    "dagster": Chart(chart="dagster", repo="https://dagster-io.github.io/helm", version=DAGSTER_VERSION),
    # The V2 chart (airbytehq/charts index); 2.2.0 carries every key of the reference copy.
    "airbyte": Chart(chart="airbyte", repo="https://airbytehq.github.io/charts", version="2.2.0"),
    "superset": Chart(chart="superset", repo="https://apache.github.io/superset", version="0.22.8"),
    "datahub": Chart(chart="datahub", repo="https://helm.datahubproject.io/", version="1.1.0"),
    "datahub-prerequisites": Chart(
        chart="datahub-prerequisites", repo="https://helm.datahubproject.io/", version="0.3.0"
    ),
}


class ChartOverride(StrictModel):
    repo: str | None = Field(default=None, pattern=r"^(https|oci)://\S+$")
    version: str | None = Field(default=None, pattern=r"^v?\d+\.\d+\.\d+([-+][\w.-]+)?$")


def resolve(name: str, overrides: dict[str, ChartOverride]) -> Chart:
    """The pinned chart, with the stack's override (if any) applied."""
    pinned = PINNED[name]
    override = overrides.get(name)
    if override is None:
        return pinned
    return Chart(chart=pinned.chart, repo=override.repo or pinned.repo, version=override.version or pinned.version)
