"""The analyst sandbox's names and IAM documents, as pure functions (tests and parliament check them).

The analyst role reads what the domain's own analysts may explore and nothing else:
- its own bucket: `curated/` and `sandbox/` (read), `sandbox/` (write: scratch and Athena results);
- the products the domain consumes, through the same grant generator as the pipeline role
  (`components.aws.identity.consume_statements`);
- the lake key only through S3, decrypting for the buckets it reads and encrypting for its own bucket;
- its Athena workgroup and the domain's Glue database (the products' tables), read-only.
Raw and staging zones, other prefixes of the producers' buckets, other domains' buckets and every
Glue or IAM write are out of reach because nothing allows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.aws.identity import consume_statements, pod_identity_trust_policy
from components.interfaces import ProductGrant
from components.sandbox_names import (
    SANDBOX_NAMESPACE,
    SANDBOX_PREFIX,
    analyst_service_account,
    athena_workgroup,
    glue_database,
)

CURATED_PREFIX = "curated/"
# Athena query results, under the one prefix the analyst may write.
RESULTS_PREFIX = f"{SANDBOX_PREFIX}athena/"
# Days Athena results stay in the bucket (a lifecycle rule of the domain bucket).
RESULTS_RETENTION_DAYS = 30
# The analyst role's tag naming its domain's pipeline role: it marks a sandbox role for the policy
# pack's `sandbox-role-scoped` rule, which compares what the two may read.
SANDBOX_OF_TAG = "sandbox-of"
ATHENA_CATALOG = "AwsDataCatalog"
# Superset's hop from the pipeline role's Pod Identity session to the analyst role carries that session's
# transitive tags, so STS checks sts:TagSession too (analyst_trust_policy).
CHAINED_ASSUME_ACTIONS = ("sts:AssumeRole", "sts:TagSession")

_ATHENA_QUERY_ACTIONS = [
    "athena:BatchGetQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:GetQueryRuntimeStatistics",
    "athena:GetWorkGroup",
    "athena:ListQueryExecutions",
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
]
# What PyAthena's SQLAlchemy dialect calls to list schemas and tables (Superset's browser).
_ATHENA_CATALOG_ACTIONS = [
    "athena:GetDatabase",
    "athena:GetDataCatalog",
    "athena:GetTableMetadata",
    "athena:ListDatabases",
    "athena:ListTableMetadata",
]
_GLUE_READ_ACTIONS = [
    "glue:BatchGetPartition",
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:GetTable",
    "glue:GetTables",
]
_SANDBOX_WRITE_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
]


def analyst_role_name(environment: str, domain: str) -> str:
    return f"dp-{environment}-{domain}-analyst"


def pipeline_role_name(environment: str, domain: str) -> str:
    """The domain's Pod Identity role (components/aws/domain_services.py names it)."""
    return f"dp-{environment}-{domain}-domain"


# Shared with the notebooks half, whose profiles point PyAthena at the workgroup.
workgroup_name = athena_workgroup
glue_database_name = glue_database


def table_name(producer: str, product: str) -> str:
    """`<producer>__<product>` with '-' as '_': unique, since domain names never contain '--'."""
    return f"{producer}__{product}".replace("-", "_")


@dataclass(frozen=True)
class Table:
    """One Glue table: a product (own or consumed) that has a declared schema."""

    name: str
    grant: ProductGrant


def sandbox_tables(own: tuple[ProductGrant, ...], consumed: tuple[ProductGrant, ...]) -> list[Table]:
    """The tables of the domain's Glue database: every own and consumed product with a schema, by name."""
    return sorted(
        (Table(table_name(g.producer, g.product), g) for g in (*own, *consumed) if g.schema is not None),
        key=lambda t: t.name,
    )


@dataclass(frozen=True)
class GlueArns:
    catalog: str
    database: str

    @property
    def tables(self) -> str:
        return f"{self.database.replace(':database/', ':table/')}/*"


def glue_arns(partition: str, region: str, account_id: str, database: str) -> GlueArns:
    base = f"arn:{partition}:glue:{region}:{account_id}"
    return GlueArns(catalog=f"{base}:catalog", database=f"{base}:database/{database}")


