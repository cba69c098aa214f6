"""Helm values for the central catalog: DataHub (chart `datahub` 1.1.0) and, in dev, its
prerequisites (chart `datahub-prerequisites` 0.3.0), both from https://helm.datahubproject.io/,
in the platform namespace.

In-cluster (dev): SQL (MySQL, or PostgreSQL), OpenSearch and Kafka come from the prerequisites release.
Managed (prod): SQL is an RDS PostgreSQL (`DatahubArgs.sql`) and search an Amazon OpenSearch domain
reached with IAM through EKS Pod Identity (`DatahubArgs.opensearch`); the prerequisites release then
runs only what is left in-cluster (`PrerequisitesArgs`). Kafka stays in-cluster unless
`kafka_bootstrap` names another one. The schema registry is DataHub's internal one (GMS), which
works with any Kafka.

Kubernetes Secrets the stack must create (platform namespace):
- `auth_secret`, keys `system_client_secret`, `token_service_signing_key`, `token_service_salt`:
  metadata-service authentication (the chart's own secret provisioning is off).
- `encryption_secret`, key `encryption_key_secret`: encrypts secrets stored in DataHub.
- `users_secret`, key `user.props`: the frontend's initial users, one `user:password` per line
  (for example `datahub:<generated>`); mounted over the image's default file, whose password is known.
- dev, MySQL: `mysql_secret`, keys `mysql-root-password`, `mysql-password`, `mysql-replication-password`
  (the MySQL subchart's `auth.existingSecret`; DataHub logs in as root).
- dev, PostgreSQL: `postgresql_secret`, keys `postgres-password`, `password`, `replication-password`
  (DataHub logs in as `postgres` with `postgres-password`).
- prod: `sql.password_secret`, key `sql.password_key`.

ServiceAccounts (stack-created, for Pod Identity): `app_service_account` (GMS, frontend, actions)
and `operator_service_account` (the system-update Jobs; the chart adds its scale-down Role).

The frontend's Ingress stays disabled; the stack's Ingress targets `datahub_ui_service(release)`,
and domains call GMS at `datahub_gms_service(release)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from components.values.common import (
    Postgres,
    check_label,
    check_name,
    container_security_context,
    helm_fullname,
    pod_security_context,
    resources,
)

# DataHub images run as uid/gid 1000 (the chart's defaults).
_UID = 1000
_USERS_VOLUME = "datahub-users"
# Where the frontend reads its initial users (the chart mounts `defaultUserCredentials` there too).
_USER_PROPS_PATH = "/datahub-frontend/conf/user.props"
# The OpenSearch chart's default cluster name + "-master"; independent of the release name.
PREREQUISITES_OPENSEARCH_HOST = "opensearch-cluster-master"
MYSQL_ROOT_PASSWORD_KEY = "mysql-root-password"
POSTGRES_ADMIN_PASSWORD_KEY = "postgres-password"


@dataclass(frozen=True)
class AwsOpenSearch:
    """An Amazon OpenSearch domain endpoint (HTTPS), authenticated with SigV4 from Pod Identity."""

    host: str
    region: str
    port: int = 443


@dataclass(frozen=True)
class DatahubSignIn:
    """The frontend's own OIDC login (pac4j): users are provisioned just in time with their groups."""

    discovery_uri: str
    client_id: str
    client_secret: str  # the Secret holding the client secret
    client_secret_key: str
    base_url: str  # the frontend's public URL (redirects to <base_url>/callback/oidc)
    scopes: tuple[str, ...]
    groups_claim: str
    # Off in prod: the root user's password login (JAAS) goes away; the system client stays for emergencies.
    password_login: bool


@dataclass(frozen=True)
class DatahubArgs:
    auth_secret: str
    encryption_secret: str
    users_secret: str
    app_service_account: str
    operator_service_account: str
    prerequisites_release: str = "prerequisites"
    # dev: the prerequisites' database; `sql` (an external PostgreSQL) replaces it.
    prerequisites_sql: Literal["mysql", "postgresql"] = "mysql"
    mysql_secret: str = "mysql-secrets"
    postgresql_secret: str = "postgresql-secrets"
    sql: Postgres | None = None
    opensearch: AwsOpenSearch | None = None
    kafka_bootstrap: str | None = None
    # Browsers send Secure cookies over HTTPS only: off when the Ingress serves plain HTTP (no certificate).
    secure_cookies: bool = True
    # Per-component requests/limits (keys: gms, frontend, actions, systemUpdate); defaults otherwise.
    resources: dict[str, dict[str, Any]] | None = None
    sign_in: DatahubSignIn | None = None

    def __post_init__(self) -> None:
        check_label(self.prerequisites_release, "prerequisites_release")
        for field in (
            "auth_secret",
            "encryption_secret",
            "users_secret",
            "app_service_account",
            "operator_service_account",
            "mysql_secret",
            "postgresql_secret",
        ):
            check_name(getattr(self, field), field)


