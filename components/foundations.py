"""The one place the stack's foundation is chosen (`dataplatform:foundation`), and what it exports."""

from __future__ import annotations

from typing import Any

from components.aws.foundation import AwsFoundation
from components.config import StackConfig
from components.local.foundation import INGRESS_NAMESPACE, INGRESS_RELEASE, UI_PORT_FORWARD, LocalFoundation


def make_foundation(config: StackConfig) -> AwsFoundation | LocalFoundation:
    if config.foundation == "local":
        return LocalFoundation("platform", config)
    return AwsFoundation("platform", config)


def foundation_exports(foundation: AwsFoundation | LocalFoundation) -> dict[str, Any]:
    """Stack outputs of the foundation (the domains' outputs are exported apart)."""
    if isinstance(foundation, LocalFoundation):
        context = foundation.config.local.kube_context
        kubectl = f"kubectl --context {context}" if context else "kubectl"
        return {
            "kubeContext": context or "(current context)",
            "minioConsole": foundation.minio_console_url,
            # The controller's Service is ClusterIP: forward it, then open http://<tool>.<domain>.<baseDomain>:8080.
            "uiPortForward": f"{kubectl} -n {INGRESS_NAMESPACE} port-forward svc/{INGRESS_RELEASE}-controller "
            f"{UI_PORT_FORWARD}:80",
        }
    return {
        "clusterName": foundation.cluster.name,
        "kubeconfig": foundation.cluster.kubeconfig,
        "vpcId": foundation.network.vpc_id,
        "privateSubnetIds": foundation.network.private_subnet_ids,
        "publicSubnetIds": foundation.network.public_subnet_ids,
        "lakeKmsKeyArn": foundation.lake.kms_key_arn,
        "platformBucket": foundation.lake.platform_bucket.name,
    }
