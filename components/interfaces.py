"""The contract between a foundation (AWS or local) and the DataDomainStack.

A domain stack asks its foundation for the domain's data services once (`provision_domain`) and gets
connection settings back. Everything else a domain creates (guardrails, Secrets, tools, ingresses,
catalog feeds) is the same on every foundation, so the foundation choice is made in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import pulumi
import pulumi_kubernetes as k8s

from components.config import ManagedSearchConfig, ManagedSqlConfig, StackConfig
from components.guardrails import PortsTo
from components.retirement import Keep


@dataclass(frozen=True)
class TableSchema:
    """A product's declared table (`products[].schema` of its producer's domain file)."""

    format: str  # parquet, orc or json
    columns: tuple[tuple[str, str], ...]  # (name, Athena type)


@dataclass(frozen=True)
class ProductGrant:
    """Read-only access for a consumer to one product of another domain."""

    producer: str
    product: str
    prefix: str  # "curated/<...>/", inside the producer's bucket
    # Only the analyst sandbox reads it (a Glue table per product); grants ignore it.
    schema: TableSchema | None = None


@dataclass(frozen=True)
class SandboxRequest:
    """A domain's analyst sandbox (`tools.sandbox`, docs/sandbox.md). Only the AWS foundation builds
    anything for it; the local foundation's equivalent is the notebooks' MinIO user (docs/notebooks.md)."""

    scan_limit_bytes: int
    # The domain's own products (producer = the domain); consumed ones are DomainRequest.grants.
    products: tuple[ProductGrant, ...] = ()


@dataclass(frozen=True)
class SandboxSettings:
    """How the domain's tools reach its sandbox: Superset's Athena connection runs as the analyst role."""

    analyst_role_arn: pulumi.Output[str]
    workgroup: str
    database: str
    region: str
    resources: list[pulumi.Resource] = field(default_factory=list)  # for depends_on


@dataclass(frozen=True)
class DomainRequest:
    domain: str
    namespace: str
    tags: dict[str, str]
    service_accounts: tuple[str, ...]
    warehouse_base_capacity: int
    metadata_db_instance_class: str
    metadata_db_storage_gib: int
    metadata_db_engine_version: str
    raw_retention_days: int
    noncurrent_version_days: int
    zones: tuple[str, ...]
    grants: tuple[ProductGrant, ...] = ()
    # Retire (keep only the data-bearing resources) or adopt retained ones (components/retirement.py).
    keep: Keep = field(default_factory=Keep)
    sandbox: SandboxRequest | None = None


@dataclass(frozen=True)
class S3Settings:
    bucket: pulumi.Output[str]
    region: str
    # S3-compatible stores (local) need an endpoint and a credentials Secret; on AWS pods use Pod Identity.
    endpoint_url: str | None = None
    credentials_secret: str | None = None


@dataclass(frozen=True)
class PostgresServer:
    host: pulumi.Output[str]
    port: int
    admin_user: str
    admin_password: pulumi.Output[str]  # secret
    sslmode: Literal["require", "disable", "prefer"]


@dataclass(frozen=True)
class WarehouseAdmin:
    """How the platform reaches a warehouse as its admin: the AWS-managed admin secret, read only by an
    identity bound to one Kubernetes ServiceAccount of the domain namespace."""

    secret_arn: pulumi.Output[str]
    service_account: str
    region: str
    resources: list[pulumi.Resource] = field(default_factory=list)  # the warehouse and the identity, for depends_on


@dataclass(frozen=True)
class WarehouseSettings:
    kind: Literal["redshift", "postgres"]
    host: pulumi.Output[str]
    port: int
    database: str
    user: str
    # "iam": temporary credentials from the domain role (Redshift Serverless GetCredentials); "password": a Secret.
    auth: Literal["iam", "password"]
    password: pulumi.Output[str] | None = None  # secret, only for auth="password"
    workgroup: pulumi.Output[str] | None = None
    # auth="iam": the domain stack runs the grants Job with it (the IAM user gets its schema).
    admin: WarehouseAdmin | None = None


@dataclass(frozen=True)
class DomainServices:
    s3: S3Settings
    metadata_db: PostgresServer
    warehouse: WarehouseSettings
    role_arn: pulumi.Output[str] | None
    grants: tuple[ProductGrant, ...]
    resources: list[pulumi.Resource] = field(default_factory=list)  # for depends_on
    sandbox: SandboxSettings | None = None  # None: not enabled, or no AWS side (local)


@dataclass(frozen=True)
class IngressSettings:
    class_name: str
    annotations: dict[str, str]
    scheme: Literal["http", "https"]
    # The port browsers use when it is not the scheme's default (local: the port-forward).
    public_port: int | None = None


@dataclass(frozen=True)
class NetworkAllowances:
    ingress_cidrs: tuple[str, ...]
    ingress_namespaces: tuple[str, ...]
    private_egress: tuple[PortsTo, ...]
    # Where pods fetch AWS credentials (the EKS Pod Identity agent): enforced NetworkPolicies see it too.
    credentials_egress: tuple[PortsTo, ...] = ()
    # (namespace, TCP ports): in-cluster data services the domain pods call (local: MinIO).
    egress_namespaces: tuple[tuple[str, tuple[int, ...]], ...] = ()


@dataclass(frozen=True)
class CatalogRequest:
    """The central catalog's managed data services; None keeps that service in-cluster."""

    namespace: str
    # Kubernetes ServiceAccounts of DataHub that reach the managed services (Pod Identity on AWS).
    service_accounts: tuple[str, ...]
    sql: ManagedSqlConfig | None = None
    search: ManagedSearchConfig | None = None


@dataclass(frozen=True)
class CatalogServices:
    # PostgreSQL for DataHub's SQL store (the admin login is DataHub's login); None: in-cluster.
    sql: PostgresServer | None
    sql_database: str
    # HTTPS endpoint (host) of a search service DataHub reaches with IAM (SigV4); None: in-cluster.
    opensearch_endpoint: pulumi.Output[str] | None
    region: str
    resources: list[pulumi.Resource] = field(default_factory=list)  # for depends_on


class Foundation(Protocol):
    """What every foundation offers the domain stacks and the central catalog."""

    config: StackConfig
    k8s_provider: k8s.Provider

    @property
    def providers(self) -> list[pulumi.ProviderResource]: ...

    def ingress_settings(self, group: str) -> IngressSettings: ...

    def network_allowances(self) -> NetworkAllowances: ...

    def provision_domain(self, request: DomainRequest, parent: pulumi.Resource) -> DomainServices: ...

    def provision_catalog(self, request: CatalogRequest, parent: pulumi.Resource) -> CatalogServices: ...
