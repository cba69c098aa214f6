"""CentralCatalog: the central DataHub every domain registers in and feeds, in namespace `platform`.

Creates:
- NamespaceGuardrails for `platform`, the same controls a domain gets: Pod Security labels, a
  ResourceQuota from `catalog.quota` (limits twice the requests) and a LimitRange, default-deny
  NetworkPolicies and explicit allows: the load balancer to the frontend port, every domain
  namespace (label `dataplatform.io/team`, set on domain namespaces only) to the GMS port, egress to
  the private data services and to an external Kafka's ports;
- generated secrets (pulumi-random) stored only in Kubernetes Secrets: the system client secret,
  token signing key and salt (metadata-service authentication is on), the encryption key, the users
  file with the `datahub` admin password, and the SQL passwords;
- the stores: managed RDS PostgreSQL / Amazon OpenSearch from `foundation.provision_catalog` when
  `catalog.sql == "rds"` / `catalog.search == "opensearch"`, and the official datahub-prerequisites
  chart, sized small, for whatever stays in-cluster (Kafka unless `kafkaBootstrapServers` is set);
- ServiceAccounts for DataHub, its system-update Jobs and the token issuer, and the issuer's code: the
  module `components/jobs/datahub_issuer.py`, read from this repository into an immutable
  ConfigMap named after a digest of its source, so domain issuer Jobs re-run when it changes;
- the `datahub` release (values from `components.values.datahub`) and an internal Ingress at
  `datahub.<baseDomain>` through the foundation's ingress settings for group `platform`.

`endpoint` (CatalogEndpoint) is what a DomainCatalogFeed needs. The issuer
(components.jobs.datahub_issuer) runs per domain in this namespace as DataHub's system client: it upserts the
domain's ingestion user, team group and access policy, creates a personal access token for that user
(GraphQL createAccessToken) and writes it into the domain's own Secret, revoking the token of two
rotations ago.

Invariants: Helm values carry Secret names only; the system client secret never leaves this
namespace (domains get per-domain, expiring, revocable tokens); only the frontend port is reachable
from the load balancer and only the GMS port from domain namespaces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.charts import release_args
from components.config import StackConfig
from components.domain_config import parse_quantity
from components.guardrails import ContainerDefaults, GuardrailsArgs, NamespaceGuardrails, PortsTo, Quota
from components.identity_provider import SignInSettings, public_url
from components.images import DATAHUB_INGESTION
from components.interfaces import CatalogRequest, CatalogServices, Foundation
from components.jobs import datahub_issuer
from components.sign_in import GATEWAY_PORT, SignInGateways, UiTarget
from components.sizing import PROFILES
from components.values.common import Postgres
from components.values.datahub import (
    FRONTEND_HEALTH_PATH,
    MYSQL_ROOT_PASSWORD_KEY,
    AwsOpenSearch,
    DatahubArgs,
    DatahubSignIn,
    PrerequisitesArgs,
    datahub_gms_service,
    datahub_prerequisites_values,
    datahub_ui_service,
    datahub_values,
)
from components.workloads import ui_ingress_annotations, ui_ingress_spec

NAMESPACE = "platform"
RELEASE = "datahub"
PREREQUISITES_RELEASE = "prerequisites"
# Set on domain namespaces only (components.domain.guardrails_args); dataplatform.io/domain is on platform namespaces too.
DOMAIN_NAMESPACE_LABEL = "dataplatform.io/team"
# Pinned with its contract in components/images.py. It runs as uid 1000; its venv (on PATH) lives in
# /home/datahub, so HOME is moved, not mounted over.
INGESTION_IMAGE = DATAHUB_INGESTION.ref
IMAGE_UID = 1000
SYSTEM_CLIENT_ID = "__datahub_system"

AUTH_SECRET = "datahub-auth"
ENCRYPTION_SECRET = "datahub-encryption"
USERS_SECRET = "datahub-users"
MYSQL_SECRET = "mysql-secrets"
SQL_SECRET = "datahub-db"
SQL_PASSWORD_KEY = "password"
APP_SA = "datahub"
OPERATOR_SA = "datahub-operator"
ISSUER_SA = "datahub-token-issuer"
ISSUER_CONFIGMAP_PREFIX = "datahub-token-issuer"
# The module the issuer Jobs run; the ConfigMap key is its file name.
ISSUER_MODULE_FILE = Path(datahub_issuer.__file__)
ISSUER_SCRIPT_KEY = ISSUER_MODULE_FILE.name
# The auth Secret's key the issuer mounts (its only key that leaves DataHub's own pods).
SYSTEM_CLIENT_SECRET_KEY = "system_client_secret"
# Each domain namespace gets this Secret (key `token`), written by the issuer only.
TOKEN_SECRET = "datahub-ingestion-token"
TOKEN_KEY = "token"
FRONTEND_HOST = "datahub"
SIGN_IN_SECRET = "datahub-sign-in"
SIGN_IN_SECRET_KEY = "client-secret"
# Container defaults for chart pods that set no resources (Kafka's JVM takes 1 GiB of heap).
CONTAINER_DEFAULTS = ContainerDefaults("250m", "512Mi", "1", "2Gi")
LIMITS_FACTOR = 2


@dataclass(frozen=True)
class CatalogEndpoint:
    """What a domain needs to register in and feed the catalog."""

    namespace: str
    gms_url: str  # in-cluster
    frontend_url: str
    image: str
    token_secret: str  # created in each domain namespace, key `token_key`
    token_key: str
    issuer_service_account: str
    issuer_configmap: str
    auth_secret: str  # system client secret, in `namespace` only
    ready: tuple[pulumi.Resource, ...]  # the DataHub release: wait for it before calling GMS


def _times(quantity: str, factor: int) -> str:
    value = parse_quantity(quantity) * factor
    if quantity.endswith(("Mi", "Gi")):
        return f"{int(value / Decimal(2**20))}Mi"
    return f"{int(value * 1000)}m"


def issuer_source() -> str:
    """The issuer module's source, as the ConfigMap holds it."""
    return ISSUER_MODULE_FILE.read_text(encoding="utf-8")


