"""The stack configuration: one validated model read from the `dataplatform:` config namespace.

Every key a platform engineer writes in `Pulumi.<stack>.yaml` is checked here before the first
resource is registered. Defaults are the production-safe values; a stack file relaxes them
explicitly (dev), and `prod` cannot relax the controls that SECURITY.md requires in prod.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator, model_validator

from components.charts import PINNED, ChartName, ChartOverride
from components.domain_config import CodeLocation, DagsterImage, Domain
from components.scope import Scope, parse_scope
from components.validation import ConfigError, StrictModel, describe_errors

NAMESPACE = "dataplatform"
# Charts whose version other pins must equal, so a stack cannot move them alone.
ALIGNED_CHARTS = {
    "dagster": "every domain's user-code image runs DAGSTER_VERSION, the same in every stack",
    "datahub": "the ingestion image and the DataHub client libraries follow the chart's app version",
    "aws-load-balancer-controller": "the controller's IAM policy is vendored for the chart's app version",
}

EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# EKS versions in standard support when this release was cut; extend when EKS adds one.
SUPPORTED_EKS_VERSIONS = ("1.33", "1.34", "1.35", "1.36")

LogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]


def _cidr(value: str) -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"must be an IPv4 CIDR such as 10.20.0.0/16: {exc}") from None
    return str(net)


def _public_cidr(value: str) -> str:
    value = _cidr(value)
    if ipaddress.IPv4Network(value).prefixlen < 8:
        raise ValueError("the public endpoint must not be open to the internet; use CIDRs of /8 or narrower")
    return value


def _region(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", value):
        raise ValueError("must be an AWS region name such as eu-west-1")
    return value


def _principal(value: str) -> str:
    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+", value):
        raise ValueError("must be an IAM role or user ARN such as arn:aws:iam::123456789012:role/PlatformAdmin")
    return value


def _instance_type(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9]+", value):
        raise ValueError("must be an EC2 instance type such as m7i.large")
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
PublicCidr = Annotated[str, AfterValidator(_public_cidr)]
Region = Annotated[str, AfterValidator(_region)]
PrincipalArn = Annotated[str, AfterValidator(_principal)]
InstanceType = Annotated[str, AfterValidator(_instance_type)]
TagValue = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\w .:/=+@-]+$")]


def _vpc_cidr(value: str) -> str:
    prefix = ipaddress.IPv4Network(value).prefixlen
    if not 16 <= prefix <= 20:
        raise ValueError(
            "must be a /16 to /20 block: AWS allows at most /16, and /20 is the least that holds the subnets"
        )
    return value


VpcCidr = Annotated[Cidr, AfterValidator(_vpc_cidr)]


class NetworkConfig(StrictModel):
    cidr: VpcCidr = "10.20.0.0/16"
    # Redshift Serverless workgroups need subnets in at least three AZs.
    az_count: int = Field(default=3, ge=3, le=6)
    nat_strategy: Literal["single", "perAz"] = "perAz"
    flow_logs: bool = True
    flow_log_retention_days: Literal[7, 14, 30, 60, 90, 180, 365, 400, 545, 731] = 365


class NodeGroupConfig(StrictModel):
    instance_types: list[InstanceType] = Field(default_factory=lambda: ["m7i.large"], min_length=1)
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    min_size: int = Field(default=2, ge=0, le=100)
    max_size: int = Field(default=6, ge=1, le=100)
    desired_size: int = Field(default=3, ge=0, le=100)
    disk_size_gib: int = Field(default=50, ge=20, le=1000)
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sizes(self) -> NodeGroupConfig:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"sizes must satisfy minSize <= desiredSize <= maxSize (got {self.min_size} <= "
                f"{self.desired_size} <= {self.max_size})"
            )
        return self


def _default_node_groups() -> dict[str, NodeGroupConfig]:
    return {"general": NodeGroupConfig()}


NodeGroupName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")]


class ClusterConfig(StrictModel):
    version: Literal["1.33", "1.34", "1.35", "1.36"] = "1.35"
    admin_principals: list[PrincipalArn] = Field(min_length=1)
    public_access_cidrs: list[PublicCidr] = Field(default_factory=list)
    log_types: list[LogType] = Field(default_factory=lambda: list(EKS_LOG_TYPES), min_length=1)
    node_groups: dict[NodeGroupName, NodeGroupConfig] = Field(default_factory=_default_node_groups, min_length=1)

    @model_validator(mode="after")
    def _unique_logs(self) -> ClusterConfig:
        if len(set(self.log_types)) != len(self.log_types):
            raise ValueError("logTypes must not repeat a log type")
        return self


class TagsConfig(StrictModel):
    owner: TagValue
    cost_center: TagValue
    extra: dict[str, TagValue] = Field(default_factory=dict)


class ProtectionConfig(StrictModel):
    protect_stateful: bool = True
    force_destroy_buckets: bool = False
    kms_deletion_window_days: int = Field(default=30, ge=7, le=30)


class BackupsConfig(StrictModel):
    """How long backups are kept (docs/runbooks/restore.md)."""

    # RDS automated backups (and so the point-in-time recovery window), 1-35 days as RDS allows;
    # none: 14 in prod, 1 elsewhere. Prod requires at least 7 (SECURITY.md).
    rds_retention_days: int | None = Field(default=None, ge=1, le=35)
    # The Redshift Serverless snapshot taken when a domain is retired; -1 keeps it until deleted by hand.
    warehouse_snapshot_retention_days: int = Field(default=-1, ge=-1, le=3653)

    @model_validator(mode="after")
    def _snapshot_days(self) -> BackupsConfig:
        if self.warehouse_snapshot_retention_days == 0:
            raise ValueError("warehouseSnapshotRetentionDays must be -1 (keep) or 1-3653 days")
        return self

    def rds_days(self, environment: str) -> int:
        if self.rds_retention_days is not None:
            return self.rds_retention_days
        return PROD_RDS_BACKUP_DAYS if environment == "prod" else 1


PROD_RDS_BACKUP_DAYS = 14
MIN_PROD_RDS_BACKUP_DAYS = 7


class IngressConfig(StrictModel):
    base_domain: str = Field(max_length=200, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    scheme: Literal["internal", "internet-facing"] = "internal"
    certificate_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+$"
    )
    # The Route 53 hosted zone of baseDomain (aws foundation): external-dns keeps the UIs' records there.
    hosted_zone_id: str | None = Field(default=None, pattern=r"^Z[A-Z0-9]{1,31}$")


class ManagedSqlConfig(StrictModel):
    """The catalog's SQL store on RDS PostgreSQL (catalog.sql: rds)."""

    instance_class: str = Field(default="db.t4g.medium", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    allocated_storage_gib: int = Field(default=50, ge=20, le=65536)
    engine_version: Literal["14", "15", "16", "17"] = "16"


class ManagedSearchConfig(StrictModel):
    """The catalog's search on Amazon OpenSearch Service (catalog.search: opensearch)."""

    instance_type: str = Field(default="m7g.large.search", pattern=r"^[a-z0-9]+\.[a-z0-9]+\.search$")
    instance_count: int = Field(default=3, ge=1, le=20)
    volume_size_gib: int = Field(default=50, ge=10, le=16384)
    engine_version: str = Field(default="OpenSearch_2.19", pattern=r"^OpenSearch_\d+\.\d+$")


class NamespaceQuotaConfig(StrictModel):
    cpu: str = Field(default="8", pattern=r"^\d+(\.\d+)?m?$")
    memory: str = Field(default="32Gi", pattern=r"^\d+(Mi|Gi)$")
    pods: int = Field(default=60, ge=1, le=500)


class CatalogConfig(StrictModel):
    """The central DataHub in the `platform` namespace."""

    enabled: bool = True
    # in-cluster: the datahub-prerequisites chart runs it; rds/opensearch: managed AWS services.
    sql: Literal["in-cluster", "rds"] = "in-cluster"
    search: Literal["in-cluster", "opensearch"] = "in-cluster"
    rds: ManagedSqlConfig = ManagedSqlConfig()
    opensearch: ManagedSearchConfig = ManagedSearchConfig()
    # An external Kafka (e.g. Amazon MSK) instead of the in-cluster one: bootstrap servers host:port,...
    kafka_bootstrap_servers: str | None = Field(default=None, pattern=r"^[a-z0-9.-]+:\d+(,[a-z0-9.-]+:\d+)*$")
    schema_registry_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    quota: NamespaceQuotaConfig = NamespaceQuotaConfig()

    @model_validator(mode="after")
    def _kafka_pair(self) -> CatalogConfig:
        if (self.kafka_bootstrap_servers is None) != (self.schema_registry_url is None):
            raise ValueError("set kafkaBootstrapServers and schemaRegistryUrl together (external Kafka), or neither")
        return self


class UserCodeOverride(StrictModel):
    """A domain's Dagster user code on this stack instead of its domain file's (e.g. an image built on the laptop)."""

    image: DagsterImage
    # Unset: the domain file's codeLocation.
    code_location: CodeLocation | None = None


class LocalConfig(StrictModel):
    """The laptop foundation (foundation: local): an existing cluster from the current kubeconfig."""

    kube_context: str | None = Field(default=None, description="kubeconfig context; default: the current one")
    storage_class: str | None = Field(default=None, description="StorageClass for volumes; default: the cluster's")
    # `make local` maps every domain to the example image it builds and loads into kind, so no domain
    # file is edited for a laptop; checked against the stack's domains by `with_user_code_overrides`.
    user_code: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,19}$")], UserCodeOverride] = Field(
        default_factory=dict
    )


