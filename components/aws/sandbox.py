"""AwsSandbox: a domain's analyst sandbox on AWS (`tools.sandbox.enabled`, docs/sandbox.md).

Creates, for one domain:
- the analyst IAM role `dp-<env>-<domain>-analyst`, apart from the pipeline role: read-only on the
  domain's `curated/` and on the products it consumes (the same grant generator as the pipeline
  role), writes only under `sandbox/` of its own bucket, the lake key only through S3
  (components/aws/sandbox_access.py); trusted by EKS Pod Identity for the domain's notebook
  ServiceAccount in the shared sandbox namespace, and by the domain's pipeline role, which Superset
  runs as;
- the Pod Identity association (cluster, `SANDBOX_NAMESPACE`, `analyst_service_account(domain)`);
- a policy on the pipeline role that lets it assume this analyst role and no other;
- the Athena workgroup `dp-<env>-<domain>-sandbox`: configuration enforced (clients cannot change the
  result location, encryption or limits), results SSE-KMS with the lake key under
  `s3://<domain bucket>/sandbox/athena/`, the domain file's per-query scan cutoff, CloudWatch metrics;
- the Glue database `dp_<env>_<domain>` with one external table per own or consumed product that
  declares a schema (`<producer>__<product>`), located at the product's prefix.

Invariants: every name is derived from the environment and the domain only; nothing here reads
another domain's resources (producers' buckets by their derived names); the role trusts exactly the
two principals above; the workgroup's settings cannot be overridden by a client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.sandbox_access import (
    RESULTS_PREFIX,
    SANDBOX_OF_TAG,
    analyst_policy,
    analyst_role_name,
    analyst_trust_policy,
    assume_analyst_policy,
    athena_catalog_arn,
    glue_arns,
    glue_database_name,
    pipeline_role_name,
    sandbox_tables,
    workgroup_name,
)
from components.interfaces import ProductGrant, SandboxRequest, SandboxSettings
from components.sandbox_names import SANDBOX_NAMESPACE, analyst_service_account

# Hive input/output formats and SerDe per declared format (Athena's Parquet, ORC and Hive JSON SerDes).
STORAGE_FORMATS: dict[str, tuple[str, str, str]] = {
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    ),
    "orc": (
        "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
    ),
    "json": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "org.apache.hive.hcatalog.data.JsonSerDe",
    ),
}


@dataclass(frozen=True)
class SandboxRefs:
    """What the sandbox needs from the domain's services and the foundation."""

    environment: str
    region: str
    domain: str
    tags: dict[str, str]
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    pipeline_role_arn: pulumi.Input[str]
    # The consumed products with their producers' bucket names and ARNs (derived, never looked up).
    grants: tuple[tuple[ProductGrant, pulumi.Input[str], pulumi.Input[str]], ...]
    # The pipeline role and what binds it: the trust policy names it, so it must exist first.
    after: tuple[pulumi.Resource, ...] = ()


