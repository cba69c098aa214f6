"""DataDomainStack: everything one data domain gets from its `domains/<name>.yaml`.

Creates, under one component named after the domain:
- NamespaceGuardrails: the namespace (PSS labels), ResourceQuota, LimitRange and NetworkPolicies;
- the domain's data services from its foundation (on AWS: lake bucket with zone prefixes,
  Redshift Serverless warehouse, metadata PostgreSQL on RDS, the Pod Identity role);
- one ServiceAccount per tool, one database and login per tool (MetadataDatabases);
- the tools as Helm releases, with values from the pure builders in `components.values`:
  Dagster (running the domain's user-code image with dbt and Great Expectations), Airbyte and
  Superset, each with an Ingress at `<tool>.<domain>.<baseDomain>`.

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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.catalog import CatalogEndpoint
from components.catalog_feed import DomainCatalogFeed, SupersetSource, grant_summary
from components.charts import release_args, resolve
from components.domain_config import Domain, Product, parse_quantity
from components.guardrails import ContainerDefaults, GuardrailsArgs, NamespaceGuardrails, Quota
from components.identity_provider import SignInSettings, public_url
from components.interfaces import (
    DomainRequest,
    DomainServices,
    Foundation,
    IngressSettings,
    ProductGrant,
    SandboxRequest,
    TableSchema,
)
from components.metadata_db import DatabaseSpec, MetadataDatabases
from components.quality import DomainQuality
from components.retirement import RETIRED_TAG, Keep, StackRecord
from components.sign_in import GATEWAY_PORT, SignInGateways, UiTarget
from components.sizing import PROFILES
from components.values import airbyte as airbyte_values
from components.values import dagster as dagster_values
from components.values import superset as superset_values
from components.values.common import Image, Postgres, S3Access
from components.warehouse_access import GrantsRequest, WarehouseAccess
from components.workloads import ui_ingress_annotations, ui_ingress_spec

DOMAIN_LABEL = "dataplatform.io/domain"
CATALOG_NAMESPACE = "platform"
# Quota limits allow bursting to twice the requested total.
LIMITS_FACTOR = 2


@dataclass(frozen=True)
class ToolNames:
    """Kubernetes names of one tool in a domain namespace."""

    release: str
    service_account: str


def tool_names(domain: str, tool: str) -> ToolNames:
    return ToolNames(release=f"{domain}-{tool}", service_account=tool)


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


# Tools whose pods are not proven to pass Pod Security `restricted` (docs/security.md): Dagster and Superset
# are not rendered offline, and Airbyte's launcher starts connector pods as root unless rootless workloads
# are on. A namespace without them runs only the platform's Jobs, which the render check proves restricted.
NOT_RESTRICTED_TOOLS = frozenset({"dagster", "airbyte", "superset"})


def pss_enforce_level(domain: Domain) -> str:
    return "baseline" if NOT_RESTRICTED_TOOLS & set(enabled_tools(domain)) else "restricted"


def ui_ports(domain: Domain) -> list[int]:
    """Container ports the load balancer reaches: the sign-in gateways' only; the UIs stay in-namespace."""
    return [GATEWAY_PORT] if enabled_tools(domain) else []


def ui_urls(domain: Domain, ingress: IngressSettings, base_domain: str) -> dict[str, str]:
    """Each enabled tool's public URL, `<scheme>://<tool>.<domain>.<baseDomain>[:port]`."""
    return {
        t: public_url(ingress.scheme, f"{t}.{domain.name}.{base_domain}", ingress.public_port)
        for t in enabled_tools(domain)
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
    t = domain.tools
    return [
        name
        for name, on in (
            ("dagster", t.dagster.enabled),
            ("airbyte", t.airbyte.enabled),
            ("superset", t.superset.enabled),
        )
        if on
    ]


def domain_tags(domain: Domain) -> dict[str, str]:
    return {"domain": domain.name, "owner": domain.owners.team, "cost-center": domain.cost_center}


def table_schema(product: Product) -> TableSchema | None:
    s = product.table_schema
    return None if s is None else TableSchema(s.format, tuple((c.name, c.type) for c in s.columns))


def sandbox_request(domain: Domain) -> SandboxRequest | None:
    """The analyst sandbox the foundation builds for `tools.sandbox` (nothing when it is off)."""
    sandbox = domain.tools.sandbox
    if not sandbox.enabled or domain.retired:
        return None
    return SandboxRequest(
        scan_limit_bytes=sandbox.scan_limit_bytes,
        products=tuple(ProductGrant(domain.name, p.name, p.prefix, table_schema(p)) for p in domain.products),
    )


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
        sandbox=None if keep.retired else sandbox_request(domain),
    )


