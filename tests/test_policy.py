"""The governance rules (policy/rules.py).

- every rule: a crafted failing case is caught, a crafted passing case passes (table-driven, one entry per rule);
- property names: compliant and non-compliant resources built with the real pulumi_aws/pulumi_kubernetes classes;
- the real stacks: no mandatory violation, advisories printed, the rules ran on the resources SECURITY.md names;
- the CrossGuard pack itself, over gRPC as the engine drives it, when policy/.venv exists.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components.config import SUPPORTED_EKS_VERSIONS
from policy import rules
from policy.rules import RULES, UNKNOWN, Ctx, Res, ResourceRule, StackRule, evaluate, from_record
from tests.harness import PROJECT_DIR, program_for, run_function, stack_config
from tests.requires import require

# --- crafted cases ---------------------------------------------------------------------------------


def r(type_: str, props: dict[str, Any] | None = None, name: str = "x", **options: Any) -> Res:
    return Res(
        type=type_, name=name, props=props or {}, urn=f"urn:pulumi:test::dataplatform::{type_}::{name}", **options
    )


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


BUCKET = "aws:s3/bucket:Bucket"
TLS_DENY = {
    "Sid": "TlsOnly",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ROOT_ADMIN = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "kms:*",
}
POD_TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "pods.eks.amazonaws.com"},
    "Action": ["sts:AssumeRole", "sts:TagSession"],
}
GOOD_CLUSTER = {
    "version": "1.35",
    "enabledClusterLogTypes": list(rules.EKS_LOG_TYPES),
    "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]},
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}},
    "accessConfig": {"authenticationMode": "API"},
}
PSS = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
GOOD_CONTAINER = {
    "name": "app",
    "image": "ghcr.io/acme/app:1.2.3@sha256:" + "a" * 64,
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}},
    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
}
GOOD_POD = {
    "serviceAccountName": "app",
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [GOOD_CONTAINER],
}


def deployment(pod: dict[str, Any]) -> Res:
    return r("kubernetes:apps/v1:Deployment", {"spec": {"template": {"spec": pod}}})


def bad_pod(**container: Any) -> dict[str, Any]:
    return {**GOOD_POD, "containers": [{**GOOD_CONTAINER, **container}]}


def with_bucket(*companions: tuple[str, dict[str, Any]]) -> list[Res]:
    bucket = r(BUCKET, name="b", outputs={"bucket": "b-1"})
    return [
        bucket,
        *(r(t, {"bucket": "b-1", **p}, name=t.rsplit(":", 1)[1], dependencies=(bucket.urn,)) for t, p in companions),
    ]


ALL_BUCKET_CONTROLS = (
    ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {}),
    ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", {}),
    ("aws:s3/bucketPolicy:BucketPolicy", {}),
    ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", {}),
    ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", {}),
)


def logging_world(with_logging: bool) -> list[Res]:
    lake = r(BUCKET, name="lake", outputs={"bucket": "lake-1"})
    logs = r(BUCKET, name="logs", outputs={"bucket": "logs-1"})
    logging = r(
        "aws:s3/bucketLogging:BucketLogging",
        {"bucket": "lake-1", "targetBucket": "logs-1"},
        dependencies=(lake.urn, logs.urn),
    )
    return [lake, logs, *([logging] if with_logging else [])]


def vpc_world(companion: str | None, props: dict[str, Any] | None = None) -> list[Res]:
    vpc = r("aws:ec2/vpc:Vpc", name="vpc")
    return [vpc, *([r(companion, props or {}, dependencies=(vpc.urn,))] if companion else [])]


SSE_TYPE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SSE_S3 = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
SSE_KMS = {
    "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:k"},
    "bucketKeyEnabled": True,
}


def sse_of(bucket: str, rule: dict[str, Any]) -> Res:
    return r(SSE_TYPE, {"bucket": bucket, "rules": [rule]}, name=f"{bucket}-sse")


AWS_PROVIDER = "pulumi:providers:aws"


def tags_world(default_tags: dict[str, str], own: dict[str, str] | None = None, env: str = "prod") -> list[Res]:
    provider = r(AWS_PROVIDER, {"defaultTags": json.dumps({"tags": {"environment": env, **default_tags}})}, name="aws")
    return [provider, r(BUCKET, {"tags": own} if own else {}, provider=provider.urn)]


STANDARD_TAGS = {"owner": "team", "cost-center": "cc-1", "domain": "platform"}


def namespace_world(*objects: Res, labels: dict[str, str] | None = None) -> list[Res]:
    return [r("kubernetes:core/v1:Namespace", {"metadata": {"name": "sales", "labels": labels or PSS}}), *objects]


DENY_ALL = r(
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    {"metadata": {"namespace": "sales"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}},
    name="deny",
)
QUOTA = r("kubernetes:core/v1:ResourceQuota", {"metadata": {"namespace": "sales"}, "spec": {"hard": {"pods": "10"}}})
LIMITS = r(
    "kubernetes:core/v1:LimitRange",
    {
        "metadata": {"namespace": "sales"},
        "spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}, "defaultRequest": {"cpu": "100m"}}]},
    },
)
DOMAIN_LABELS = {**PSS, rules.DOMAIN_LABEL: "sales"}


def pod_identity_world(trust: dict[str, Any]) -> list[Res]:
    role = r("aws:iam/role:Role", {"assumeRolePolicy": doc(trust)}, name="role")
    assoc = r("aws:eks/podIdentityAssociation:PodIdentityAssociation", {"roleArn": "arn"}, dependencies=(role.urn,))
    return [role, assoc]


OWN_BUCKET = "arn:aws:s3:::dp-dev-marketing-1a2b3c4d"
SALES_BUCKET = "arn:aws:s3:::dp-dev-sales-1a2b3c4d"
PIPELINE_POLICY = doc(
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"{OWN_BUCKET}/*"},
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{SALES_BUCKET}/curated/orders/*"},
)
GOOD_SANDBOX = (
    {
        "Sid": "OwnList",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": OWN_BUCKET,
        "Condition": {"StringLike": {"s3:prefix": ["curated/", "curated/*", "sandbox/", "sandbox/*"]}},
    },
    {"Sid": "OwnRead", "Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"{OWN_BUCKET}/curated/*"]},
    {"Sid": "Write", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": f"{OWN_BUCKET}/sandbox/*"},
    {"Sid": "Where", "Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": [OWN_BUCKET, SALES_BUCKET]},
    {"Sid": "Consume", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{SALES_BUCKET}/curated/orders/*"},
    {"Sid": "Glue", "Effect": "Allow", "Action": "glue:GetTable", "Resource": "arn:aws:glue:eu-west-1:1:table/db/*"},
)


GOOD_WORKGROUP = {
    "enforceWorkgroupConfiguration": True,
    "bytesScannedCutoffPerQuery": 10 * 2**30,
    "resultConfiguration": {
        "outputLocation": "s3://b/sandbox/athena/",
        "encryptionConfiguration": {"encryptionOption": "SSE_KMS", "kmsKeyArn": "arn:aws:kms:eu-west-1:1:key/k"},
    },
}


def sandbox_world(*statements: dict[str, Any], pipeline: str = PIPELINE_POLICY) -> list[Res]:
    """A domain's pipeline role and its sandbox role (tagged with the pipeline role's name), with policies."""
    role = r("aws:iam/role:Role", {"name": "dp-dev-marketing-domain"}, name="domain")
    analyst = r(
        "aws:iam/role:Role",
        {"name": "dp-dev-marketing-analyst", "tags": {"sandbox-of": "dp-dev-marketing-domain"}},
        name="analyst",
    )
    return [
        role,
        analyst,
        r("aws:iam/rolePolicy:RolePolicy", {"policy": pipeline}, name="domain-p", dependencies=(role.urn,)),
        # Attached by name (a string input): the rule links it all the same.
        r(
            "aws:iam/rolePolicy:RolePolicy",
            {"role": "dp-dev-marketing-analyst", "policy": doc(*statements)},
            name="analyst-p",
        ),
    ]


@dataclass(frozen=True)
class Case:
    failing: list[Res]
    passing: list[Res]
    environment: str = "prod"
    also_failing: list[list[Res]] = field(default_factory=list)


CASES: dict[str, Case] = {
    "s3-public-access-block": Case(
        [r("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", {"blockPublicAcls": True})],
        [
            r(
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                dict.fromkeys(
                    ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
                ),
            )
        ],
    ),
    "s3-encryption-kms": Case(
        [
            r(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                {
                    "rules": [
                        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}, "bucketKeyEnabled": False}
                    ]
                },
            )
        ],
        [
            r(
                "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
                {
                    "rules": [
                        {
                            "applyServerSideEncryptionByDefault": {
                                "sseAlgorithm": "aws:kms",
                                "kmsMasterKeyId": "arn:k",
                            },
                            "bucketKeyEnabled": True,
                        }
                    ]
                },
            )
        ],
        also_failing=[
            [
                r(
                    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                    {
                        "rules": [
                            {
                                "applyServerSideEncryptionByDefault": {
                                    "sseAlgorithm": "aws:kms",
                                    "kmsMasterKeyId": "alias/aws/s3",
                                },
                                "bucketKeyEnabled": True,
                            }
                        ]
                    },
                )
            ],
            [r(SSE_TYPE, {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:fsx"}}]})],
        ],
    ),
    "s3-sse-s3-log-bucket-only": Case(
        with_bucket((SSE_TYPE, {"rules": [SSE_S3]})),
        [*logging_world(True), sse_of("logs-1", SSE_S3), sse_of("lake-1", SSE_KMS)],
        also_failing=[[*logging_world(True), sse_of("lake-1", SSE_S3)]],
    ),
    "s3-tls-only-policy": Case(
        [r("aws:s3/bucketPolicy:BucketPolicy", {"policy": doc({**TLS_DENY, "Condition": {}})})],
        [r("aws:s3/bucketPolicy:BucketPolicy", {"policy": doc(TLS_DENY)})],
    ),
    "s3-no-public-principal": Case(
        [
            r(
                "aws:s3/bucketPolicy:BucketPolicy",
                {"policy": doc(TLS_DENY, {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"})},
            )
        ],
        [r("aws:s3/bucketPolicy:BucketPolicy", {"policy": doc(TLS_DENY)})],
    ),
    "s3-acls-disabled": Case(
        [r("aws:s3/bucketOwnershipControls:BucketOwnershipControls", {"rule": {"objectOwnership": "ObjectWriter"}})],
        [
            r(
                "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
                {"rule": {"objectOwnership": "BucketOwnerEnforced"}},
            )
        ],
        also_failing=[[r("aws:s3/bucketAclV2:BucketAclV2", {"acl": "private"})], [r(BUCKET, {"acl": "public-read"})]],
    ),
    "s3-lifecycle-abort-multipart": Case(
        [
            r(
                "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                {"rules": [{"status": "Enabled", "expiration": {"days": 30}}]},
            )
        ],
        [
            r(
                "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                {"rules": [{"status": "Enabled", "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}]},
            )
        ],
    ),
    "s3-force-destroy-off": Case([r(BUCKET, {"forceDestroy": True})], [r(BUCKET, {"forceDestroy": False})]),
    "s3-bucket-controls": Case(with_bucket(*ALL_BUCKET_CONTROLS[1:]), with_bucket(*ALL_BUCKET_CONTROLS)),
    "s3-versioning": Case(
        with_bucket(("aws:s3/bucketVersioning:BucketVersioning", {"versioningConfiguration": {"status": "Suspended"}})),
        with_bucket(
            ("aws:s3/bucketVersioningV2:BucketVersioningV2", {"versioningConfiguration": {"status": "Enabled"}})
        ),
        also_failing=[with_bucket()],
    ),
    "s3-access-logging": Case(logging_world(False), logging_world(True)),
    "eks-endpoint-restricted": Case(
        [r("aws:eks/cluster:Cluster", {**GOOD_CLUSTER, "vpcConfig": {"endpointPrivateAccess": True}})],
        [r("aws:eks/cluster:Cluster", GOOD_CLUSTER)],
        also_failing=[
            [
                r(
                    "aws:eks/cluster:Cluster",
                    {"vpcConfig": {"endpointPrivateAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}},
                )
            ],
            [r("aws:eks/cluster:Cluster", {"vpcConfig": {"endpointPublicAccess": False}})],
        ],
    ),
    "eks-secrets-encryption": Case(
        [r("aws:eks/cluster:Cluster", {**GOOD_CLUSTER, "encryptionConfig": None})],
        [r("aws:eks/cluster:Cluster", GOOD_CLUSTER)],
    ),
    "eks-control-plane-logs": Case(
        [r("aws:eks/cluster:Cluster", {**GOOD_CLUSTER, "enabledClusterLogTypes": ["api", "audit"]})],
        [r("aws:eks/cluster:Cluster", GOOD_CLUSTER)],
    ),
    "eks-supported-version": Case(
        [r("aws:eks/cluster:Cluster", {**GOOD_CLUSTER, "version": "1.29"})],
        [r("aws:eks/cluster:Cluster", GOOD_CLUSTER)],
        also_failing=[[r("aws:eks/cluster:Cluster", {**GOOD_CLUSTER, "version": None})]],
    ),
    "eks-access-entries": Case(
        [r("aws:eks/cluster:Cluster", {**GOOD_CLUSTER, "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}})],
        [r("aws:eks/cluster:Cluster", GOOD_CLUSTER)],
        also_failing=[
            [r("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "aws-auth", "namespace": "kube-system"}})]
        ],
    ),
    "ec2-imdsv2": Case(
        [r("aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": {"httpTokens": "optional"}})],
        [
            r(
                "aws:ec2/launchTemplate:LaunchTemplate",
                {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1.0}},
            )
        ],
        also_failing=[
            [
                r(
                    "aws:ec2/launchTemplate:LaunchTemplate",
                    {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}},
                )
            ]
        ],
    ),
    "eks-nodegroup-hardened": Case(
        [r("aws:eks/nodeGroup:NodeGroup", {"launchTemplate": {"id": "lt"}, "remoteAccess": {"ec2SshKey": "k"}})],
        [r("aws:eks/nodeGroup:NodeGroup", {"launchTemplate": {"id": "lt", "version": "1"}})],
        also_failing=[[r("aws:eks/nodeGroup:NodeGroup", {})]],
    ),
    "kms-key-rotation": Case(
        [r("aws:kms/key:Key", {"enableKeyRotation": False})],
        [r("aws:kms/key:Key", {"enableKeyRotation": True})],
    ),
    "kms-no-wildcard-principal": Case(
        [r("aws:kms/key:Key", {"policy": doc(ROOT_ADMIN, {**ROOT_ADMIN, "Principal": "*"})})],
        [r("aws:kms/key:Key", {"policy": doc(ROOT_ADMIN)})],
        also_failing=[[r("aws:kms/keyPolicy:KeyPolicy", {"policy": doc({**ROOT_ADMIN, "Principal": {"AWS": ["*"]}})})]],
    ),
    "kms-deletion-window": Case(
        [r("aws:kms/key:Key", {"deletionWindowInDays": 7.0})],
        [r("aws:kms/key:Key", {"deletionWindowInDays": 30.0})],
    ),
    "iam-no-wildcard-admin": Case(
        [r("aws:iam/rolePolicy:RolePolicy", {"policy": doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})})],
        [
            r(
                "aws:iam/policy:Policy",
                {"policy": doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})},
            )
        ],
        also_failing=[
            [r("aws:iam/policy:Policy", {"policy": doc({"Effect": "Allow", "Action": ["*"], "Resource": ["*"]})})],
            [r("aws:iam/policy:Policy", {"policy": doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})})],
            [
                r(
                    "aws:iam/role:Role",
                    {
                        "inlinePolicies": [
                            {"name": "p", "policy": doc({"Effect": "Allow", "Action": "*", "Resource": "*"})}
                        ]
                    },
                )
            ],
            [
                r(
                    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                    {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
                )
            ],
        ],
    ),
    "iam-trust-scoped": Case(
        [r("aws:iam/role:Role", {"assumeRolePolicy": doc({**POD_TRUST, "Principal": "*"})})],
        [
            r("aws:iam/role:Role", {"assumeRolePolicy": doc(POD_TRUST)}),
            # The sandbox's analyst role: Pod Identity and one named role (Superset's) may assume it.
            r(
                "aws:iam/role:Role",
                {
                    "assumeRolePolicy": doc(
                        POD_TRUST,
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::123456789012:role/dp-dev-sales-domain"},
                            # TagSession: the named role's Pod Identity session tags are transitive.
                            "Action": ["sts:AssumeRole", "sts:TagSession"],
                        },
                    )
                },
                name="analyst",
            ),
        ],
        also_failing=[
            # Beside Pod Identity: an account root (every principal of the account), or more than AssumeRole.
            [
                r(
                    "aws:iam/role:Role",
                    {
                        "assumeRolePolicy": doc(
                            POD_TRUST,
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                                "Action": "sts:AssumeRole",
                            },
                        )
                    },
                )
            ],
            [
                r(
                    "aws:iam/role:Role",
                    {
                        "assumeRolePolicy": doc(
                            POD_TRUST,
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "arn:aws:iam::123456789012:role/x"},
                                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                            },
                        )
                    },
                )
            ],
            [
                r(
                    "aws:iam/role:Role",
                    {
                        "assumeRolePolicy": doc(
                            {**POD_TRUST, "Principal": {"Service": ["pods.eks.amazonaws.com", "ec2.amazonaws.com"]}}
                        )
                    },
                )
            ],
            [r("aws:iam/role:Role", {"assumeRolePolicy": doc({**POD_TRUST, "Action": "sts:*"})})],
            [
                r(
                    "aws:iam/role:Role",
                    {
                        "assumeRolePolicy": doc(
                            {
                                "Effect": "Allow",
                                "Principal": {"Federated": "arn:oidc"},
                                "Action": "sts:AssumeRoleWithWebIdentity",
                            }
                        )
                    },
                )
            ],
        ],
    ),
    "eks-pod-identity-roles": Case(
        pod_identity_world({**POD_TRUST, "Principal": {"Service": "ec2.amazonaws.com"}}), pod_identity_world(POD_TRUST)
    ),
    "rds-encrypted-private": Case(
        [r("aws:rds/instance:Instance", {"storageEncrypted": True, "publiclyAccessible": True})],
        [r("aws:rds/instance:Instance", {"storageEncrypted": True})],
        environment="dev",
        also_failing=[[r("aws:rds/instance:Instance", {})]],
    ),
    "rds-maintained": Case(
        [
            r(
                "aws:rds/instance:Instance",
                {"autoMinorVersionUpgrade": False, "enabledCloudwatchLogsExports": ["postgresql"]},
            )
        ],
        [
            r(
                "aws:rds/instance:Instance",
                {"autoMinorVersionUpgrade": True, "enabledCloudwatchLogsExports": ["postgresql"]},
            )
        ],
        also_failing=[[r("aws:rds/instance:Instance", {"autoMinorVersionUpgrade": True})]],
    ),
    "rds-resilience": Case(
        [
            r(
                "aws:rds/instance:Instance",
                {"deletionProtection": True, "skipFinalSnapshot": True, "backupRetentionPeriod": 7, "multiAz": True},
            )
        ],
        [
            r(
                "aws:rds/instance:Instance",
                {
                    "deletionProtection": True,
                    "skipFinalSnapshot": False,
                    "finalSnapshotIdentifier": "final",
                    "backupRetentionPeriod": 7.0,
                    "multiAz": True,
                },
            )
        ],
        also_failing=[[r("aws:rds/instance:Instance", {"skipFinalSnapshot": False, "finalSnapshotIdentifier": "f"})]],
    ),
    "redshift-namespace-cmk": Case(
        [r("aws:redshiftserverless/namespace:Namespace", {"namespaceName": "n"})],
        [r("aws:redshiftserverless/namespace:Namespace", {"kmsKeyId": "arn:aws:kms:eu-west-1:1:key/k"})],
    ),
    "redshift-workgroup-private": Case(
        [
            r(
                "aws:redshiftserverless/workgroup:Workgroup",
                {
                    "enhancedVpcRouting": True,
                    "configParameters": [{"parameterKey": "require_ssl", "parameterValue": "false"}],
                },
            )
        ],
        [
            r(
                "aws:redshiftserverless/workgroup:Workgroup",
                {
                    "publiclyAccessible": False,
                    "enhancedVpcRouting": True,
                    "configParameters": [{"parameterKey": "require_ssl", "parameterValue": "true"}],
                },
            )
        ],
        also_failing=[[r("aws:redshiftserverless/workgroup:Workgroup", {"publiclyAccessible": True})]],
    ),
    "vpc-flow-logs": Case(vpc_world(None), vpc_world("aws:ec2/flowLog:FlowLog")),
    "vpc-default-sg-closed": Case(
        vpc_world("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", {"ingress": [{"protocol": "-1"}]}),
        vpc_world("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"),
        also_failing=[vpc_world(None)],
    ),
    "aws-tags-standard": Case(
        tags_world({"owner": "team", "cost-center": "cc-1"}),
        tags_world(STANDARD_TAGS),
        also_failing=[
            tags_world({"domain": "platform"}),
            tags_world(STANDARD_TAGS, env="dev"),
            [r(BUCKET, {"tags": {"environment": "prod", **STANDARD_TAGS}})],
            [r(AWS_PROVIDER, name="default_7_51_1"), r(BUCKET, provider=r(AWS_PROVIDER, name="default_7_51_1").urn)],
        ],
    ),
    "aws-tags-no-empty-override": Case(
        [r(BUCKET, {"tags": {"owner": ""}})],
        [r(BUCKET, {"tags": {"domain": "sales", "purpose": "raw"}})],
    ),
    "k8s-namespace-pss": Case(
        [
            r(
                "kubernetes:core/v1:Namespace",
                {"metadata": {"name": "n", "labels": {**PSS, "pod-security.kubernetes.io/enforce": "privileged"}}},
            )
        ],
        [r("kubernetes:core/v1:Namespace", {"metadata": {"name": "n", "labels": PSS}})],
        also_failing=[[r("kubernetes:core/v1:Namespace", {"metadata": {"name": "n"}})]],
    ),
    "helm-no-create-namespace": Case(
        [r("kubernetes:helm.sh/v3:Release", {"namespace": "sales", "createNamespace": True})],
        [r("kubernetes:helm.sh/v3:Release", {"namespace": "sales", "createNamespace": False})],
    ),
    "k8s-default-deny": Case(
        namespace_world(r(DENY_ALL.type, {**DENY_ALL.props, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})),
        namespace_world(DENY_ALL),
        also_failing=[
            namespace_world(
                r(
                    DENY_ALL.type,
                    {
                        **DENY_ALL.props,
                        "spec": {**DENY_ALL.props["spec"], "ingress": [{"from": [{"podSelector": {}}]}]},
                    },
                )
            ),
            namespace_world(r(DENY_ALL.type, {**DENY_ALL.props, "metadata": {"namespace": "other"}})),
            [r("kubernetes:core/v1:Namespace", {"metadata": {"labels": PSS}})],
            # One empty rule matches every peer and port: allow-all in that direction, not a deny.
            *(
                namespace_world(r(DENY_ALL.type, {**DENY_ALL.props, "spec": {**DENY_ALL.props["spec"], key: [{}]}}))
                for key in ("egress", "ingress")
            ),
        ],
    ),
    "k8s-domain-quota": Case(
        namespace_world(QUOTA, labels=DOMAIN_LABELS),
        namespace_world(QUOTA, LIMITS, labels=DOMAIN_LABELS),
        also_failing=[namespace_world(LIMITS, labels=DOMAIN_LABELS)],
    ),
    "k8s-container-resources": Case(
        [deployment(bad_pod(resources={"requests": {"cpu": "1", "memory": "1Gi"}}))],
        [deployment(GOOD_POD)],
    ),
    "k8s-container-security": Case(
        [deployment(bad_pod(securityContext={"capabilities": {"drop": ["ALL"]}}))],
        [deployment(GOOD_POD)],
        also_failing=[
            [deployment({**GOOD_POD, "securityContext": {}})],
            [deployment(bad_pod(securityContext={**GOOD_CONTAINER["securityContext"], "privileged": True}))],
            [deployment(bad_pod(securityContext={"allowPrivilegeEscalation": False}))],
        ],
    ),
    "k8s-image-pinned": Case(
        [
            r(
                "kubernetes:batch/v1:CronJob",
                {"spec": {"jobTemplate": {"spec": {"template": {"spec": bad_pod(image="nginx:latest")}}}}},
            )
        ],
        [
            r(
                "kubernetes:batch/v1:CronJob",
                {"spec": {"jobTemplate": {"spec": {"template": {"spec": bad_pod(image="registry:5000/nginx:1.27")}}}}},
            )
        ],
        also_failing=[[deployment(bad_pod(image="registry:5000/nginx"))]],
    ),
    "k8s-image-digest": Case([deployment(bad_pod(image="nginx:1.27"))], [deployment(GOOD_POD)]),
    "k8s-rbac-no-wildcards": Case(
        [
            r(
                "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
                {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]},
            )
        ],
        [
            r(
                "kubernetes:rbac.authorization.k8s.io/v1:Role",
                {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
            )
        ],
    ),
    "k8s-no-default-service-account": Case(
        [r("kubernetes:core/v1:Pod", {"spec": {**GOOD_POD, "serviceAccountName": "default"}})],
        [r("kubernetes:core/v1:Pod", {"spec": GOOD_POD})],
        also_failing=[[deployment({k: v for k, v in GOOD_POD.items() if k != "serviceAccountName"})]],
    ),
    "k8s-no-secrets-in-config": Case(
        [
            r(
                "kubernetes:helm.sh/v3:Release",
                {"values": {"auth": {"password": "x"}}},
                secret_paths=frozenset({"values"}),
            )
        ],
        [
            r(
                "kubernetes:helm.sh/v3:Release",
                {"values": {"auth": {"existingSecret": "db", "passwordSecretKey": "password", "password": ""}}},
            ),
            r("kubernetes:core/v1:Secret", {"stringData": {"password": "x"}}, secret_paths=frozenset({"stringData"})),
            r("kubernetes:core/v1:ConfigMap", {"data": {"LOG_LEVEL": "info", "tokenUrl": "https://idp/token"}}),
            # A _FILE name whose value is a path under a mounted volume holds a path, not a secret.
            deployment(
                bad_pod(
                    env=[{"name": "SYSTEM_CLIENT_SECRET_FILE", "value": "/var/run/secrets/client/secret"}],
                    volumeMounts=[{"name": "client", "mountPath": "/var/run/secrets/client"}],
                )
            ),
        ],
        also_failing=[
            # ... and otherwise the rest of its name decides: here the value is the secret itself.
            [
                deployment(
                    bad_pod(
                        env=[{"name": "SYSTEM_CLIENT_SECRET_FILE", "value": "hunter2"}],
                        volumeMounts=[{"name": "client", "mountPath": "/var/run/secrets/client"}],
                    )
                )
            ],
            [
                deployment(
                    bad_pod(
                        env=[{"name": "DB_PASSWORD_FILE", "value": "/var/run/secrets/client/../../../etc/pw"}],
                        volumeMounts=[{"name": "client", "mountPath": "/var/run/secrets/client"}],
                    )
                )
            ],
            [r("kubernetes:helm.sh/v3:Release", {"values": {"postgresql": {"auth": {"postgresPassword": "hunter2"}}}})],
            [r("kubernetes:core/v1:ConfigMap", {"data": {"SUPERSET_SECRET_KEY": "abc"}})],
            [deployment(bad_pod(env=[{"name": "API_TOKEN", "value": "abc"}]))],
            [r("kubernetes:core/v1:Service", {"metadata": {"annotations": {"x/api-key": "abc"}}})],
            [r("kubernetes:apps/v1:Deployment", {}, secret_paths=frozenset({"spec"}))],
        ],
    ),
    "stateful-protected": Case(
        [r("aws:rds/instance:Instance", {})],
        [
            r("aws:kms/key:Key", {}, protect=True),
            r(BUCKET, {}, retain_on_delete=True),
            # The pack sees no retainOnDelete (None): a retired domain's tag stands for it.
            r(BUCKET, {"tags": {"lifecycle": "retired"}}, retain_on_delete=None),
        ],
        also_failing=[
            [r(BUCKET, {"tags": {"lifecycle": "retired"}}, retain_on_delete=False)],  # known: the option decides
            [r(BUCKET, {"tags": {"lifecycle": "other"}}, retain_on_delete=None)],
        ],
    ),
    "athena-workgroup-enforced": Case(
        [
            r(
                "aws:athena/workgroup:Workgroup",
                {"configuration": {**GOOD_WORKGROUP, "enforceWorkgroupConfiguration": False}},
            )
        ],
        [r("aws:athena/workgroup:Workgroup", {"configuration": GOOD_WORKGROUP})],
        also_failing=[
            [r("aws:athena/workgroup:Workgroup", {})],  # no configuration: results unencrypted, scans unbounded
            [
                r(
                    "aws:athena/workgroup:Workgroup",
                    {
                        "configuration": {
                            **GOOD_WORKGROUP,
                            "resultConfiguration": {"encryptionConfiguration": {"encryptionOption": "SSE_S3"}},
                        }
                    },
                )
            ],
            [
                r(
                    "aws:athena/workgroup:Workgroup",
                    {"configuration": {k: v for k, v in GOOD_WORKGROUP.items() if k != "bytesScannedCutoffPerQuery"}},
                )
            ],
        ],
    ),
    "sandbox-role-scoped": Case(
        # Writes the curated zone.
        sandbox_world(
            *GOOD_SANDBOX, {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{OWN_BUCKET}/curated/*"}
        ),
        sandbox_world(*GOOD_SANDBOX),
        also_failing=[
            # Reads its own raw zone.
            sandbox_world(
                *GOOD_SANDBOX, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{OWN_BUCKET}/raw/*"}
            ),
            # Reads a product its domain does not consume (the pipeline role reads only sales' orders).
            sandbox_world(
                *GOOD_SANDBOX,
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{SALES_BUCKET}/curated/daily-revenue/*"},
            ),
            # Lists a whole bucket, writes another domain's sandbox/, or anything on *.
            sandbox_world(*GOOD_SANDBOX, {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": SALES_BUCKET}),
            sandbox_world(
                *GOOD_SANDBOX, {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{SALES_BUCKET}/sandbox/*"}
            ),
            sandbox_world(*GOOD_SANDBOX, {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}),
            # A sandbox role whose pipeline role is not in the stack cannot be checked: reported.
            sandbox_world(*GOOD_SANDBOX)[1:2],
            # Takes on its pipeline role's rights (writes everywhere that role writes).
            sandbox_world(
                *GOOD_SANDBOX,
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Resource": "arn:aws:iam::1:role/dp-dev-marketing-domain",
                },
            ),
            # A managed policy (its document is not in the stack): attached, or on the role itself.
            [
                *sandbox_world(*GOOD_SANDBOX),
                r(
                    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                    {"role": "dp-dev-marketing-analyst", "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"},
                    name="analyst-s3",
                ),
            ],
            [
                r("aws:iam/role:Role", {"name": "dp-dev-marketing-domain"}, name="domain"),
                r(
                    "aws:iam/role:Role",
                    {
                        "name": "dp-dev-marketing-analyst",
                        "tags": {"sandbox-of": "dp-dev-marketing-domain"},
                        "managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
                    },
                    name="analyst",
                ),
            ],
        ],
    ),
    "stateful-no-delete-before-replace": Case(
        [r("aws:redshiftserverless/namespace:Namespace", {}, protect=True, delete_before_replace=True)],
        [r("aws:redshiftserverless/namespace:Namespace", {}, protect=True)],
    ),
}


def check(rule: ResourceRule | StackRule, world: Sequence[Res], ctx: Ctx) -> list[rules.Violation]:
    if isinstance(rule, StackRule):
        return rule.check(world, ctx)
    return [v for res in world for v in rule.check(res, ctx)]


def test_every_rule_has_a_case() -> None:
    assert sorted(CASES) == sorted(RULES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_catches_failing_case(name: str) -> None:
    rule, case = RULES[name], CASES[name]
    for world in [case.failing, *case.also_failing]:
        violations = check(rule, world, Ctx(case.environment))
        assert violations, f"{name} missed {world}"
        assert {v.rule for v in violations} == {name}
        assert all(v.urn in {res.urn for res in world} for v in violations)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_passes_passing_case(name: str) -> None:
    rule, case = RULES[name], CASES[name]
    assert any(rule.applies_to(res.type) for res in case.passing), "the passing case must exercise the rule"
    assert check(rule, case.passing, Ctx(case.environment)) == []


# --- levels, environments, unknowns ----------------------------------------------------------------


def test_levels_follow_security_md() -> None:
    expected = {
        # dev relaxations SECURITY.md allows (advisory), and prod-only data-loss controls (disabled in dev).
        "s3-versioning": ("advisory", "mandatory"),
        "s3-access-logging": ("advisory", "mandatory"),
        "vpc-flow-logs": ("advisory", "mandatory"),
        "vpc-default-sg-closed": ("advisory", "mandatory"),
        "s3-force-destroy-off": ("disabled", "mandatory"),
        "kms-deletion-window": ("disabled", "mandatory"),
        "rds-resilience": ("disabled", "mandatory"),
        "stateful-protected": ("disabled", "mandatory"),
        "stateful-no-delete-before-replace": ("advisory", "mandatory"),
        "k8s-image-digest": ("disabled", "advisory"),
    }
    for rule in RULES.values():
        assert (rule.level("dev"), rule.level("prod")) == expected.get(rule.name, ("mandatory", "mandatory")), rule.name
        assert rule.level("staging") == rule.level("prod"), "an unknown environment gets the strictest levels"


def test_dev_thresholds() -> None:
    logs = r("aws:eks/cluster:Cluster", {**GOOD_CLUSTER, "enabledClusterLogTypes": ["audit", "api"]})
    rule = RULES["eks-control-plane-logs"]
    assert check(rule, [logs], Ctx("dev")) == []
    assert check(rule, [logs], Ctx("prod"))
    assert check(rule, [r(logs.type, {"enabledClusterLogTypes": ["api"]})], Ctx("dev"))
    # Disabled rules do not run in dev; the same resources fail in prod.
    world = [r(BUCKET, {"forceDestroy": True}), r("aws:kms/key:Key", {"deletionWindowInDays": 7})]
    assert not {"s3-force-destroy-off", "kms-deletion-window", "stateful-protected"} & {
        f.rule for f in evaluate(world, Ctx("dev"))
    }
    assert {"s3-force-destroy-off", "kms-deletion-window", "stateful-protected"} <= {
        f.rule for f in evaluate(world, Ctx("prod"))
    }


def test_supported_versions_match_the_config_model() -> None:
    assert rules.SUPPORTED_EKS_VERSIONS == SUPPORTED_EKS_VERSIONS


def test_unknown_values_are_not_reported() -> None:
    world = [
        r(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            dict.fromkeys(
                ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), UNKNOWN
            ),
        ),
        r("aws:s3/bucketPolicy:BucketPolicy", {"policy": UNKNOWN}),
        r(
            "aws:eks/cluster:Cluster",
            {
                **GOOD_CLUSTER,
                "vpcConfig": UNKNOWN,
                "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": UNKNOWN}},
            },
            protect=True,
        ),
        r("aws:iam/role:Role", {"assumeRolePolicy": UNKNOWN}),
        r("kubernetes:core/v1:Namespace", {"metadata": {"name": UNKNOWN, "labels": PSS}}),
        deployment({**GOOD_POD, "containers": [{**GOOD_CONTAINER, "image": UNKNOWN}]}),
        # A sandbox role whose policy is not known yet (preview), and one whose tags are not.
        *[
            dataclasses.replace(x, props={**x.props, "policy": UNKNOWN}) if x.name == "analyst-p" else x
            for x in sandbox_world(*GOOD_SANDBOX, {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
        ],
        r("aws:iam/role:Role", {"name": "dp-dev-sales-analyst", "tags": UNKNOWN}, name="unknown-tags"),
        r("aws:athena/workgroup:Workgroup", {"configuration": UNKNOWN}),
        r(
            "aws:athena/workgroup:Workgroup",
            {"configuration": {**GOOD_WORKGROUP, "resultConfiguration": UNKNOWN}},
            name="unknown-results",
        ),
    ]
    # These resources have no provider, which aws-tags-standard reports; everything else must stay quiet.
    assert [f for f in evaluate(world, Ctx("prod")) if f.rule != "aws-tags-standard"] == []


# --- real SDK classes: the property names the rules read are the ones the providers register --------


def _aws_world(env: str, good: bool) -> Callable[[], None]:
    def program() -> None:
        tags = {"environment": env, "owner": "team", "cost-center": "cc-1", "domain": "platform"}
        provider = aws.Provider("aws", region="eu-west-1", default_tags=aws.ProviderDefaultTagsArgs(tags=tags))
        o = pulumi.ResourceOptions(provider=provider)
        keep = pulumi.ResourceOptions(provider=provider, protect=good, retain_on_delete=good)
        key = aws.kms.Key(
            "key",
            enable_key_rotation=good,
            deletion_window_in_days=30 if good else 7,
            policy=doc({**ROOT_ADMIN, "Principal": {"AWS": "arn:aws:iam::123456789012:root" if good else "*"}}),
            opts=keep,
        )
        buckets = {n: aws.s3.Bucket(n, force_destroy=not good, opts=keep) for n in ("lake", "logs")}
        for n, b in buckets.items():
            aws.s3.BucketPublicAccessBlock(
                f"{n}-pab",
                bucket=b.id,
                block_public_acls=True,
                block_public_policy=good,
                ignore_public_acls=True,
                restrict_public_buckets=True,
                opts=o,
            )
            aws.s3.BucketServerSideEncryptionConfiguration(
                f"{n}-sse",
                bucket=b.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            # The log bucket takes SSE-S3 (S3 access logging cannot write to SSE-KMS targets).
                            sse_algorithm="AES256" if n == "logs" else "aws:kms",
                            kms_master_key_id=None if n == "logs" else key.arn,
                        ),
                        bucket_key_enabled=good,
                    )
                ],
                opts=o,
            )
            statements = (
                [TLS_DENY]
                if good
                else [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]
            )
            aws.s3.BucketPolicy(f"{n}-policy", bucket=b.id, policy=doc(*statements), opts=o)
            aws.s3.BucketOwnershipControls(
                f"{n}-ownership",
                bucket=b.id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(
                    object_ownership="BucketOwnerEnforced" if good else "ObjectWriter"
                ),
                opts=o,
            )
            aws.s3.BucketVersioning(
                f"{n}-versioning",
                bucket=b.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                    status="Enabled" if good else "Suspended"
                ),
                opts=o,
            )
            rule = aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=7
                )
                if good
                else None,
                expiration=None if good else aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=30),
            )
            aws.s3.BucketLifecycleConfiguration(f"{n}-lifecycle", bucket=b.id, rules=[rule], opts=o)
        if good:
            aws.s3.BucketLogging(
                "lake-logging",
                bucket=buckets["lake"].id,
                target_bucket=buckets["logs"].bucket,
                target_prefix="lake/",
                opts=o,
            )
        else:
            aws.s3.Bucket("bare", tags={"owner": ""}, opts=pulumi.ResourceOptions(delete_before_replace=True))
        aws.eks.Cluster(
            "cluster",
            role_arn="arn:aws:iam::123456789012:role/eks",
            version="1.35" if good else "1.29",
            enabled_cluster_log_types=list(rules.EKS_LOG_TYPES) if good else ["api"],
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=["subnet-1"],
                endpoint_private_access=good,
                endpoint_public_access=True,
                public_access_cidrs=["203.0.113.0/24"] if good else ["0.0.0.0/0"],
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn), resources=["secrets"]
            )
            if good
            else None,
            access_config=aws.eks.ClusterAccessConfigArgs(authentication_mode="API" if good else "CONFIG_MAP"),
            opts=keep,
        )
        lt = aws.ec2.LaunchTemplate(
            "nodes",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_tokens="required" if good else "optional", http_put_response_hop_limit=1 if good else 2
            ),
            opts=o,
        )
        aws.eks.NodeGroup(
            "general",
            cluster_name="cluster",
            node_role_arn="arn:aws:iam::123456789012:role/nodes",
            subnet_ids=["subnet-1"],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(desired_size=1, max_size=1, min_size=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=lt.id, version="1"),
            remote_access=None if good else aws.eks.NodeGroupRemoteAccessArgs(ec2_ssh_key="key"),
            opts=o,
        )
        trust = POD_TRUST if good else {**POD_TRUST, "Principal": {"Service": "ec2.amazonaws.com"}}
        role = aws.iam.Role("app", name="dp-app", assume_role_policy=doc(trust), opts=o)
        aws.iam.RolePolicy(
            "app",
            role=role.name,
            policy=doc(
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject" if good else "s3:*",
                    "Resource": "arn:aws:s3:::b/*" if good else "*",
                }
            ),
            opts=o,
        )
        aws.iam.Role(
            "wide",
            assume_role_policy=doc({**POD_TRUST, "Principal": {"Service": "pods.eks.amazonaws.com"} if good else "*"}),
            opts=o,
        )
        aws.eks.PodIdentityAssociation(
            "app", cluster_name="cluster", namespace="sales", service_account="app", role_arn=role.arn, opts=o
        )
        aws.athena.Workgroup(
            "sandbox",
            configuration=aws.athena.WorkgroupConfigurationArgs(
                enforce_workgroup_configuration=good,
                bytes_scanned_cutoff_per_query=10 * 2**30,
                result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                    output_location="s3://b/sandbox/athena/",
                    encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                        encryption_option="SSE_KMS", kms_key_arn="arn:aws:kms:eu-west-1:1:key/k"
                    ),
                ),
            ),
            opts=o,
        )
        # A sandbox role next to its pipeline role ("app" writes b/*): it writes sandbox/ only when good.
        aws.iam.RolePolicy(
            "app-writes",
            role=role.name,
            policy=doc({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}),
            opts=o,
        )
        analyst = aws.iam.Role(
            "analyst",
            assume_role_policy=doc(POD_TRUST),
            tags={"sandbox-of": "dp-app"},
            opts=o,
        )
        aws.iam.RolePolicy(
            "analyst",
            role=analyst.id,
            policy=doc(
                {
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::b/sandbox/*" if good else "arn:aws:s3:::b/curated/*",
                }
            ),
            opts=o,
        )
        aws.rds.Instance(
            "db",
            instance_class="db.t4g.micro",
            storage_encrypted=good,
            publicly_accessible=not good,
            backup_retention_period=7 if good else 1,
            deletion_protection=good,
            skip_final_snapshot=not good,
            final_snapshot_identifier="db-final",
            multi_az=good,
            auto_minor_version_upgrade=good,
            enabled_cloudwatch_logs_exports=["postgresql"] if good else None,
            opts=keep,
        )
        aws.redshiftserverless.Namespace("wh", namespace_name="wh", kms_key_id=key.arn if good else None, opts=keep)
        aws.redshiftserverless.Workgroup(
            "wh",
            namespace_name="wh",
            workgroup_name="wh",
            publicly_accessible=not good,
            enhanced_vpc_routing=good,
            config_parameters=[
                aws.redshiftserverless.WorkgroupConfigParameterArgs(
                    parameter_key="require_ssl", parameter_value="true" if good else "false"
                )
            ],
            opts=o,
        )
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.20.0.0/16", opts=o)
        if good:
            aws.ec2.FlowLog(
                "vpc",
                vpc_id=vpc.id,
                traffic_type="ALL",
                log_destination="arn:aws:logs:eu-west-1:123456789012:log-group:flow",
                opts=o,
            )
        aws.ec2.DefaultSecurityGroup(
            "vpc-default",
            vpc_id=vpc.id,
            ingress=None
            if good
            else [aws.ec2.DefaultSecurityGroupIngressArgs(protocol="-1", from_port=0, to_port=0, self=True)],
            opts=o,
        )

    return program


def _k8s_world(good: bool) -> Callable[[], None]:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        o = pulumi.ResourceOptions(provider=provider)
        labels = {**PSS, rules.DOMAIN_LABEL: "sales"} if good else {rules.DOMAIN_LABEL: "sales"}
        k8s.core.v1.Namespace("sales", metadata=k8s.meta.v1.ObjectMetaArgs(name="sales", labels=labels), opts=o)
        meta = k8s.meta.v1.ObjectMetaArgs(name="guardrails", namespace="sales")
        if good:
            k8s.networking.v1.NetworkPolicy(
                "deny",
                metadata=meta,
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
                ),
                opts=o,
            )
            k8s.core.v1.ResourceQuota(
                "quota", metadata=meta, spec=k8s.core.v1.ResourceQuotaSpecArgs(hard={"pods": "20"}), opts=o
            )
            k8s.core.v1.LimitRange(
                "limits",
                metadata=meta,
                spec=k8s.core.v1.LimitRangeSpecArgs(
                    limits=[
                        k8s.core.v1.LimitRangeItemArgs(
                            type="Container", default={"cpu": "1"}, default_request={"cpu": "100m"}
                        )
                    ]
                ),
                opts=o,
            )
        container = k8s.core.v1.ContainerArgs(
            name="app",
            image=GOOD_CONTAINER["image"] if good else "nginx",
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "100m", "memory": "128Mi"}, limits={"cpu": "1", "memory": "256Mi"}
            )
            if good
            else None,
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False, capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"])
            )
            if good
            else None,
            env=[
                k8s.core.v1.EnvVarArgs(
                    name="DB_PASSWORD",
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name="db", key="password")
                    ),
                )
                if good
                else k8s.core.v1.EnvVarArgs(name="DB_PASSWORD", value=pulumi.Output.secret("hunter2"))
            ],
        )
        pod = k8s.core.v1.PodSpecArgs(
            service_account_name="app" if good else None,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True, seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")
            )
            if good
            else None,
            restart_policy="Never",
            containers=[container],
        )
        k8s.batch.v1.Job(
            "job",
            metadata=meta,
            spec=k8s.batch.v1.JobSpecArgs(template=k8s.core.v1.PodTemplateSpecArgs(spec=pod)),
            opts=o,
        )
        k8s.rbac.v1.Role(
            "reader",
            metadata=meta,
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""], resources=["pods"], verbs=["get", "list"] if good else ["*"]
                )
            ],
            opts=o,
        )
        k8s.core.v1.Secret("db", metadata=meta, string_data={"password": pulumi.Output.secret("hunter2")}, opts=o)
        k8s.helm.v3.Release(
            "app",
            chart="app",
            version="1.0.0",
            namespace="sales",
            create_namespace=not good,
            values={"auth": {"existingSecret": "db"}}
            if good
            else {"auth": {"password": pulumi.Output.secret("hunter2")}},
            opts=o,
        )
        if not good:
            k8s.core.v1.ConfigMap(
                "aws-auth",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="aws-auth", namespace="kube-system"),
                data={"mapRoles": "[]"},
                opts=o,
            )

    return program


def _world(env: str, good: bool) -> list[Res]:
    def program() -> None:
        _aws_world(env, good)()
        _k8s_world(good)()

    return [from_record(x) for x in run_function(program, env).resources]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_compliant_sdk_resources_pass_every_rule(env: str) -> None:
    world = _world(env, good=True)
    assert evaluate(world, Ctx(env)) == []
    unmatched = [rule.name for rule in RULES.values() if not any(rule.applies_to(res.type) for res in world)]
    assert unmatched == [], "the compliant program must exercise every rule"


def test_non_compliant_sdk_resources_fail_every_rule() -> None:
    findings = evaluate(_world("prod", good=False), Ctx("prod"))
    assert sorted(RULES) == sorted({f.rule for f in findings})


def test_records_keep_secret_paths() -> None:
    world = _world("prod", good=False)
    release = next(x for x in world if x.type == "kubernetes:helm.sh/v3:Release")
    job = next(x for x in world if x.type == "kubernetes:batch/v1:Job")
    assert release.secret_paths == {"values"}
    assert release.props["values"] == {"auth": {"password": "hunter2"}}
    assert job.secret_paths == {"spec"}


def _declares(package: str, cls_name: str, text: str) -> bool:
    """Whether a class `cls_name` of the SDK package `package` says `text` in its source. The SDKs generate
    one file per resource class; the files are read, not imported (importing every module a rule
    names costs seconds)."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin, package
    return any(
        f"\nclass {cls_name}(pulumi." in source and text in source
        for source in (path.read_text() for path in Path(spec.origin).parent.glob("*.py"))
    )