class AwsSandbox(pulumi.ComponentResource):
    def __init__(
        self, name: str, request: SandboxRequest, refs: SandboxRefs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("dataplatform:sandbox:AwsSandbox", name, None, opts)
        d, env = refs.domain, refs.environment
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        database = glue_database_name(env, d)

        trust = pulumi.Output.all(account_id, refs.cluster_name, refs.pipeline_role_arn).apply(
            lambda a: json.dumps(
                analyst_trust_policy(account_id=a[0], cluster_name=a[1], domain=d, superset_role_arn=a[2])
            )
        )
        self.role = aws.iam.Role(
            f"{d}-analyst",
            aws.iam.RoleArgs(
                name=analyst_role_name(env, d),
                description=f"Analyst sandbox of data domain {d}: read-only on curated data and consumed products",
                assume_role_policy=trust,
                max_session_duration=3600,
                tags={**refs.tags, SANDBOX_OF_TAG: pipeline_role_name(env, d)},
            ),
            # IAM rejects a trust policy naming a role that does not exist yet.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(refs.after)),
        )

        self.workgroup = aws.athena.Workgroup(
            f"{d}-sandbox",
            aws.athena.WorkgroupArgs(
                name=workgroup_name(env, d),
                description=f"Analyst sandbox of data domain {d}",
                state="ENABLED",
                configuration=aws.athena.WorkgroupConfigurationArgs(
                    enforce_workgroup_configuration=True,
                    publish_cloudwatch_metrics_enabled=True,
                    bytes_scanned_cutoff_per_query=request.scan_limit_bytes,
                    result_configuration=aws.athena.WorkgroupConfigurationResultConfigurationArgs(
                        output_location=pulumi.Output.format("s3://{0}/{1}", refs.bucket_name, RESULTS_PREFIX),
                        encryption_configuration=aws.athena.WorkgroupConfigurationResultConfigurationEncryptionConfigurationArgs(
                            encryption_option="SSE_KMS", kms_key_arn=refs.kms_key_arn
                        ),
                    ),
                ),
                tags=refs.tags,
            ),
            opts=child,
        )

        self.database = aws.glue.CatalogDatabase(
            f"{d}-sandbox",
            aws.glue.CatalogDatabaseArgs(
                name=database,
                description=f"Data products data domain {d} owns or consumes, for its analyst sandbox",
                tags=refs.tags,
            ),
            opts=child,
        )
        buckets = {g.producer: bucket for g, bucket, _ in refs.grants} | {d: refs.bucket_name}
        self.tables = [
            aws.glue.CatalogTable(
                f"{d}-sandbox-{table.name}",
                _table_args(database, table.name, table.grant, buckets[table.grant.producer]),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.database]),
            )
            for table in sandbox_tables(request.products, tuple(g for g, _, _ in refs.grants))
        ]

        policy = pulumi.Output.all(
            refs.bucket_arn,
            refs.kms_key_arn,
            self.workgroup.arn,
            account_id,
            partition,
            *(arn for _, _, arn in refs.grants),
        ).apply(
            lambda a: json.dumps(
                analyst_policy(
                    bucket_arn=a[0],
                    kms_key_arn=a[1],
                    region=refs.region,
                    workgroup_arn=a[2],
                    athena_catalog_arn=athena_catalog_arn(a[4], refs.region, a[3]),
                    glue=glue_arns(a[4], refs.region, a[3], database),
                    grants=[(g, arn) for (g, _, _), arn in zip(refs.grants, a[5:], strict=True)],
                )
            )
        )
        self.policy = aws.iam.RolePolicy(
            f"{d}-analyst",
            # By name (the role's id is its name): the policy pack links role and policy through it.
            aws.iam.RolePolicyArgs(role=self.role.name, name="sandbox-access", policy=policy),
            opts=child,
        )
        self.assume = aws.iam.RolePolicy(
            f"{d}-domain-assume-analyst",
            aws.iam.RolePolicyArgs(
                role=pipeline_role_name(env, d),
                name="assume-analyst",
                policy=self.role.arn.apply(lambda arn: json.dumps(assume_analyst_policy(analyst_role_arn=arn))),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(refs.after)),
        )
        self.association = aws.eks.PodIdentityAssociation(
            f"{d}-analyst",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=refs.cluster_name,
                namespace=SANDBOX_NAMESPACE,
                service_account=analyst_service_account(d),
                role_arn=self.role.arn,
                tags=refs.tags,
            ),
            opts=child,
        )
        self.settings = SandboxSettings(
            analyst_role_arn=self.role.arn,
            workgroup=workgroup_name(env, d),
            database=database,
            region=refs.region,
            # A query works once the role may read, the pipeline role may assume it and the tables exist.
            resources=[self.policy, self.assume, self.workgroup, *self.tables],
        )
        self.register_outputs(
            {"analyst_role_arn": self.role.arn, "workgroup": self.workgroup.name, "database": self.database.name}
        )


def _table_args(database: str, name: str, grant: ProductGrant, bucket: pulumi.Input[str]) -> aws.glue.CatalogTableArgs:
    assert grant.schema is not None  # sandbox_tables keeps only products with a schema
    input_format, output_format, serde = STORAGE_FORMATS[grant.schema.format]
    return aws.glue.CatalogTableArgs(
        name=name,
        database_name=database,
        description=f"Data product {grant.producer}.{grant.product}",
        table_type="EXTERNAL_TABLE",
        parameters={"EXTERNAL": "TRUE", "classification": grant.schema.format},
        storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
            location=pulumi.Output.format("s3://{0}/{1}", bucket, grant.prefix),
            input_format=input_format,
            output_format=output_format,
            ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(serialization_library=serde),
            columns=[
                aws.glue.CatalogTableStorageDescriptorColumnArgs(name=column, type=type_)
                for column, type_ in grant.schema.columns
            ],
        ),
    )
