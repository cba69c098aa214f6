"""The analyst sandbox (`tools.sandbox`, docs/sandbox.md): read-only exploration for a domain's analysts.

A tool without chart, UI, database or ServiceAccount in the domain namespace. What it consists of:
- `request(domain)`: what the domain stack asks its foundation for (`DomainRequest.sandbox`): the
  per-query scan limit and the domain's own products with their declared schemas (consumed products
  come with the grants). The AWS foundation builds the analyst role, its Pod Identity association, the
  Athena workgroup and the Glue tables from it (components/aws/sandbox.py); the local foundation builds
  nothing (its equivalent is the notebooks' MinIO user, docs/notebooks.md);
- Superset's Athena connection, added by Superset's own `deploy` (components/tools/superset.py);
- `deploy`: the domain's notebook ServiceAccount `analyst-<domain>` in the shared sandbox namespace
  (no token; the AWS foundation's Pod Identity association maps it to the analyst role), and the stack
  exports of what the foundation built (the analyst role, the workgroup and the Glue database).
The notebooks hub (JupyterHub, one profile per sandbox domain, naming that ServiceAccount) is
environment-level: docs/notebooks.md. The ServiceAccount is the domain's, so in a split environment it
is in the domain's stack, and the environment's stack registers nothing per domain.

Invariants: a domain that leaves the sandbox off, or is retired, asks for nothing; the request depends
only on the domain's own file (the producers' schemas reach it through the grants).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.domain_config import Domain, Product
from components.guardrails import OWNER_LABEL
from components.interfaces import ProductGrant, SandboxRequest, TableSchema
from components.sandbox_names import SANDBOX_NAMESPACE, analyst_service_account
from components.tools.base import ToolContext, ToolDeployment, ToolSpec

# Where (and by which name) the ServiceAccount was registered before it moved under the domain's stack.
NOTEBOOKS_COMPONENT = ("dataplatform:notebooks:AnalystNotebooks", "notebooks")


def table_schema(product: Product) -> TableSchema | None:
    s = product.table_schema
    return None if s is None else TableSchema(s.format, tuple((c.name, c.type) for c in s.columns))


def request(domain: Domain) -> SandboxRequest | None:
    """The analyst sandbox the foundation builds for `tools.sandbox` (nothing when it is off)."""
    sandbox = domain.tools.sandbox
    if not sandbox.enabled or domain.retired:
        return None
    return SandboxRequest(
        scan_limit_bytes=sandbox.scan_limit_bytes,
        products=tuple(ProductGrant(domain.name, p.name, p.prefix, table_schema(p)) for p in domain.products),
    )


def notebook_service_account(ctx: ToolContext) -> k8s.core.v1.ServiceAccount:
    """The ServiceAccount the domain's notebook profile runs as; created after the shared namespace."""
    d = ctx.domain.name
    kind, name = NOTEBOOKS_COMPONENT
    old_parent = f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{kind}::{name}"
    return k8s.core.v1.ServiceAccount(
        f"{d}-notebooks-sa",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=analyst_service_account(d), namespace=SANDBOX_NAMESPACE, labels={OWNER_LABEL: d}
        ),
        automount_service_account_token=False,
        opts=pulumi.ResourceOptions(
            parent=ctx.stack,
            depends_on=[ctx.sandbox_namespace] if ctx.sandbox_namespace is not None else [],
            aliases=[pulumi.Alias(name=f"notebooks-{d}-sa", parent=old_parent)],
        ),
    )


def deploy(ctx: ToolContext) -> ToolDeployment:
    notebook_service_account(ctx)
    s = ctx.services.sandbox
    if s is None:  # no AWS side (local foundation)
        return ToolDeployment()
    return ToolDeployment(
        exports={
            "sandbox": {
                "analystRoleArn": s.analyst_role_arn,
                "athenaWorkgroup": s.workgroup,
                "glueDatabase": s.database,
                "region": s.region,
            }
        }
    )


SPEC = ToolSpec(
    name="sandbox",
    enabled=lambda domain: domain.tools.sandbox.enabled,
    deploy=deploy,
    # Its notebook ServiceAccount lives in the shared sandbox namespace (components/sandbox_names.py).
    own_service_account=False,
)