def _type_exists(token: str) -> bool:
    if token == AWS_PROVIDER:
        return _declares("pulumi_aws", "Provider", '@pulumi.type_token("pulumi:providers:aws")')
    package, rest = token.split(":", 1)
    module_path, cls_name = rest.rsplit(":", 1)
    if package == "aws":
        module = f"pulumi_aws.{module_path.split('/')[0]}"
    else:
        group, version = module_path.split("/")
        module = f"pulumi_kubernetes.{group.split('.')[0]}.{version}"
    return _declares(module, cls_name, f"'{token}'")


def test_rule_types_are_real_type_tokens() -> None:
    tokens = {t for rule in RULES.values() for t in rule.types if "*" not in t} | set(rules.TAGGABLE_AWS_TYPES)
    assert [t for t in sorted(tokens) if not _type_exists(t)] == []


# --- the real stacks --------------------------------------------------------------------------------

# Which rules must run on each resource type SECURITY.md names, when the program creates it.
CONTROLLED = {
    "aws:s3/bucket:Bucket": {"s3-bucket-controls", "s3-versioning", "s3-access-logging", "stateful-protected"},
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": {"s3-public-access-block"},
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": {"s3-encryption-kms"},
    "aws:s3/bucketPolicy:BucketPolicy": {"s3-tls-only-policy", "s3-no-public-principal"},
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": {"s3-acls-disabled"},
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": {"s3-lifecycle-abort-multipart"},
    "aws:eks/cluster:Cluster": {
        "eks-endpoint-restricted",
        "eks-secrets-encryption",
        "eks-control-plane-logs",
        "eks-access-entries",
    },
    "aws:ec2/launchTemplate:LaunchTemplate": {"ec2-imdsv2"},
    "aws:eks/nodeGroup:NodeGroup": {"eks-nodegroup-hardened"},
    "aws:kms/key:Key": {"kms-key-rotation", "kms-no-wildcard-principal", "kms-deletion-window"},
    "aws:iam/role:Role": {"iam-trust-scoped", "iam-no-wildcard-admin", "sandbox-role-scoped"},
    "aws:iam/rolePolicy:RolePolicy": {"iam-no-wildcard-admin", "sandbox-role-scoped"},
    "aws:rds/instance:Instance": {"rds-encrypted-private", "rds-resilience", "rds-maintained"},
    "aws:redshiftserverless/namespace:Namespace": {"redshift-namespace-cmk"},
    "aws:redshiftserverless/workgroup:Workgroup": {"redshift-workgroup-private"},
    "aws:athena/workgroup:Workgroup": {"athena-workgroup-enforced"},
    "aws:ec2/vpc:Vpc": {"vpc-flow-logs", "vpc-default-sg-closed"},
    "kubernetes:core/v1:Namespace": {"k8s-namespace-pss", "k8s-default-deny", "k8s-domain-quota"},
    "kubernetes:helm.sh/v3:Release": {"k8s-no-secrets-in-config", "helm-no-create-namespace"},
    "kubernetes:core/v1:ConfigMap": {"k8s-no-secrets-in-config"},
    "kubernetes:batch/v1:Job": {"k8s-container-resources", "k8s-container-security", "k8s-image-pinned"},
    "kubernetes:apps/v1:Deployment": {"k8s-container-resources", "k8s-container-security", "k8s-image-pinned"},
}


