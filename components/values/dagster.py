"""Helm values for a domain's Dagster (chart `dagster`, version `components.charts.DAGSTER_VERSION`).

One release per domain, in the domain namespace: webserver, daemon, and one user-code deployment
built from the domain's image, serving `dagster api grpc` with the code location's arguments on the
domain's port. Runs are Kubernetes Jobs (K8sRunLauncher) in the same namespace with the same env,
Secrets, token mount and ServiceAccount as the code server, but the run resources: the launcher
carries all of it, and the code location's container context stays out of runs
(`includeConfigInLaunchedRuns: false`), because dagster-k8s merges that context over the
launcher's config, so the code server's small resources would win (chart helper
`dagsterUserDeployments.k8sContainerContext` puts `resources` in it; dagster_k8s
`K8sContainerContext.create_for_run` merges it last).

Kubernetes Secrets the stack must create (in the domain namespace):
- `postgres.password_secret`, key `postgresql-password`: the run/event storage password. The chart
  reads this fixed key (`global.postgresqlSecretName`); it generates no Secret of its own here.
- `storage.credentials_secret` (S3-compatible mode only), keys `AWS_ACCESS_KEY_ID` and
  `AWS_SECRET_ACCESS_KEY`: mounted into the webserver (reads compute logs), user code and runs.
- `warehouse.credentials_secret` (optional, e.g. local mode), keys `WAREHOUSE_USER` and
  `WAREHOUSE_PASSWORD`: warehouse login for dbt in user code and runs. In AWS mode the user code
  authenticates to Redshift Serverless with its Pod Identity role instead (GetCredentials in
  `WAREHOUSE_WORKGROUP`), as the IAM database user that owns the domain's schema.

The catalog token (optional): Secret `catalog.token_secret`, key `catalog.token_key`, mounted as a
directory (never `subPath`, which kubelet does not refresh) so a rotated token reaches running pods;
the code reads the file named by `DATAHUB_GMS_TOKEN_FILE` on each call.

ServiceAccounts (created by the stack, so Pod Identity associations can name them):
`service_account` for webserver and daemon, `user_code_service_account` for user code and runs.

The chart's Ingress stays disabled: the stack creates a networking.k8s.io/v1 Ingress (same ALB
settings for every tool) that targets `dagster_ui_service(release)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components.values.common import (
    Image,
    Postgres,
    S3Access,
    check_label,
    check_name,
    check_secret_key,
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
# Where the catalog token Secret is mounted; the file is DATAHUB_TOKEN_DIR/token.
DATAHUB_TOKEN_DIR = "/var/run/dataplatform/datahub"
DATAHUB_TOKEN_FILE = f"{DATAHUB_TOKEN_DIR}/token"
# `dagster api grpc` options that point at the definitions (dagster_shared.cli.python_pointer_options,
# 1.12.13); the chart itself passes -h and -p.
GRPC_POINTER_OPTIONS = ("--module-name", "--package-name", "--python-file", "--working-directory", "--attribute")
# Env names the platform sets; a domain's own env must not shadow them.
PLATFORM_ENV_PREFIXES = ("AWS_", "DAGSTER_", "DATAHUB_", "DBT_", "QUALITY_", "WAREHOUSE_")
PLATFORM_ENV_NAMES = frozenset({"LAKE_BUCKET", "DATA_DOCS_PREFIX"})
DATA_DOCS_PREFIX = "docs/"
USER_CODE_PORT = 3030
# Dagster's images run as root unless told otherwise and create no user (dagster-io/dagster
# docker/images/dagster-celery-k8s/Dockerfile: pip installs on python slim), so a UID that owns nothing
# writes only where everyone may: /tmp. 10001 is >= 10000 (kept clear of host users; checkov CKV_K8S_40)
# and the example user-code image's own user (examples/domain-user-code/Dockerfile).
_UID = 10001
# The only writable path: an emptyDir, so the root filesystem is read-only (CKV_K8S_22).
TMP_DIR = "/tmp"
TMP_VOLUME = {"name": "tmp", "emptyDir": {}}
TMP_MOUNT = {"name": "tmp", "mountPath": TMP_DIR}

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
    # Redshift Serverless with IAM auth: dbt and the code log in as the pod's role in this workgroup.
    workgroup: str | None = None

    def __post_init__(self) -> None:
        if self.credentials_secret is not None:
            check_name(self.credentials_secret, "WarehouseEndpoint.credentials_secret")


@dataclass(frozen=True)
class CatalogAccess:
    """How the user code reaches the central catalog: its URL, and the token Secret mounted as a file."""

    gms_url: str
    token_secret: str
    token_key: str

    def __post_init__(self) -> None:
        check_name(self.token_secret, "CatalogAccess.token_secret")
        check_secret_key(self.token_key, "CatalogAccess.token_key")


def is_platform_env(name: str) -> bool:
    return name in PLATFORM_ENV_NAMES or name.startswith(PLATFORM_ENV_PREFIXES)


def check_grpc_args(grpc_args: tuple[str, ...]) -> None:
    """`dagster api grpc` pointer arguments: option/value pairs, exactly one definitions pointer, no empty value."""
    if len(grpc_args) < 2 or len(grpc_args) % 2:
        raise ValueError(f"grpc_args must be option/value pairs naming the definitions: {list(grpc_args)!r}")
    options = grpc_args[::2]
    unknown = [o for o in options if o not in GRPC_POINTER_OPTIONS]
    empty = [o for o, v in zip(options, grpc_args[1::2], strict=True) if not v.strip()]
    pointers = [o for o in options if o in GRPC_POINTER_OPTIONS[:3]]
    if unknown or empty or len(pointers) != 1 or len(set(options)) != len(options):
        raise ValueError(
            f"grpc_args {list(grpc_args)!r}: need exactly one of --module-name, --package-name, --python-file, "
            f"optional --working-directory/--attribute, each with a non-empty value"
        )


@dataclass(frozen=True)
class DagsterArgs:
    namespace: str
    code_location: str
    image: Image
    # `dagster api grpc` arguments (Domain CodeLocation.dagster_api_grpc_args), without -h/-p.
    grpc_args: tuple[str, ...]
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
    port: int = USER_CODE_PORT
    # The domain file's plain `env`, for user code and runs.
    domain_env: dict[str, str] = field(default_factory=dict)
    # Absolute dbt project directory in the image (DBT_PROJECT_DIR); None: the image has no dbt project.
    dbt_project_dir: str | None = None
    catalog: CatalogAccess | None = None
    # The quality kit's settings (components.quality), and the Secret with its Slack webhook (whole, envFrom).
    quality_env: dict[str, str] = field(default_factory=dict)
    quality_secret: str | None = None

    def __post_init__(self) -> None:
        check_label(self.namespace, "namespace")
        check_grpc_args(self.grpc_args)
        if not 1024 <= self.port <= 65535:
            raise ValueError(f"port must be 1024-65535 (the code server runs as non-root): {self.port}")
        shadowed = sorted(name for name in self.domain_env if is_platform_env(name))
        if shadowed:
            raise ValueError(f"domain env must not set names the platform sets: {', '.join(shadowed)}")
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
    if args.warehouse.workgroup:
        env["WAREHOUSE_WORKGROUP"] = args.warehouse.workgroup
    if args.storage.endpoint_url:
        # Read by boto3/botocore for every S3 client.
        env["AWS_ENDPOINT_URL"] = args.storage.endpoint_url
        env["AWS_ENDPOINT_URL_S3"] = args.storage.endpoint_url
    if args.dbt_project_dir:
        env["DBT_PROJECT_DIR"] = args.dbt_project_dir
    if args.catalog:
        env["DATAHUB_GMS_URL"] = args.catalog.gms_url
        env["DATAHUB_GMS_TOKEN_FILE"] = DATAHUB_TOKEN_FILE
    return {**args.domain_env, **args.quality_env, **env}


def token_volumes(args: DagsterArgs) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The catalog token Secret as a directory mount (volumes, volumeMounts); empty without a catalog."""
    if args.catalog is None:
        return [], []
    volume = {
        "name": "datahub-token",
        "secret": {
            "secretName": args.catalog.token_secret,
            "items": [{"key": args.catalog.token_key, "path": "token"}],
            # The issuer fills the Secret after the first install; the file appears when it does.
            "optional": True,
            "defaultMode": 0o440,
        },
    }
    return [volume], [{"name": "datahub-token", "mountPath": DATAHUB_TOKEN_DIR, "readOnly": True}]


