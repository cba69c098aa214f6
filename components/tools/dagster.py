"""Dagster: the domain's orchestrator, running its user-code image (dbt, Great Expectations, the kit).

Creates, besides the release: the domain's `DomainQuality` (alert channel and the kit's settings: the
checks run in the user code, so only when Dagster runs). The release waits for the warehouse grants
(dbt needs its schema) and the alert channel.
"""

from __future__ import annotations

import pulumi

from components.metadata_db import DatabaseSpec
from components.quality import DomainQuality
from components.tools.base import ToolContext, ToolDeployment, ToolSpec, Ui
from components.values import dagster as dagster_values
from components.values.common import Image, Postgres, S3Access

SERVICE_ACCOUNT = "dagster"
USER_CODE_SERVICE_ACCOUNT = "dagster-user-code"


def deploy(ctx: ToolContext) -> ToolDeployment:
    domain, services, d, ns = ctx.domain, ctx.services, ctx.domain.name, ctx.namespace
    s3, wh, sizes, catalog = services.s3, services.warehouse, ctx.sizes, ctx.catalog
    # The user code's DataHub sensor pushes Dagster runs to the catalog (DataHub has no pull source).
    # The platform kit in the user code also publishes quality results with this URL and token.
    dagster_catalog: dagster_values.CatalogAccess | None = None
    if catalog is not None and (
        (domain.tools.datahub_ingestion.enabled and domain.tools.datahub_ingestion.sources.dagster)
        or domain.quality.catalog
    ):
        dagster_catalog = dagster_values.CatalogAccess(catalog.gms_url, catalog.token_secret, catalog.token_key)
    quality = DomainQuality(
        f"{d}-quality",
        domain,
        ctx.config,
        namespace=ns,
        role_arn=services.role_arn,
        warehouse_kind=wh.kind,
        tags=ctx.tags,
        opts=pulumi.ResourceOptions(parent=ctx.stack, depends_on=[ctx.guardrails]),
    )
    cfg = domain.tools.dagster
    db = ctx.databases.databases["dagster"]
    assert cfg.image is not None and cfg.code_location is not None  # the model requires both when enabled
    image, grpc_args = cfg.image, tuple(cfg.code_location.dagster_api_grpc_args)
    workgroup = wh.workgroup if wh.workgroup is not None else pulumi.Output.from_input("")
    values = pulumi.Output.all(s3.bucket, db.host, wh.host, workgroup, quality.env).apply(
        lambda a: dagster_values.dagster_values(
            dagster_values.DagsterArgs(
                namespace=ns,
                code_location=d,
                image=Image(
                    repository=image.repository,
                    tag=image.tag,
                    # The local stack runs images loaded into kind, which no registry serves.
                    pull_policy="Always" if ctx.config.foundation == "aws" else "IfNotPresent",
                ),
                grpc_args=grpc_args,
                port=cfg.port,
                domain_env=dict(cfg.env),
                dbt_project_dir=cfg.dbt.project_dir if cfg.dbt.enabled else None,
                postgres=Postgres(a[1], db.port, db.database, db.user, db.secret_name, db.password_key),
                storage=S3Access(a[0], s3.region, s3.endpoint_url, s3.credentials_secret),
                warehouse=dagster_values.WarehouseEndpoint(
                    a[2], wh.port, wh.database, ctx.warehouse_secret, a[3] or None
                ),
                dbt_target=cfg.dbt.target or wh.kind,  # the example profiles: redshift, postgres
                service_account=SERVICE_ACCOUNT,
                user_code_service_account=USER_CODE_SERVICE_ACCOUNT,
                webserver_resources=sizes.resources("dagster_webserver", cfg.resources.webserver),
                daemon_resources=sizes.resources("dagster_daemon", cfg.resources.daemon),
                user_code_resources=sizes.resources("dagster_user_code", cfg.resources.user_code),
                run_resources=sizes.chart_default("dagster_run"),
                catalog=dagster_catalog,
                quality_env=a[4],
                quality_secret=quality.secret_name,
            )
        )
    )
    # dbt in the user code and its runs needs its schema first; the alert channel too.
    after = [*([ctx.warehouse_access] if ctx.warehouse_access else []), *quality.resources]
    return ToolDeployment(values=values, after=after, exports={"quality": quality.exports})


SPEC = ToolSpec(
    name="dagster",
    enabled=lambda domain: domain.tools.dagster.enabled,
    deploy=deploy,
    chart="dagster",
    extra_service_accounts=(USER_CODE_SERVICE_ACCOUNT,),
    mounts_api_token=frozenset({SERVICE_ACCOUNT, USER_CODE_SERVICE_ACCOUNT}),
    database=DatabaseSpec("dagster", password_key=dagster_values.POSTGRES_PASSWORD_KEY),
    ui=Ui(dagster_values.dagster_ui_service, dagster_values.HEALTH_PATH),
    # Not rendered offline, so not proven to pass `restricted` (docs/security.md).
    restricted=False,
    size_keys=("dagster_webserver", "dagster_daemon", "dagster_user_code", "dagster_run"),
)