def test_controlled_types_are_covered() -> None:
    for type_, names in CONTROLLED.items():
        assert {n for n in names if RULES[n].applies_to(type_)} == names, type_


def _stack_resources(stack: str) -> list[Res]:
    return [from_record(x) for x in program_for(stack).resources]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_real_stack_has_no_mandatory_violation(stack: str) -> None:
    environment = stack_config(stack)["dataplatform:environment"]
    resources = _stack_resources(stack)
    findings = evaluate(resources, Ctx(environment))
    for f in findings:
        if f.level == "advisory":
            print(f"advisory {f.rule}: {f.urn}: {f.message}")
    counts = {rule.name: sum(rule.applies_to(x.type) for x in resources) for rule in RULES.values()}
    print(f"{stack}: rules that matched resources: {counts}")
    assert [f"{f.rule}: {f.urn}: {f.message}" for f in findings if f.level == "mandatory"] == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_real_stack_is_checked(stack: str) -> None:
    resources = _stack_resources(stack)
    present = {x.type for x in resources}
    assert "pulumi:providers:aws" in present and any(t.startswith("aws:") for t in present)
    for type_ in present & set(CONTROLLED):
        ran = {rule.name for rule in RULES.values() if rule.applies_to(type_)}
        assert CONTROLLED[type_] <= ran, type_
    # The tagging rule's table must classify every AWS type the program creates like pulumi_aws does.
    for type_ in {t for t in present if t.startswith("aws:")}:
        service, rest = type_[4:].split("/")
        cls = getattr(importlib.import_module(f"pulumi_aws.{service}"), rest.rsplit(":", 1)[1])
        assert hasattr(cls, "tags_all") == (type_ in rules.TAGGABLE_AWS_TYPES), f"add {type_} to rules._TAGGABLE"