def _secret_refs(*names: str | None) -> list[dict[str, str]]:
    return [{"name": name} for name in names if name]


def security_contexts() -> tuple[dict[str, Any], dict[str, Any]]:
    """(container, pod) contexts of every Dagster pod: restricted, non-root UID 10001, read-only root filesystem."""
    return {**container_security_context(_UID, _UID), "readOnlyRootFilesystem": True}, pod_security_context(_UID, _UID)


def probes() -> dict[str, dict[str, Any]]:
    """Probes the chart leaves off (`{}` / `enabled: false`). The daemon serves no port: it runs its own
    `dagster-daemon liveness-check`. The webserver's probe its readiness path; the code server's: the chart
    fills in `dagster api grpc-health-check -p <port>` (the command of its readiness probe) when a probe has
    no `exec`. The startup probes give either 5 minutes to load code before liveness counts."""
    startup = {"enabled": True, "periodSeconds": 10, "timeoutSeconds": 10, "failureThreshold": 30}
    liveness = {"periodSeconds": 30, "timeoutSeconds": 10, "failureThreshold": 3}
    http = {"httpGet": {"path": HEALTH_PATH, "port": 80}}
    # Dagster's own check (dagster 1.13.27 dagster/_daemon/cli: `liveness-check` exits 1 unless every daemon
    # heartbeat is younger than DAGSTER_DAEMON_HEARTBEAT_TOLERANCE, which the chart sets); a short Python
    # process, so once a minute, after the first heartbeats.
    daemon = {
        "exec": {"command": ["dagster-daemon", "liveness-check"]},
        "initialDelaySeconds": 60,
        "periodSeconds": 60,
        "timeoutSeconds": 30,
        "failureThreshold": 3,
    }
    return {
        "daemon_liveness": daemon,
        "daemon_readiness": dict(daemon),
        "webserver_liveness": {**http, **liveness},
        "webserver_startup": {**startup, **http},
        "user_code_liveness": dict(liveness),
        "user_code_startup": dict(startup),
    }