def _secret_ref(name: str, key: str) -> dict[str, str]:
    return {"secretRef": name, "secretKey": key}


def _postgres_datasource(host: str, port: int, database: str, user: str, password: dict[str, str], tls: bool):
    query = "?sslmode=require" if tls else ""
    return {
        "host": f"{host}:{port}",
        "port": str(port),
        "url": f"jdbc:postgresql://{host}:{port}/{database}{query}",
        "driver": "org.postgresql.Driver",
        "database": database,
        "username": user,
        "password": password,
    }


def _datasource(args: DatahubArgs) -> dict[str, Any]:
    if args.sql:
        pg = args.sql
        password = _secret_ref(pg.password_secret, pg.password_key)
        return _postgres_datasource(pg.host, pg.port, pg.database, pg.user, password, pg.tls)
    host = f"{args.prerequisites_release}-{args.prerequisites_sql}"
    if args.prerequisites_sql == "postgresql":
        password = _secret_ref(args.postgresql_secret, POSTGRES_ADMIN_PASSWORD_KEY)
        return _postgres_datasource(host, 5432, "datahub", "postgres", password, tls=False)
    return {
        "host": f"{host}:3306",
        "hostForMysqlClient": host,
        "port": "3306",
        "url": (
            f"jdbc:mysql://{host}:3306/datahub?verifyServerCertificate=false&useSSL=true"
            "&useUnicode=yes&characterEncoding=UTF-8&enabledTLSProtocols=TLSv1.2"
        ),
        "driver": "com.mysql.cj.jdbc.Driver",
        "database": "datahub",
        "username": "root",
        "password": _secret_ref(args.mysql_secret, MYSQL_ROOT_PASSWORD_KEY),
    }


def _search(args: DatahubArgs) -> dict[str, Any]:
    if args.opensearch:
        return {
            "host": args.opensearch.host,
            "port": str(args.opensearch.port),
            "useSSL": "true",
            "iam": {"enabled": True},
            "region": args.opensearch.region,
        }
    return {"host": PREREQUISITES_OPENSEARCH_HOST, "port": "9200", "useSSL": "false"}


# The kubelet re-checks the registry (and pull credentials) for the tag at each start.
_PULL_ALWAYS = {"pullPolicy": "Always"}


