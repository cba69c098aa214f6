"""AwsCatalogServices: the central catalog's managed data services on AWS.

Creates what `CatalogRequest` asks for:
- `sql`: an RDS PostgreSQL instance for DataHub: private subnets, a security group open to the
  cluster's pods only, TLS forced (`rds.force_ssl`), storage encrypted with the lake key, a generated
  master password (pulumi-random, secret), automated backups (`backups.rdsRetentionDays`: 14 days
  in prod unless set, at least 7) with point-in-time recovery, a final snapshot named uniquely per
  deletion; in prod Multi-AZ and deletion protection;
- `search`: an Amazon OpenSearch Service domain in the VPC: encryption at rest with the lake key,
  node-to-node encryption, HTTPS only with a TLS 1.2+ policy, fine-grained access control whose
  master user is the catalog's IAM role (no internal user, so no search password exists), a domain
  access policy naming that role only; and that role for EKS Pod Identity, trusted only by pods of
  the catalog namespace on this cluster, with one association per DataHub ServiceAccount.

Invariants: both stores are reachable only from the cluster's security group; the RDS instance and
the OpenSearch domain are protected when the stack protects stateful resources and retained on
delete in prod; the IAM documents are built by the pure functions below, which tests run through
parliament.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.identity import pod_identity_trust_policy
from components.aws.postgres import PostgresSpec, private_postgres
from components.config import BackupsConfig
from components.interfaces import CatalogRequest, CatalogServices, PostgresServer

SQL_ADMIN = "datahub"
SQL_DATABASE = "datahub"
# TLS 1.2 and 1.3 with forward-secret ciphers only.
OPENSEARCH_TLS_POLICY = "Policy-Min-TLS-1-2-PFS-2023-10"
# DataHub signs every search request with SigV4 (OPENSEARCH_USE_AWS_IAM_AUTH); these are the data-plane verbs.
OPENSEARCH_HTTP_ACTIONS = [
    "es:ESHttpDelete",
    "es:ESHttpGet",
    "es:ESHttpHead",
    "es:ESHttpPatch",
    "es:ESHttpPost",
    "es:ESHttpPut",
]


@dataclass(frozen=True)
class AwsCatalogRefs:
    """What the catalog's services need from the AWS foundation."""

    environment: str
    region: str
    kms_key_arn: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    private_subnet_ids: list[pulumi.Output[str]]
    cluster_name: pulumi.Input[str]
    cluster_security_group_id: pulumi.Input[str]
    protect: bool
    backup_days: int | None = None  # None: the default of `backups.rdsRetentionDays` for the environment


def opensearch_role_policy(domain_arn: str) -> dict:
    """The catalog role's permissions: the search data plane of this one domain."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CatalogSearch",
                "Effect": "Allow",
                "Action": OPENSEARCH_HTTP_ACTIONS,
                "Resource": [domain_arn, f"{domain_arn}/*"],
            }
        ],
    }


def opensearch_access_policy(domain_arn: str, role_arn: str) -> dict:
    """The domain's resource policy: only the catalog role may call it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CatalogRoleOnly",
                "Effect": "Allow",
                "Principal": {"AWS": role_arn},
                "Action": OPENSEARCH_HTTP_ACTIONS,
                "Resource": f"{domain_arn}/*",
            }
        ],
    }


def availability_zones(instance_count: int) -> int:
    """Zones to spread data nodes over: OpenSearch needs the node count to divide evenly."""
    if instance_count >= 3 and instance_count % 3 == 0:
        return 3
    return 2 if instance_count % 2 == 0 else 1


