"""CostMonitoring: OpenCost in its own namespace, measuring actual spend per namespace (= per domain).

Creates:
- NamespaceGuardrails for `opencost`: Pod Security labels, a small ResourceQuota and LimitRange,
  default-deny NetworkPolicies with DNS and HTTPS egress only (the Kubernetes API, which the
  collector reads node and pod usage through, and the public AWS Price List, which OpenCost prices
  nodes from); nothing may call in: reach the API with `kubectl -n opencost port-forward svc/opencost 9003`;
- the `opencost` release of the pinned chart (values from `components.values.opencost`): collector
  data source instead of Prometheus, a gp3 volume for its series, no UI, no MCP server.

Invariants: no Secret, credential or cloud-billing integration is configured (OpenCost reads public
on-demand prices; reconciling with the bill is Cost Explorer's job, see docs/cost.md); the release
waits for the namespace guardrails, and gets the foundation's providers through `opts`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.charts import ChartName, ChartOverride, release_args
from components.guardrails import ContainerDefaults, GuardrailsArgs, NamespaceGuardrails, Quota
from components.values.opencost import API_PORT, opencost_values

NAMESPACE = "opencost"
RELEASE = "opencost"
QUOTA = Quota(requests_cpu="500m", requests_memory="1Gi", limits_cpu="1", limits_memory="2Gi", pods=4)
CONTAINER_DEFAULTS = ContainerDefaults("50m", "64Mi", "200m", "256Mi")


class CostMonitoring(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        cluster_id: str,
        storage_class: str,
        chart_overrides: Mapping[ChartName, ChartOverride],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:cost_monitoring:CostMonitoring", name, None, opts)
        self.guardrails = NamespaceGuardrails(
            f"{name}-guardrails",
            GuardrailsArgs(namespace=NAMESPACE, owner="platform", quota=QUOTA, container_defaults=CONTAINER_DEFAULTS),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            release_args(
                "opencost",
                {**chart_overrides},
                release_name=RELEASE,
                namespace=NAMESPACE,
                values=opencost_values(cluster_id=cluster_id, storage_class=storage_class),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails]),
        )
        self.api_url = f"http://{RELEASE}.{NAMESPACE}.svc:{API_PORT}"
        self.register_outputs({"namespace": NAMESPACE, "api_url": self.api_url})
