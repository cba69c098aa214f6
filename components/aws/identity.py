"""IAM documents of a data domain, as pure functions that tests and parliament can check directly."""

from __future__ import annotations

from components.interfaces import ProductGrant


def domain_role_policy(
    *,
    bucket_arn: str,
    kms_key_arn: str,
    workgroup_arn: str,
    grants: list[tuple[ProductGrant, str]],
) -> dict:
    """The domain role's permissions (pure, so tests and parliament can check it directly).

    `grants` pairs each consumed product with its producer's bucket ARN.
    """
    statements: list[dict] = [
        {
            "Sid": "OwnBucketList",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": bucket_arn,
        },
        {
            "Sid": "OwnBucketObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": f"{bucket_arn}/*",
        },
        {
            "Sid": "LakeKey",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            "Resource": kms_key_arn,
        },
        {
            "Sid": "Warehouse",
            "Effect": "Allow",
            "Action": ["redshift-serverless:GetCredentials", "redshift-serverless:GetWorkgroup"],
            "Resource": workgroup_arn,
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements + consume_statements(grants)}


def consume_statements(grants: list[tuple[ProductGrant, str]]) -> list[dict]:
    """Read-only access to exactly the consumed products: list and read under each product's prefix of
    its producer's bucket. The one grant generator for every role that reads consumed products."""
    statements: list[dict] = []
    for i, (grant, producer_bucket_arn) in enumerate(sorted(grants, key=lambda g: (g[0].producer, g[0].product))):
        sid = f"Consume{i}"
        statements.append(
            {
                "Sid": f"{sid}List",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": producer_bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": [grant.prefix, f"{grant.prefix}*"]}},
            }
        )
        statements.append(
            {
                "Sid": f"{sid}Read",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{producer_bucket_arn}/{grant.prefix}*",
            }
        )
    return statements


def pod_identity_trust_policy(
    *, account_id: str, cluster_name: str, namespace: str, service_account: str | None = None
) -> dict:
    """Only EKS Pod Identity, for pods of `namespace` on this cluster (and of `service_account` when
    given: a session tag Pod Identity sets), may assume the role."""
    tags = {
        "aws:SourceAccount": account_id,
        "aws:RequestTag/eks-cluster-name": cluster_name,
        "aws:RequestTag/kubernetes-namespace": namespace,
    }
    if service_account:
        tags["aws:RequestTag/kubernetes-service-account"] = service_account
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EksPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": tags},
            }
        ],
    }


def warehouse_admin_policy(*, workgroup_arn: str, admin_secret_arn: str) -> dict:
    """The warehouse grants Job's permissions: SQL through the Data API on one workgroup, as the admin
    whose AWS-managed secret it may read, and the status of its own statements only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RunSql",
                "Effect": "Allow",
                "Action": "redshift-data:ExecuteStatement",
                "Resource": workgroup_arn,
            },
            {
                # DescribeStatement has no resource type; the condition limits it to this identity's statements.
                "Sid": "OwnStatements",
                "Effect": "Allow",
                "Action": "redshift-data:DescribeStatement",
                "Resource": "*",
                "Condition": {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
            },
            {
                "Sid": "AdminSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": admin_secret_arn,
            },
        ],
    }
