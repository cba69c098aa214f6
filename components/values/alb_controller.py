"""Helm values for the AWS Load Balancer Controller chart (aws-load-balancer-controller 3.5.0).

Every key exists in the chart's default values.yaml; `securityContext`, `resources` and
`podDisruptionBudget` are passed whole through `toYaml` by the chart, so their contents are
Kubernetes fields (the tests validate the rendered chart against the Kubernetes schema).
"""

from __future__ import annotations

from typing import Any

from components.values.common import RUNTIME_DEFAULT_SECCOMP, resources

NONROOT_UID = 65532


def alb_controller_values(
    *, cluster_name: str, region: str, vpc_id: str, service_account: str, replicas: int = 2
) -> dict[str, Any]:
    """Values for the controller in one EKS cluster, with credentials from EKS Pod Identity.

    Region and VPC are set explicitly: node IMDS has a hop limit of 1, so pods cannot look them up.
    """
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1 (got {replicas})")
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": replicas,
        # The chart creates the ServiceAccount under a fixed name: the Pod Identity association names it.
        "serviceAccount": {"create": True, "name": service_account},
        # Always: the kubelet re-checks the registry for the tag at each start.
        "image": {"pullPolicy": "Always"},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            # A static Go binary on EKS Distro's minimal nonroot base, whose user is 65532: any UID runs it.
            "runAsUser": NONROOT_UID,
            "runAsGroup": NONROOT_UID,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
        },
        "resources": resources("100m", "128Mi", cpu_limit="500m", memory_limit="512Mi"),
        # Rendered only when replicaCount > 1; keeps one controller (and its webhook) up during node drains.
        "podDisruptionBudget": {"maxUnavailable": 1},
    }
