"""Every Helm chart the platform deploys, pinned in one place.

A stack may override a chart's repository or version (`dataplatform:charts`), for example to test
an upgrade in dev first. Values builders are written against the versions pinned here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field

from components.validation import StrictModel

ChartName = Literal[
    "aws-load-balancer-controller",
    "external-dns",
    "dagster",
    "airbyte",
    "superset",
    "datahub",
    "datahub-prerequisites",
    "minio",
    "cloudnative-pg",
    "ingress-nginx",
    "oauth2-proxy",
    "dex",
    "opencost",
    "jupyterhub",
]

# The Dagster chart is released with Dagster itself (same version); domain user-code images must
# run this Dagster version, because the webserver and daemon images come from the chart.
DAGSTER_VERSION = "1.13.27"


@dataclass(frozen=True)
class Chart:
    chart: str
    repo: str
    version: str


PINNED: dict[str, Chart] = {
    "aws-load-balancer-controller": Chart(
        chart="aws-load-balancer-controller", repo="https://aws.github.io/eks-charts", version="3.5.0"
    ),
    # App v0.21.0; source and reference values in ../shared/charts.
    "external-dns": Chart(
        chart="external-dns", repo="https://kubernetes-sigs.github.io/external-dns/", version="1.21.1"
    ),
    "dagster": Chart(chart="dagster", repo="https://dagster-io.github.io/helm", version=DAGSTER_VERSION),
    # The V2 chart (airbytehq/charts index); 2.2.0 carries every key of the reference copy.
    "airbyte": Chart(chart="airbyte", repo="https://airbytehq.github.io/charts", version="2.2.0"),
    "superset": Chart(chart="superset", repo="https://apache.github.io/superset", version="0.22.8"),
    "datahub": Chart(chart="datahub", repo="https://helm.datahubproject.io/", version="1.1.0"),
    "datahub-prerequisites": Chart(
        chart="datahub-prerequisites", repo="https://helm.datahubproject.io/", version="0.3.0"
    ),
    # Local foundation only. MinIO's community edition is source-only since 2025-10; 5.4.0 is its newest chart.
    "minio": Chart(chart="minio", repo="https://charts.min.io/", version="5.4.0"),
    "cloudnative-pg": Chart(chart="cloudnative-pg", repo="https://cloudnative-pg.github.io/charts", version="0.29.0"),
    # ingress-nginx is retired (no releases after March 2026); 4.15.1 is its newest chart.
    "ingress-nginx": Chart(chart="ingress-nginx", repo="https://kubernetes.github.io/ingress-nginx", version="4.15.1"),
    # The sign-in gateway in front of every UI (app v7.15.3).
    "oauth2-proxy": Chart(chart="oauth2-proxy", repo="https://oauth2-proxy.github.io/manifests", version="10.7.0"),
    # Local stack only: the bundled identity provider (chart app v2.44.0; the image is pinned in values.dex).
    "dex": Chart(chart="dex", repo="https://charts.dexidp.io", version="0.24.0"),
    # Actual spend per namespace (AWS stacks); chart 2.5.17 ships OpenCost 1.120.1.
    "opencost": Chart(chart="opencost", repo="https://opencost.github.io/opencost-helm-chart", version="2.5.17"),
    # The analyst sandbox's notebooks (zero-to-jupyterhub 4.4.0: JupyterHub 5.5.0, KubeSpawner 7.0.0,
    # OAuthenticator 17.4.0 in its hub image).
    "jupyterhub": Chart(chart="jupyterhub", repo="https://hub.jupyter.org/helm-chart/", version="4.4.0"),
}


# The LB controller app version of the pinned chart (its Chart.yaml appVersion), and the controller's official
# IAM policy at that tag, vendored unchanged: docs/install/iam_policy.json of kubernetes-sigs/aws-load-balancer-controller.
# A chart upgrade vendors the new tag's file (tests/test_cluster.py checks the version against the chart).
ALB_CONTROLLER_APP_VERSION = "v3.5.0"
ALB_CONTROLLER_IAM_POLICY_FILE = Path(__file__).with_name(
    f"aws-load-balancer-controller-{ALB_CONTROLLER_APP_VERSION}-iam_policy.json"
)


def alb_controller_iam_policy() -> dict[str, Any]:
    """The vendored IAM policy document (ARNs in the `aws` partition, as upstream writes them)."""
    return json.loads(ALB_CONTROLLER_IAM_POLICY_FILE.read_text(encoding="utf-8"))


class ChartOverride(StrictModel):
    repo: str | None = Field(default=None, pattern=r"^(https|oci)://\S+$")
    version: str | None = Field(default=None, pattern=r"^v?\d+\.\d+\.\d+([-+][\w.-]+)?$")


def resolve(name: str, overrides: Mapping[str, ChartOverride]) -> Chart:
    """The pinned chart, with the stack's override (if any) applied."""
    pinned = PINNED[name]
    override = overrides.get(name)
    if override is None:
        return pinned
    return Chart(chart=pinned.chart, repo=override.repo or pinned.repo, version=override.version or pinned.version)


def release_args(
    chart_name: str,
    overrides: Mapping[str, ChartOverride],
    *,
    release_name: str,
    namespace: str,
    values: pulumi.Input[dict[str, Any]],
    timeout: int = 900,
) -> k8s.helm.v3.ReleaseArgs:
    """A Helm release of a pinned chart: atomic, cleaned up on failure, bounded history."""
    chart = resolve(chart_name, dict(overrides))
    return k8s.helm.v3.ReleaseArgs(
        name=release_name,
        namespace=namespace,
        chart=chart.chart,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        timeout=timeout,
        max_history=10,
    )
