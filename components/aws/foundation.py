"""AwsFoundation: the shared cloud base of one environment.

Creates the explicit AWS provider (region + the tagging standard as default tags, so every AWS
resource carries environment, owner and cost-center), the Network, the KubernetesCluster (which
builds the Kubernetes provider from its own outputs), the DataLake with the platform bucket, and,
when `ingress.hostedZoneId` is set, ExternalDns (the UIs' records in that Route 53 zone).
UIs are served on HTTPS (HTTP redirects to it) whenever `ingress.certificateArn` is set.

It implements `components.interfaces.Foundation`: domains get their data services from
`provision_domain`, so the domain stack never branches on the kind of foundation.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.catalog_services import AwsCatalogRefs, AwsCatalogServices
from components.aws.cluster import KubernetesCluster
from components.aws.dns import ExternalDns
from components.aws.domain_services import AwsDomainServices, AwsPlatformRefs
from components.aws.lake import DataLake
from components.aws.network import Network
from components.config import StackConfig
from components.guardrails import PortsTo
from components.interfaces import (
    CatalogRequest,
    CatalogServices,
    DomainRequest,
    DomainServices,
    IngressSettings,
    NetworkAllowances,
)
from components.validation import ConfigError

CLUSTER_NAME_PREFIX = "dp"
# The EKS Pod Identity agent's link-local address on every node (IPv4).
POD_IDENTITY_AGENT_CIDR = "169.254.170.23/32"


AWS_PROVIDER = "aws"


def aws_provider_args(config: StackConfig) -> aws.ProviderArgs:
    """The one AWS provider's settings (a domain stack registers the same: components/split.py)."""
    return aws.ProviderArgs(
        region=config.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags={**config.common_tags, "domain": "platform"}),
    )


class AwsFoundation(pulumi.ComponentResource):
    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dataplatform:foundation:AwsFoundation", name, None, opts)
        self.config = config
        env = config.environment
        protect = config.protection.protect_stateful

        self.aws_provider = aws.Provider(
            AWS_PROVIDER, aws_provider_args(config), opts=pulumi.ResourceOptions(parent=self)
        )
        with_aws = pulumi.ResourceOptions(parent=self, providers=[self.aws_provider])
        self.cluster_name = f"{CLUSTER_NAME_PREFIX}-{env}"

        self.network = Network("network", config.network, cluster_name=self.cluster_name, opts=with_aws)
        self.lake = DataLake(
            "lake",
            environment=env,
            protection=config.protection,
            opts=with_aws,
        )
        self.cluster = KubernetesCluster(
            "cluster",
            config.eks,
            name=self.cluster_name,
            environment=env,
            region=config.region,
            vpc_id=self.network.vpc_id,
            private_subnet_ids=self.network.private_subnet_ids,
            kms_deletion_window_days=config.protection.kms_deletion_window_days,
            protect=protect,
            chart_overrides=config.charts,
            opts=with_aws,
        )
        # Every Kubernetes object of the domains and the catalog waits for cluster access and the ALB controller.
        self.k8s_provider: k8s.Provider = self.cluster.workload_provider
        zone_id = config.ingress.hosted_zone_id
        self.dns = (
            ExternalDns(
                "external-dns",
                cluster=self.cluster,
                zone_id=zone_id,
                base_domain=config.ingress.base_domain,
                environment=env,
                region=config.region,
                chart_overrides=config.charts,
                opts=with_aws,
            )
            if zone_id
            else None
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster.name,
                "vpc_id": self.network.vpc_id,
                "lake_kms_key_arn": self.lake.kms_key_arn,
                "platform_bucket": self.lake.platform_bucket.name,
            }
        )

    @property
    def providers(self) -> list[pulumi.ProviderResource]:
        return [self.aws_provider, self.k8s_provider]

    def ingress_settings(self, group: str) -> IngressSettings:
        ingress = self.config.ingress
        annotations = {
            "alb.ingress.kubernetes.io/scheme": ingress.scheme,
            "alb.ingress.kubernetes.io/target-type": "ip",
            # One ALB per domain: the group shares it between the domain's UIs.
            "alb.ingress.kubernetes.io/group.name": f"dp-{self.config.environment}-{group}",
        }
        if ingress.certificate_arn is None:
            raise ConfigError(["dataplatform:ingress.certificateArn: required on the aws foundation (HTTPS only)"])
        annotations |= {
            "alb.ingress.kubernetes.io/certificate-arn": ingress.certificate_arn,
            # HTTPS only: the HTTP listener answers every request with a redirect to 443.
            "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
            "alb.ingress.kubernetes.io/ssl-redirect": "443",
            "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        }
        return IngressSettings(class_name="alb", annotations=annotations, scheme="https")

    def network_allowances(self) -> NetworkAllowances:
        cidr = self.config.network.cidr
        return NetworkAllowances(
            ingress_cidrs=(cidr,),
            ingress_namespaces=(),
            private_egress=(PortsTo(cidr=cidr, ports=(5432, 5439)),),
            # The SDKs read AWS_CONTAINER_CREDENTIALS_FULL_URI, http://169.254.170.23/v1/credentials (port 80);
            # with NetworkPolicies enforced, default-deny would otherwise cut every pod off its IAM role.
            credentials_egress=(PortsTo(cidr=POD_IDENTITY_AGENT_CIDR, ports=(80,)),),
        )

    def provision_domain(self, request: DomainRequest, parent: pulumi.Resource) -> DomainServices:
        refs = AwsPlatformRefs(
            environment=self.config.environment,
            region=self.config.region,
            lake=self.lake,
            vpc_id=self.network.vpc_id,
            vpc_cidr=self.config.network.cidr,
            private_subnet_ids=self.network.private_subnet_ids,
            cluster_name=self.cluster.name,
            cluster_security_group_id=self.cluster.node_security_group_id,
            protect=self.config.protection.protect_stateful,
            backup_days=self.config.backups.rds_days(self.config.environment),
            warehouse_snapshot_retention_days=self.config.backups.warehouse_snapshot_retention_days,
        )
        services = AwsDomainServices(
            f"{request.domain}-aws",
            request,
            refs,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        return services.services

    def provision_catalog(self, request: CatalogRequest, parent: pulumi.Resource) -> CatalogServices:
        refs = AwsCatalogRefs(
            environment=self.config.environment,
            region=self.config.region,
            kms_key_arn=self.lake.kms_key_arn,
            vpc_id=self.network.vpc_id,
            private_subnet_ids=self.network.private_subnet_ids,
            cluster_name=self.cluster.name,
            cluster_security_group_id=self.cluster.node_security_group_id,
            protect=self.config.protection.protect_stateful,
            backup_days=self.config.backups.rds_days(self.config.environment),
        )
        services = AwsCatalogServices("catalog-aws", request, refs, opts=pulumi.ResourceOptions(parent=parent))
        return services.services
