"""The analyst sandbox (`tools.sandbox`, docs/sandbox.md): read-only exploration for a domain's analysts.

A tool without chart, UI, database or ServiceAccount in the domain namespace. What it consists of:
- `request(domain)`: what the domain stack asks its foundation for (`DomainRequest.sandbox`): the
  per-query scan limit and the domain's own products with their declared schemas (consumed products
  come with the grants). The AWS foundation builds the analyst role, its Pod Identity association, the
  Athena workgroup and the Glue tables from it (components/aws/sandbox.py); the local foundation builds
  nothing (its equivalent is the notebooks' MinIO user, docs/notebooks.md);
- Superset's Athena connection, added by Superset's own `deploy` (components/tools/superset.py);
- `deploy`: only the stack exports of what the foundation built (the analyst role, the workgroup and
  the Glue database analysts query), so nothing exists here that the foundation did not create.
The notebooks (JupyterHub, one profile per sandbox domain) are environment-level: docs/notebooks.md.

Invariants: a domain that leaves the sandbox off, or is retired, asks for nothing; the request depends
only on the domain's own file (the producers' schemas reach it through the grants).
"""

from __future__ import annotations

from components.domain_config import Domain, Product
from components.interfaces import ProductGrant, SandboxRequest, TableSchema
from components.tools.base import ToolContext, ToolDeployment, ToolSpec


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


def deploy(ctx: ToolContext) -> ToolDeployment:
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
