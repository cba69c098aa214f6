"""WarehouseAccess: the domain's IAM database user gets its own schema in the domain warehouse.

Creates, in the domain namespace (only for an IAM-authenticated warehouse, i.e. Redshift Serverless):
- the ServiceAccount `WarehouseAdmin.service_account`, the only one the admin role trusts;
- an immutable ConfigMap holding the module `components/jobs/warehouse_grants.py` (read from this
  repository, so the code the Job runs is the linted, type-checked and tested module);
- a Job that runs it (`python /app/warehouse_grants.py`) in GRANTS_IMAGE, named after a hash of the
  module and its settings, so a change re-runs it.

Invariants: the admin password never leaves AWS (the Data API reads the AWS-managed secret with the
Job's Pod Identity role; the Job carries only the secret's ARN); the Job waits for the warehouse, the
role's policy and its Pod Identity association (depends_on), and retries while they settle; the pod
is restricted (non-root, read-only root filesystem, no capabilities), sized and pinned; re-running it
changes nothing once the user owns its schema.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.catalog import IMAGE_UID, INGESTION_IMAGE
from components.interfaces import WarehouseAdmin
from components.jobs import warehouse_grants
from components.workloads import hardened_container_security, hardened_pod_security

# Python 3 and boto3 (its contract, components.images.DATAHUB_INGESTION, lists both); already pulled for
# the catalog feed. Its ENTRYPOINT is `datahub`, so the Job sets `command`.
GRANTS_IMAGE = INGESTION_IMAGE
GRANTS_UID = IMAGE_UID
MODULE_FILE = Path(warehouse_grants.__file__)
MOUNT = "/app"
COMMAND = ["python", f"{MOUNT}/{MODULE_FILE.name}"]


@dataclass(frozen=True)
class GrantsRequest:
    namespace: str
    workgroup: pulumi.Input[str]
    database: str
    user: str  # the domain's IAM database user, e.g. IAMR:dp-dev-sales-domain
    schema: str  # the schema its dbt profile writes to: the domain name
    admin: WarehouseAdmin
    labels: dict[str, str]


def job_suffix(source: str, request: GrantsRequest) -> str:
    """Changes whenever the code or a plain setting changes, so a new Job runs."""
    text = "\n".join([source, GRANTS_IMAGE, request.database, request.user, request.schema])
    return hashlib.sha256(text.encode()).hexdigest()[:10]


class WarehouseAccess(pulumi.ComponentResource):
    def __init__(self, name: str, request: GrantsRequest, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dataplatform:warehouse_access:WarehouseAccess", name, None, opts)
        ns, labels = request.namespace, request.labels
        source = MODULE_FILE.read_text(encoding="utf-8")
        suffix = job_suffix(source, request)
        child = pulumi.ResourceOptions(parent=self)

        def meta(n: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=n, namespace=ns, labels=labels)

        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=meta(request.admin.service_account),
            automount_service_account_token=False,
            opts=child,
        )
        configmap = f"warehouse-grants-{suffix}"
        self.code = k8s.core.v1.ConfigMap(
            f"{name}-code",
            metadata=meta(configmap),
            immutable=True,
            data={MODULE_FILE.name: source},
            opts=child,
        )

        def env(key: str, value: pulumi.Input[str]) -> k8s.core.v1.EnvVarArgs:
            return k8s.core.v1.EnvVarArgs(name=key, value=value)

        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=meta(f"warehouse-grants-{suffix}"),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=4,
                active_deadline_seconds=3600,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels={**labels, "app.kubernetes.io/name": "warehouse-grants"}
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="Never",
                        service_account_name=request.admin.service_account,
                        automount_service_account_token=False,
                        security_context=hardened_pod_security(run_as_user=GRANTS_UID),
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="grants",
                                image=GRANTS_IMAGE,
                                image_pull_policy="Always",
                                command=COMMAND,
                                env=[
                                    env("WAREHOUSE_WORKGROUP", request.workgroup),
                                    env("WAREHOUSE_DB", request.database),
                                    # The secret's ARN, not its value (hence no SECRET in the name).
                                    env("WAREHOUSE_ADMIN_LOGIN_ARN", request.admin.secret_arn),
                                    env("WAREHOUSE_USER", request.user),
                                    env("WAREHOUSE_SCHEMA", request.schema),
                                    env("AWS_REGION", request.admin.region),
                                    env("PYTHONDONTWRITEBYTECODE", "1"),
                                ],
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(name="code", mount_path=MOUNT, read_only=True),
                                    k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                                ],
                                security_context=hardened_container_security(),
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "50m", "memory": "128Mi"},
                                    limits={"cpu": "500m", "memory": "256Mi"},
                                ),
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="code",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=configmap, default_mode=0o444),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")
                            ),
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.service_account, self.code, *request.admin.resources]
            ),
        )
        self.job_name = f"warehouse-grants-{suffix}"
        self.register_outputs({"job": self.job_name})
