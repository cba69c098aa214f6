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
- ServiceAccounts for DataHub, its system-update Jobs and the token issuer, and the issuer's script
  (an immutable ConfigMap named after a digest of the script, so domain issuer Jobs re-run when it changes);
- the `datahub` release (values from `components.values.datahub`) and an internal Ingress at
  `datahub.<baseDomain>` through the foundation's ingress settings for group `platform`.

`endpoint` (CatalogEndpoint) is what a DomainCatalogFeed needs. The issuer script
(`ISSUER_SCRIPT`) runs per domain in this namespace as DataHub's system client: it upserts the
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
ISSUER_SCRIPT_KEY = "issuer.py"
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


def issuer_configmap_name(script: str) -> str:
    """The issuer ConfigMap's name: a digest of the script it holds."""
    return f"{ISSUER_CONFIGMAP_PREFIX}-{hashlib.sha256(script.encode()).hexdigest()[:10]}"


def _kafka_ports(bootstrap: str) -> tuple[int, ...]:
    return tuple(sorted({int(server.rsplit(":", 1)[1]) for server in bootstrap.split(",")}))


def catalog_ui_url(config: StackConfig, foundation: Foundation) -> str:
    ingress = foundation.ingress_settings("platform")
    return public_url(ingress.scheme, f"{FRONTEND_HOST}.{config.ingress.base_domain}", ingress.public_port)


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
                    "system_client_secret": password("system-client-secret"),
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
        # Named after its script and immutable: a new script is a new ConfigMap, so the issuer Job
        # (whose name hashes the ConfigMap's) runs again, and a running Job never sees a half-updated one.
        issuer_configmap = issuer_configmap_name(ISSUER_SCRIPT)
        self.issuer_scripts = k8s.core.v1.ConfigMap(
            f"{name}-token-issuer",
            metadata=meta(issuer_configmap),
            immutable=True,
            data={ISSUER_SCRIPT_KEY: ISSUER_SCRIPT},
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

        gms_service, gms_port = datahub_gms_service(RELEASE)
        self.namespace = ns
        self.gms_url = f"http://{gms_service}.{ns}.svc:{gms_port}"
        self.frontend_url = catalog_ui_url(config, foundation)
        self.ingestion_token_secret = TOKEN_SECRET
        self.endpoint = CatalogEndpoint(
            namespace=ns,
            gms_url=self.gms_url,
            frontend_url=self.frontend_url,
            image=INGESTION_IMAGE,
            token_secret=TOKEN_SECRET,
            token_key=TOKEN_KEY,
            issuer_service_account=ISSUER_SA,
            issuer_configmap=issuer_configmap,
            auth_secret=AUTH_SECRET,
            ready=(self.release, self.issuer_scripts),
        )
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


ISSUER_SCRIPT = r'''"""Issue one domain's DataHub ingestion token and store it in that domain's Secret.

Runs in the catalog namespace as DataHub's system client (HTTP Basic "<client id>:<secret>", which
never leaves this namespace). Idempotent: it upserts the domain's ingestion user, its team group and
an access policy (EDIT_ENTITY, what GMS requires for writes through its REST APIs), creates a
personal access token for the user (GraphQL createAccessToken), writes it into the domain's
pre-created Secret (get/patch only), and revokes the token issued two runs ago, so a run that
started with the previous token can finish.
"""

import base64
import json
import os
import ssl
import time
import urllib.error
import urllib.request

RESTLI = {"X-RestLi-Protocol-Version": "2.0.0"}
CREATE_TOKEN = """
mutation issue($input: CreateAccessTokenInput!) {
  createAccessToken(input: $input) { accessToken metadata { urn } }
}"""
REVOKE_TOKEN = "mutation revoke($id: String!) { revokeAccessToken(tokenId: $id) }"
TOKEN_URN_PREFIX = "urn:li:dataHubAccessToken:"


def call(method, url, body=None, headers=None, context=None, content_type="application/json"):
    """(status, parsed JSON or text) for one HTTP request; HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": content_type, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


class Gms:
    def __init__(self, url, authorization, wait_seconds=900, pause=10):
        self.url = url.rstrip("/")
        self.headers = {"Authorization": authorization}
        self.wait_seconds = wait_seconds
        self.pause = pause

    def wait(self):
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                if call("GET", f"{self.url}/health")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"GMS at {self.url} did not become healthy")
            time.sleep(self.pause)

    def propose(self, entity_type, urn, aspect_name, aspect):
        proposal = {
            "entityType": entity_type,
            "entityUrn": urn,
            "changeType": "UPSERT",
            "aspectName": aspect_name,
            "aspect": {"contentType": "application/json", "value": json.dumps(aspect)},
        }
        status, body = call(
            "POST",
            f"{self.url}/aspects?action=ingestProposal",
            {"proposal": proposal},
            {**self.headers, **RESTLI},
        )
        if status >= 300:
            raise SystemExit(f"upsert {aspect_name} of {urn} failed: HTTP {status} {body}")

    def graphql(self, query, variables):
        status, body = call("POST", f"{self.url}/api/graphql", {"query": query, "variables": variables}, self.headers)
        if status >= 300 or not isinstance(body, dict) or body.get("errors"):
            raise SystemExit(f"GraphQL failed: HTTP {status} {body}")
        return body["data"]


class Kube:
    def __init__(self, api, token, context=None):
        self.api = api.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.context = context

    def _path(self, namespace, name):
        return f"{self.api}/api/v1/namespaces/{namespace}/secrets/{name}"

    def read_secret(self, namespace, name):
        status, body = call("GET", self._path(namespace, name), headers=self.headers, context=self.context)
        if status != 200:
            raise SystemExit(f"cannot read Secret {namespace}/{name}: HTTP {status} {body}")
        return {k: base64.b64decode(v).decode() for k, v in (body.get("data") or {}).items()}

    def write_secret(self, namespace, name, values):
        data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
        status, body = call(
            "PATCH",
            self._path(namespace, name),
            {"data": data},
            self.headers,
            self.context,
            content_type="application/merge-patch+json",
        )
        if status != 200:
            raise SystemExit(f"cannot write Secret {namespace}/{name}: HTTP {status} {body}")


def actor_urn(domain):
    return f"urn:li:corpuser:ingestion-{domain}"


def issue(gms, kube, *, domain, namespace, secret, team, team_email, duration):
    actor = actor_urn(domain)
    gms.wait()
    gms.propose(
        "corpuser",
        actor,
        "corpUserInfo",
        {"active": True, "displayName": f"Ingestion ({domain})", "title": f"Catalog feed of data domain {domain}"},
    )
    gms.propose(
        "corpGroup",
        f"urn:li:corpGroup:{team}",
        "corpGroupInfo",
        {
            "displayName": team,
            "email": team_email,
            "description": "Team owning data domains (managed by the data platform)",
            "admins": [],
            "members": [],
            "groups": [],
        },
    )
    gms.propose(
        "dataHubPolicy",
        f"urn:li:dataHubPolicy:dataplatform-ingestion-{domain}",
        "dataHubPolicyInfo",
        {
            "displayName": f"Data platform: catalog feed of domain {domain}",
            "description": "Lets the domain's ingestion user write metadata (managed by the data platform).",
            "type": "METADATA",
            "state": "ACTIVE",
            "privileges": ["EDIT_ENTITY"],
            "actors": {"users": [actor], "resourceOwners": False, "allUsers": False, "allGroups": False},
            "editable": False,
        },
    )
    current = kube.read_secret(namespace, secret)
    created = gms.graphql(
        CREATE_TOKEN,
        {
            "input": {
                "type": "PERSONAL",
                "actorUrn": actor,
                "duration": duration,
                "name": f"dataplatform-{domain}",
                "description": f"Ingestion and registration of data domain {domain}; rotated by the data platform",
            }
        },
    )["createAccessToken"]
    token_id = created["metadata"]["urn"].removeprefix(TOKEN_URN_PREFIX)
    try:
        kube.write_secret(
            namespace,
            secret,
            {"token": created["accessToken"], "token-id": token_id, "previous-token-id": current.get("token-id", "")},
        )
    except SystemExit:
        gms.graphql(REVOKE_TOKEN, {"id": token_id})
        raise
    stale = current.get("previous-token-id", "")
    if stale and stale != token_id:
        gms.graphql(REVOKE_TOKEN, {"id": stale})
    print(f"issued a {duration} token for {actor} into {namespace}/{secret}")


def main():
    env = os.environ
    service_account = "/var/run/secrets/kubernetes.io/serviceaccount"
    with open(f"{service_account}/token") as f:
        sa_token = f.read().strip()
    kube = Kube(
        f"https://{env['KUBERNETES_SERVICE_HOST']}:{env['KUBERNETES_SERVICE_PORT']}",
        sa_token,
        ssl.create_default_context(cafile=f"{service_account}/ca.crt"),
    )
    gms = Gms(env["DATAHUB_GMS_URL"], f"Basic {env['DATAHUB_SYSTEM_CLIENT_ID']}:{env['DATAHUB_SYSTEM_CLIENT_SECRET']}")
    issue(
        gms,
        kube,
        domain=env["DOMAIN"],
        namespace=env["TARGET_NAMESPACE"],
        secret=env["TOKEN_STORE_NAME"],
        team=env["TEAM"],
        team_email=env["TEAM_EMAIL"],
        duration=env["ACCESS_VALIDITY"],
    )


if __name__ == "__main__":
    main()
'''
