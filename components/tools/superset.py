"""Superset: the domain's dashboards over its warehouse.

Creates, besides the release: the generated secret key, admin and Redis passwords, and the two Secrets
its pods read (`superset-credentials`: every credential; `superset-env`: connection settings only,
which the chart reads from a Secret, not from values). Owners (and the platform admins) sign in as
Superset Admins, the domain's other groups as viewers. With the domain's analyst sandbox (AWS,
`tools.sandbox`), its init job also registers the Athena connection, as the analyst role.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.catalog_feed import SupersetSource
from components.metadata_db import DatabaseSpec
from components.tools.base import ToolContext, ToolDeployment, ToolSpec, Ui
from components.values import superset as superset_values
from components.values.common import Postgres

SERVICE_ACCOUNT = "superset"
ENV_SECRET = "superset-env"
CREDENTIALS_SECRET = "superset-credentials"
ADMIN = "admin"


def deploy(ctx: ToolContext) -> ToolDeployment:
    domain, d, ns, labels = ctx.domain, ctx.domain.name, ctx.namespace, ctx.labels
    cfg = domain.tools.superset
    db = ctx.databases.databases["superset"]
    wh = ctx.services.warehouse
    release_name = ctx.release_name("superset")
    redis = (
        superset_values.SupersetRedis()
        if cfg.redis.bundled
        else superset_values.SupersetRedis(cfg.redis.host, cfg.redis.port)
    )
    sign_in = _sign_in(ctx)
    sandbox = ctx.services.sandbox

    def args(db_host: str, wh_host: str, workgroup: str | None, analyst: str) -> superset_values.SupersetArgs:
        iam = wh.auth == "iam"
        return superset_values.SupersetArgs(
            env_secret=ENV_SECRET,
            postgres=Postgres(
                db_host, db.port, db.database, db.user, CREDENTIALS_SECRET, superset_values.DB_PASSWORD_KEY
            ),
            redis=redis,
            admin_username=ADMIN,
            admin_email=domain.owners.email,
            warehouse=superset_values.RedshiftConnection(
                name=f"{d} warehouse",
                host=wh_host,
                port=wh.port,
                database=wh.database,
                user="iam" if iam else wh.user,
                iam_workgroup=workgroup if iam else None,
                region=ctx.services.s3.region if iam else None,
                dialect="redshift" if wh.kind == "redshift" else "postgresql",
            ),
            athena=superset_values.AthenaConnection(
                name=f"{d} sandbox",
                region=sandbox.region,
                workgroup=sandbox.workgroup,
                database=sandbox.database,
                role_arn=analyst,
            )
            if sandbox
            else None,
            service_account=SERVICE_ACCOUNT,
            sign_in=sign_in,
            replicas=ctx.sizes.replicas(cfg.replicas),
            resources=ctx.sizes.resources("superset_web", cfg.resources),
            support_resources=ctx.sizes.chart_default("superset_support"),
        )

    workgroup = wh.workgroup if wh.workgroup is not None else pulumi.Output.from_input("")
    analyst = sandbox.analyst_role_arn if sandbox else pulumi.Output.from_input("")
    plain = pulumi.Output.all(db.host, wh.host, workgroup, analyst).apply(
        lambda a: superset_values.superset_secret_env(args(a[0], a[1], a[2] or None, a[3]), release_name)
    )
    child = pulumi.ResourceOptions(parent=ctx.stack)
    random_key = random.RandomPassword(
        f"{d}-superset-secret-key", random.RandomPasswordArgs(length=64, special=False), opts=child
    )
    admin = random.RandomPassword(
        f"{d}-superset-admin", random.RandomPasswordArgs(length=24, special=False), opts=child
    )
    redis_pw = random.RandomPassword(
        f"{d}-superset-redis", random.RandomPasswordArgs(length=32, special=False), opts=child
    )
    secret_data: dict[str, pulumi.Input[str]] = {
        "SUPERSET_SECRET_KEY": random_key.result,
        superset_values.DB_PASSWORD_KEY: ctx.databases.passwords["superset"],
        "SUPERSET_ADMIN_PASSWORD": admin.result,
        "REDIS_PASSWORD": redis_pw.result,
        "redis-password": redis_pw.result,
    }
    if wh.password is not None:
        secret_data["WAREHOUSE_PASSWORD"] = wh.password
    if ctx.sign_in is not None:
        secret_data[superset_values.SIGN_IN_CLIENT_SECRET_KEY] = ctx.sign_in.client_secret
    after_ns = pulumi.ResourceOptions(parent=ctx.stack, depends_on=[ctx.guardrails])
    credentials = k8s.core.v1.Secret(
        f"{d}-superset-credentials",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=CREDENTIALS_SECRET, namespace=ns, labels=labels),
        type="Opaque",
        string_data=secret_data,
        opts=after_ns,
    )
    # Connection settings only; the chart reads them from a Secret, not from values.
    connection = k8s.core.v1.Secret(
        f"{d}-superset-env",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=ENV_SECRET, namespace=ns, labels=labels),
        type="Opaque",
        string_data=plain,
        opts=after_ns,
    )
    values: pulumi.Output[dict[str, Any]] = pulumi.Output.all(db.host, wh.host, workgroup, analyst).apply(
        lambda a: superset_values.superset_values(args(a[0], a[1], a[2] or None, a[3]))
    )
    # The init job registers the Athena connection; queries need the role's policies and tables.
    return ToolDeployment(values=values, after=[credentials, connection, *(sandbox.resources if sandbox else [])])


def _sign_in(ctx: ToolContext) -> superset_values.SupersetSignIn | None:
    """Owners (and the platform admins) are Superset Admins; the domain's other groups are viewers."""
    s, domain = ctx.sign_in, ctx.domain
    if s is None:
        return None
    e = s.endpoints
    return superset_values.SupersetSignIn(
        issuer_url=e.issuer_url,
        client_id=s.client_id,
        scopes=s.scopes,
        groups_claim=s.groups_claim,
        owner_groups=(domain.owners_group, *s.admin_groups),
        viewer_groups=tuple(g for g in domain.access_groups if g != domain.owners_group),
        authorize_url=e.login_url,
        token_url=e.redeem_url,
        jwks_url=e.jwks_url,
    )


def catalog_source(namespace: str, release: str, after: tuple[pulumi.Resource, ...] = ()) -> SupersetSource:
    """How the domain's catalog ingestion reads Superset (its dashboards and charts); `after`: the release,
    which waits for `superset-credentials`, whose admin password the ingestion reads."""
    svc, port = superset_values.superset_ui_service(release)
    return SupersetSource(
        f"http://{svc}.{namespace}.svc:{port}", ADMIN, CREDENTIALS_SECRET, "SUPERSET_ADMIN_PASSWORD", after
    )


SPEC = ToolSpec(
    name="superset",
    enabled=lambda domain: domain.tools.superset.enabled,
    deploy=deploy,
    chart="superset",
    database=DatabaseSpec("superset"),
    ui=Ui(superset_values.superset_ui_service, superset_values.HEALTH_PATH),
    # Not rendered offline, so not proven to pass `restricted` (docs/security.md).
    restricted=False,
    size_keys=("superset_web", "superset_support"),
    secrets=(CREDENTIALS_SECRET, ENV_SECRET),
)