def athena_catalog_arn(partition: str, region: str, account_id: str) -> str:
    return f"arn:{partition}:athena:{region}:{account_id}:datacatalog/{ATHENA_CATALOG}"


def analyst_policy(
    *,
    bucket_arn: str,
    kms_key_arn: str,
    region: str,
    workgroup_arn: str,
    athena_catalog_arn: str,
    glue: GlueArns,
    grants: list[tuple[ProductGrant, str]],
) -> dict:
    """The analyst role's permissions; `grants` pairs each consumed product with its producer's bucket ARN."""
    own_read = [CURATED_PREFIX, SANDBOX_PREFIX]
    read_buckets = sorted({bucket_arn, *(arn for _, arn in grants)})
    via_s3 = {"kms:ViaService": f"s3.{region}.amazonaws.com"}
    statements: list[dict] = [
        {
            "Sid": "OwnList",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [p for prefix in own_read for p in (prefix, f"{prefix}*")]}},
        },
        {
            "Sid": "OwnRead",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [f"{bucket_arn}/{prefix}*" for prefix in own_read],
        },
        {
            "Sid": "SandboxWrite",
            "Effect": "Allow",
            "Action": _SANDBOX_WRITE_ACTIONS,
            "Resource": f"{bucket_arn}/{SANDBOX_PREFIX}*",
        },
        {
            # Athena asks where the result and table buckets are.
            "Sid": "BucketLocation",
            "Effect": "Allow",
            "Action": "s3:GetBucketLocation",
            "Resource": read_buckets,
        },
        {
            # With S3 Bucket Keys the encryption context is the bucket ARN (the object ARN for objects
            # written before): decrypt for the buckets it reads, through S3 only.
            "Sid": "LakeKeyDecrypt",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": kms_key_arn,
            "Condition": {
                "StringEquals": via_s3,
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [a for b in read_buckets for a in (b, f"{b}/*")]},
            },
        },
        {
            "Sid": "LakeKeyEncryptOwnBucket",
            "Effect": "Allow",
            "Action": "kms:GenerateDataKey",
            "Resource": kms_key_arn,
            "Condition": {
                "StringEquals": via_s3,
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/{SANDBOX_PREFIX}*"]},
            },
        },
        {"Sid": "AthenaWorkgroup", "Effect": "Allow", "Action": _ATHENA_QUERY_ACTIONS, "Resource": workgroup_arn},
        {
            "Sid": "AthenaCatalog",
            "Effect": "Allow",
            "Action": _ATHENA_CATALOG_ACTIONS,
            "Resource": athena_catalog_arn,
        },
        {
            "Sid": "GlueRead",
            "Effect": "Allow",
            "Action": _GLUE_READ_ACTIONS,
            "Resource": [glue.catalog, glue.database, glue.tables],
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements + consume_statements(grants)}


def analyst_trust_policy(*, account_id: str, cluster_name: str, domain: str, superset_role_arn: str) -> dict:
    """Pod Identity for the domain's notebook ServiceAccount in the sandbox namespace, and the domain's
    pipeline role, which Superset's pods run as (their Athena connection assumes this role).

    The pipeline role's credentials come from Pod Identity, whose session tags are transitive: they pass
    into the chained AssumeRole, which then also needs sts:TagSession (EKS user guide, pod-id-abac
    "Cross-account tags"; aws/eks-pod-identity-agent#80), or STS denies it."""
    doc = pod_identity_trust_policy(
        account_id=account_id,
        cluster_name=cluster_name,
        namespace=SANDBOX_NAMESPACE,
        service_account=analyst_service_account(domain),
    )
    doc["Statement"].append(
        {
            "Sid": "DomainSuperset",
            "Effect": "Allow",
            "Principal": {"AWS": superset_role_arn},
            "Action": list(CHAINED_ASSUME_ACTIONS),
        }
    )
    return doc


def assume_analyst_policy(*, analyst_role_arn: str) -> dict:
    """Added to the pipeline role: Superset's Athena connection may assume its own domain's analyst role only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeAnalyst",
                "Effect": "Allow",
                "Action": list(CHAINED_ASSUME_ACTIONS),
                "Resource": analyst_role_arn,
            }
        ],
    }
