"""Two stack shapes from one program: `dataplatform:scope`.

- `environment` (default): one stack holds the foundation, the catalog and every domain (today's shape).
- `platform`: the environment's stack of a split environment: the foundation, the catalog, OpenCost,
  the sign-in settings, and the export `domainInputs` (what a domain stack needs of them; no secret).
  It registers no domain resource.
- `domain/<name>`: the stack `<environment>-<name>`. It reads `domainInputs` of the stack
  `<environment>` through a StackReference and registers only that domain's `DataDomainStack`.

`RemoteFoundation` is the domain stack's foundation. Its providers are registered under stand-in
components with the foundation's types and names, so their URNs are those of the environment's
providers (up to the stack name) and `pulumi state move` of a domain keeps every URN; the domain's
resources get the same inputs as in the one stack (tests/test_split.py). Its lake makes buckets with
the environment's suffix, so names, and the producers' ARNs that cross-domain grants use, do not
depend on which stack asks.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.cluster import kubeconfig, provider_args
from components.aws.foundation import AWS_PROVIDER, AwsFoundation, aws_provider_args
from components.aws.lake import DataLake
from components.config import StackConfig
from components.scope import SCOPE_KEY, Scope
from components.validation import ConfigError

DOMAIN_INPUTS = "domainInputs"

# Where the environment's providers sit: the URN of a provider holds its parent's type and its own name.
FOUNDATION_TYPE, FOUNDATION_NAME = "dataplatform:foundation:AwsFoundation", "platform"
CLUSTER_TYPE, CLUSTER_NAME = "dataplatform:cluster:KubernetesCluster", "cluster"
WORKLOAD_PROVIDER_NAME = f"{CLUSTER_NAME}-k8s-workloads"


def environment_stack(scope: Scope, stack: str) -> str:
    """The environment's stack a domain stack reads: `dev` for `dev-sales`. ConfigError if the name does not fit."""
    assert scope.domain is not None
    suffix = f"-{scope.domain}"
    if not stack.endswith(suffix) or len(stack) == len(suffix):
        raise ConfigError(
            [
                f"{SCOPE_KEY}: domain/{scope.domain} is the scope of the stack <environment>-{scope.domain}, not of '{stack}'"
            ],
            title="invalid stack configuration (Pulumi.<stack>.yaml)",
        )
    return stack[: -len(suffix)]


def check_domain(scope: Scope, active: list[str], environment: str) -> None:
    """A domain stack's domain must have a file that includes the environment."""
    if scope.kind == "domain" and scope.domain not in active:
        raise ConfigError(
            [
                f"{SCOPE_KEY}: domain/{scope.domain}: no domain file domains/{scope.domain}.yaml includes stack "
                f"'{environment}' (domains here: {', '.join(sorted(active)) or 'none'})"
            ],
            title="invalid stack configuration (Pulumi.<stack>.yaml)",
        )


def domain_inputs(foundation: AwsFoundation) -> dict[str, Any]:
    """The environment stack's export `domainInputs`: names, IDs and endpoints only, never a secret."""
    lake, cluster = foundation.lake, foundation.cluster
    return {
        "clusterName": cluster.name,
        "clusterEndpoint": cluster.endpoint,
        "clusterCaData": cluster.cluster.certificate_authority.data,
        "nodeSecurityGroupId": cluster.node_security_group_id,
        "vpcId": foundation.network.vpc_id,
        "privateSubnetIds": foundation.network.private_subnet_ids,
        "lake": {
            "kmsKeyArn": lake.kms_key_arn,
            "logBucket": lake.log_bucket.name,
            "suffix": lake._suffix,
            "partition": lake.partition,
        },
    }


class RemoteLake:
    """The environment's lake as a bucket maker: the same `bucket()` and names as `DataLake`, from its exports."""

    # The very code of DataLake: the buckets a domain stack makes are the ones the one stack makes.
    bucket = DataLake.bucket
    bucket_name = DataLake.bucket_name
    bucket_arn = DataLake.bucket_arn
    _name_for = DataLake._name_for

    def __init__(self, config: StackConfig, lake: pulumi.Output[Any]) -> None:
        self.environment = config.environment
        self.protection = config.protection
        self.tags = None
        self._purposes: set[str] = set()
        self.kms_key_arn: pulumi.Output[str] = lake.apply(lambda v: v["kmsKeyArn"])
        self.log_bucket = SimpleNamespace(name=lake.apply(lambda v: v["logBucket"]))
        self._suffix: pulumi.Output[str] = lake.apply(lambda v: v["suffix"])
        self.partition: pulumi.Output[str] = lake.apply(lambda v: v["partition"])
        # The environment's DataLake keeps its default (AwsFoundation passes none).
        self.noncurrent_version_days: int = inspect.signature(DataLake).parameters["noncurrent_version_days"].default


class RemoteFoundation:
    """A domain stack's foundation: the environment's providers, network and lake, read through a StackReference."""

    # The same code as the environment's foundation: settings from the config, services from the refs.
    ingress_settings = AwsFoundation.ingress_settings
    network_allowances = AwsFoundation.network_allowances
    provision_domain = AwsFoundation.provision_domain

    def __init__(self, config: StackConfig, environment_stack: str) -> None:
        if config.foundation != "aws":
            raise ConfigError(
                [f"{SCOPE_KEY}: split stacks need the aws foundation (foundation: {config.foundation})"],
                title="invalid stack configuration (Pulumi.<stack>.yaml)",
            )
        self.config = config
        # The DIY backend's organization is always "organization"; Pulumi Cloud names the real one.
        org, project = pulumi.get_organization() or "organization", pulumi.get_project()
        self.reference = pulumi.StackReference(f"{org}/{project}/{environment_stack}")
        inputs = self.reference.require_output(DOMAIN_INPUTS)
        self.inputs = inputs

        def get(key: str) -> pulumi.Output[Any]:
            return inputs.apply(lambda v: v[key])

        platform = pulumi.ComponentResource(FOUNDATION_TYPE, FOUNDATION_NAME)
        self.aws_provider = aws.Provider(
            AWS_PROVIDER, aws_provider_args(config), opts=pulumi.ResourceOptions(parent=platform)
        )
        cluster = pulumi.ComponentResource(CLUSTER_TYPE, CLUSTER_NAME, opts=pulumi.ResourceOptions(parent=platform))
        name, region = get("clusterName"), config.region
        config_text = pulumi.Output.secret(
            pulumi.Output.all(name, get("clusterEndpoint"), get("clusterCaData")).apply(
                lambda a: kubeconfig(cluster_name=a[0], endpoint=a[1], ca_data=a[2], region=region)
            )
        )
        self.k8s_provider = k8s.Provider(
            WORKLOAD_PROVIDER_NAME, provider_args(config_text, name), opts=pulumi.ResourceOptions(parent=cluster)
        )
        cluster.register_outputs({})
        platform.register_outputs({})
        subnets = get("privateSubnetIds")  # one per AZ, like Network's list
        self.network = SimpleNamespace(
            vpc_id=get("vpcId"),
            private_subnet_ids=[subnets.apply(lambda v, i=i: v[i]) for i in range(config.network.az_count)],
        )
        self.cluster = SimpleNamespace(name=name, node_security_group_id=get("nodeSecurityGroupId"))
        self.lake = RemoteLake(config, get("lake"))

    @property
    def providers(self) -> list[pulumi.ProviderResource]:
        return [self.aws_provider, self.k8s_provider]

    def provision_catalog(self, request: Any, parent: pulumi.Resource) -> Any:
        raise NotImplementedError("the catalog belongs to the environment's stack")
