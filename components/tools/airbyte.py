"""Airbyte: the domain's ingestion (connectors into the lake).

Creates, besides the release: a Role and RoleBinding naming exactly what Airbyte uses (the chart's own
Role uses apiGroups ["*"]); the release waits for them.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.charts import resolve
from components.metadata_db import DatabaseSpec
from components.tools.base import ToolContext, ToolDeployment, ToolSpec, Ui
from components.values import airbyte as airbyte_values
from components.values.common import Postgres, S3Access

SERVICE_ACCOUNT = "airbyte"


def deploy(ctx: ToolContext) -> ToolDeployment:
    cfg, s3, sizes = ctx.domain.tools.airbyte, ctx.services.s3, ctx.sizes
    db = ctx.databases.databases["airbyte"]
    url = ctx.urls["airbyte"]
    image_tag = resolve("airbyte", {**ctx.config.charts}).version
    values = pulumi.Output.all(s3.bucket, db.host).apply(
        lambda a: airbyte_values.airbyte_values(
            airbyte_values.AirbyteArgs(
                storage=S3Access(a[0], s3.region, s3.endpoint_url, s3.credentials_secret),
                postgres=Postgres(a[1], db.port, db.database, db.user, db.secret_name, db.password_key),
                service_account=SERVICE_ACCOUNT,
                airbyte_url=url,
                replicas=sizes.replicas(cfg.replicas),
                resources=sizes.resources("airbyte_main", cfg.resources),
                job_resources=sizes.resources("airbyte_job", cfg.job_resources),
                support_resources=sizes.chart_default("airbyte_support"),
                image_tag=image_tag,
            )
        )
    )
    return ToolDeployment(values=values, after=[_rbac(ctx)])


def _rbac(ctx: ToolContext) -> pulumi.Resource:
    """The chart's own Role uses apiGroups ["*"]; this one names exactly what Airbyte uses."""
    d, ns, labels = ctx.domain.name, ctx.namespace, ctx.labels
    verbs = ["get", "list", "watch", "create", "update", "patch", "delete"]
    role = k8s.rbac.v1.Role(
        f"{d}-airbyte",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="airbyte", namespace=ns, labels=labels),
        rules=[
            k8s.rbac.v1.PolicyRuleArgs(
                api_groups=[""],
                resources=["configmaps", "endpoints", "pods", "pods/log", "pods/exec", "pods/attach", "secrets"],
                verbs=verbs,
            ),
            k8s.rbac.v1.PolicyRuleArgs(api_groups=["batch"], resources=["jobs"], verbs=verbs),
        ],
        opts=pulumi.ResourceOptions(parent=ctx.stack, depends_on=[ctx.guardrails]),
    )
    return k8s.rbac.v1.RoleBinding(
        f"{d}-airbyte",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="airbyte", namespace=ns, labels=labels),
        role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name="airbyte"),
        subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=SERVICE_ACCOUNT, namespace=ns)],
        opts=pulumi.ResourceOptions(parent=ctx.stack, depends_on=[role]),
    )


SPEC = ToolSpec(
    name="airbyte",
    enabled=lambda domain: domain.tools.airbyte.enabled,
    deploy=deploy,
    chart="airbyte",
    mounts_api_token=frozenset({SERVICE_ACCOUNT}),
    database=DatabaseSpec("airbyte", user_key=airbyte_values.DATABASE_USER_KEY, createdb=True),
    ui=Ui(airbyte_values.airbyte_ui_service, airbyte_values.HEALTH_PATH),
    # Its launcher starts connector pods as root unless rootless workloads are on (docs/security.md).
    restricted=False,
    size_keys=("airbyte_main", "airbyte_support", "airbyte_job"),
)
