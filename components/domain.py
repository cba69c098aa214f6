"""DataDomainStack: everything one data domain gets from its `domains/<name>.yaml`.

Creates, under one component named after the domain:
- NamespaceGuardrails: the namespace (PSS labels), ResourceQuota, LimitRange and NetworkPolicies;
- the domain's data services from its foundation (on AWS: lake bucket with zone prefixes,
  Redshift Serverless warehouse, metadata PostgreSQL on RDS, the Pod Identity role);
- for each tool the domain enables, from the registry in `components/tools/` (Dagster, running the
  domain's user-code image with dbt and Great Expectations; Airbyte; Superset): its ServiceAccounts,
  its database and login (MetadataDatabases), what its `deploy` creates, its Helm release with values
  from the pure builders in `components.values`, and its UI behind the sign-in gateway with an Ingress
  at `<tool>.<domain>.<baseDomain>`.

A retired domain (`retired: true`, docs/runbooks/offboarding.md) gets only its data services with
`Keep.retiring()`: the data-bearing resources stay registered, unprotected and retained on delete, and
nothing else (no namespace, tools, role or catalog feed). A domain onboarded again with a retired record
(`adopt`) imports those resources by their recorded IDs instead of colliding with their names.

Invariants:
- a disabled tool creates nothing (no release, ServiceAccount, Secret, database or ingress);
- secrets are generated (pulumi-random) or AWS-managed and reach pods only through Secrets this
  component creates; Helm values carry Secret names only;
- every logical name starts with the domain name, and no input depends on any other domain file,
  so adding, removing or reordering domains changes nothing here;
- every Kubernetes object lives in the domain namespace (except the catalog feed's token issuer,
  which runs in the catalog's namespace) and uses the foundation's provider.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import tools
from components.catalog import CatalogEndpoint
from components.catalog_feed import DomainCatalogFeed, grant_summary
from components.charts import release_args
from components.domain_config import Domain, parse_quantity
from components.guardrails import ContainerDefaults, GuardrailsArgs, NamespaceGuardrails, Quota
from components.identity_provider import SignInSettings, public_url
from components.interfaces import (
    DomainRequest,
    DomainServices,
    Foundation,
    IngressSettings,
    ProductGrant,
)
from components.metadata_db import MetadataDatabases
from components.retirement import RETIRED_TAG, Keep, StackRecord
from components.sign_in import GATEWAY_PORT, SignInGateways, UiTarget
from components.sizing import PROFILES, Sizes
from components.tools import sandbox as sandbox_tool
from components.tools import superset as superset_tool
from components.tools.base import ToolContext, ToolSpec, tool_names
from components.warehouse_access import GrantsRequest, WarehouseAccess
from components.workloads import ui_ingress_annotations, ui_ingress_spec

DOMAIN_LABEL = "dataplatform.io/domain"
CATALOG_NAMESPACE = "platform"
# Quota limits allow bursting to twice the requested total.
LIMITS_FACTOR = 2


def _times(quantity: str, factor: int, unit: str) -> str:
    value = parse_quantity(quantity) * factor
    # Round up, so the limit is never below factor x the request.
    if unit == "m":
        return f"{math.ceil(value * 1000)}m"
    return f"{math.ceil(value / Decimal(2**20))}Mi"


def guardrails_args(domain: Domain, foundation: Foundation) -> GuardrailsArgs:
    q, lr = domain.quota, domain.quota.limit_range
    allow = foundation.network_allowances()
    return GuardrailsArgs(
        namespace=domain.name,
        owner=domain.name,
        quota=Quota(
            requests_cpu=q.cpu,
            requests_memory=q.memory,
            limits_cpu=_times(q.cpu, LIMITS_FACTOR, "m"),
            limits_memory=_times(q.memory, LIMITS_FACTOR, "Mi"),
            pods=q.pods,
        ),
        container_defaults=ContainerDefaults(
            request_cpu=lr.requests.cpu,
            request_memory=lr.requests.memory,
            limit_cpu=lr.limits.cpu,
            limit_memory=lr.limits.memory,
        ),
        ingress_cidrs=allow.ingress_cidrs,
        ingress_namespaces=allow.ingress_namespaces,
        egress_namespaces=allow.egress_namespaces,
        ui_ports=tuple(sorted(set(ui_ports(domain)))),
        private_egress=allow.private_egress + allow.credentials_egress,
        catalog_namespace=CATALOG_NAMESPACE,
        extra_labels={"dataplatform.io/team": domain.owners.team},
        pss_enforce=pss_enforce_level(domain),
    )


def pss_enforce_level(domain: Domain) -> str:
    return "baseline" if tools.NOT_RESTRICTED_TOOLS & set(enabled_tools(domain)) else "restricted"


def ui_tools(domain: Domain) -> list[ToolSpec]:
    """The enabled tools that have a UI."""
    return [t for t in tools.enabled(domain) if t.ui is not None]


def ui_ports(domain: Domain) -> list[int]:
    """Container ports the load balancer reaches: the sign-in gateways' only; the UIs stay in-namespace."""
    return [GATEWAY_PORT] if ui_tools(domain) else []


