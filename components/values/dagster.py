"""Helm values for a domain's Dagster (chart `dagster`, version `components.charts.DAGSTER_VERSION`).

One release per domain, in the domain namespace: webserver, daemon, and one user-code deployment
built from the domain's image. Runs are Kubernetes Jobs (K8sRunLauncher) in the same namespace,
with the user-code deployment's env, Secrets, ServiceAccount and resources.

Kubernetes Secrets the stack must create (in the domain namespace):
- `postgres.password_secret`, key `postgresql-password`: the run/event storage password. The chart
  reads this fixed key (`global.postgresqlSecretName`); it generates no Secret of its own here.
- `storage.credentials_secret` (S3-compatible mode only), keys `AWS_ACCESS_KEY_ID` and
  `AWS_SECRET_ACCESS_KEY`: mounted into the webserver (reads compute logs), user code and runs.
- `warehouse.credentials_secret` (optional, e.g. local mode), keys `WAREHOUSE_USER` and
  `WAREHOUSE_PASSWORD`: warehouse login for dbt in user code and runs. In AWS mode the user code
  authenticates to Redshift with its Pod Identity role instead.

ServiceAccounts (created by the stack, so Pod Identity associations can name them):
`service_account` for webserver and daemon, `user_code_service_account` for user code and runs.

The chart's Ingress stays disabled: the stack creates a networking.k8s.io/v1 Ingress (same ALB
settings for every tool) that targets `dagster_ui_service(release)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.values.common import (
    Image,
    Postgres,
    S3Access,
    check_label,
    check_name,
    container_security_context,
    env_list,
    pod_security_context,
    resources,
)

# The chart mounts this key of `global.postgresqlSecretName` as DAGSTER_PG_PASSWORD.
POSTGRES_PASSWORD_KEY = "postgresql-password"
# Keys of `WarehouseEndpoint.credentials_secret`, for the stack that writes it.
WAREHOUSE_CREDENTIAL_KEYS = ("WAREHOUSE_USER", "WAREHOUSE_PASSWORD")
COMPUTE_LOG_PREFIX = "dagster/compute-logs"
DATA_DOCS_PREFIX = "docs/"
USER_CODE_PORT = 3030
# Dagster images run as root unless told otherwise; any non-zero uid works for them.
_UID = 1000

_WEBSERVER_RESOURCES = resources("250m", "512Mi", cpu_limit="1")
_DAEMON_RESOURCES = resources("250m", "512Mi", cpu_limit="1")
_INIT_RESOURCES = resources("50m", "64Mi")
_USER_CODE_RESOURCES = resources("250m", "512Mi", cpu_limit="1")
_RUN_RESOURCES = resources("500m", "1Gi", cpu_limit="2", memory_limit="2Gi")


@dataclass(frozen=True)
class WarehouseEndpoint:
    """The domain warehouse endpoint; credentials only by Secret name (see module docstring)."""

    host: str
    port: int
    database: str
    credentials_secret: str | None = None

    def __post_init__(self) -> None:
        if self.credentials_secret is not None:
            check_name(self.credentials_secret, "WarehouseEndpoint.credentials_secret")


@dataclass(frozen=True)
class DagsterArgs:
    namespace: str
    code_location: str
    image: Image
    module_name: str
    postgres: Postgres
    storage: S3Access
    warehouse: WarehouseEndpoint
    dbt_target: str
    service_account: str
    user_code_service_account: str
    # Requests/limits from the domain file ({requests: {cpu, memory}, limits: {...}}); defaults otherwise.
    webserver_resources: dict[str, Any] | None = None
    daemon_resources: dict[str, Any] | None = None
    user_code_resources: dict[str, Any] | None = None
    run_resources: dict[str, Any] | None = None
    # Extra EnvVars for user code and runs (e.g. the DataHub sensor's URL and token secretKeyRef).
    extra_env: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        check_label(self.namespace, "namespace")
        # The chart names the user-code Service after the deployment: it must be a DNS label.
        check_label(self.code_location, "code_location")
        check_name(self.service_account, "service_account")
        check_name(self.user_code_service_account, "user_code_service_account")
        if self.postgres.password_key != POSTGRES_PASSWORD_KEY:
            raise ValueError(
                f"the dagster chart reads the Postgres password from key {POSTGRES_PASSWORD_KEY!r} "
                f"(got password_key={self.postgres.password_key!r})"
            )


def user_code_env(args: DagsterArgs) -> dict[str, str]:
    """Non-secret settings the domain's code reads (dbt profile, data docs, S3 endpoint)."""
    env = {
        "WAREHOUSE_HOST": args.warehouse.host,
        "WAREHOUSE_PORT": str(args.warehouse.port),
        "WAREHOUSE_DB": args.warehouse.database,
        "LAKE_BUCKET": args.storage.bucket,
        "AWS_REGION": args.storage.region,
        "DBT_TARGET": args.dbt_target,
        "DATA_DOCS_PREFIX": DATA_DOCS_PREFIX,
    }
    if args.storage.endpoint_url:
        # Read by boto3/botocore for every S3 client.
        env["AWS_ENDPOINT_URL"] = args.storage.endpoint_url
        env["AWS_ENDPOINT_URL_S3"] = args.storage.endpoint_url
    return env