def grants_for(domain: Domain, all_domains: dict[str, Domain]) -> tuple[ProductGrant, ...]:
    grants = []
    for ref in sorted(domain.consumes):
        producer, _, product = ref.partition(".")
        spec = next(p for p in all_domains[producer].products if p.name == product)
        grants.append(ProductGrant(producer=producer, product=product, prefix=spec.prefix, schema=table_schema(spec)))
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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Without `sign_in` the UIs get no Ingress at all: none is ever served without sign-in."""
        super().__init__("dataplatform:domain:DataDomainStack", domain.name, None, opts)
        d = domain.name
        self._sign_in = sign_in
        self.domain = domain
        if domain.retired:
            self.services = foundation.provision_domain(domain_request(domain, (), (), Keep.retiring()), parent=self)
            self.exports: dict[str, Any] = {"retired": True, "bucket": self.services.s3.bucket}
            self.register_outputs(self.exports)
            return
        config = foundation.config
        tools = enabled_tools(domain)
        labels = {DOMAIN_LABEL: d}
        sizes = PROFILES[config.sizing]
        self.sizes = sizes

        self.guardrails = NamespaceGuardrails(
            d, guardrails_args(domain, foundation), opts=pulumi.ResourceOptions(parent=self)
        )
        ns = domain.name
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails])

        service_accounts = [tool_names(d, t).service_account for t in tools]
        if domain.tools.dagster.enabled:
            service_accounts.append(DAGSTER_USER_CODE_SA)
        if domain.tools.datahub_ingestion.enabled:
            service_accounts.append(INGESTION_SA)
        self.service_accounts = {
            sa: k8s.core.v1.ServiceAccount(
                f"{d}-sa-{sa}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=sa, namespace=ns, labels=labels),
                automount_service_account_token=sa in (DAGSTER_SA, AIRBYTE_SA, DAGSTER_USER_CODE_SA),
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
            tools=[DATABASES[t] for t in tools],
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

        def release(
            tool: str, values: pulumi.Input[dict[str, Any]], extra: list[pulumi.Resource] | None = None
        ) -> None:
            self.releases[tool] = k8s.helm.v3.Release(
                f"{d}-{tool}",
                release_args(
                    tool, {**config.charts}, release_name=tool_names(d, tool).release, namespace=ns, values=values
                ),
                opts=pulumi.ResourceOptions.merge(after_db, pulumi.ResourceOptions(depends_on=extra or [])),
            )

        s3 = services.s3
        warehouse_secret = self._warehouse_credentials(services, ns, labels)
        # The user code's DataHub sensor pushes Dagster runs to the catalog (DataHub has no pull source).
        dagster_catalog: dagster_values.CatalogAccess | None = None
        # The platform kit in the user code also publishes quality results with this URL and token.
        if catalog is not None and (
            (domain.tools.datahub_ingestion.enabled and domain.tools.datahub_ingestion.sources.dagster)
            or (domain.tools.dagster.enabled and domain.quality.catalog)
        ):
            dagster_catalog = dagster_values.CatalogAccess(catalog.gms_url, catalog.token_secret, catalog.token_key)
        self.quality: DomainQuality | None = None
        if domain.tools.dagster.enabled:
            # The kit's checks run in the user code: alert channel and settings only when Dagster runs.
            quality = self.quality = DomainQuality(
                f"{d}-quality",
                domain,
                config,
                namespace=ns,
                role_arn=services.role_arn,
                warehouse_kind=services.warehouse.kind,
                tags=domain_tags(domain),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails]),
            )
            cfg = domain.tools.dagster
            db = self.databases.databases["dagster"]
            assert cfg.image is not None and cfg.code_location is not None  # the model requires both when enabled
            workgroup = wh.workgroup if wh.workgroup is not None else pulumi.Output.from_input("")
            values = pulumi.Output.all(s3.bucket, db.host, services.warehouse.host, workgroup, quality.env).apply(
                lambda a, cfg=cfg, db=db: dagster_values.dagster_values(
                    dagster_values.DagsterArgs(
                        namespace=ns,
                        code_location=d,
                        image=Image(
                            repository=cfg.image.repository,  # type: ignore[union-attr]
                            tag=cfg.image.tag,  # type: ignore[union-attr]
                            # The local stack runs images loaded into kind, which no registry serves.
                            pull_policy="Always" if config.foundation == "aws" else "IfNotPresent",
                        ),
                        grpc_args=tuple(cfg.code_location.dagster_api_grpc_args),  # type: ignore[union-attr]
                        port=cfg.port,
                        domain_env=dict(cfg.env),
                        dbt_project_dir=cfg.dbt.project_dir if cfg.dbt.enabled else None,
                        postgres=Postgres(a[1], db.port, db.database, db.user, db.secret_name, db.password_key),
                        storage=S3Access(a[0], s3.region, s3.endpoint_url, s3.credentials_secret),
                        warehouse=dagster_values.WarehouseEndpoint(
                            a[2], services.warehouse.port, services.warehouse.database, warehouse_secret, a[3] or None
                        ),
                        dbt_target=cfg.dbt.target
                        or services.warehouse.kind,  # the example profiles: redshift, postgres
                        service_account=DAGSTER_SA,
                        user_code_service_account=DAGSTER_USER_CODE_SA,
                        webserver_resources=sizes.dagster_webserver
                        if sizes
                        else cfg.resources.webserver.model_dump(by_alias=True),
                        daemon_resources=sizes.dagster_daemon
                        if sizes
                        else cfg.resources.daemon.model_dump(by_alias=True),
                        user_code_resources=sizes.dagster_user_code
                        if sizes
                        else cfg.resources.user_code.model_dump(by_alias=True),
                        run_resources=sizes.dagster_run if sizes else None,
                        catalog=dagster_catalog,
                        quality_env=a[4],
                        quality_secret=quality.secret_name,
                    )
                )
            )
            # dbt in the user code and its runs needs its schema first; the alert channel too.
            release(
                "dagster",
                values,
                [*([self.warehouse_access] if self.warehouse_access else []), *self.quality.resources],
            )

        if domain.tools.airbyte.enabled:
            db = self.databases.databases["airbyte"]
            url = self.urls["airbyte"]
            values = pulumi.Output.all(s3.bucket, db.host).apply(
                lambda a, db=db, url=url: airbyte_values.airbyte_values(
                    airbyte_values.AirbyteArgs(
                        storage=S3Access(a[0], s3.region, s3.endpoint_url, s3.credentials_secret),
                        postgres=Postgres(a[1], db.port, db.database, db.user, db.secret_name, db.password_key),
                        service_account=AIRBYTE_SA,
                        airbyte_url=url,
                        replicas=1 if sizes else domain.tools.airbyte.replicas,
                        resources=sizes.airbyte_main
                        if sizes
                        else domain.tools.airbyte.resources.model_dump(by_alias=True),
                        job_resources=sizes.airbyte_job
                        if sizes
                        else domain.tools.airbyte.job_resources.model_dump(by_alias=True),
                        support_resources=sizes.airbyte_support if sizes else None,
                        image_tag=resolve("airbyte", {**config.charts}).version,
                    )
                )
            )
            release("airbyte", values, [self._airbyte_rbac(ns, labels)])

        if domain.tools.superset.enabled:
            release("superset", *self._superset(domain, services, ns, labels))

        ui_services = {
            "dagster": dagster_values.dagster_ui_service,
            "airbyte": airbyte_values.airbyte_ui_service,
            "superset": superset_values.superset_ui_service,
        }
        self.ingresses = {}
        self.sign_in: SignInGateways | None = None
        if sign_in is not None and tools:
            targets = {}
            for tool in tools:
                service, port = ui_services[tool](tool_names(d, tool).release)
                targets[tool] = UiTarget(f"{tool}.{d}.{base_domain}", service, port, UI_HEALTH_PATHS[tool])
            self.sign_in = SignInGateways(
                f"{d}-sign-in",
                namespace=ns,
                settings=sign_in,
                ingress=ingress,
                targets=targets,
                releases={t: tool_names(d, t).release for t in tools},
                allowed_groups=[*domain.access_groups, *sign_in.admin_groups],
                chart_overrides={**config.charts},
                labels=labels,
                after={t: [self.releases[t]] for t in tools},
                opts=in_ns,
            )
            for tool in tools:
                service, port = self.sign_in.backends[tool]
                self.ingresses[tool] = k8s.networking.v1.Ingress(
                    f"{d}-{tool}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=tool,
                        namespace=ns,
                        labels=labels,
                        # The gateway passes the health path through without sign-in.
                        annotations=ui_ingress_annotations(
                            ingress.class_name, ingress.annotations, UI_HEALTH_PATHS[tool]
                        ),
                    ),
                    spec=ui_ingress_spec(ingress.class_name, targets[tool].host, service, port),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[self.sign_in.releases[tool]]),
                )

        self.catalog_feed: DomainCatalogFeed | None = None
        if catalog is not None:
            superset = None
            if domain.tools.superset.enabled:
                svc, port = superset_values.superset_ui_service(tool_names(d, "superset").release)
                superset = SupersetSource(
                    f"http://{svc}.{ns}.svc:{port}",
                    SUPERSET_ADMIN,
                    SUPERSET_CREDENTIALS_SECRET,
                    "SUPERSET_ADMIN_PASSWORD",
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
            "bucket": s3.bucket,
            "warehouseEndpoint": services.warehouse.host,
            "roleArn": services.role_arn,
            "urls": self.urls,
            "grants": grant_summary(grants),
            **({"catalog": self.catalog_feed.exports} if self.catalog_feed else {}),
            **({"quality": self.quality.exports} if self.quality else {}),
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

    def _superset(
        self, domain: Domain, services: DomainServices, ns: str, labels: dict[str, str]
    ) -> tuple[pulumi.Output[dict[str, Any]], list[pulumi.Resource]]:
        """Superset's values, and the one Secret its pods read every credential from."""
        d = domain.name
        cfg = domain.tools.superset
        db = self.databases.databases["superset"]
        wh = services.warehouse
        release_name = tool_names(d, "superset").release
        redis = (
            superset_values.SupersetRedis()
            if cfg.redis.bundled
            else superset_values.SupersetRedis(cfg.redis.host, cfg.redis.port)
        )

        sandbox = services.sandbox

        def args(db_host: str, wh_host: str, workgroup: str | None, analyst: str) -> superset_values.SupersetArgs:
            iam = wh.auth == "iam"
            return superset_values.SupersetArgs(
                env_secret=SUPERSET_ENV_SECRET,
                postgres=Postgres(
                    db_host, db.port, db.database, db.user, SUPERSET_CREDENTIALS_SECRET, superset_values.DB_PASSWORD_KEY
                ),
                redis=redis,
                admin_username=SUPERSET_ADMIN,
                admin_email=domain.owners.email,
                warehouse=superset_values.RedshiftConnection(
                    name=f"{d} warehouse",
                    host=wh_host,
                    port=wh.port,
                    database=wh.database,
                    user="iam" if iam else wh.user,
                    iam_workgroup=workgroup if iam else None,
                    region=services.s3.region if iam else None,
                    dialect="redshift" if wh.kind == "redshift" else "postgresql",
                ),
                athena=superset_values.AthenaConnection(
                    name=f"{d} sandbox",
                    region=sandbox.region,
                    workgroup=sandbox.workgroup,
                    database=sandbox.database,
                    role_arn=analyst,
                )
                if sandbox
                else None,
                service_account=SUPERSET_SA,
                sign_in=self._superset_sign_in(domain),
                replicas=1 if self.sizes else cfg.replicas,
                resources=self.sizes.superset_web if self.sizes else cfg.resources.model_dump(by_alias=True),
                support_resources=self.sizes.superset_support if self.sizes else None,
            )

        workgroup = wh.workgroup if wh.workgroup is not None else pulumi.Output.from_input("")
        analyst = sandbox.analyst_role_arn if sandbox else pulumi.Output.from_input("")
        plain = pulumi.Output.all(db.host, wh.host, workgroup, analyst).apply(
            lambda a: superset_values.superset_secret_env(args(a[0], a[1], a[2] or None, a[3]), release_name)
        )
        child = pulumi.ResourceOptions(parent=self)
        random_key = random.RandomPassword(
            f"{d}-superset-secret-key", random.RandomPasswordArgs(length=64, special=False), opts=child
        )
        admin = random.RandomPassword(
            f"{d}-superset-admin", random.RandomPasswordArgs(length=24, special=False), opts=child
        )
        redis_pw = random.RandomPassword(
            f"{d}-superset-redis", random.RandomPasswordArgs(length=32, special=False), opts=child
        )
        secret_data: dict[str, pulumi.Input[str]] = {
            "SUPERSET_SECRET_KEY": random_key.result,
            superset_values.DB_PASSWORD_KEY: self.databases.passwords["superset"],
            "SUPERSET_ADMIN_PASSWORD": admin.result,
            "REDIS_PASSWORD": redis_pw.result,
            "redis-password": redis_pw.result,
        }
        if wh.password is not None:
            secret_data["WAREHOUSE_PASSWORD"] = wh.password
        if self._sign_in is not None:
            secret_data[superset_values.SIGN_IN_CLIENT_SECRET_KEY] = self._sign_in.client_secret
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails])
        credentials = k8s.core.v1.Secret(
            f"{d}-superset-credentials",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SUPERSET_CREDENTIALS_SECRET, namespace=ns, labels=labels),
            type="Opaque",
            string_data=secret_data,
            opts=after_ns,
        )
        # Connection settings only; the chart reads them from a Secret, not from values.
        connection = k8s.core.v1.Secret(
            f"{d}-superset-env",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SUPERSET_ENV_SECRET, namespace=ns, labels=labels),
            type="Opaque",
            string_data=plain,
            opts=after_ns,
        )
        values = pulumi.Output.all(db.host, wh.host, workgroup, analyst).apply(
            lambda a: superset_values.superset_values(args(a[0], a[1], a[2] or None, a[3]))
        )
        # The init job registers the Athena connection; queries need the role's policies and tables.
        return values, [credentials, connection, *(sandbox.resources if sandbox else [])]

    def _superset_sign_in(self, domain: Domain) -> superset_values.SupersetSignIn | None:
        """Owners (and the platform admins) are Superset Admins; the domain's other groups are viewers."""
        s = self._sign_in
        if s is None:
            return None
        e = s.endpoints
        return superset_values.SupersetSignIn(
            issuer_url=e.issuer_url,
            client_id=s.client_id,
            scopes=s.scopes,
            groups_claim=s.groups_claim,
            owner_groups=(domain.owners_group, *s.admin_groups),
            viewer_groups=tuple(g for g in domain.access_groups if g != domain.owners_group),
            authorize_url=e.login_url,
            token_url=e.redeem_url,
            jwks_url=e.jwks_url,
        )

    def _airbyte_rbac(self, ns: str, labels: dict[str, str]) -> pulumi.Resource:
        """The chart's own Role uses apiGroups ["*"]; this one names exactly what Airbyte uses."""
        d = self.domain.name
        verbs = ["get", "list", "watch", "create", "update", "patch", "delete"]
        role = k8s.rbac.v1.Role(
            f"{d}-airbyte",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="airbyte", namespace=ns, labels=labels),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""],
                    resources=["configmaps", "endpoints", "pods", "pods/log", "pods/exec", "pods/attach", "secrets"],
                    verbs=verbs,
                ),
                k8s.rbac.v1.PolicyRuleArgs(api_groups=["batch"], resources=["jobs"], verbs=verbs),
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails]),
        )
        return k8s.rbac.v1.RoleBinding(
            f"{d}-airbyte",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="airbyte", namespace=ns, labels=labels),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name="airbyte"),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=AIRBYTE_SA, namespace=ns)],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
        )


DAGSTER_SA = "dagster"
DAGSTER_USER_CODE_SA = "dagster-user-code"
AIRBYTE_SA = "airbyte"
SUPERSET_SA = "superset"
INGESTION_SA = "datahub-ingestion"
SUPERSET_ENV_SECRET = "superset-env"
SUPERSET_CREDENTIALS_SECRET = "superset-credentials"
SUPERSET_ADMIN = "admin"
WAREHOUSE_SECRET = "warehouse-credentials"
DB_INIT_SA = "metadata-db-init"
# The UIs' unauthenticated health endpoints: the gateways let these alone through, and the load
# balancer's target groups check them.
UI_HEALTH_PATHS = {
    "dagster": dagster_values.HEALTH_PATH,
    "airbyte": airbyte_values.HEALTH_PATH,
    "superset": superset_values.HEALTH_PATH,
}

DATABASES = {
    "dagster": DatabaseSpec("dagster", password_key=dagster_values.POSTGRES_PASSWORD_KEY),
    "airbyte": DatabaseSpec("airbyte", user_key=airbyte_values.DATABASE_USER_KEY, createdb=True),
    "superset": DatabaseSpec("superset"),
}
