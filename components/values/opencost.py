"""Helm values for the OpenCost chart (opencost 2.5.17, OpenCost 1.120.1): actual spend per namespace.

Prometheus: none. OpenCost's collector data source (`opencost.exporter.collectorDataSource`) reads
node and pod usage through the Kubernetes API (the chart adds `nodes/proxy` read access in this
mode) and keeps its own 10-minute, hourly and daily series, persisted on a gp3 volume so restarts
keep the month. That avoids running and securing an in-cluster Prometheus or paying for an Amazon
Managed Prometheus workspace plus a SigV4 proxy. Every key exists in the chart's values.yaml;
`securityContext`, `podSecurityContext`, `resources`, `extraVolumes` and `extraVolumeMounts` are
passed through `toYaml`, so their contents are Kubernetes fields.

Hardened: non-root (the image runs as uid 1001), no privilege escalation, all capabilities dropped,
RuntimeDefault seccomp, read-only root filesystem with emptyDirs where OpenCost writes its config
cache (/var/configs) and temporary files; the UI (an nginx image whose user and writable paths are
not verified here) and the MCP server are off. Reach the API with `kubectl port-forward`.
"""

from __future__ import annotations

from typing import Any

from components.values.common import RUNTIME_DEFAULT_SECCOMP, check_label, resources

API_PORT = 9003  # the chart's opencost.exporter.apiPort default; the Service exposes it
IMAGE_UID = 1001  # USER in the OpenCost image's Dockerfile
CONFIG_DIR = "/var/configs"  # OpenCost's default config path (env.DefaultConfigMountPath)
DAILY_RETENTION_DAYS = 35  # a full calendar month of daily allocation, to compare with the monthly estimate


def opencost_values(*, cluster_id: str, storage_class: str, volume_size: str = "4Gi") -> dict[str, Any]:
    """Values for one cluster: collector data source, allocation by namespace, no UI, no Prometheus."""
    check_label(cluster_id, "cluster_id")
    return {
        "podSecurityContext": {
            "runAsNonRoot": True,
            "fsGroup": IMAGE_UID,
            "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
        },
        "extraVolumes": [
            {"name": "opencost-configs", "emptyDir": {}},
            {"name": "opencost-tmp", "emptyDir": {}},
        ],
        "opencost": {
            "exporter": {
                "defaultClusterId": cluster_id,
                "resources": resources("100m", "256Mi", cpu_limit="500m", memory_limit="1Gi"),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
                },
                "extraVolumeMounts": [
                    {"name": "opencost-configs", "mountPath": CONFIG_DIR},
                    {"name": "opencost-tmp", "mountPath": "/tmp"},
                ],
                "collectorDataSource": {"enabled": True, "retention1d": DAILY_RETENTION_DAYS},
                "persistence": {
                    "enabled": True,
                    "accessMode": "ReadWriteOnce",
                    "storageClass": storage_class,
                    "size": volume_size,
                },
            },
            "retention1d": DAILY_RETENTION_DAYS,
            # The collector replaces Prometheus; the chart must not point OpenCost at one.
            "prometheus": {"internal": {"enabled": False}},
            "ui": {"enabled": False},
            "mcp": {"enabled": False},
        },
    }
