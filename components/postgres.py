"""The one way to create a private PostgreSQL on RDS (domain metadata DBs, the catalog's SQL store).

Invariants, following SECURITY.md: encrypted with the given customer key, not publicly accessible,
reachable on 5432 only from the given security group, TLS forced (`rds.force_ssl`), a generated admin
password (pulumi-random, secret), a final snapshot; in prod Multi-AZ, deletion protection and 14 days
of backups. The caller's `stateful` options carry protect/retain. Logical names are `<logical>` (and
`<logical>-admin` for the password), so callers keep the names their resources already have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random


@dataclass(frozen=True)
class PostgresSpec:
    identifier: str  # RDS identifier, also the subnet group, security group and parameter group name
    engine_version: str
    instance_class: str
    storage_gib: int
    admin_user: str
    sg_description: str
    params_description: str
    db_name: str | None = None


def private_postgres(
    logical: str,
    spec: PostgresSpec,
    *,
    kms_key_arn: pulumi.Input[str],
    vpc_id: pulumi.Input[str],
    subnet_ids: Sequence[pulumi.Input[str]],
    client_security_group_id: pulumi.Input[str],
    prod: bool,
    tags: Mapping[str, str] | None,
    child: pulumi.ResourceOptions,
    stateful: pulumi.ResourceOptions,
) -> tuple[aws.rds.Instance, random.RandomPassword]:
    password = random.RandomPassword(
        f"{logical}-admin", random.RandomPasswordArgs(length=32, special=False), opts=child
    )
    subnets = aws.rds.SubnetGroup(
        logical, aws.rds.SubnetGroupArgs(name=spec.identifier, subnet_ids=subnet_ids, tags=tags), opts=child
    )
    security_group = aws.ec2.SecurityGroup(
        logical,
        aws.ec2.SecurityGroupArgs(
            name=spec.identifier,
            description=spec.sg_description,
            vpc_id=vpc_id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=5432,
                    to_port=5432,
                    security_groups=[client_security_group_id],
                    description="PostgreSQL from EKS pods",
                )
            ],
            tags=tags,
        ),
        opts=child,
    )
    params = aws.rds.ParameterGroup(
        logical,
        aws.rds.ParameterGroupArgs(
            name=spec.identifier,
            family=f"postgres{spec.engine_version.split('.')[0]}",
            description=spec.params_description,
            parameters=[aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1")],
            tags=tags,
        ),
        opts=child,
    )
    instance = aws.rds.Instance(
        logical,
        aws.rds.InstanceArgs(
            identifier=spec.identifier,
            engine="postgres",
            engine_version=spec.engine_version,
            instance_class=spec.instance_class,
            allocated_storage=spec.storage_gib,
            max_allocated_storage=spec.storage_gib * 4,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=kms_key_arn,
            db_name=spec.db_name,
            username=spec.admin_user,
            password=password.result,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=params.name,
            publicly_accessible=False,
            multi_az=prod,
            deletion_protection=prod,
            backup_retention_period=14 if prod else 1,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{spec.identifier}-final",
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            enabled_cloudwatch_logs_exports=["postgresql"],
            performance_insights_enabled=True,
            performance_insights_kms_key_id=kms_key_arn,
            tags=tags,
        ),
        opts=pulumi.ResourceOptions.merge(stateful, pulumi.ResourceOptions(additional_secret_outputs=["password"])),
    )
    return instance, password
