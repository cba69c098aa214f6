"""The one way to create a private PostgreSQL on RDS (domain metadata DBs, the catalog's SQL store).

Invariants, following SECURITY.md: encrypted with the given customer key, not publicly accessible,
reachable on 5432 only from the given security group, TLS forced (`rds.force_ssl`), a generated admin
password (pulumi-random, secret); automated backups for `backup_days` (point-in-time recovery within
that window), kept after deletion in prod; a final snapshot whose name is unique per deletion:
`<identifier>-final-<8 hex>` from a pulumi-random RandomId created with the instance (keepers: the
inputs that replace it), so deleting and re-creating the same database never reuses a name; in prod
Multi-AZ and deletion protection. The caller's `keep` options carry protect/retain/import for the
resources that must outlive a retired domain (instance, subnet group, security group, parameter
group, admin password, snapshot suffix). Logical names are `<logical>` (and `<logical>-admin`,
`<logical>-final-snapshot`), so callers keep the names their resources already have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.retirement import Keep


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


def final_snapshot_keepers(spec: PostgresSpec, kms_key_arn: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """Inputs whose change replaces the instance: a new instance gets a new final-snapshot suffix too."""
    return {"identifier": spec.identifier, "kmsKeyId": kms_key_arn, "dbName": spec.db_name or ""}


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
    backup_days: int,
    keep: Keep | None = None,
) -> tuple[aws.rds.Instance, random.RandomPassword]:
    def kept(type_: str, name: str, base: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(base, keep.opts(type_, name)) if keep else base

    password = random.RandomPassword(
        f"{logical}-admin",
        random.RandomPasswordArgs(length=32, special=False),
        opts=kept("random:index/randomPassword:RandomPassword", f"{logical}-admin", child),
    )
    snapshot_suffix = random.RandomId(
        f"{logical}-final-snapshot",
        random.RandomIdArgs(byte_length=4, keepers=final_snapshot_keepers(spec, kms_key_arn)),
        opts=kept("random:index/randomId:RandomId", f"{logical}-final-snapshot", child),
    )
    subnets = aws.rds.SubnetGroup(
        logical,
        aws.rds.SubnetGroupArgs(name=spec.identifier, subnet_ids=subnet_ids, tags=tags),
        opts=kept("aws:rds/subnetGroup:SubnetGroup", logical, child),
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
        opts=kept("aws:ec2/securityGroup:SecurityGroup", logical, child),
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
        opts=kept("aws:rds/parameterGroup:ParameterGroup", logical, child),
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
            backup_retention_period=backup_days,
            # Prod keeps its automated backups (and so point-in-time recovery) after a deletion.
            delete_automated_backups=not prod,
            skip_final_snapshot=False,
            final_snapshot_identifier=pulumi.Output.concat(spec.identifier, "-final-", snapshot_suffix.hex),
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            enabled_cloudwatch_logs_exports=["postgresql"],
            performance_insights_enabled=True,
            performance_insights_kms_key_id=kms_key_arn,
            tags=tags,
        ),
        opts=kept(
            "aws:rds/instance:Instance",
            logical,
            pulumi.ResourceOptions.merge(stateful, pulumi.ResourceOptions(additional_secret_outputs=["password"])),
        ),
    )
    return instance, password