# The analyst notebooks' image as shipped: an example, refused by real runs (components/examples.py);
# build images/sandbox-notebook and set yours.
EXAMPLE_NOTEBOOK_IMAGE = "ghcr.io/example-org/sandbox-notebook"


class NotebookResources(StrictModel):
    """What one analyst's notebook server may use (KubeSpawner guarantee = request, limit = limit)."""

    cpu_request: str = Field(default="250m", pattern=r"^\d+(\.\d+)?m?$")
    cpu_limit: str = Field(default="2", pattern=r"^\d+(\.\d+)?m?$")
    memory_request: str = Field(default="1Gi", pattern=r"^\d+(Mi|Gi)$")
    memory_limit: str = Field(default="4Gi", pattern=r"^\d+(Mi|Gi)$")


class NotebooksConfig(StrictModel):
    """The analyst sandbox's JupyterHub (docs/notebooks.md); deployed only when a domain enables tools.sandbox."""

    # Built from images/sandbox-notebook (DuckDB with httpfs, PyAthena, pandas) and pushed by CI.
    image: DagsterImage = DagsterImage(repository=EXAMPLE_NOTEBOOK_IMAGE, tag="0.1.0")
    # Idle culling: a server with no activity for this long is stopped (its home volume stays).
    cull_timeout_seconds: int = Field(default=3600, ge=300, le=7 * 86400)
    cull_every_seconds: int = Field(default=600, ge=60, le=3600)
    # Any server older than this is stopped whatever its activity (0: no maximum age).
    cull_max_age_seconds: int = Field(default=8 * 3600, ge=0, le=30 * 86400)
    # Each user's home volume (one PVC per user); the volume is kept when the server stops.
    storage_gib: int = Field(default=10, ge=1, le=200)
    user: NotebookResources = NotebookResources()
    # The shared `sandbox` namespace's quota: every user server, the hub and the proxy count against it.
    quota: NamespaceQuotaConfig = NamespaceQuotaConfig(cpu="8", memory="32Gi", pods=40)


