"""Warehouse: a private Redshift Serverless namespace and workgroup.

API:

    Warehouse(name, args: WarehouseArgs, opts=None)
      .namespace_name, .workgroup_name, .endpoint (host), .admin_secret_arn, .namespace_arn,
      .workgroup_arn, .security_group_id (Output[str]); .port (int, 5439)

    WarehouseArgs(name, kms_key_arn, vpc_id, subnet_ids, allowed_security_group_ids, db_name="analytics",
                  base_capacity=8, admin_username="dpadmin", log_exports=(userlog, connectionlog,
                  useractivitylog), tags={}, protect=True, retain=True)

`name` is the namespace and workgroup name (unique per account and region, e.g. `dp-<env>-<domain>`).

Creates: the namespace, encrypted with the given customer KMS key, its admin password generated and
kept by AWS in Secrets Manager (`manage_admin_password`), with user, connection and user-activity
logs exported; a security group admitting TCP 5439 only from `allowed_security_group_ids` and
allowing only HTTPS out (S3 and AWS APIs, which enhanced VPC routing sends through the VPC); the
workgroup in the given (private) subnets: not publicly accessible, enhanced VPC routing on,
`require_ssl` and user-activity logging on.

Backups: Redshift Serverless takes recovery points by itself (every 30 minutes, kept 24 hours; AWS
offers no setting for either), so the namespace is restorable to any point of the last day. A
retired warehouse (`keep.retired`) keeps only its namespace (unprotected, retained) and gets a
snapshot `<name>-retired-<8 hex>` with `snapshot_retention_days` set explicitly (-1: until deleted);
its workgroup and security group are deleted.

Invariants: no CIDR ingress at all; the namespace gets protect/retain_on_delete from the args;
arguments are checked before anything is registered (base capacity 8..1024 in steps of 8, at
least three subnets, as Redshift Serverless requires subnets in three AZs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.retirement import Keep

PORT = 5439
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]")  # 3-64 characters
_DB = re.compile(r"[a-z_][a-z0-9_]{0,63}")
_USER = re.compile(r"[a-z][a-z0-9_]{0,127}")
_LOG_EXPORTS = ("userlog", "connectionlog", "useractivitylog")


@dataclass(frozen=True)
class WarehouseArgs:
    name: str
    kms_key_arn: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    allowed_security_group_ids: Sequence[pulumi.Input[str]]
    db_name: str = "analytics"
    base_capacity: int = 8
    admin_username: str = "dpadmin"
    log_exports: tuple[str, ...] = _LOG_EXPORTS
    tags: Mapping[str, str] = field(default_factory=dict)
    protect: bool = True
    retain: bool = True
    keep: Keep = field(default_factory=Keep)
    snapshot_retention_days: int = -1

    def __post_init__(self) -> None:
        problems = []
        if not _NAME.fullmatch(self.name):
            problems.append(f"name {self.name!r} must be 3-64 lowercase letters, digits or hyphens")
        if not (8 <= self.base_capacity <= 1024 and self.base_capacity % 8 == 0):
            problems.append(f"base_capacity must be 8..1024 RPU in steps of 8 (got {self.base_capacity})")
        if len(self.subnet_ids) < 3:
            problems.append(f"Redshift Serverless needs at least 3 subnets in 3 AZs (got {len(self.subnet_ids)})")
        if not self.allowed_security_group_ids:
            problems.append("allowed_security_group_ids must name at least one security group")
        if not _DB.fullmatch(self.db_name):
            problems.append(
                f"db_name {self.db_name!r} must be lowercase letters, digits or _, not starting with a digit"
            )
        if not _USER.fullmatch(self.admin_username):
            problems.append(
                f"admin_username {self.admin_username!r} must be lowercase letters, digits or _, starting with a letter"
            )
        unknown = sorted(set(self.log_exports) - set(_LOG_EXPORTS))
        if unknown:
            problems.append(f"log_exports accepts {', '.join(_LOG_EXPORTS)} (got {', '.join(unknown)})")
        if problems:
            raise ValueError(f"invalid WarehouseArgs for {self.name!r}: " + "; ".join(problems))


class Warehouse(pulumi.ComponentResource):
    """Redshift Serverless namespace + private workgroup + its security group."""

    def __init__(self, name: str, args: WarehouseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dataplatform:warehouse:Warehouse", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags) or None

        namespace = aws.redshiftserverless.Namespace(
            f"{name}-namespace",
            aws.redshiftserverless.NamespaceArgs(
                namespace_name=args.name,
                db_name=args.db_name,
                admin_username=args.admin_username,
                manage_admin_password=True,
                kms_key_id=args.kms_key_arn,
                log_exports=list(args.log_exports),
                tags=tags,
            ),
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.retain),
                args.keep.opts("aws:redshiftserverless/namespace:Namespace", f"{name}-namespace"),
            ),
        )
        self.port = PORT
        self.namespace_name: pulumi.Output[str] = namespace.namespace_name
        self.namespace_arn: pulumi.Output[str] = namespace.arn
        self.admin_secret_arn: pulumi.Output[str] = namespace.admin_password_secret_arn
        if args.keep.retired:
            self._retire(name, args, namespace)
            return

        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            aws.ec2.SecurityGroupArgs(
                vpc_id=args.vpc_id,
                description=f"Redshift Serverless workgroup {args.name}: port {PORT} from allowed security groups only",
                tags=tags,
            ),
            opts=child,
        )
        # One rule per allowed group; the index names them because the IDs are not known yet.
        for i, source in enumerate(args.allowed_security_group_ids):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-from-{i}",
                aws.vpc.SecurityGroupIngressRuleArgs(
                    security_group_id=sg.id,
                    ip_protocol="tcp",
                    from_port=PORT,
                    to_port=PORT,
                    referenced_security_group_id=source,
                    description="Redshift from an allowed security group",
                    tags=tags,
                ),
                opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-https-out",
            aws.vpc.SecurityGroupEgressRuleArgs(
                security_group_id=sg.id,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_ipv4="0.0.0.0/0",
                description="HTTPS to S3 and AWS APIs (enhanced VPC routing keeps COPY/UNLOAD in the VPC)",
                tags=tags,
            ),
            opts=child,
        )

        workgroup = aws.redshiftserverless.Workgroup(
            f"{name}-workgroup",
            aws.redshiftserverless.WorkgroupArgs(
                namespace_name=namespace.namespace_name,
                workgroup_name=args.name,
                base_capacity=args.base_capacity,
                publicly_accessible=False,
                enhanced_vpc_routing=True,
                subnet_ids=list(args.subnet_ids),
                security_group_ids=[sg.id],
                port=PORT,
                config_parameters=[
                    aws.redshiftserverless.WorkgroupConfigParameterArgs(
                        parameter_key="require_ssl", parameter_value="true"
                    ),
                    # Needed for the useractivitylog export to have content.
                    aws.redshiftserverless.WorkgroupConfigParameterArgs(
                        parameter_key="enable_user_activity_logging", parameter_value="true"
                    ),
                ],
                tags=tags,
            ),
            opts=child,
        )

        self.workgroup_name: pulumi.Output[str] = workgroup.workgroup_name
        self.workgroup_arn: pulumi.Output[str] = workgroup.arn
        self.endpoint: pulumi.Output[str] = workgroup.endpoints.apply(lambda eps: (eps[0].address or "") if eps else "")
        self.security_group_id: pulumi.Output[str] = sg.id
        self.register_outputs(
            {
                "namespace_name": self.namespace_name,
                "workgroup_name": self.workgroup_name,
                "endpoint": self.endpoint,
                "admin_secret_arn": self.admin_secret_arn,
            }
        )

    def _retire(self, name: str, args: WarehouseArgs, namespace: aws.redshiftserverless.Namespace) -> None:
        """The namespace alone, plus a snapshot of it kept for `snapshot_retention_days`."""
        kept = pulumi.ResourceOptions(parent=self, protect=False, retain_on_delete=True)
        suffix = random.RandomId(
            f"{name}-retired-snapshot",
            random.RandomIdArgs(byte_length=4, keepers={"namespace": args.name}),
            opts=kept,
        )
        # Pulumi deletes removed resources after creating new ones, so the workgroup still exists here.
        self.retired_snapshot = aws.redshiftserverless.Snapshot(
            f"{name}-retired",
            aws.redshiftserverless.SnapshotArgs(
                namespace_name=namespace.namespace_name,
                snapshot_name=pulumi.Output.concat(args.name, "-retired-", suffix.hex),
                retention_period=args.snapshot_retention_days,
            ),
            opts=kept,
        )
        self.workgroup_name = pulumi.Output.from_input("")
        self.workgroup_arn = pulumi.Output.from_input("")
        self.endpoint = pulumi.Output.from_input("")
        self.register_outputs({"namespace_name": self.namespace_name, "retired": True})
