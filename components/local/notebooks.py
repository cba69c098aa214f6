"""LocalSandboxLake: on the local foundation, what stands in for a domain's analyst IAM role: a read-only
MinIO user per sandbox domain.

Creates, for each sandbox domain `d`:
- the MinIO user `<d>-analyst` with a generated secret key (pulumi-random) and a policy that reads only
  the domain's own `curated/` zone and the product prefixes it consumes (s3:ListBucket limited by an
  s3:prefix condition, s3:GetObject under the prefix; nothing else, no write anywhere). A Job in MinIO's
  namespace applies user and policy idempotently with `mc`, so MinIO's root credentials never leave
  that namespace (the same pattern as the domains' lake users, components/local/domain_services.py);
- the keys in the Secret `analyst-<d>-lake` of the sandbox namespace (AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY), which the domain's notebook profile loads whole as env;
and one NetworkPolicy in MinIO's namespace that admits the sandbox namespace on the S3 port (MinIO's
guardrails admit only domain namespaces).

Invariants: the Job carries secretKeyRefs only; the analyst user can list or read nothing outside its
grants and write nothing; each Job waits for MinIO and its user's Secret, and a new key replaces the
immutable Secret and with it the Job (its pod template names the Secret's uid), which re-applies it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.guardrails import OWNER_LABEL
from components.interfaces import ProductGrant
from components.local.domain_services import MC_ALIAS, LocalPlatformRefs, lake_bucket_name, mc_job_spec
from components.values.common import S3_CREDENTIAL_KEYS

CURATED_PREFIX = "curated/"


def analyst_credentials_secret(domain: str) -> str:
    """The Secret in the sandbox namespace holding `domain`'s read-only MinIO keys."""
    return f"analyst-{domain}-lake"


def analyst_lake_policy(bucket: str, grants: Sequence[tuple[ProductGrant, str]]) -> dict[str, Any]:
    """Read-only: `bucket`'s curated zone, and each (grant, producer bucket)'s product prefix."""
    reads = [(bucket, CURATED_PREFIX, "Curated")] + [
        (producer_bucket, grant.prefix, f"Consume{i}")
        for i, (grant, producer_bucket) in enumerate(sorted(grants, key=lambda g: (g[0].producer, g[0].product)))
    ]
    statements: list[dict[str, Any]] = []
    for target, prefix, sid in reads:
        statements += [
            {
                "Sid": f"{sid}List",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{target}"],
                "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
            },
            {
                "Sid": f"{sid}Read",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{target}/{prefix}*"],
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def analyst_user_script(*, policy_name: str, policy: dict[str, Any]) -> str:
    """Idempotent: `user add` creates or updates the key, `policy create` replaces, `policy attach` accepts an
    attached policy. No bucket is created: the domain's lake Job owns its bucket."""
    a = MC_ALIAS
    return (
        "\n".join(
            [
                "set -eu",
                # Keys on stdin, so the secret key is in no process's arguments (mc's fetchUserKeys reads both
                # lines from stdin when it is not a terminal: cmd/admin-user-add.go).
                f'printf "%s\\n%s\\n" "$ANALYST_ACCESS_KEY" "$ANALYST_SECRET_KEY" | mc admin user add {a}',
                f"cat > /tmp/policy.json <<'JSON'\n{json.dumps(policy, indent=2)}\nJSON",
                f"mc admin policy create {a} {policy_name} /tmp/policy.json",
                f'mc admin policy attach {a} {policy_name} --user "$ANALYST_ACCESS_KEY"',
            ]
        )
        + "\n"
    )


class LocalSandboxLake(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        namespace: str,
        grants: Mapping[str, Sequence[ProductGrant]],
        refs: LocalPlatformRefs,
        after: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`grants[d]`: the products domain `d` consumes; `after`: the sandbox namespace's guardrails."""
        super().__init__("dataplatform:notebooks_local:LocalSandboxLake", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        in_sandbox = pulumi.ResourceOptions(parent=self, depends_on=list(after))
        access_id, secret_id = S3_CREDENTIAL_KEYS
        self.secrets: dict[str, k8s.core.v1.Secret] = {}
        self.jobs: dict[str, k8s.batch.v1.Job] = {}
        for d, domain_grants in sorted(grants.items()):
            labels = {OWNER_LABEL: d}
            access_key = f"{d}-analyst"
            secret_key = random.RandomPassword(
                f"notebooks-{d}-lake-key", random.RandomPasswordArgs(length=40, special=False), opts=child
            )
            self.secrets[d] = k8s.core.v1.Secret(
                f"notebooks-{d}-lake-credentials",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=analyst_credentials_secret(d), namespace=namespace, labels=labels
                ),
                type="Opaque",
                string_data={access_id: access_key, secret_id: secret_key.result},
                opts=in_sandbox,
            )
            user_secret = k8s.core.v1.Secret(
                f"notebooks-{d}-lake-user",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"{d}-analyst-user", namespace=refs.minio_namespace, labels=labels
                ),
                type="Opaque",
                immutable=True,
                string_data={access_id: access_key, secret_id: secret_key.result},
                opts=child,
            )
            bucket = lake_bucket_name(refs.environment, d)
            producer_buckets = [(g, lake_bucket_name(refs.environment, g.producer)) for g in domain_grants]
            script = analyst_user_script(
                policy_name=f"{d}-analyst", policy=analyst_lake_policy(bucket, producer_buckets)
            )
            self.jobs[d] = k8s.batch.v1.Job(
                f"notebooks-{d}-lake-init",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"{d}-analyst-init", namespace=refs.minio_namespace, labels=labels
                ),
                spec=mc_job_spec(
                    refs,
                    app="analyst-init",
                    labels=labels,
                    credentials_uid=user_secret.metadata.uid,
                    script=script,
                    user_env=[
                        ("ANALYST_ACCESS_KEY", user_secret.metadata.name, access_id),
                        ("ANALYST_SECRET_KEY", user_secret.metadata.name, secret_id),
                    ],
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[user_secret, *refs.lake_after]),
            )
        minio_port = int(refs.minio_address.rsplit(":", 1)[1])
        self.minio_access = k8s.networking.v1.NetworkPolicy(
            "notebooks-minio-access",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="allow-sandbox", namespace=refs.minio_namespace, labels={OWNER_LABEL: "platform"}
            ),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": namespace}
                                )
                            )
                        ],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=minio_port)],
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(refs.lake_after)),
        )
        self.register_outputs({"users": [f"{d}-analyst" for d in sorted(grants)]})