# An IdP group name as the groups claim carries it (Entra ID: object ids; Okta/Google/Keycloak: names).
GroupName = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\w .@:/=+-]+$")]
DEX_CLIENT_ID = "dataplatform"


class DexUser(StrictModel):
    """A test user of the bundled Dex (local stack only); its password is generated."""

    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
    username: str = Field(pattern=r"^[a-z][a-z0-9._-]{0,62}$")
    groups: list[GroupName] = Field(min_length=1)


class IdentityConfig(StrictModel):
    """The one OIDC identity provider every UI signs in with (docs/identity.md).

    oidc: any OpenID Connect provider (Entra ID, Okta, Google, Keycloak); the client secret is the
    Pulumi secret `dataplatform:identityClientSecret` or a Secrets Manager secret (`clientSecretArn`).
    dex: a bundled Dex with static test users, for the local stack.
    """

    provider: Literal["oidc", "dex"]
    issuer_url: str | None = Field(default=None, pattern=r"^https://[^\s/]+(/\S*)?$")
    client_id: str | None = Field(default=None, min_length=1, max_length=256, pattern=r"^\S+$")
    client_secret_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$"
    )
    groups_claim: str = Field(default="groups", pattern=r"^[\w:/.-]+$")
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"], min_length=1)
    # Who reaches the central catalog (DataHub); empty: every signed-in user of the provider.
    catalog_groups: list[GroupName] = Field(default_factory=list)
    # DataHub admins (and every domain's Superset admins); empty: none beyond each domain's owners.
    admin_groups: list[GroupName] = Field(default_factory=list)
    users: list[DexUser] = Field(default_factory=list)

    @model_validator(mode="after")
    def _provider_fields(self) -> IdentityConfig:
        if "openid" not in self.scopes:
            raise ValueError("scopes must include openid")
        if self.provider == "oidc":
            missing = [k for k, v in (("issuerUrl", self.issuer_url), ("clientId", self.client_id)) if not v]
            if missing:
                raise ValueError(f"provider oidc needs {' and '.join(missing)}")
            if self.users:
                raise ValueError("users are for the bundled Dex (provider: dex) only")
        else:
            if self.issuer_url or self.client_id or self.client_secret_arn:
                raise ValueError(
                    "provider dex sets its own issuer and client: remove issuerUrl, clientId, clientSecretArn"
                )
            if not self.users:
                raise ValueError("provider dex needs at least one user (users: [{email, username, groups}])")
            if len({u.username for u in self.users}) != len(self.users):
                raise ValueError("users must have distinct usernames")
        return self