def issuer_configmap_name(script: str) -> str:
    """The issuer ConfigMap's name: a digest of the source it holds."""
    return f"{ISSUER_CONFIGMAP_PREFIX}-{hashlib.sha256(script.encode()).hexdigest()[:10]}"


def _kafka_ports(bootstrap: str) -> tuple[int, ...]:
    return tuple(sorted({int(server.rsplit(":", 1)[1]) for server in bootstrap.split(",")}))


def catalog_ui_url(config: StackConfig, foundation: Foundation) -> str:
    ingress = foundation.ingress_settings("platform")
    return public_url(ingress.scheme, f"{FRONTEND_HOST}.{config.ingress.base_domain}", ingress.public_port)


def catalog_endpoint(
    config: StackConfig, foundation: Foundation, ready: tuple[pulumi.Resource, ...] = ()
) -> CatalogEndpoint:
    """What a domain needs of the catalog: names only, all fixed by the config and this module, so a domain
    stack (components/split.py) computes the same endpoint as the stack that runs the catalog."""
    gms_service, gms_port = datahub_gms_service(RELEASE)
    return CatalogEndpoint(
        namespace=NAMESPACE,
        gms_url=f"http://{gms_service}.{NAMESPACE}.svc:{gms_port}",
        frontend_url=catalog_ui_url(config, foundation),
        image=INGESTION_IMAGE,
        token_secret=TOKEN_SECRET,
        token_key=TOKEN_KEY,
        issuer_service_account=ISSUER_SA,
        issuer_configmap=issuer_configmap_name(issuer_source()),
        auth_secret=AUTH_SECRET,
        ready=ready,
    )