def _workload(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {
        "podSecurityContext": pod_security_context(_UID, _UID),
        "securityContext": container_security_context(_UID, _UID),
        "resources": resources(cpu, memory, cpu_limit=cpu_limit, memory_limit=memory_limit),
    }


def _sized(workload: dict[str, Any], args: DatahubArgs, component: str) -> dict[str, Any]:
    if args.resources and component in args.resources:
        return {**workload, "resources": args.resources[component]}
    return workload


def datahub_values(args: DatahubArgs) -> dict[str, Any]:
    kafka = args.kafka_bootstrap or f"{args.prerequisites_release}-kafka:9092"
    return {
        "global": {
            "sql": {"datasource": _datasource(args)},
            "elasticsearch": _search(args),
            "kafka": {"bootstrap": {"server": kafka}, "schemaregistry": {"type": "INTERNAL"}},
            "datahub": {
                "appServiceAccount": {"create": False, "name": args.app_service_account},
                "metadata_service_authentication": {
                    "enabled": True,
                    "systemClientSecret": _secret_ref(args.auth_secret, "system_client_secret"),
                    "tokenService": {
                        "signingKey": _secret_ref(args.auth_secret, "token_service_signing_key"),
                        "salt": _secret_ref(args.auth_secret, "token_service_salt"),
                    },
                    # The stack owns these Secrets; the chart would generate its own otherwise.
                    "provisionSecrets": {"enabled": False},
                },
                "encryptionKey": {
                    **_secret_ref(args.encryption_secret, "encryption_key_secret"),
                    "provisionSecret": {"enabled": False},
                },
            },
        },
        "datahub-gms": {
            "enabled": True,
            # The chart default is a LoadBalancer; only the stack's Ingress exposes DataHub.
            "service": {"type": "ClusterIP"},
            "image": dict(_PULL_ALWAYS),
            **_sized(_workload("500m", "2Gi", "2", "3Gi"), args, "gms"),
        },
        "datahub-frontend": {
            "enabled": True,
            "service": {"type": "ClusterIP"},
            "ingress": {"enabled": False},
            "authCookies": {"secure": "true" if args.secure_cookies else "false"},
            **_frontend_sign_in(args.sign_in),
            "image": dict(_PULL_ALWAYS),
            "extraVolumes": [{"name": _USERS_VOLUME, "secret": {"secretName": args.users_secret}}],
            "extraVolumeMounts": [
                {"name": _USERS_VOLUME, "mountPath": _USER_PROPS_PATH, "subPath": "user.props", "readOnly": True}
            ],
            **_sized(_workload("250m", "1Gi", "1", "1536Mi"), args, "frontend"),
        },
        "acryl-datahub-actions": {
            "enabled": True,
            "image": dict(_PULL_ALWAYS),
            **_sized(_workload("250m", "512Mi", "1", "1Gi"), args, "actions"),
        },
        "datahubSystemUpdate": {
            "serviceAccount": {"create": False, "name": args.operator_service_account, "rbac": True},
            **_sized(_workload("250m", "1Gi", "1", "2Gi"), args, "systemUpdate"),
        },
        # In chart 1.1.0 this only renders the suspended CronJob `<release>-datahub-restore-indices-job-template`,
        # from which an operator starts RestoreIndices (rebuild search from SQL; docs/runbooks/restore.md).
        # It runs as the app ServiceAccount, which reaches SQL and search.
        "datahubUpgrade": {
            "enabled": True,
            "podSecurityContext": pod_security_context(_UID, _UID),
            "securityContext": container_security_context(_UID, _UID),
            "restoreIndices": {"resources": resources("300m", "256Mi", cpu_limit="500m", memory_limit="512Mi")},
        },
    }


def _frontend_sign_in(sign_in: DatahubSignIn | None) -> dict[str, Any]:
    if sign_in is None:
        return {}
    return {
        "oidcAuthentication": {
            "enabled": True,
            "provider": "other",
            "clientId": sign_in.client_id,
            "clientSecretRef": {"secretRef": sign_in.client_secret, "secretKey": sign_in.client_secret_key},
            "discoveryUri": sign_in.discovery_uri,
            "scope": " ".join(sign_in.scopes),
            "oidcBaseUrl": sign_in.base_url,
        },
        "extraEnvs": [
            {"name": "AUTH_OIDC_JIT_PROVISIONING_ENABLED", "value": "true"},
            {"name": "AUTH_OIDC_EXTRACT_GROUPS_ENABLED", "value": "true"},
            {"name": "AUTH_OIDC_GROUPS_CLAIM", "value": sign_in.groups_claim},
            {"name": "AUTH_JAAS_ENABLED", "value": "true" if sign_in.password_login else "false"},
        ],
    }


@dataclass(frozen=True)
class PrerequisitesArgs:
    """Which stores run in-cluster: `sql` None and `opensearch` False when managed services replace them."""

    sql: Literal["mysql", "postgresql"] | None = "mysql"
    opensearch: bool = True
    kafka: bool = True
    mysql_secret: str = "mysql-secrets"
    postgresql_secret: str = "postgresql-secrets"
    opensearch_volume: str = "10Gi"
    opensearch_resources: dict[str, Any] | None = None
    opensearch_heap: str = "512m"

    def __post_init__(self) -> None:
        check_name(self.mysql_secret, "mysql_secret")
        check_name(self.postgresql_secret, "postgresql_secret")

    @property
    def needed(self) -> bool:
        """Whether the release would run anything at all."""
        return self.sql is not None or self.opensearch or self.kafka


def datahub_prerequisites_values(args: PrerequisitesArgs) -> dict[str, Any]:
    """A small set: single-node OpenSearch, single-pod KRaft Kafka, one SQL database, each only when asked; no Neo4j."""
    return {
        "elasticsearch": {"enabled": False},
        "opensearch": {
            "enabled": args.opensearch,
            "singleNode": True,
            "opensearchJavaOpts": f"-Xms{args.opensearch_heap} -Xmx{args.opensearch_heap}",
            "resources": args.opensearch_resources or resources("250m", "1Gi", cpu_limit="1", memory_limit="1536Mi"),
            "persistence": {"size": args.opensearch_volume},
        },
        "neo4j": {"enabled": False},
        "mysql": {"enabled": args.sql == "mysql", "auth": {"existingSecret": args.mysql_secret}},
        "postgresql": {"enabled": args.sql == "postgresql", "auth": {"existingSecret": args.postgresql_secret}},
        "cp-helm-charts": {"enabled": False},
        "kafka": {"enabled": args.kafka},
    }


# The frontend's health endpoint; the chart's readiness probe uses it (datahub-frontend templates/deployment.yaml).
# `/` redirects to the login page.
FRONTEND_HEALTH_PATH = "/admin"


def datahub_ui_service(release: str) -> tuple[str, int]:
    """Service name and port of the frontend (`datahub-frontend.fullname`, `service.port`)."""
    check_label(release, "release")
    return helm_fullname(release, "datahub-frontend"), 9002


def datahub_gms_service(release: str) -> tuple[str, int]:
    """Service name and port of GMS (`datahub-gms.fullname`, `service.port`): the metadata API domains call."""
    check_label(release, "release")
    return helm_fullname(release, "datahub-gms"), 8080