def ui_urls(domain: Domain, ingress: IngressSettings, base_domain: str) -> dict[str, str]:
    """Each enabled UI's public URL, `<scheme>://<tool>.<domain>.<baseDomain>[:port]`."""
    return {
        t.name: public_url(ingress.scheme, f"{t.name}.{domain.name}.{base_domain}", ingress.public_port)
        for t in ui_tools(domain)
    }


def domain_ui_urls(domains: list[Domain], foundation: Foundation) -> dict[str, list[str]]:
    """Every domain UI's public URL by tool (the identity provider's redirect URIs come from these)."""
    out: dict[str, list[str]] = {}
    for domain in domains:
        if domain.retired:
            continue
        urls = ui_urls(domain, foundation.ingress_settings(domain.name), foundation.config.ingress.base_domain)
        for tool, url in urls.items():
            out.setdefault(tool, []).append(url)
    return out


def enabled_tools(domain: Domain) -> list[str]:
    return [t.name for t in tools.enabled(domain)]


def domain_tags(domain: Domain) -> dict[str, str]:
    return {"domain": domain.name, "owner": domain.owners.team, "cost-center": domain.cost_center}


def domain_request(
    domain: Domain, service_accounts: tuple[str, ...], grants: tuple[ProductGrant, ...], keep: Keep
) -> DomainRequest:
    return DomainRequest(
        domain=domain.name,
        namespace=domain.name,
        tags={**domain_tags(domain), **(dict([RETIRED_TAG]) if keep.retired else {})},
        service_accounts=service_accounts,
        warehouse_base_capacity=domain.warehouse.base_capacity,
        metadata_db_instance_class=domain.metadata_db.instance_class,
        metadata_db_storage_gib=domain.metadata_db.allocated_storage_gib,
        metadata_db_engine_version=domain.metadata_db.engine_version,
        raw_retention_days=domain.lake.raw_retention_days,
        noncurrent_version_days=domain.lake.noncurrent_version_expiry_days,
        zones=tuple(domain.lake.zones),
        grants=grants,
        keep=keep,
        sandbox=None if keep.retired else sandbox_tool.request(domain),
    )


def grants_for(domain: Domain, all_domains: dict[str, Domain]) -> tuple[ProductGrant, ...]:
    grants = []
    for ref in sorted(domain.consumes):
        producer, _, product = ref.partition(".")
        spec = next(p for p in all_domains[producer].products if p.name == product)
        grants.append(
            ProductGrant(producer=producer, product=product, prefix=spec.prefix, schema=sandbox_tool.table_schema(spec))
        )
    return tuple(grants)


