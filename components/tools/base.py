"""What a per-domain tool is (`ToolSpec`), and what `DataDomainStack` hands it to deploy (`ToolContext`).

The domain stack reads everything it needs about a tool from its spec: whether the domain enables it,
its ServiceAccounts, its metadata database, its Helm chart and its UI. It creates the ServiceAccounts,
the databases, the release (waiting for both), the sign-in gateway and the Ingress; the tool's
`deploy` builds the release's values and creates what only this tool needs (Secrets, RBAC, ...),
always with `parent=ctx.stack`, so the URNs stay those of the domain stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.catalog import CatalogEndpoint
from components.charts import ChartName
from components.config import StackConfig
from components.domain_config import Domain
from components.identity_provider import SignInSettings
from components.interfaces import DomainServices
from components.metadata_db import DatabaseSpec, MetadataDatabases
from components.sizing import SizeKey, Sizes
from components.warehouse_access import WarehouseAccess


@dataclass(frozen=True)
class ToolNames:
    """Kubernetes names of one tool in a domain namespace."""

    release: str
    service_account: str


def tool_names(domain: str, tool: str) -> ToolNames:
    return ToolNames(release=f"{domain}-{tool}", service_account=tool)


@dataclass(frozen=True)
class Ui:
    """A web UI, served only behind the domain's sign-in gateway at `<tool>.<domain>.<baseDomain>`."""

    service: Callable[[str], tuple[str, int]]  # release name -> the chart's UI Service and port
    health_path: str  # unauthenticated: the gateway passes it through, the load balancer checks it


@dataclass
class ToolContext:
    """Everything a tool's `deploy` may use. What it creates takes `parent=stack`."""

    stack: pulumi.ComponentResource
    domain: Domain
    config: StackConfig
    namespace: str
    labels: dict[str, str]
    tags: dict[str, str]
    services: DomainServices
    databases: MetadataDatabases
    sizes: Sizes
    urls: dict[str, str]  # the enabled UIs' public URLs by tool
    guardrails: pulumi.Resource  # the namespace and its policies: objects in the namespace wait for it
    warehouse_access: WarehouseAccess | None  # the IAM warehouse user's schema grants (AWS)
    warehouse_secret: str | None  # the warehouse login Secret (password-authenticated warehouses)
    catalog: CatalogEndpoint | None
    sign_in: SignInSettings | None
    # The shared `sandbox` namespace when this stack creates it (one stack); None in a domain stack.
    sandbox_namespace: pulumi.Resource | None = None

    def release_name(self, tool: str) -> str:
        return tool_names(self.domain.name, tool).release


@dataclass
class ToolDeployment:
    """What `deploy` returns: the release's values and what the release waits for besides its database."""

    values: pulumi.Input[dict[str, Any]] | None = None  # None: no Helm release (a spec without `chart`)
    after: list[pulumi.Resource] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)  # merged into the domain's stack exports


@dataclass(frozen=True)
class ToolSpec:
    """One per-domain tool. `name` is its key under `tools:` in the domain file."""

    name: str
    enabled: Callable[[Domain], bool]
    deploy: Callable[[ToolContext], ToolDeployment]
    chart: ChartName | None = None  # its pin in components/charts.py; the release is `<domain>-<name>`
    # The tool's own ServiceAccount is named after the tool; `extra_service_accounts` come after all tools' own.
    own_service_account: bool = True
    extra_service_accounts: tuple[str, ...] = ()
    mounts_api_token: frozenset[str] = frozenset()  # ServiceAccounts whose pods talk to the Kubernetes API
    database: DatabaseSpec | None = None  # its database and login on the domain's metadata PostgreSQL
    ui: Ui | None = None
    restricted: bool = True  # False: its pods are not proven to pass Pod Security `restricted`
    size_keys: tuple[SizeKey, ...] = ()  # its components in the sizing profiles (components/sizing.py)
    secrets: tuple[str, ...] = ()  # the Kubernetes Secrets `deploy` creates in the domain namespace
