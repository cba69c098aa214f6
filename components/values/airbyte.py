"""Helm values for a domain's Airbyte (the V2 chart `airbyte` from https://airbytehq.github.io/charts).

External PostgreSQL (the chart's bundled database and MinIO are off), logs/state/workload output on
the domain bucket, community edition with the chart's built-in auth on (Keycloak is enterprise-only
and stays off). Sync jobs run in the release namespace.

Kubernetes Secrets the stack must create (in the domain namespace):
- `postgres.password_secret`: key `postgres.password_key` (the password) and key `DATABASE_USER`
  (the user name; the chart reads the user from the Secret too). Airbyte and its Temporal use
  this login; Temporal creates its own databases, so the user needs CREATEDB.
- `storage.credentials_secret` (S3-compatible mode only): `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`.
- `airbyte-auth-secrets` (optional): keys `instance-admin-password`, `instance-admin-client-id`,
  `instance-admin-client-secret`, `jwt-signature-secret`. Airbyte's bootloader generates any that
  are missing, in the cluster, so no secret value ever passes through Helm.

Never name a Secret `<release>-airbyte-secrets`: the chart writes that one itself.

ServiceAccount: `service_account` is created by the stack (Pod Identity in AWS mode), with a Role
the stack also creates: the chart's own Role uses apiGroups ["*"], which the baseline forbids, so
`serviceAccount.create` is false. The Role needs, in the core API group, configmaps, endpoints, pods,
pods/log, pods/exec, pods/attach and secrets; in the batch group, jobs; verbs get, list, watch,
create, update, patch, delete.

The chart's Ingress stays disabled; the stack's Ingress targets `airbyte_ui_service(release)`
(airbyte-server serves the web app in chart V2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.charts import PINNED
from components.values.common import (
    Postgres,
    S3Access,
    check_label,
    check_name,
    container_security_context,
    resources,
)

DATABASE_USER_KEY = "DATABASE_USER"
# Airbyte publishes platform images with the same version as the V2 chart (components/charts.py).
AIRBYTE_VERSION = PINNED["airbyte"].version

# Airbyte images run as uid/gid 1000 (the chart's defaults).
_UID = 1000
# Components enabled in the community edition, each with its container resources.
_COMPONENTS = {
    "server": resources("250m", "1Gi", cpu_limit="1", memory_limit="2Gi"),
    "worker": resources("250m", "1Gi", cpu_limit="1", memory_limit="2Gi"),
    "workloadLauncher": resources("100m", "512Mi", cpu_limit="500m", memory_limit="1Gi"),
    "workloadApiServer": resources("100m", "512Mi", cpu_limit="500m", memory_limit="1Gi"),
    "cron": resources("100m", "512Mi", cpu_limit="500m", memory_limit="1Gi"),
    "temporal": resources("100m", "512Mi", cpu_limit="1", memory_limit="1Gi"),
    "airbyteBootloader": resources("100m", "512Mi", cpu_limit="500m", memory_limit="1Gi"),
    "manifestServer": resources("100m", "512Mi", cpu_limit="500m", memory_limit="1Gi"),
}
# The components the domain file sizes (tools.airbyte.replicas / resources).
_SCALED = ("server", "worker")
# Connector pods: the launcher applies these to every job container it starts.
_JOB_RESOURCES = {
    "useConnectorResourceDefaults": True,
    "mainContainer": {
        "cpu": {"request": "250m", "limit": "1"},
        "memory": {"request": "512Mi", "limit": "2Gi"},
    },
}


@dataclass(frozen=True)
class AirbyteArgs:
    storage: S3Access
    postgres: Postgres
    service_account: str
    # The URL users reach Airbyte at (the stack's Ingress host); used for links and cookies.
    airbyte_url: str
    # From the domain file: server and worker replicas and resources, and connector job resources.
    replicas: int = 1
    resources: dict[str, Any] | None = None
    job_resources: dict[str, Any] | None = None
    # The other platform components (launcher, workload API, cron, Temporal, bootloader, manifest server).
    support_resources: dict[str, Any] | None = None
    # The platform images' tag: the release of the chart actually deployed (a stack may override the pin).
    image_tag: str = AIRBYTE_VERSION

    def __post_init__(self) -> None:
        check_name(self.service_account, "service_account")
        if not self.airbyte_url.startswith(("https://", "http://")):
            raise ValueError(f"airbyte_url must be an http(s) URL: {self.airbyte_url!r}")


def _job_resources(resources: dict[str, Any] | None) -> dict[str, Any]:
    if resources is None:
        return _JOB_RESOURCES
    return {
        "useConnectorResourceDefaults": True,
        "mainContainer": {
            "cpu": {"request": resources["requests"]["cpu"], "limit": resources["limits"]["cpu"]},
            "memory": {"request": resources["requests"]["memory"], "limit": resources["limits"]["memory"]},
        },
    }


def _storage(storage: S3Access) -> dict[str, Any]:
    buckets = dict.fromkeys(("log", "state", "workloadOutput", "auditLogging", "activityPayload"), storage.bucket)
    if storage.endpoint_url and storage.credentials_secret:
        # The chart's "minio" type is its generic S3-compatible client: endpoint + path-style access.
        return {
            "type": "minio",
            "secretName": storage.credentials_secret,
            "bucket": buckets,
            "minio": {"endpoint": storage.endpoint_url, "s3PathStyleAccess": True},
        }
    return {
        "type": "s3",
        "bucket": buckets,
        # The AWS SDK default chain, which picks up the Pod Identity credentials.
        "s3": {"region": storage.region, "authenticationType": "instanceProfile"},
    }


def airbyte_values(args: AirbyteArgs) -> dict[str, Any]:
    postgres = args.postgres
    component_settings = {
        name: {
            "enabled": True,
            # Always: the kubelet re-checks the registry (and pull credentials) for the tag at each start.
            "image": {"pullPolicy": "Always"},
            "containerSecurityContext": container_security_context(_UID, _UID),
            "podSecurityContext": {"fsGroup": _UID},
            "resources": (args.resources or limits) if name in _SCALED else (args.support_resources or limits),
            **({"replicaCount": args.replicas} if name in _SCALED else {}),
        }
        for name, limits in _COMPONENTS.items()
    }
    return {
        "global": {
            "serviceAccountName": args.service_account,
            "edition": "community",
            # Pin the platform images to the chart's release instead of its appVersion default.
            "image": {"tag": args.image_tag},
            "airbyteUrl": args.airbyte_url,
            "auth": {
                "enabled": True,
                "security": {
                    "cookieSecureSetting": args.airbyte_url.startswith("https://"),
                    "cookieSameSiteSetting": "Strict",
                },
            },
            "database": {
                # "external" also turns on TLS for Temporal's connection.
                "type": "external" if postgres.tls else "internal",
                "secretName": postgres.password_secret,
                "passwordSecretKey": postgres.password_key,
                "userSecretKey": DATABASE_USER_KEY,
                "host": postgres.host,
                "port": postgres.port,
                "name": postgres.database,
                "user": postgres.user,
                # Without a replica, Airbyte reads the "replica" login from the same Secret keys.
                "replica": {"userSecretKey": DATABASE_USER_KEY, "passwordSecretKey": postgres.password_key},
            },
            "storage": _storage(args.storage),
            "workloads": {"resources": _job_resources(args.job_resources)},
            "tracking": {"enabled": False},
        },
        "serviceAccount": {"create": False, "name": args.service_account},
        "postgresql": {"enabled": False},
        "minio": {"enabled": False},
        "keycloak": {"enabled": False},
        "keycloakSetup": {"enabled": False},
        "webapp": {"enabled": False},
        "ingress": {"enabled": False},
        **component_settings,
    }


# airbyte-server's health endpoint, unauthenticated; the chart's probes use it (templates/airbyte-server/deployment.yaml).
HEALTH_PATH = "/api/v1/health"


def airbyte_ui_service(release: str) -> tuple[str, int]:
    """Service name and port of airbyte-server, which serves the UI and API (`server.service.port`)."""
    check_label(release, "release")
    return f"{release}-airbyte-server-svc", 8001