class StackConfig(StrictModel):
    environment: Literal["dev", "prod", "local"]
    foundation: Literal["aws", "local"] = "aws"
    region: Region = "eu-west-1"
    tags: TagsConfig
    network: NetworkConfig = NetworkConfig()
    cluster: ClusterConfig | None = None
    protection: ProtectionConfig = ProtectionConfig()
    backups: BackupsConfig = BackupsConfig()
    ingress: IngressConfig
    catalog: CatalogConfig = CatalogConfig()
    local: LocalConfig = LocalConfig()
    # standard: tool resources from the domain files; laptop: small fixed sizes (components/sizing.py).
    sizing: Literal["standard", "laptop"] = "standard"
    charts: dict[ChartName, ChartOverride] = Field(default_factory=dict)
    identity: IdentityConfig
    notebooks: NotebooksConfig = NotebooksConfig()
    # The OIDC client secret as a Pulumi secret (`pulumi config set --secret dataplatform:identityClientSecret`).
    identity_client_secret: SecretStr | None = None
    # Slack incoming-webhook URL per domain using quality.alerts.channel: slack. Set it as a secret
    # (`pulumi config set --secret --path 'dataplatform:qualitySlackWebhooks.<domain>' <url>`); checked,
    # without being shown, by components/quality.py.
    quality_slack_webhooks: dict[str, SecretStr] = Field(default_factory=dict)
    # environment: one stack (default); platform / domain/<name>: split stacks (components/split.py).
    scope: str = "environment"

    @property
    def stack_scope(self) -> Scope:
        return parse_scope(self.scope)

    @field_validator("scope")
    @classmethod
    def _valid_scope(cls, value: str) -> str:
        parse_scope(value)
        return value

    @model_validator(mode="after")
    def _split_needs(self) -> StackConfig:
        if self.scope != "environment" and self.foundation != "aws":
            raise ValueError(
                f"scope {self.scope!r}: split stacks need the aws foundation; a {self.foundation} stack is one stack"
            )
        return self

    @model_validator(mode="after")
    def _identity_needs(self) -> StackConfig:
        idp = self.identity
        if self.foundation == "aws" and idp.provider != "oidc":
            raise ValueError("identity.provider must be oidc on the aws foundation (dex is for the local stack)")
        if idp.provider == "oidc" and (idp.client_secret_arn is None) == (self.identity_client_secret is None):
            raise ValueError(
                "identity: give the client secret exactly once, as identity.clientSecretArn (Secrets Manager) or "
                "as the Pulumi secret dataplatform:identityClientSecret"
            )
        if idp.provider == "dex" and self.identity_client_secret is not None:
            raise ValueError("identityClientSecret is for provider oidc; the bundled Dex's secret is generated")
        if self.foundation == "aws" and self.ingress.certificate_arn is None:
            raise ValueError(
                "ingress.certificateArn is required on the aws foundation: every UI is served over HTTPS only"
            )
        return self

    @model_validator(mode="after")
    def _foundation_needs(self) -> StackConfig:
        if self.foundation == "aws" and self.cluster is None:
            raise ValueError("cluster is required when foundation is aws (set dataplatform:cluster)")
        if self.foundation == "local" and (self.catalog.sql != "in-cluster" or self.catalog.search != "in-cluster"):
            raise ValueError(
                "a local foundation runs the catalog in-cluster: set catalog.sql and catalog.search to in-cluster"
            )
        if self.foundation == "local" and self.ingress.hosted_zone_id is not None:
            raise ValueError("ingress.hostedZoneId is for the aws foundation; local hosts resolve through localtest.me")
        if self.environment == "prod" and self.foundation != "aws":
            raise ValueError("prod runs on the aws foundation")
        if self.foundation != "local" and self.local.user_code:
            raise ValueError("local.userCode applies only to the local foundation (foundation: local)")
        return self

    @field_validator("charts")
    @classmethod
    def _aligned_chart_overrides(cls, charts: dict[str, ChartOverride]) -> dict[str, ChartOverride]:
        # Pins other pins must follow (docs/runbooks/): an override may change the repository, not the version.
        problems = [
            f"{name}.version must stay {PINNED[name].version}: {why}; move the pins together in "
            f"components/charts.py instead (docs/runbooks/{name}.md) (got {override.version!r})"
            for name, why in ALIGNED_CHARTS.items()
            if (override := charts.get(name)) is not None
            and override.version is not None
            and override.version != PINNED[name].version
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return charts

    @property
    def eks(self) -> ClusterConfig:
        """The cluster settings of an AWS foundation (validated to be present)."""
        assert self.cluster is not None, "cluster config is required on the aws foundation"
        return self.cluster

    @property
    def common_tags(self) -> dict[str, str]:
        """The tagging standard: environment, owner and cost-center on every AWS resource."""
        return {
            **self.tags.extra,
            "environment": self.environment,
            "owner": self.tags.owner,
            "cost-center": self.tags.cost_center,
            "managed-by": "pulumi",
        }


def _parse(raw: Any) -> Any:
    # Structured config reaches the program as JSON text; plain strings stay strings ("1.35").
    if isinstance(raw, str) and raw[:1] in "{[":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def raw_namespace_config(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Every key the stack sets under `namespace:`, parsed, without the prefix."""
    from pulumi.runtime import config as runtime_config

    merged: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{namespace}:"
    return {k[len(prefix) :]: _parse(v) for k, v in merged.items() if k.startswith(prefix)}


def parse_stack_config(raw: dict[str, Any], namespace: str = NAMESPACE) -> StackConfig:
    """Validate `raw` (config keys without the namespace) or raise ConfigError naming each bad key."""
    try:
        config = StackConfig.model_validate(raw)
    except ValidationError as exc:
        problems = describe_errors(namespace, exc, separator=":")
        raise ConfigError(problems, title="invalid stack configuration (Pulumi.<stack>.yaml)") from None
    problems = [f"{namespace}:{key}: {problem}" for key, problem in prod_baseline_problems(config)]
    if problems:
        raise ConfigError(problems, title="invalid stack configuration (Pulumi.<stack>.yaml)")
    return config


def prod_baseline_problems(config: StackConfig) -> list[tuple[str, str]]:
    """(key, problem) for each SECURITY.md control a prod stack relaxes; empty outside prod."""
    if config.environment != "prod":
        return []
    checks = [
        (
            "cluster.logTypes",
            set(config.eks.log_types) == set(EKS_LOG_TYPES),
            f"must list all five log types in prod: {', '.join(EKS_LOG_TYPES)}",
            config.eks.log_types,
        ),
        (
            "protection.protectStateful",
            config.protection.protect_stateful,
            "must be true in prod",
            config.protection.protect_stateful,
        ),
        (
            "protection.forceDestroyBuckets",
            not config.protection.force_destroy_buckets,
            "must be false in prod",
            config.protection.force_destroy_buckets,
        ),
        (
            "protection.kmsDeletionWindowDays",
            config.protection.kms_deletion_window_days == 30,
            "must be 30 in prod",
            config.protection.kms_deletion_window_days,
        ),
        ("network.flowLogs", config.network.flow_logs, "must be true in prod", config.network.flow_logs),
        (
            "backups.rdsRetentionDays",
            config.backups.rds_days("prod") >= MIN_PROD_RDS_BACKUP_DAYS,
            f"must be at least {MIN_PROD_RDS_BACKUP_DAYS} in prod",
            config.backups.rds_retention_days,
        ),
    ]
    return [(key, f"{message} (got {got!r})") for key, ok, message, got in checks if not ok]


def load_stack_config() -> StackConfig:
    return parse_stack_config(raw_namespace_config())


def with_user_code_overrides(domains: list[Domain], config: StackConfig, namespace: str = NAMESPACE) -> list[Domain]:
    """`domains` with `local.userCode` applied: each named domain's Dagster runs the override's image
    (and code location, if given). Raises ConfigError naming the key of every override that names no
    domain of this stack or a domain whose Dagster is disabled. The domain files are not changed."""
    overrides = config.local.user_code
    by_name = {d.name: d for d in domains}
    problems = []
    for name in sorted(overrides):
        key = f"{namespace}:local.userCode.{name}"
        domain = by_name.get(name)
        if domain is None:
            known = ", ".join(sorted(by_name)) or "none"
            problems.append(f"{key}: no domain '{name}' on this stack (its domains: {known})")
        elif not domain.tools.dagster.enabled:
            problems.append(f"{key}: domains/{name}.yaml turns Dagster off (tools.dagster.enabled: false)")
    if problems:
        raise ConfigError(problems, title="invalid stack configuration (Pulumi.<stack>.yaml)")
    result = []
    for domain in domains:
        override = overrides.get(domain.name)
        if override is None:
            result.append(domain)
            continue
        dagster = domain.tools.dagster.model_copy(
            update={
                "image": override.image,
                "code_location": override.code_location or domain.tools.dagster.code_location,
            }
        )
        result.append(domain.model_copy(update={"tools": domain.tools.model_copy(update={"dagster": dagster})}))
    return result