def _secret_refs(*names: str | None) -> list[dict[str, str]]:
    return [{"name": name} for name in names if name]


def dagster_values(args: DagsterArgs) -> dict[str, Any]:
    storage, postgres = args.storage, args.postgres
    container = container_security_context(_UID, _UID)
    pod = pod_security_context(_UID, _UID)

    compute_logs: dict[str, Any] = {
        "bucket": storage.bucket,
        "prefix": COMPUTE_LOG_PREFIX,
        "region": storage.region,
    }
    if storage.endpoint_url:
        compute_logs["endpointUrl"] = storage.endpoint_url

    user_secrets = _secret_refs(storage.credentials_secret, args.warehouse.credentials_secret)
    return {
        "global": {"postgresqlSecretName": postgres.password_secret},
        "generatePostgresqlPasswordSecret": False,
        "serviceAccount": {"create": False, "name": args.service_account},
        "telemetry": {"enabled": False},
        "postgresql": {
            "enabled": False,
            "postgresqlHost": postgres.host,
            "postgresqlUsername": postgres.user,
            "postgresqlDatabase": postgres.database,
            "postgresqlParams": {"sslmode": "require"} if postgres.tls else {},
            "service": {"port": postgres.port},
        },
        "dagsterWebserver": {
            "podSecurityContext": pod,
            "securityContext": container,
            "resources": args.webserver_resources or _WEBSERVER_RESOURCES,
            "initContainerResources": _INIT_RESOURCES,
            # The webserver reads compute logs from the bucket.
            "envSecrets": _secret_refs(storage.credentials_secret),
        },
        "dagsterDaemon": {
            "enabled": True,
            "podSecurityContext": pod,
            "securityContext": container,
            "resources": args.daemon_resources or _DAEMON_RESOURCES,
            "initContainerResources": _INIT_RESOURCES,
        },
        "computeLogManager": {
            "type": "S3ComputeLogManager",
            "config": {"s3ComputeLogManager": compute_logs},
        },
        "runLauncher": {
            "type": "K8sRunLauncher",
            "config": {
                "k8sRunLauncher": {
                    "jobNamespace": args.namespace,
                    "imagePullPolicy": args.image.pull_policy,
                    "envSecrets": user_secrets,
                    "resources": args.run_resources or _RUN_RESOURCES,
                    "securityContext": container,
                    "runK8sConfig": {"podSpecConfig": {"securityContext": pod}},
                }
            },
        },
        "dagster-user-deployments": {
            "enabled": True,
            "enableSubchart": True,
            "serviceAccount": {"create": False, "name": args.user_code_service_account},
            "deployments": [
                {
                    "name": args.code_location,
                    "image": {
                        "repository": args.image.repository,
                        "tag": args.image.tag,
                        "pullPolicy": args.image.pull_policy,
                    },
                    "dagsterApiGrpcArgs": ["--module-name", args.module_name],
                    "port": USER_CODE_PORT,
                    # Runs inherit env, Secrets, resources and ServiceAccount of the code location.
                    "includeConfigInLaunchedRuns": {"enabled": True},
                    "env": env_list(user_code_env(args)) + list(args.extra_env),
                    "envSecrets": user_secrets,
                    "podSecurityContext": pod,
                    "securityContext": container,
                    "resources": args.user_code_resources or _USER_CODE_RESOURCES,
                }
            ],
        },
        "ingress": {"enabled": False},
    }


# The webserver's health endpoint (JSON, 200); the chart's readiness probe uses it (`dagsterWebserver.readinessProbe`).
HEALTH_PATH = "/server_info"


def dagster_ui_service(release: str) -> tuple[str, int]:
    """Service name and port of the webserver (`dagster.webserver.fullname`, `dagsterWebserver.service.port`)."""
    check_label(release, "release")
    return f"{release}-dagster-webserver"[:63].rstrip("-"), 80