class AwsCatalogServices(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        request: CatalogRequest,
        refs: AwsCatalogRefs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:catalog_services:AwsCatalogServices", name, None, opts)
        env = refs.environment
        prod = env == "prod"
        base = f"dp-{env}-catalog"
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=refs.protect, retain_on_delete=prod)
        resources: list[pulumi.Resource] = []

        sql: PostgresServer | None = None
        if request.sql is not None:
            cfg = request.sql
            db, password = private_postgres(
                f"{name}-sql",
                PostgresSpec(
                    identifier=f"{base}-sql",
                    engine_version=cfg.engine_version,
                    instance_class=cfg.instance_class,
                    storage_gib=cfg.allocated_storage_gib,
                    admin_user=SQL_ADMIN,
                    sg_description="DataHub SQL store: reachable from the cluster only",
                    params_description="TLS-only PostgreSQL for the central catalog",
                    db_name=SQL_DATABASE,
                ),
                kms_key_arn=refs.kms_key_arn,
                vpc_id=refs.vpc_id,
                subnet_ids=refs.private_subnet_ids,
                client_security_group_id=refs.cluster_security_group_id,
                prod=prod,
                tags=None,
                child=child,
                stateful=stateful,
                backup_days=refs.backup_days or BackupsConfig().rds_days(env),
            )
            resources.append(db)
            sql = PostgresServer(
                host=db.address,
                port=5432,
                admin_user=SQL_ADMIN,
                admin_password=password.result,
                sslmode="require",
            )

        endpoint: pulumi.Output[str] | None = None
        if request.search is not None:
            cfg_search = request.search
            caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
            trust = pulumi.Output.all(caller.account_id, refs.cluster_name).apply(
                lambda a: json.dumps(
                    pod_identity_trust_policy(account_id=a[0], cluster_name=a[1], namespace=request.namespace)
                )
            )
            self.role = aws.iam.Role(
                f"{name}-role",
                aws.iam.RoleArgs(
                    name=base,
                    description="Pod Identity role of the central catalog (DataHub)",
                    assume_role_policy=trust,
                    max_session_duration=3600,
                ),
                opts=child,
            )
            search_sg = aws.ec2.SecurityGroup(
                f"{name}-search",
                aws.ec2.SecurityGroupArgs(
                    name=f"{base}-search",
                    description="DataHub search: HTTPS from the cluster only",
                    vpc_id=refs.vpc_id,
                    ingress=[
                        aws.ec2.SecurityGroupIngressArgs(
                            protocol="tcp",
                            from_port=443,
                            to_port=443,
                            security_groups=[refs.cluster_security_group_id],
                            description="HTTPS from EKS pods",
                        )
                    ],
                ),
                opts=child,
            )
            zones = availability_zones(cfg_search.instance_count)
            self.search = aws.opensearch.Domain(
                f"{name}-search",
                aws.opensearch.DomainArgs(
                    domain_name=base,
                    engine_version=cfg_search.engine_version,
                    cluster_config=aws.opensearch.DomainClusterConfigArgs(
                        instance_type=cfg_search.instance_type,
                        instance_count=cfg_search.instance_count,
                        zone_awareness_enabled=zones > 1,
                        zone_awareness_config=(
                            aws.opensearch.DomainClusterConfigZoneAwarenessConfigArgs(availability_zone_count=zones)
                            if zones > 1
                            else None
                        ),
                    ),
                    ebs_options=aws.opensearch.DomainEbsOptionsArgs(
                        ebs_enabled=True, volume_type="gp3", volume_size=cfg_search.volume_size_gib
                    ),
                    encrypt_at_rest=aws.opensearch.DomainEncryptAtRestArgs(enabled=True, kms_key_id=refs.kms_key_arn),
                    node_to_node_encryption=aws.opensearch.DomainNodeToNodeEncryptionArgs(enabled=True),
                    domain_endpoint_options=aws.opensearch.DomainDomainEndpointOptionsArgs(
                        enforce_https=True, tls_security_policy=OPENSEARCH_TLS_POLICY
                    ),
                    vpc_options=aws.opensearch.DomainVpcOptionsArgs(
                        subnet_ids=refs.private_subnet_ids[:zones], security_group_ids=[search_sg.id]
                    ),
                    advanced_security_options=aws.opensearch.DomainAdvancedSecurityOptionsArgs(
                        enabled=True,
                        anonymous_auth_enabled=False,
                        internal_user_database_enabled=False,
                        master_user_options=aws.opensearch.DomainAdvancedSecurityOptionsMasterUserOptionsArgs(
                            master_user_arn=self.role.arn
                        ),
                    ),
                ),
                opts=stateful,
            )
            aws.iam.RolePolicy(
                f"{name}-role",
                aws.iam.RolePolicyArgs(
                    role=self.role.id,
                    name="catalog-search",
                    policy=self.search.arn.apply(lambda arn: json.dumps(opensearch_role_policy(arn))),
                ),
                opts=child,
            )
            access = aws.opensearch.DomainPolicy(
                f"{name}-search",
                aws.opensearch.DomainPolicyArgs(
                    domain_name=self.search.domain_name,
                    access_policies=pulumi.Output.all(self.search.arn, self.role.arn).apply(
                        lambda a: json.dumps(opensearch_access_policy(a[0], a[1]))
                    ),
                ),
                opts=child,
            )
            associations = [
                aws.eks.PodIdentityAssociation(
                    f"{name}-{sa}",
                    aws.eks.PodIdentityAssociationArgs(
                        cluster_name=refs.cluster_name,
                        namespace=request.namespace,
                        service_account=sa,
                        role_arn=self.role.arn,
                    ),
                    opts=child,
                )
                for sa in request.service_accounts
            ]
            resources += [self.search, access, *associations]
            endpoint = self.search.endpoint

        self.services = CatalogServices(
            sql=sql,
            sql_database=SQL_DATABASE,
            opensearch_endpoint=endpoint,
            region=refs.region,
            resources=resources,
        )
        self.register_outputs({"sql": sql.host if sql else None, "search": endpoint})