class DataDomainStack(pulumi.ComponentResource):
    def __init__(
        self,
        domain: Domain,
        foundation: Foundation,
        *,
        grants: tuple[ProductGrant, ...] = (),
        catalog: CatalogEndpoint | None = None,
        adopt: StackRecord | None = None,
        sign_in: SignInSettings | None = None,
        sandbox_namespace: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Without `sign_in` the UIs get no Ingress at all: none is ever served without sign-in.

        `sandbox_namespace`: the notebooks' namespace, when this stack creates it (the analyst
        ServiceAccount waits for it)."""
        super().__init__("dataplatform:domain:DataDomainStack", domain.name, None, opts)
        d = domain.name
        self.domain = domain
        if domain.retired:
            self.services = foundation.provision_domain(domain_request(domain, (), (), Keep.retiring()), parent=self)
            self.exports: dict[str, Any] = {"retired": True, "bucket": self.services.s3.bucket}
            self.register_outputs(self.exports)
            return
        config = foundation.config
        specs = tools.enabled(domain)
        labels = {DOMAIN_LABEL: d}

        self.guardrails = NamespaceGuardrails(
            d, guardrails_args(domain, foundation), opts=pulumi.ResourceOptions(parent=self)
        )
        ns = domain.name
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails])

        # Each tool's own first, then the tools' others: the order is part of the records.
        service_accounts = [tool_names(d, t.name).service_account for t in specs if t.own_service_account]
        service_accounts += [sa for t in specs for sa in t.extra_service_accounts]
        if domain.tools.datahub_ingestion.enabled:
            service_accounts.append(INGESTION_SA)
        mounts_api_token = {sa for t in specs for sa in t.mounts_api_token}
        self.service_accounts = {
            sa: k8s.core.v1.ServiceAccount(
                f"{d}-sa-{sa}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=sa, namespace=ns, labels=labels),
                automount_service_account_token=sa in mounts_api_token,
                opts=in_ns,
            )
            for sa in [*service_accounts, DB_INIT_SA]
        }

        self.services: DomainServices = foundation.provision_domain(
            domain_request(domain, tuple(service_accounts), grants, Keep.adopting(adopt)), parent=self
        )
        services = self.services

        self.databases = MetadataDatabases(
            f"{d}-metadb",
            namespace=ns,
            server=services.metadata_db,
            tools=[t.database for t in specs if t.database is not None],
            service_account=DB_INIT_SA,
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails, *services.resources]),
        )

        # An IAM-authenticated warehouse: the domain's database user gets its schema (named after the domain).
        self.warehouse_access: WarehouseAccess | None = None
        wh = services.warehouse
        if wh.admin is not None and wh.workgroup is not None:
            self.warehouse_access = WarehouseAccess(
                f"{d}-warehouse-grants",
                GrantsRequest(
                    namespace=ns,
                    workgroup=wh.workgroup,
                    database=wh.database,
                    user=wh.user,
                    schema=d,
                    admin=wh.admin,
                    labels=labels,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails]),
            )

        ingress = foundation.ingress_settings(d)
        base_domain = config.ingress.base_domain
        self.urls: dict[str, str] = ui_urls(domain, ingress, base_domain)
        self.releases: dict[str, k8s.helm.v3.Release] = {}
        after_db = pulumi.ResourceOptions(parent=self, depends_on=[self.databases, *self.service_accounts.values()])
        context = ToolContext(
            stack=self,
            domain=domain,
            config=config,
            namespace=ns,
            labels=labels,
            tags=domain_tags(domain),
            services=services,
            databases=self.databases,
            sizes=Sizes(PROFILES[config.sizing]),
            urls=self.urls,
            guardrails=self.guardrails,
            warehouse_access=self.warehouse_access,
            warehouse_secret=self._warehouse_credentials(services, ns, labels),
            catalog=catalog,
            sign_in=sign_in,
            sandbox_namespace=sandbox_namespace,
        )
        tool_exports: dict[str, Any] = {}
        for spec in specs:
            deployment = spec.deploy(context)
            tool_exports.update(deployment.exports)
            if spec.chart is None:
                continue
            if deployment.values is None:
                raise ValueError(f"tool {spec.name}: deploy returned no values for its chart {spec.chart}")
            self.releases[spec.name] = k8s.helm.v3.Release(
                f"{d}-{spec.name}",
                release_args(
                    spec.chart,
                    {**config.charts},
                    release_name=tool_names(d, spec.name).release,
                    namespace=ns,
                    values=deployment.values,
                ),
                opts=pulumi.ResourceOptions.merge(after_db, pulumi.ResourceOptions(depends_on=deployment.after)),
            )

        self.ingresses = {}
        self.sign_in: SignInGateways | None = None
        uis = {t.name: t.ui for t in specs if t.ui is not None}
        if sign_in is not None and uis:
            targets = {}
            for tool, ui in uis.items():
                service, port = ui.service(tool_names(d, tool).release)
                targets[tool] = UiTarget(f"{tool}.{d}.{base_domain}", service, port, ui.health_path)
            self.sign_in = SignInGateways(
                f"{d}-sign-in",
                namespace=ns,
                settings=sign_in,
                ingress=ingress,
                targets=targets,
                releases={t: tool_names(d, t).release for t in uis},
                allowed_groups=[*domain.access_groups, *sign_in.admin_groups],
                chart_overrides={**config.charts},
                labels=labels,
                after={t: [self.releases[t]] for t in uis},
                opts=in_ns,
            )
            for tool, ui in uis.items():
                service, port = self.sign_in.backends[tool]
                self.ingresses[tool] = k8s.networking.v1.Ingress(
                    f"{d}-{tool}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=tool,
                        namespace=ns,
                        labels=labels,
                        # The gateway passes the health path through without sign-in.
                        annotations=ui_ingress_annotations(ingress.class_name, ingress.annotations, ui.health_path),
                    ),
                    spec=ui_ingress_spec(ingress.class_name, targets[tool].host, service, port),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[self.sign_in.releases[tool]]),
                )

        self.catalog_feed: DomainCatalogFeed | None = None
        if catalog is not None:
            superset = None
            if superset_tool.SPEC.enabled(domain):
                superset = superset_tool.catalog_source(
                    ns, tool_names(d, "superset").release, after=(self.releases["superset"],)
                )
            self.catalog_feed = DomainCatalogFeed(
                f"{d}-catalog",
                domain,
                namespace=ns,
                catalog=catalog,
                grants=grants,
                services=services,
                ingestion_service_account=INGESTION_SA,
                superset=superset,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails, *self.service_accounts.values()]),
            )

        self.exports = {
            "namespace": ns,
            "bucket": services.s3.bucket,
            "warehouseEndpoint": services.warehouse.host,
            "roleArn": services.role_arn,
            "urls": self.urls,
            "grants": grant_summary(grants),
            **({"catalog": self.catalog_feed.exports} if self.catalog_feed else {}),
            **tool_exports,
        }
        self.register_outputs(self.exports)

    def _warehouse_credentials(self, services: DomainServices, ns: str, labels: dict[str, str]) -> str | None:
        """A password-authenticated warehouse (local PostgreSQL) needs a login Secret; IAM needs none."""
        wh = services.warehouse
        if wh.password is None:
            return None
        k8s.core.v1.Secret(
            f"{self.domain.name}-warehouse-credentials",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=WAREHOUSE_SECRET, namespace=ns, labels=labels),
            type="Opaque",
            string_data={"WAREHOUSE_USER": wh.user, "WAREHOUSE_PASSWORD": wh.password},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails]),
        )
        return WAREHOUSE_SECRET


INGESTION_SA = "datahub-ingestion"
WAREHOUSE_SECRET = "warehouse-credentials"
DB_INIT_SA = "metadata-db-init"