class CentralCatalog(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        foundation: Foundation,
        sign_in: SignInSettings | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Without `sign_in` the frontend gets no Ingress: it is never served without sign-in."""
        super().__init__("dataplatform:catalog:CentralCatalog", name, None, opts)
        cat = config.catalog
        sizes = PROFILES[config.sizing]
        ns = NAMESPACE
        labels = {"app.kubernetes.io/part-of": "datahub"}
        allow = foundation.network_allowances()
        private_egress = allow.private_egress
        if cat.kafka_bootstrap_servers:
            ports = _kafka_ports(cat.kafka_bootstrap_servers)
            private_egress += tuple(PortsTo(cidr=t.cidr, ports=ports) for t in allow.private_egress)
        q = cat.quota
        self.guardrails = NamespaceGuardrails(
            name,
            GuardrailsArgs(
                namespace=ns,
                owner="platform",
                quota=Quota(
                    requests_cpu=q.cpu,
                    requests_memory=q.memory,
                    limits_cpu=_times(q.cpu, LIMITS_FACTOR),
                    limits_memory=_times(q.memory, LIMITS_FACTOR),
                    pods=q.pods,
                ),
                container_defaults=CONTAINER_DEFAULTS,
                ingress_cidrs=allow.ingress_cidrs,
                ingress_namespaces=allow.ingress_namespaces,
                # The load balancer reaches the sign-in gateway only.
                ui_ports=(GATEWAY_PORT,),
                private_egress=private_egress + allow.credentials_egress,
                served_ports=(datahub_gms_service(RELEASE)[1],),
                served_to_label=DOMAIN_NAMESPACE_LABEL,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails])

        def meta(n: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=n, namespace=ns, labels=labels)

        def password(key: str, length: int = 32) -> pulumi.Output[str]:
            return random.RandomPassword(
                f"{name}-{key}",
                random.RandomPasswordArgs(length=length, special=False),
                opts=pulumi.ResourceOptions(parent=self),
            ).result

        def secret(key: str, secret_name: str, data: dict[str, pulumi.Input[str]]) -> k8s.core.v1.Secret:
            return k8s.core.v1.Secret(
                f"{name}-{key}", metadata=meta(secret_name), type="Opaque", string_data=data, opts=in_ns
            )

        # Basic auth splits "<id>:<secret>" on ':', so generated values are alphanumeric (special=False).
        secrets = [
            secret(
                "auth",
                AUTH_SECRET,
                {
                    SYSTEM_CLIENT_SECRET_KEY: password("system-client-secret"),
                    "token_service_signing_key": password("token-signing-key", 64),
                    "token_service_salt": password("token-salt"),
                },
            ),
            secret("encryption", ENCRYPTION_SECRET, {"encryption_key_secret": password("encryption-key")}),
            secret("users", USERS_SECRET, {"user.props": pulumi.Output.concat("datahub:", password("admin"))}),
        ]

        # DataHub's own OIDC login, where its pods can read the issuer's discovery document.
        frontend_sign_in: DatahubSignIn | None = None
        if sign_in is not None and sign_in.discovery_from_pods:
            secrets.append(secret("sign-in", SIGN_IN_SECRET, {SIGN_IN_SECRET_KEY: sign_in.client_secret}))
            frontend_sign_in = DatahubSignIn(
                discovery_uri=f"{sign_in.endpoints.issuer_url}/.well-known/openid-configuration",
                client_id=sign_in.client_id,
                client_secret=SIGN_IN_SECRET,
                client_secret_key=SIGN_IN_SECRET_KEY,
                base_url=catalog_ui_url(config, foundation),
                scopes=sign_in.scopes,
                groups_claim=sign_in.groups_claim,
                password_login=config.environment != "prod",
            )

        sql = cat.rds if cat.sql == "rds" else None
        search = cat.opensearch if cat.search == "opensearch" else None
        services: CatalogServices | None = None
        if sql or search:
            services = foundation.provision_catalog(
                CatalogRequest(namespace=ns, service_accounts=(APP_SA, OPERATOR_SA), sql=sql, search=search),
                parent=self,
            )
        if services and services.sql:
            secrets.append(secret("sql", SQL_SECRET, {SQL_PASSWORD_KEY: services.sql.admin_password}))
        prerequisites = PrerequisitesArgs(
            sql=None if sql else "mysql",
            opensearch=search is None,
            kafka=cat.kafka_bootstrap_servers is None,
            mysql_secret=MYSQL_SECRET,
            opensearch_resources=sizes.opensearch if sizes else None,
            opensearch_heap=sizes.opensearch_heap if sizes else "512m",
        )
        if prerequisites.sql == "mysql":
            secrets.append(
                secret(
                    "mysql",
                    MYSQL_SECRET,
                    {
                        MYSQL_ROOT_PASSWORD_KEY: password("mysql-root"),
                        "mysql-password": password("mysql-user"),
                        "mysql-replication-password": password("mysql-replication"),
                    },
                )
            )

        def service_account(sa: str, automount: bool) -> k8s.core.v1.ServiceAccount:
            return k8s.core.v1.ServiceAccount(
                f"{name}-sa-{sa}", metadata=meta(sa), automount_service_account_token=automount, opts=in_ns
            )

        # Only the system-update Jobs (scale-down) and the issuer (domain Secrets) call the Kubernetes API.
        accounts = [
            service_account(APP_SA, False),
            service_account(OPERATOR_SA, True),
            service_account(ISSUER_SA, True),
        ]
        # Named after its source and immutable: a new module is a new ConfigMap, so the issuer Job
        # (whose name hashes the ConfigMap's) runs again, and a running Job never sees a half-updated one.
        source = issuer_source()
        issuer_configmap = issuer_configmap_name(source)
        self.issuer_scripts = k8s.core.v1.ConfigMap(
            f"{name}-token-issuer",
            metadata=meta(issuer_configmap),
            immutable=True,
            data={ISSUER_SCRIPT_KEY: source},
            opts=in_ns,
        )

        def release(
            key: str,
            chart_name: str,
            release_name: str,
            values: pulumi.Input[dict[str, Any]],
            after: Sequence[pulumi.Resource],
        ) -> k8s.helm.v3.Release:
            return k8s.helm.v3.Release(
                f"{name}-{key}",
                release_args(
                    chart_name, {**config.charts}, release_name=release_name, namespace=ns, values=values, timeout=1800
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.guardrails, *after]),
            )

        after = [*secrets, *accounts, *(services.resources if services else [])]
        self.prerequisites: k8s.helm.v3.Release | None = None
        if prerequisites.needed:
            self.prerequisites = release(
                "prerequisites",
                "datahub-prerequisites",
                PREREQUISITES_RELEASE,
                datahub_prerequisites_values(prerequisites),
                secrets,
            )
            after.append(self.prerequisites)

        ingress = foundation.ingress_settings("platform")
        args = DatahubArgs(
            auth_secret=AUTH_SECRET,
            encryption_secret=ENCRYPTION_SECRET,
            users_secret=USERS_SECRET,
            app_service_account=APP_SA,
            operator_service_account=OPERATOR_SA,
            prerequisites_release=PREREQUISITES_RELEASE,
            mysql_secret=MYSQL_SECRET,
            kafka_bootstrap=cat.kafka_bootstrap_servers,
            secure_cookies=ingress.scheme == "https",
            sign_in=frontend_sign_in,
            resources=sizes.datahub if sizes else None,
        )
        values: pulumi.Input[dict[str, Any]] = datahub_values(args)
        if services:
            managed_sql, endpoint, region, database = (
                services.sql,
                services.opensearch_endpoint,
                services.region,
                services.sql_database,
            )
            values = pulumi.Output.all(
                managed_sql.host if managed_sql else "", endpoint if endpoint is not None else ""
            ).apply(
                lambda a: datahub_values(
                    replace(
                        args,
                        sql=Postgres(
                            a[0], managed_sql.port, database, managed_sql.admin_user, SQL_SECRET, SQL_PASSWORD_KEY
                        )
                        if managed_sql
                        else None,
                        opensearch=AwsOpenSearch(a[1], region) if endpoint is not None else None,
                    )
                )
            )
        self.release = release("datahub", "datahub", RELEASE, values, after)

        base_domain = config.ingress.base_domain
        host = f"{FRONTEND_HOST}.{base_domain}"
        ui_service, ui_port = datahub_ui_service(RELEASE)
        # The frontend answers / with a redirect to the login page; the gateway lets the health path through.
        annotations = ui_ingress_annotations(ingress.class_name, ingress.annotations, FRONTEND_HEALTH_PATH)
        self.ingress: k8s.networking.v1.Ingress | None = None
        self.sign_in: SignInGateways | None = None
        if sign_in is not None:
            self.sign_in = SignInGateways(
                f"{name}-sign-in",
                namespace=ns,
                settings=sign_in,
                ingress=ingress,
                targets={"datahub": UiTarget(host, ui_service, ui_port, FRONTEND_HEALTH_PATH)},
                releases={"datahub": RELEASE},
                # Empty: every signed-in user may search the catalog.
                allowed_groups=[*sign_in.catalog_groups, *sign_in.admin_groups] if sign_in.catalog_groups else [],
                chart_overrides={**config.charts},
                labels=labels,
                after={"datahub": [self.release]},
                opts=in_ns,
            )
            gateway, gateway_port = self.sign_in.backends["datahub"]
            self.ingress = k8s.networking.v1.Ingress(
                f"{name}-frontend",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="datahub", namespace=ns, labels=labels, annotations=annotations
                ),
                spec=ui_ingress_spec(ingress.class_name, host, gateway, gateway_port),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.sign_in.releases["datahub"]]),
            )

        self.namespace = ns
        self.ingestion_token_secret = TOKEN_SECRET
        self.endpoint = catalog_endpoint(config, foundation, ready=(self.release, self.issuer_scripts))
        self.gms_url = self.endpoint.gms_url
        self.frontend_url = self.endpoint.frontend_url
        self.exports: dict[str, Any] = {
            "namespace": ns,
            "url": self.frontend_url,
            "gmsUrl": self.gms_url,
            "ingestionTokenSecret": TOKEN_SECRET,
            "sql": cat.sql,
            "search": cat.search,
            "kafka": "external" if cat.kafka_bootstrap_servers else "in-cluster",
        }
        self.register_outputs(self.exports)