# --- the CrossGuard pack, as the engine drives it ----------------------------------------------------

POLICY_PYTHON = PROJECT_DIR / "policy" / ".venv" / "bin" / "python"


@pytest.fixture(scope="module")
def pack_stub() -> Any:
    require(POLICY_PYTHON, "make setup (creates policy/.venv from policy/requirements.txt)")
    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc

    stubs = {}
    procs = []
    for environment in ("dev", "prod"):
        env = {**os.environ, "PULUMI_CONFIG": json.dumps({"dataplatform:environment": environment})}
        proc = subprocess.Popen(
            [str(POLICY_PYTHON), "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
            cwd=Path(PROJECT_DIR / "policy"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.stderr else port
        stubs[environment] = analyzer_pb2_grpc.AnalyzerStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
    yield stubs
    for proc in procs:
        proc.kill()
        proc.communicate()


def _struct(value: dict[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    s = struct_pb2.Struct()
    s.update(value)
    return s


ENGINE_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_pack_levels_per_environment(pack_stub: Any) -> None:
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2

    for environment, stub in pack_stub.items():
        info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
        levels = {p.name: analyzer_pb2.EnforcementLevel.Name(p.enforcementLevel).lower() for p in info.policies}
        assert levels == {rule.name: rule.level(environment) for rule in RULES.values()}


def test_pack_reports_resource_and_stack_violations(pack_stub: Any) -> None:
    from pulumi.runtime.proto import analyzer_pb2

    stub = pack_stub["prod"]
    flags = dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "restrictPublicBuckets"), True)
    pab = analyzer_pb2.AnalyzeRequest(
        type="aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        name="pab",
        urn="urn:pulumi:prod::dataplatform::aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock::pab",
        properties=_struct({**flags, "ignorePublicAcls": False, "bucket": ENGINE_UNKNOWN}),
    )
    diagnostics = stub.Analyze(pab, timeout=30).diagnostics
    assert [(d.policyName, "ignorePublicAcls" in d.message) for d in diagnostics] == [("s3-public-access-block", True)]
    # An unknown value (preview) is not a violation.
    pab.properties.CopyFrom(_struct({**flags, "ignorePublicAcls": ENGINE_UNKNOWN}))
    assert list(stub.Analyze(pab, timeout=30).diagnostics) == []

    namespace = analyzer_pb2.AnalyzerResource(
        type="kubernetes:core/v1:Namespace",
        name="sales",
        urn="urn:ns",
        properties=_struct({"metadata": {"name": "sales", "labels": {**PSS, rules.DOMAIN_LABEL: "sales"}}}),
    )
    deny = analyzer_pb2.AnalyzerResource(
        type=DENY_ALL.type, name="deny", urn="urn:deny", properties=_struct(dict(DENY_ALL.props))
    )
    diagnostics = stub.AnalyzeStack(
        analyzer_pb2.AnalyzeStackRequest(resources=[namespace, deny]), timeout=30
    ).diagnostics
    assert {(d.policyName, d.urn) for d in diagnostics} == {("k8s-domain-quota", "urn:ns")}
    assert {analyzer_pb2.EnforcementLevel.Name(d.enforcementLevel) for d in diagnostics} == {"MANDATORY"}


def test_readme_lists_every_rule_with_its_levels() -> None:
    rows = {}
    for line in (PROJECT_DIR / "policy" / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[2], cells[3])
    assert rows == {rule.name: (rule.level("dev"), rule.level("prod")) for rule in RULES.values()}
