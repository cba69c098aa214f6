"""AwsDomainServices: one domain's data services on AWS.

Creates, for one domain:
- its lake bucket (through the foundation's bucket maker, so it carries every SECURITY.md control),
  with a raw-zone expiry and a placeholder object per zone prefix;
- its Warehouse (Redshift Serverless namespace + private workgroup);
- its metadata PostgreSQL on RDS: private, encrypted with the lake key, TLS forced, a generated
  admin password (pulumi-random, secret), automated backups (`backups.rdsRetentionDays`, PITR), a
  final snapshot named uniquely per deletion; single-AZ in dev, multi-AZ with deletion protection in prod;
- its IAM role for EKS Pod Identity, trusted only by pods of the domain's namespace on this
  cluster, and one Pod Identity association per tool ServiceAccount;
- with `request.sandbox`, the domain's analyst sandbox (components/aws/sandbox.py) and a 30-day
  expiry of its Athena results;
- the warehouse admin role, trusted only by the `warehouse-admin` ServiceAccount of that namespace
  (Pod Identity session tags), which may read the namespace's AWS-managed admin secret and run SQL
  through the Redshift Data API on the domain's workgroup: the domain stack's grants Job uses it.

Invariants: the role reaches only the domain's bucket, the lake key (encrypt/decrypt) and the
domain's workgroup, plus read-only access to exactly the products the domain consumes (bucket
names are derived, so a grant never depends on another domain's resources); every logical name
starts with the domain name; stateful resources are protected and retained when the stack asks.

Retired (`request.keep.retired`): only the bucket (with its settings), the database (with its subnet
group, security group, parameter group, password) and the warehouse namespace (plus a snapshot) are
registered, unprotected and retained; no zone objects, role, policy, associations or workgroup.
With `request.keep.imports` (a re-onboarded domain) those resources are adopted by their recorded IDs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.identity import domain_role_policy, pod_identity_trust_policy, warehouse_admin_policy
from components.aws.lake import DataLake
from components.aws.postgres import PostgresSpec, private_postgres
from components.aws.sandbox import AwsSandbox, SandboxRefs
from components.aws.sandbox_access import RESULTS_PREFIX, RESULTS_RETENTION_DAYS
from components.aws.warehouse import Warehouse, WarehouseArgs
from components.config import BackupsConfig
from components.interfaces import (
    DomainRequest,
    DomainServices,
    PostgresServer,
    S3Settings,
    WarehouseAdmin,
    WarehouseSettings,
)

METADATA_DB_ADMIN = "dpadmin"
WAREHOUSE_DB = "analytics"
# The Kubernetes ServiceAccount of the warehouse grants Job; only it may assume the admin role.
WAREHOUSE_ADMIN_SA = "warehouse-admin"


@dataclass(frozen=True)
class AwsPlatformRefs:
    """What the domain needs from the AWS foundation."""

    environment: str
    region: str
    lake: DataLake
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    private_subnet_ids: list[pulumi.Output[str]]
    cluster_name: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    protect: bool
    backup_days: int | None = None  # None: the default of `backups.rdsRetentionDays` for the environment
    warehouse_snapshot_retention_days: int = -1


class AwsDomainServices(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        request: DomainRequest,
        refs: AwsPlatformRefs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:domain_services:AwsDomainServices", name, None, opts)
        d = request.domain
        env = refs.environment
        keep = request.keep
        stateful = pulumi.ResourceOptions(parent=self, protect=refs.protect, retain_on_delete=env == "prod")
        child = pulumi.ResourceOptions(parent=self)

        self.bucket = refs.lake.bucket(
            d,
            tags=request.tags,
            expire_prefixes={
                "raw/": request.raw_retention_days,
                **({RESULTS_PREFIX: RESULTS_RETENTION_DAYS} if request.sandbox else {}),
            },
            noncurrent_version_days=request.noncurrent_version_days,
            opts=pulumi.ResourceOptions(parent=self),
            keep=keep,
        )
        for zone in [] if keep.retired else request.zones:
            aws.s3.BucketObjectv2(
                f"{d}-zone-{zone}",
                aws.s3.BucketObjectv2Args(bucket=self.bucket.name, key=f"{zone}/", content="", tags=request.tags),
                opts=child,
            )

        self.warehouse = Warehouse(
            f"{d}-warehouse",
            WarehouseArgs(
                name=f"dp-{env}-{d}",
                base_capacity=request.warehouse_base_capacity,
                kms_key_arn=refs.lake.kms_key_arn,
                vpc_id=refs.vpc_id,
                subnet_ids=refs.private_subnet_ids,
                allowed_security_group_ids=[refs.cluster_security_group_id],
                db_name=WAREHOUSE_DB,
                tags=request.tags,
                protect=refs.protect,
                retain=env == "prod",
                keep=keep,
                snapshot_retention_days=refs.warehouse_snapshot_retention_days,
            ),
            opts=child,
        )

        # Metadata PostgreSQL for the tools (one database per tool, created in-cluster by the domain stack).
        prod = env == "prod"
        self.db, self.db_password = private_postgres(
            f"{d}-metadb",
            PostgresSpec(
                identifier=f"dp-{env}-{d}-meta",
                engine_version=request.metadata_db_engine_version,
                instance_class=request.metadata_db_instance_class,
                storage_gib=request.metadata_db_storage_gib,
                admin_user=METADATA_DB_ADMIN,
                sg_description=f"Metadata PostgreSQL of domain {d}: reachable from the cluster only",
                params_description=f"TLS-only PostgreSQL for domain {d}",
            ),
            kms_key_arn=refs.lake.kms_key_arn,
            vpc_id=refs.vpc_id,
            subnet_ids=refs.private_subnet_ids,
            client_security_group_id=refs.cluster_security_group_id,
            prod=prod,
            tags=request.tags,
            child=child,
            stateful=stateful,
            backup_days=refs.backup_days or BackupsConfig().rds_days(env),
            keep=keep,
        )
        # The bucket and the metadata database, as a retired domain and an active one hand them back.
        s3 = S3Settings(bucket=self.bucket.name, region=refs.region)
        metadata_db = PostgresServer(
            host=self.db.address,
            port=5432,
            admin_user=METADATA_DB_ADMIN,
            admin_password=self.db_password.result,
            sslmode="require",
        )
        if keep.retired:
            self.services = DomainServices(
                s3=s3,
                metadata_db=metadata_db,
                # No workgroup any more: nothing connects to the warehouse of a retired domain.
                warehouse=WarehouseSettings(
                    kind="redshift", host=self.warehouse.endpoint, port=5439, database=WAREHOUSE_DB, user="", auth="iam"
                ),
                role_arn=None,
                grants=(),
                resources=[self.db],
            )
            self.register_outputs({"bucket": self.bucket.name, "retired": True})
            return

        # Identity: one role for the domain, reachable only from its namespace through Pod Identity.
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        trust = pulumi.Output.all(caller.account_id, refs.cluster_name).apply(
            lambda a: json.dumps(
                pod_identity_trust_policy(account_id=a[0], cluster_name=a[1], namespace=request.namespace)
            )
        )
        self.role = aws.iam.Role(
            f"{d}-domain",
            aws.iam.RoleArgs(
                name=f"dp-{env}-{d}-domain",
                description=f"Pod Identity role of data domain {d}",
                assume_role_policy=trust,
                max_session_duration=3600,
                tags=request.tags,
            ),
            opts=child,
        )
        grant_buckets = [refs.lake.bucket_arn(g.producer) for g in request.grants]
        policy = pulumi.Output.all(
            self.bucket.arn, refs.lake.kms_key_arn, self.warehouse.workgroup_arn, *grant_buckets
        ).apply(
            lambda a: json.dumps(
                domain_role_policy(
                    bucket_arn=a[0],
                    kms_key_arn=a[1],
                    workgroup_arn=a[2],
                    grants=list(zip(request.grants, a[3:], strict=True)),
                )
            )
        )
        aws.iam.RolePolicy(
            f"{d}-domain",
            aws.iam.RolePolicyArgs(role=self.role.id, name="domain-access", policy=policy),
            opts=child,
        )
        self.associations = [
            aws.eks.PodIdentityAssociation(
                f"{d}-{sa}",
                aws.eks.PodIdentityAssociationArgs(
                    cluster_name=refs.cluster_name,
                    namespace=request.namespace,
                    service_account=sa,
                    role_arn=self.role.arn,
                    tags=request.tags,
                ),
                opts=child,
            )
            for sa in request.service_accounts
        ]

        admin_trust = pulumi.Output.all(caller.account_id, refs.cluster_name).apply(
            lambda a: json.dumps(
                pod_identity_trust_policy(
                    account_id=a[0],
                    cluster_name=a[1],
                    namespace=request.namespace,
                    service_account=WAREHOUSE_ADMIN_SA,
                )
            )
        )
        self.admin_role = aws.iam.Role(
            f"{d}-warehouse-admin",
            aws.iam.RoleArgs(
                name=f"dp-{env}-{d}-wh-admin",
                description=f"Warehouse grants Job of data domain {d}: Data API as the warehouse admin",
                assume_role_policy=admin_trust,
                max_session_duration=3600,
                tags=request.tags,
            ),
            opts=child,
        )
        admin_policy = aws.iam.RolePolicy(
            f"{d}-warehouse-admin",
            aws.iam.RolePolicyArgs(
                role=self.admin_role.id,
                name="warehouse-admin",
                policy=pulumi.Output.all(self.warehouse.workgroup_arn, self.warehouse.admin_secret_arn).apply(
                    lambda a: json.dumps(warehouse_admin_policy(workgroup_arn=a[0], admin_secret_arn=a[1]))
                ),
            ),
            opts=child,
        )
        admin_association = aws.eks.PodIdentityAssociation(
            f"{d}-{WAREHOUSE_ADMIN_SA}",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=refs.cluster_name,
                namespace=request.namespace,
                service_account=WAREHOUSE_ADMIN_SA,
                role_arn=self.admin_role.arn,
                tags=request.tags,
            ),
            opts=child,
        )

        self.sandbox: AwsSandbox | None = None
        if request.sandbox is not None:
            self.sandbox = AwsSandbox(
                f"{d}-sandbox",
                request.sandbox,
                SandboxRefs(
                    environment=env,
                    region=refs.region,
                    domain=d,
                    tags=request.tags,
                    bucket_name=self.bucket.name,
                    bucket_arn=self.bucket.arn,
                    kms_key_arn=refs.lake.kms_key_arn,
                    cluster_name=refs.cluster_name,
                    pipeline_role_arn=self.role.arn,
                    grants=tuple(
                        (g, refs.lake.bucket_name(g.producer), refs.lake.bucket_arn(g.producer)) for g in request.grants
                    ),
                    after=(self.role,),
                ),
                opts=child,
            )

        self.services = DomainServices(
            s3=s3,
            metadata_db=metadata_db,
            warehouse=WarehouseSettings(
                kind="redshift",
                host=self.warehouse.endpoint,
                port=5439,
                database=WAREHOUSE_DB,
                user=f"IAMR:dp-{env}-{d}-domain",
                auth="iam",
                workgroup=self.warehouse.workgroup_name,
                admin=WarehouseAdmin(
                    secret_arn=self.warehouse.admin_secret_arn,
                    service_account=WAREHOUSE_ADMIN_SA,
                    region=refs.region,
                    resources=[self.warehouse, admin_policy, admin_association],
                ),
            ),
            role_arn=self.role.arn,
            grants=request.grants,
            resources=[self.db, *self.associations],
            sandbox=self.sandbox.settings if self.sandbox else None,
        )
        self.register_outputs(
            {"bucket": self.bucket.name, "role_arn": self.role.arn, "warehouse_endpoint": self.warehouse.endpoint}
        )
