"""LocalDomainServices: one domain's data services on the local foundation (an existing cluster).

Creates, for one domain:
- its lake bucket `dp-<env>-<domain>` on the shared MinIO, a MinIO user whose policy reaches only that
  bucket (plus read-only access to the product prefixes the domain consumes) and the raw-zone expiry.
  A Job in MinIO's namespace applies them idempotently with `mc`, so the MinIO root credentials never
  leave that namespace and adding a domain changes nothing in the shared MinIO release;
- the user's generated secret key (pulumi-random), in a Secret the Job reads (MinIO's namespace) and in
  the Secret `lake-credentials` the tools read (domain namespace: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY);
- its PostgreSQL: a single-instance CloudNativePG `Cluster` named `postgres` in the domain namespace. It
  holds the tools' metadata databases (superuser `postgres`, generated password in a Secret we supply)
  and the warehouse (database `analytics`, owned by login `analytics` with a generated password), with
  the TLS CloudNativePG sets up, so clients use sslmode=require;
- a NetworkPolicy that lets the CloudNativePG operator reach the instance (ports 8000 and 5432).

Invariants: every logical name starts with the domain name and no input depends on another domain's
resources (grants name producer buckets by the naming rule); secrets reach pods only through Secrets,
and the Job carries secretKeyRefs only; every object waits for the shared service it needs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.images import MINIO_CLIENT
from components.interfaces import (
    DomainRequest,
    DomainServices,
    PostgresServer,
    ProductGrant,
    S3Settings,
    WarehouseSettings,
)
from components.values.common import S3_CREDENTIAL_KEYS
from components.workloads import hardened_container_security, hardened_pod_security

# The `mc` image the minio chart 5.4.0 pins (mcImage); quay.io still serves it.
MC_IMAGE = MINIO_CLIENT.ref
# Keys of the MinIO root Secret: the names the minio chart reads with `existingSecret`.
MINIO_ROOT_USER_KEY = "rootUser"
MINIO_ROOT_PASSWORD_KEY = "rootPassword"
LAKE_CREDENTIALS_SECRET = "lake-credentials"

POSTGRES_CLUSTER = "postgres"
POSTGRES_SUPERUSER = "postgres"
WAREHOUSE_DB = "analytics"
# The pod label CloudNativePG puts on every instance, and the operator pod's label (the chart's selector).
CNPG_CLUSTER_LABEL = "cnpg.io/cluster"
CNPG_OPERATOR_LABELS = {"app.kubernetes.io/name": "cloudnative-pg"}
# What the operator calls on each instance: the instance manager (8000) and PostgreSQL (5432).
CNPG_OPERATOR_PORTS = (8000, 5432)
# CloudNativePG's Debian bookworm image catalog (cloudnative-pg/postgres-containers 75660d8, 2026-08-17).
POSTGRES_IMAGES = {
    "14": "ghcr.io/cloudnative-pg/postgresql:14.24-202608170814-system-bookworm@sha256:9cb4ce4cd22ed38aa61b616839fe726f79859b155ad8861bb2a45e32807d497f",
    "15": "ghcr.io/cloudnative-pg/postgresql:15.19-202608170814-system-bookworm@sha256:08eb167b35d7b67e4cf40385262a954c0412ec981ec55b9a5b3a8b9ec2f95053",
    "16": "ghcr.io/cloudnative-pg/postgresql:16.15-202608170814-system-bookworm@sha256:1625a452268aa8cb5149ec5a7428484e0a0402b8319598ec3d74ec212d21dbf2",
    "17": "ghcr.io/cloudnative-pg/postgresql:17.11-202608170816-system-bookworm@sha256:d24d5a390d90b20a43ef7036981f5e6c6f78bbd3198a1e2cd99443fbbd14a9b8",
}
# A laptop needs far less than the 20 GiB minimum the domain file enforces for RDS.
POSTGRES_STORAGE = "5Gi"
POSTGRES_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
LAKE_INIT_RESOURCES = k8s.core.v1.ResourceRequirementsArgs(
    requests={"cpu": "50m", "memory": "64Mi"}, limits={"cpu": "200m", "memory": "128Mi"}
)
MC_ALIAS = "lake"


@dataclass(frozen=True)
class LocalPlatformRefs:
    """What a domain needs from the local foundation."""

    environment: str
    region: str
    minio_namespace: str
    minio_address: str  # <service>.<namespace>.svc:<port>, plain HTTP inside the cluster
    minio_root_secret: str
    lake_init_service_account: str
    cnpg_namespace: str
    storage_class: str | None
    protect: bool
    lake_after: tuple[pulumi.Resource, ...]  # MinIO ready, root Secret, ServiceAccount
    postgres_after: tuple[pulumi.Resource, ...]  # the CloudNativePG operator (CRDs and webhook)


def lake_bucket_name(environment: str, domain: str) -> str:
    """The domain's bucket on MinIO; derived, so a consumer's policy never waits for the producer."""
    return f"dp-{environment}-{domain}"


def lake_user_policy(bucket: str, grants: Sequence[tuple[ProductGrant, str]]) -> dict[str, Any]:
    """The MinIO user's policy (AWS policy syntax): its own bucket, and `grants` as (grant, producer bucket)."""
    own = f"arn:aws:s3:::{bucket}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnBucketList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
            "Resource": [own],
        },
        {
            "Sid": "OwnBucketObjects",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": [f"{own}/*"],
        },
    ]
    for i, (grant, producer_bucket) in enumerate(sorted(grants, key=lambda g: (g[0].producer, g[0].product))):
        producer = f"arn:aws:s3:::{producer_bucket}"
        statements += [
            {
                "Sid": f"Consume{i}List",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [producer],
                "Condition": {"StringLike": {"s3:prefix": [grant.prefix, f"{grant.prefix}*"]}},
            },
            {
                "Sid": f"Consume{i}Read",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{producer}/{grant.prefix}*"],
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def lake_lifecycle(raw_retention_days: int) -> dict[str, Any]:
    """The bucket's lifecycle, in the JSON `mc ilm rule import` reads (minio-go lifecycle.Configuration)."""
    return {
        "Rules": [
            {
                "ID": "expire-raw",
                "Status": "Enabled",
                "Filter": {"Prefix": "raw/"},
                "Expiration": {"Days": raw_retention_days},
            }
        ]
    }


def lake_init_script(*, bucket: str, policy_name: str, policy: dict[str, Any], lifecycle: dict[str, Any]) -> str:
    """Idempotent: `mb --ignore-existing`, `user add` creates or updates, `policy create` replaces,
    `policy attach` accepts an attached policy, `ilm rule import` replaces the whole lifecycle."""
    a = MC_ALIAS
    return (
        "\n".join(
            [
                "set -eu",
                f"mc mb --ignore-existing {a}/{bucket}",
                # Keys on stdin, so the secret key is in no process's arguments.
                f'printf "%s\\n%s\\n" "$LAKE_ACCESS_KEY" "$LAKE_SECRET_KEY" | mc admin user add {a}',
                f"cat > /tmp/policy.json <<'JSON'\n{json.dumps(policy, indent=2)}\nJSON",
                f"mc admin policy create {a} {policy_name} /tmp/policy.json",
                f'mc admin policy attach {a} {policy_name} --user "$LAKE_ACCESS_KEY"',
                f"mc ilm rule import {a}/{bucket} <<'JSON'\n{json.dumps(lifecycle)}\nJSON",
            ]
        )
        + "\n"
    )


def secret_env(name: str, secret: pulumi.Input[str], key: str) -> k8s.core.v1.EnvVarArgs:
    return k8s.core.v1.EnvVarArgs(
        name=name,
        value_from=k8s.core.v1.EnvVarSourceArgs(secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret, key=key)),
    )


def mc_job_spec(
    refs: LocalPlatformRefs,
    *,
    app: str,
    labels: dict[str, str],
    credentials_uid: pulumi.Input[str],
    script: str,
    user_env: Sequence[tuple[str, pulumi.Input[str], str]],
) -> k8s.batch.v1.JobSpecArgs:
    """A hardened Job that runs `script` with mc as MinIO's root (alias MC_ALIAS), plus the user keys
    `user_env` names (env name, Secret, key). The credentials' uid annotation re-runs it on new keys."""
    root = refs.minio_root_secret
    return k8s.batch.v1.JobSpecArgs(
        backoff_limit=6,
        template=k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                labels={**labels, "app.kubernetes.io/name": app},
                annotations={"dataplatform.io/credentials-uid": credentials_uid},
            ),
            spec=k8s.core.v1.PodSpecArgs(
                restart_policy="OnFailure",
                service_account_name=refs.lake_init_service_account,
                automount_service_account_token=False,
                security_context=hardened_pod_security(),
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name="mc",
                        image=MC_IMAGE,
                        command=["/bin/sh", "-c", script],
                        env=[
                            secret_env("MINIO_ROOT_USER", root, MINIO_ROOT_USER_KEY),
                            secret_env("MINIO_ROOT_PASSWORD", root, MINIO_ROOT_PASSWORD_KEY),
                            # mc's alias from the environment; Kubernetes expands $(VAR) from the entries above.
                            k8s.core.v1.EnvVarArgs(
                                name=f"MC_HOST_{MC_ALIAS}",
                                value=f"http://$(MINIO_ROOT_USER):$(MINIO_ROOT_PASSWORD)@{refs.minio_address}",
                            ),
                            k8s.core.v1.EnvVarArgs(name="MC_CONFIG_DIR", value="/tmp/.mc"),
                            *(secret_env(name, secret, key) for name, secret, key in user_env),
                        ],
                        security_context=hardened_container_security(),
                        resources=LAKE_INIT_RESOURCES,
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
                    )
                ],
                volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())],
            ),
        ),
    )


class LocalDomainServices(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        request: DomainRequest,
        refs: LocalPlatformRefs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:domain_services_local:LocalDomainServices", name, None, opts)
        d, ns = request.domain, request.namespace
        labels = {"dataplatform.io/domain": d}
        child = pulumi.ResourceOptions(parent=self)

        # ---- lake: bucket, user and policy on the shared MinIO
        bucket = lake_bucket_name(refs.environment, d)
        access_key = f"{d}-lake"
        secret_key = random.RandomPassword(
            f"{d}-lake-secret-key", random.RandomPasswordArgs(length=40, special=False), opts=child
        )
        access_id, secret_id = S3_CREDENTIAL_KEYS
        self.credentials = k8s.core.v1.Secret(
            f"{d}-lake-credentials",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=LAKE_CREDENTIALS_SECRET, namespace=ns, labels=labels),
            type="Opaque",
            string_data={access_id: access_key, secret_id: secret_key.result},
            opts=child,
        )
        # Immutable, so a new key replaces it and its new uid replaces the Job, which re-applies the key.
        user_secret = k8s.core.v1.Secret(
            f"{d}-lake-user",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{d}-lake-user", namespace=refs.minio_namespace, labels=labels),
            type="Opaque",
            immutable=True,
            string_data={access_id: access_key, secret_id: secret_key.result},
            opts=child,
        )
        grants = [(g, lake_bucket_name(refs.environment, g.producer)) for g in request.grants]
        script = lake_init_script(
            bucket=bucket,
            policy_name=f"{d}-lake",
            policy=lake_user_policy(bucket, grants),
            lifecycle=lake_lifecycle(request.raw_retention_days),
        )
        self.lake_job = k8s.batch.v1.Job(
            f"{d}-lake-init",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{d}-lake-init", namespace=refs.minio_namespace, labels=labels),
            spec=mc_job_spec(
                refs,
                app="lake-init",
                labels=labels,
                credentials_uid=user_secret.metadata.uid,
                script=script,
                user_env=[
                    ("LAKE_ACCESS_KEY", user_secret.metadata.name, access_id),
                    ("LAKE_SECRET_KEY", user_secret.metadata.name, secret_id),
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[user_secret, *refs.lake_after]),
        )

        # ---- PostgreSQL: metadata databases and warehouse in one CloudNativePG cluster
        admin_password = random.RandomPassword(
            f"{d}-postgres-superuser", random.RandomPasswordArgs(length=32, special=False), opts=child
        )
        warehouse_password = random.RandomPassword(
            f"{d}-warehouse-owner", random.RandomPasswordArgs(length=32, special=False), opts=child
        )

        def basic_auth(logical: str, name: str, user: str, password: pulumi.Output[str]) -> k8s.core.v1.Secret:
            # CloudNativePG reads `username` and `password` from kubernetes.io/basic-auth Secrets.
            return k8s.core.v1.Secret(
                logical,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns, labels=labels),
                type="kubernetes.io/basic-auth",
                string_data={"username": user, "password": password},
                opts=child,
            )

        superuser = basic_auth(
            f"{d}-postgres-superuser", "postgres-superuser", POSTGRES_SUPERUSER, admin_password.result
        )
        owner = basic_auth(f"{d}-warehouse-owner", "warehouse-owner", WAREHOUSE_DB, warehouse_password.result)
        storage: dict[str, Any] = {"size": POSTGRES_STORAGE}
        if refs.storage_class:
            storage["storageClass"] = refs.storage_class
        self.postgres = k8s.apiextensions.CustomResource(
            f"{d}-postgres",
            api_version="postgresql.cnpg.io/v1",
            kind="Cluster",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=POSTGRES_CLUSTER,
                namespace=ns,
                labels=labels,
                # Consumers (the metadata-db Job, then the tools) start once PostgreSQL accepts logins.
                annotations={"pulumi.com/waitFor": "condition=Ready"},
            ),
            spec={
                "instances": 1,
                "imageName": POSTGRES_IMAGES[request.metadata_db_engine_version],
                # A PodDisruptionBudget on a single instance would block node drains.
                "enablePDB": False,
                "enableSuperuserAccess": True,
                "superuserSecret": {"name": "postgres-superuser"},
                "bootstrap": {
                    "initdb": {"database": WAREHOUSE_DB, "owner": WAREHOUSE_DB, "secret": {"name": "warehouse-owner"}}
                },
                "storage": storage,
                "resources": POSTGRES_RESOURCES,
            },
            opts=pulumi.ResourceOptions(
                parent=self, protect=refs.protect, depends_on=[superuser, owner, *refs.postgres_after]
            ),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{d}-allow-cnpg-operator",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="allow-cnpg-operator", namespace=ns, labels=labels),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={CNPG_CLUSTER_LABEL: POSTGRES_CLUSTER}),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": refs.cnpg_namespace}
                                ),
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=CNPG_OPERATOR_LABELS),
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in CNPG_OPERATOR_PORTS
                        ],
                    )
                ],
            ),
            opts=child,
        )

        host = pulumi.Output.from_input(f"{POSTGRES_CLUSTER}-rw.{ns}.svc")
        self.services = DomainServices(
            s3=S3Settings(
                bucket=pulumi.Output.from_input(bucket),
                region=refs.region,
                endpoint_url=f"http://{refs.minio_address}",
                credentials_secret=LAKE_CREDENTIALS_SECRET,
            ),
            metadata_db=PostgresServer(
                host=host,
                port=5432,
                admin_user=POSTGRES_SUPERUSER,
                admin_password=admin_password.result,
                sslmode="require",
            ),
            warehouse=WarehouseSettings(
                kind="postgres",
                host=host,
                port=5432,
                database=WAREHOUSE_DB,
                user=WAREHOUSE_DB,
                auth="password",
                password=warehouse_password.result,
            ),
            role_arn=None,
            grants=request.grants,
            resources=[self.postgres, self.lake_job, self.credentials],
        )
        self.register_outputs({"bucket": bucket, "postgres_host": host})