def dagster_values(args: DagsterArgs) -> dict[str, Any]:
    storage, postgres = args.storage, args.postgres
    container, pod = security_contexts()
    checks = probes()

    compute_logs: dict[str, Any] = {
        "bucket": storage.bucket,
        "prefix": COMPUTE_LOG_PREFIX,
        "region": storage.region,
    }
    if storage.endpoint_url:
        compute_logs["endpointUrl"] = storage.endpoint_url

    user_secrets = _secret_refs(storage.credentials_secret, args.warehouse.credentials_secret, args.quality_secret)
    env = user_code_env(args)
    token_vols, token_mounts = token_volumes(args)
    volumes, mounts = [TMP_VOLUME, *token_vols], [TMP_MOUNT, *token_mounts]
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
            "volumes": [TMP_VOLUME],
            "volumeMounts": [TMP_MOUNT],
            "livenessProbe": checks["webserver_liveness"],
            "startupProbe": checks["webserver_startup"],
        },
        "dagsterDaemon": {
            "enabled": True,
            "podSecurityContext": pod,
            "securityContext": container,
            "resources": args.daemon_resources or _DAEMON_RESOURCES,
            "initContainerResources": _INIT_RESOURCES,
            "volumes": [TMP_VOLUME],
            "volumeMounts": [TMP_MOUNT],
            "livenessProbe": checks["daemon_liveness"],
            "readinessProbe": checks["daemon_readiness"],
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
                    # "NAME=value" (dagster_k8s parse_env_var splits at the first '=').
                    "envVars": [f"{name}={value}" for name, value in sorted(env.items())],
                    "volumes": volumes,
                    "volumeMounts": mounts,
                    "resources": args.run_resources or _RUN_RESOURCES,
                    "securityContext": container,
                    # pod_spec_config's serviceAccountName overrides the launcher's (the webserver's) account.
                    "runK8sConfig": {
                        "podSpecConfig": {
                            "securityContext": pod,
                            "serviceAccountName": args.user_code_service_account,
                        }
                    },
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
                    "dagsterApiGrpcArgs": list(args.grpc_args),
                    "port": args.port,
                    # Runs get everything from the launcher; this context would override its resources.
                    "includeConfigInLaunchedRuns": {"enabled": False},
                    "env": env_list(env),
                    "envSecrets": user_secrets,
                    "volumes": volumes,
                    "volumeMounts": mounts,
                    "podSecurityContext": pod,
                    "securityContext": container,
                    "resources": args.user_code_resources or _USER_CODE_RESOURCES,
                    "livenessProbe": checks["user_code_liveness"],
                    "startupProbe": checks["user_code_startup"],
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
