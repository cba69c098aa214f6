"""KubernetesCluster: an EKS cluster with managed nodes, core add-ons, a default encrypted gp3
StorageClass, the AWS Load Balancer Controller, and the Kubernetes provider built from the cluster.

Creates:
- IAM roles: the control-plane role (trusted by eks.amazonaws.com: AmazonEKSClusterPolicy, plus use
  of the secrets key), the node role (ec2.amazonaws.com: AmazonEKSWorkerNodePolicy,
  AmazonEC2ContainerRegistryReadOnly), and one EKS Pod Identity role each for vpc-cni
  (AmazonEKS_CNI_Policy), the EBS CSI driver (AmazonEBSCSIDriverPolicy) and the load balancer
  controller (its official IAM policy for the pinned app version);
- a KMS key for envelope encryption of Kubernetes Secrets;
- the EKS cluster, and an access entry with cluster-scoped AmazonEKSClusterAdminPolicy per admin principal;
- per configured node group: a launch template and a managed node group in the private subnets;
- EKS add-ons vpc-cni (with its network policy agent, so NetworkPolicies are enforced), kube-proxy, eks-pod-identity-agent (before the nodes, which need them to
  become Ready) and coredns, aws-ebs-csi-driver (after the nodes, which they run on);
- the Kubernetes providers, the default StorageClass `gp3`, and the controller's Helm release.

Invariants:
- authentication mode API: access entries only, no aws-auth ConfigMap, and the identity that creates
  the cluster gets no implicit admin. The identity running `pulumi up` must therefore be one of
  `config.admin_principals`, or it cannot create the Kubernetes resources below;
- the API endpoint is private; it is public only when CIDRs are configured, and never to 0.0.0.0/0;
- Secrets are encrypted with a customer key that rotates and whose policy has no `*` principal;
- control-plane logs are exactly `config.log_types`;
- nodes: IMDSv2 only with hop limit 1 (pods cannot reach the node role's credentials), encrypted gp3
  root volume, no SSH key or remote access, private subnets only;
- pods get AWS permissions only from Pod Identity roles trusted by pods.eks.amazonaws.com for one
  cluster, namespace and service account; the node role holds no CNI permissions;
- every Kubernetes resource uses one of this cluster's two providers, both of which wait for the admin
  access entries (API mode gives the creator no access, so an earlier call gets 401): `provider` for
  the kube-system add-ons (gp3, the load balancer controller), `workload_provider` for everything
  else, which also waits for the controller, whose Service and Ingress webhooks fail closed;
- the cluster and its key are protected per `protect` and retained on delete in prod;
- logical names come from config keys and ARN digests, never from list positions.

From Kubernetes 1.30, EKS no longer marks a `gp2` class as default, so `gp3` is the only default
class; a `gp2` class EKS may still create is left alone (deleting it could break claims naming it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pydantic import TypeAdapter, ValidationError

from components import charts
from components.charts import ChartName, ChartOverride
from components.config import ClusterConfig, PublicCidr
from components.validation import ConfigError, describe_errors
from components.values.alb_controller import alb_controller_values

KUBE_SYSTEM = "kube-system"
STORAGE_CLASS = "gp3"
ALB_CONTROLLER = "aws-load-balancer-controller"
# Service accounts the add-ons create; their Pod Identity roles are scoped to them.
VPC_CNI_SERVICE_ACCOUNT = "aws-node"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
# The VPC CNI enforces NetworkPolicies only with its network policy agent on, which is off by default
# (the add-on's configuration schema takes the string "true"; EKS user guide, cni-network-policy).
VPC_CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}


def public_access_cidrs(cidrs: Sequence[str]) -> list[str]:
    """The CIDRs allowed to reach the public endpoint (empty: the endpoint is private).

    Re-checks the model's rule, so a config built without validation cannot open the endpoint
    to the internet (EKS itself would default an empty list to 0.0.0.0/0 if public were on).
    """
    try:
        return TypeAdapter(list[PublicCidr]).validate_python(list(cidrs))
    except ValidationError as exc:
        raise ConfigError(
            describe_errors("dataplatform:cluster.publicAccessCidrs", exc), title="invalid cluster configuration"
        ) from None


def service_trust_policy(service: str) -> dict[str, Any]:
    """Trust policy letting one AWS service principal assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def pod_identity_trust_policy(*, cluster_arn: str, namespace: str, service_account: str) -> dict[str, Any]:
    """EKS Pod Identity trust, limited by the session tags EKS sets to one cluster and service account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "aws:RequestTag/eks-cluster-arn": cluster_arn,
                        "aws:RequestTag/kubernetes-namespace": namespace,
                        "aws:RequestTag/kubernetes-service-account": service_account,
                    }
                },
            }
        ],
    }


def secrets_key_policy(*, partition: str, account_id: str) -> dict[str, Any]:
    """The KMS default key policy: the account (root) delegates access to IAM; no `*` principal."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnableIAMUserPermissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def secrets_key_use_policy(key_arn: str) -> dict[str, Any]:
    """What the cluster role needs on the secrets key for envelope encryption."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                "Resource": key_arn,
            }
        ],
    }


def alb_controller_policy(partition: str) -> dict[str, Any]:
    """The controller's official IAM policy for the pinned app version (components/charts.py vendors it), with
    its ARNs in `partition`. Upstream's aws-cn and aws-us-gov copies (iam_policy_cn.json,
    iam_policy_us-gov.json at v3.5.0) hold the same statements in that partition, one in another order.
    """
    document = json.dumps(charts.alb_controller_iam_policy())
    return json.loads(document.replace('"arn:aws:', f'"arn:{partition}:'))


def kubeconfig(*, cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig (JSON) that authenticates with `aws eks get-token`, as `aws eks update-kubeconfig` writes it."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
            ],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region],
                        }
                    },
                }
            ],
        }
    )


def provider_args(kubeconfig_text: pulumi.Output[str], cluster_name: pulumi.Output[str]) -> k8s.ProviderArgs:
    """The cluster's Kubernetes providers' settings (a domain stack registers the same: components/split.py)."""
    return k8s.ProviderArgs(
        kubeconfig=kubeconfig_text,
        # Replace the provider (and so every object) only when the cluster itself changes.
        cluster_identifier=cluster_name,
        enable_server_side_apply=True,
    )


def principal_key(arn: str) -> str:
    """A short, stable suffix for resources of one principal: the same ARN always gives the same name."""
    return hashlib.sha256(arn.encode()).hexdigest()[:10]


class KubernetesCluster(pulumi.ComponentResource):
    """EKS cluster, nodes, add-ons, default StorageClass, load balancer controller and k8s provider.

    See the module docstring for what it creates and the invariants it guarantees.
    """

    def __init__(
        self,
        resource_name: str,
        config: ClusterConfig,
        *,
        environment: str,
        region: str,
        vpc_id: pulumi.Input[str],
        private_subnet_ids: Sequence[pulumi.Input[str]],
        kms_deletion_window_days: int,
        protect: bool,
        chart_overrides: Mapping[ChartName, ChartOverride],
        name: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`name` is the EKS cluster name (auto-named from `resource_name` when omitted)."""
        super().__init__("dataplatform:cluster:KubernetesCluster", resource_name, None, opts)
        rn = resource_name
        prod = environment == "prod"
        cidrs = public_access_cidrs(config.public_access_cidrs)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        account_id = aws.get_caller_identity_output(opts=invoke).account_id

        def managed(policy: str) -> pulumi.Output[str]:
            return partition.apply(lambda p: f"arn:{p}:iam::aws:policy/{policy}")

        def role(
            key: str, trust: pulumi.Input[str], policies: Sequence[str]
        ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
            r = aws.iam.Role(f"{rn}-{key}", aws.iam.RoleArgs(assume_role_policy=trust), opts=child)
            attachments: list[pulumi.Resource] = [
                aws.iam.RolePolicyAttachment(
                    f"{rn}-{key}-{policy}",
                    aws.iam.RolePolicyAttachmentArgs(role=r.name, policy_arn=managed(policy)),
                    opts=child,
                )
                for policy in policies
            ]
            return r, attachments

        # Secrets encryption key.
        key = aws.kms.Key(
            f"{rn}-secrets",
            aws.kms.KeyArgs(
                description=f"EKS Secrets envelope encryption ({resource_name}, {environment})",
                enable_key_rotation=True,
                deletion_window_in_days=kms_deletion_window_days,
                policy=pulumi.Output.all(partition, account_id).apply(
                    lambda a: json.dumps(secrets_key_policy(partition=a[0], account_id=a[1]))
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=prod),
        )

        # Control plane.
        cluster_role, cluster_attachments = role(
            "control-plane", json.dumps(service_trust_policy("eks.amazonaws.com")), ["AmazonEKSClusterPolicy"]
        )
        key_use = aws.iam.RolePolicy(
            f"{rn}-control-plane-secrets-key",
            aws.iam.RolePolicyArgs(
                role=cluster_role.name, policy=key.arn.apply(lambda arn: json.dumps(secrets_key_use_policy(arn)))
            ),
            opts=child,
        )
        self.cluster = aws.eks.Cluster(
            rn,
            aws.eks.ClusterArgs(
                name=name,
                version=config.version,
                role_arn=cluster_role.arn,
                access_config=aws.eks.ClusterAccessConfigArgs(
                    authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False
                ),
                # Only the managed add-ons below run, so no self-managed copies to adopt or overwrite.
                bootstrap_self_managed_addons=False,
                enabled_cluster_log_types=list(config.log_types),
                encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                    provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn), resources=["secrets"]
                ),
                vpc_config=aws.eks.ClusterVpcConfigArgs(
                    subnet_ids=private_subnet_ids,
                    endpoint_private_access=True,
                    endpoint_public_access=bool(cidrs),
                    public_access_cidrs=cidrs or None,
                ),
                # STANDARD: no extended-support fees; EKS upgrades the control plane when standard support ends.
                upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
                deletion_protection=protect,
            ),
            # The role's permissions must outlive the cluster, or EKS cannot clean up its ENIs and security groups.
            opts=pulumi.ResourceOptions(
                parent=self, protect=protect, retain_on_delete=prod, depends_on=[*cluster_attachments, key_use]
            ),
        )
        cluster_name = self.cluster.name

        # Cluster admins.
        access: list[pulumi.Resource] = []
        for arn in dict.fromkeys(config.admin_principals):
            entry = aws.eks.AccessEntry(
                f"{rn}-admin-{principal_key(arn)}",
                aws.eks.AccessEntryArgs(cluster_name=cluster_name, principal_arn=arn, type="STANDARD"),
                opts=child,
            )
            access.append(
                aws.eks.AccessPolicyAssociation(
                    f"{rn}-admin-{principal_key(arn)}",
                    aws.eks.AccessPolicyAssociationArgs(
                        cluster_name=cluster_name,
                        principal_arn=arn,
                        policy_arn=partition.apply(
                            lambda p: f"arn:{p}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
                        ),
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    ),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
                )
            )

        def pod_identity_role(
            key: str, service_account: str, policies: Sequence[str]
        ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
            trust = self.cluster.arn.apply(
                lambda arn: json.dumps(
                    pod_identity_trust_policy(cluster_arn=arn, namespace=KUBE_SYSTEM, service_account=service_account)
                )
            )
            return role(key, trust, policies)

        def addon(
            addon_name: str,
            depends_on: Sequence[pulumi.Resource],
            pod_identity: tuple[aws.iam.Role, str] | None = None,
            configuration: Mapping[str, str] | None = None,
        ) -> aws.eks.Addon:
            # No addon_version: EKS installs its default version for the cluster's Kubernetes version.
            return aws.eks.Addon(
                f"{rn}-{addon_name}",
                aws.eks.AddonArgs(
                    cluster_name=cluster_name,
                    addon_name=addon_name,
                    # The program is the source of truth for add-on settings.
                    resolve_conflicts_on_create="OVERWRITE",
                    resolve_conflicts_on_update="OVERWRITE",
                    configuration_values=json.dumps(dict(configuration)) if configuration else None,
                    pod_identity_associations=None
                    if pod_identity is None
                    else [
                        aws.eks.AddonPodIdentityAssociationArgs(
                            role_arn=pod_identity[0].arn, service_account=pod_identity[1]
                        )
                    ],
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
            )

        # Add-ons the nodes need to become Ready: networking, and the agent that serves Pod Identity credentials.
        pod_identity_agent = addon("eks-pod-identity-agent", [])
        cni_role, cni_attachments = pod_identity_role("vpc-cni", VPC_CNI_SERVICE_ACCOUNT, ["AmazonEKS_CNI_Policy"])
        pre_node_addons = [
            pod_identity_agent,
            addon(
                "vpc-cni",
                [pod_identity_agent, *cni_attachments],
                (cni_role, VPC_CNI_SERVICE_ACCOUNT),
                VPC_CNI_CONFIGURATION,
            ),
            addon("kube-proxy", []),
        ]

        # Nodes.
        node_role, node_attachments = role(
            "node",
            json.dumps(service_trust_policy("ec2.amazonaws.com")),
            ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"],
        )
        node_groups: list[pulumi.Resource] = []
        for group, ng in config.node_groups.items():
            template = aws.ec2.LaunchTemplate(
                f"{rn}-{group}",
                aws.ec2.LaunchTemplateArgs(
                    description=f"EKS managed node group {group} of {resource_name}",
                    # Hop limit 1 keeps IMDS (and the node role) out of reach of pods; pods use Pod Identity.
                    metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                        http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
                    ),
                    # /dev/xvda is the root device of the EKS-optimized Amazon Linux 2023 AMIs (the default AMI type).
                    block_device_mappings=[
                        aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                            device_name="/dev/xvda",
                            ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                                volume_size=ng.disk_size_gib,
                                volume_type="gp3",
                                encrypted="true",
                                delete_on_termination="true",
                            ),
                        )
                    ],
                    update_default_version=True,
                ),
                opts=child,
            )
            node_groups.append(
                aws.eks.NodeGroup(
                    f"{rn}-{group}",
                    aws.eks.NodeGroupArgs(
                        cluster_name=cluster_name,
                        node_role_arn=node_role.arn,
                        subnet_ids=list(private_subnet_ids),
                        # Follow the control plane's version on upgrades.
                        version=self.cluster.version,
                        instance_types=list(ng.instance_types),
                        capacity_type=ng.capacity_type,
                        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                            min_size=ng.min_size, max_size=ng.max_size, desired_size=ng.desired_size
                        ),
                        labels=dict(ng.labels) or None,
                        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                            id=template.id, version=template.latest_version.apply(str)
                        ),
                        update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
                    ),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[*node_attachments, *pre_node_addons]),
                )
            )

        # Add-ons that run as Deployments: they need nodes to become healthy.
        coredns = addon("coredns", node_groups)
        ebs_role, ebs_attachments = pod_identity_role("ebs-csi", EBS_CSI_SERVICE_ACCOUNT, ["AmazonEBSCSIDriverPolicy"])
        ebs_csi = addon(
            "aws-ebs-csi-driver",
            [*node_groups, pod_identity_agent, *ebs_attachments],
            (ebs_role, EBS_CSI_SERVICE_ACCOUNT),
        )

        # Kubernetes provider. Everything it needs is an Output, so a preview of a new stack leaves it unknown.
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(cluster_name, self.cluster.endpoint, self.cluster.certificate_authority.data).apply(
                lambda a: kubeconfig(cluster_name=a[0], endpoint=a[1], ca_data=a[2], region=region)
            )
        )
        # The cluster is ACTIVE before any admin may call it (API mode, no creator admin): the
        # provider waits for the access entries, so no Kubernetes call is made before they exist.
        self.provider = k8s.Provider(
            f"{rn}-k8s", self._provider_args(cluster_name), opts=pulumi.ResourceOptions(parent=self, depends_on=access)
        )

        self.storage_class = k8s.storage.v1.StorageClass(
            f"{rn}-{STORAGE_CLASS}",
            k8s.storage.v1.StorageClassInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=STORAGE_CLASS, annotations={"storageclass.kubernetes.io/is-default-class": "true"}
                ),
                provisioner="ebs.csi.aws.com",
                parameters={"type": "gp3", "encrypted": "true"},
                reclaim_policy="Retain" if prod else "Delete",
                volume_binding_mode="WaitForFirstConsumer",
                allow_volume_expansion=True,
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[*access, ebs_csi]),
        )

        # AWS Load Balancer Controller.
        alb_role, _ = pod_identity_role("alb-controller", ALB_CONTROLLER, [])
        alb_policy = aws.iam.RolePolicy(
            f"{rn}-alb-controller",
            aws.iam.RolePolicyArgs(
                role=alb_role.name, policy=partition.apply(lambda p: json.dumps(alb_controller_policy(p)))
            ),
            opts=child,
        )
        alb_identity = aws.eks.PodIdentityAssociation(
            f"{rn}-alb-controller",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=cluster_name,
                namespace=KUBE_SYSTEM,
                service_account=ALB_CONTROLLER,
                role_arn=alb_role.arn,
            ),
            opts=child,
        )
        chart = charts.resolve(ALB_CONTROLLER, {**chart_overrides})
        self.alb_controller = k8s.helm.v3.Release(
            f"{rn}-alb-controller",
            k8s.helm.v3.ReleaseArgs(
                name=ALB_CONTROLLER,
                chart=chart.chart,
                version=chart.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
                namespace=KUBE_SYSTEM,
                values=pulumi.Output.all(cluster_name, vpc_id).apply(
                    lambda a: alb_controller_values(
                        cluster_name=a[0], region=region, vpc_id=a[1], service_account=ALB_CONTROLLER
                    )
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=self.provider,
                depends_on=[*node_groups, pod_identity_agent, coredns, alb_identity, alb_policy, *access],
            ),
        )

        # The controller's webhooks admit every Service (mservice) and Ingress (vingress) with
        # failurePolicy Fail, so nothing outside this component may reach the API before it is ready
        # (its release waits for the Deployment). A claim made before its default class exists stays
        # Pending, so workloads wait for gp3 too. Workloads use this provider; kube-system add-ons
        # above use `provider`.
        self.workload_provider = k8s.Provider(
            f"{rn}-k8s-workloads",
            self._provider_args(cluster_name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.alb_controller, self.storage_class, *access]),
        )

        self.name: pulumi.Output[str] = cluster_name
        self.version: str = config.version
        self.endpoint: pulumi.Output[str] = self.cluster.endpoint
        # The EKS-created cluster security group: managed nodes (and so pods) use it.
        self.node_security_group_id: pulumi.Output[str] = self.cluster.vpc_config.cluster_security_group_id
        self.node_role_arn: pulumi.Output[str] = node_role.arn
        self.storage_class_name: str = STORAGE_CLASS
        self.register_outputs(
            {
                "name": self.name,
                "endpoint": self.endpoint,
                "kubeconfig": self.kubeconfig,
                "node_security_group_id": self.node_security_group_id,
                "node_role_arn": self.node_role_arn,
            }
        )

    def _provider_args(self, cluster_name: pulumi.Output[str]) -> k8s.ProviderArgs:
        return provider_args(self.kubeconfig, cluster_name)
