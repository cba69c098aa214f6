"""ExternalDns: DNS records for the UIs' hosts (`<tool>.<domain>.<baseDomain>`) in one Route 53 zone.

Creates (aws foundation, when `dataplatform:ingress.hostedZoneId` is set):
- an IAM role for EKS Pod Identity, trusted by pods.eks.amazonaws.com for this cluster's
  `kube-system/external-dns` ServiceAccount only, with an inline policy that may change and list
  record sets of that one hosted zone (and list zones, which has no resource scope);
- the Pod Identity association of that role with the ServiceAccount;
- the external-dns Helm release in kube-system (chart pinned in components/charts.py), watching
  Ingresses and writing ALIAS records for hosts under baseDomain into that zone.

Invariants:
- external-dns can change records in no other zone (IAM resource and `--zone-id-filter`), and only
  names under baseDomain (`--domain-filter`);
- it deletes only records it created (TXT registry, owner `dp-<environment>`), so two stacks may
  share a zone;
- the release starts after its role, policy and association exist, and (through the cluster's
  workload provider) after the load balancer controller, whose webhook admits the chart's Service
  and which gives each Ingress the ALB hostname the records point to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.cluster import KUBE_SYSTEM, KubernetesCluster, pod_identity_trust_policy
from components.charts import ChartName, ChartOverride, release_args
from components.values.external_dns import external_dns_values

SERVICE_ACCOUNT = "external-dns"
RELEASE = "external-dns"


def external_dns_policy(*, partition: str, zone_id: str) -> dict[str, Any]:
    """The AWS tutorial's policy (external-dns v0.21.0 docs/tutorials/aws.md), scoped to one zone."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "route53:ChangeResourceRecordSets",
                    "route53:ListResourceRecordSets",
                    "route53:ListTagsForResources",
                ],
                "Resource": f"arn:{partition}:route53:::hostedzone/{zone_id}",
            },
            # ListHostedZones supports no resource-level scope.
            {"Effect": "Allow", "Action": "route53:ListHostedZones", "Resource": "*"},
        ],
    }


class ExternalDns(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        cluster: KubernetesCluster,
        zone_id: str,
        base_domain: str,
        environment: str,
        region: str,
        chart_overrides: Mapping[ChartName, ChartOverride],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:dns:ExternalDns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition

        trust = cluster.cluster.arn.apply(
            lambda arn: json.dumps(
                pod_identity_trust_policy(cluster_arn=arn, namespace=KUBE_SYSTEM, service_account=SERVICE_ACCOUNT)
            )
        )
        role = aws.iam.Role(
            name,
            aws.iam.RoleArgs(
                assume_role_policy=trust, description=f"external-dns of {environment}: records in {zone_id}"
            ),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            name,
            aws.iam.RolePolicyArgs(
                role=role.name,
                policy=partition.apply(lambda p: json.dumps(external_dns_policy(partition=p, zone_id=zone_id))),
            ),
            opts=child,
        )
        association = aws.eks.PodIdentityAssociation(
            name,
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=cluster.name, namespace=KUBE_SYSTEM, service_account=SERVICE_ACCOUNT, role_arn=role.arn
            ),
            opts=child,
        )
        self.release = k8s.helm.v3.Release(
            name,
            release_args(
                "external-dns",
                {**chart_overrides},
                release_name=RELEASE,
                namespace=KUBE_SYSTEM,
                values=external_dns_values(
                    zone_id=zone_id,
                    domain=base_domain,
                    txt_owner_id=f"dp-{environment}",
                    region=region,
                    service_account=SERVICE_ACCOUNT,
                ),
                timeout=600,
            ),
            # The workload provider waits for the load balancer controller: its webhook admits the chart's
            # Service, and it gives each Ingress the ALB hostname the records point to.
            opts=pulumi.ResourceOptions(
                parent=self, provider=cluster.workload_provider, depends_on=[policy, association]
            ),
        )
        self.role_arn: pulumi.Output[str] = role.arn
        self.register_outputs({"role_arn": self.role_arn, "release": self.release.name})
