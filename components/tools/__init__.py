"""The per-domain tools: one module per tool, each exporting one `SPEC` (`components/tools/base.py`).

`DataDomainStack` (components/domain.py) has no per-tool code: for each spec in `TOOLS` whose
`enabled(domain)` is true it creates the tool's ServiceAccounts, its database on the domain's metadata
PostgreSQL, calls its `deploy`, installs its chart with the values `deploy` returns (after the database,
the ServiceAccounts and `ToolDeployment.after`), and puts its UI behind the sign-in gateway and an Ingress.

How to add a tool:
1. `tools.<name>` in the domain file: a model with `enabled` in `Tools` (components/domain_config.py),
   documented in domains/README.md; if the file sizes its pods, count them in `Domain._tools_fit_quota`.
2. `components/tools/<name>.py`: a docstring saying what the tool creates; `deploy(ctx: ToolContext) ->
   ToolDeployment`, which creates what only this tool needs with `parent=ctx.stack` and logical names
   starting with `ctx.domain.name`; and `SPEC = ToolSpec(name=..., enabled=..., deploy=deploy, ...)`.
   Fill only what the tool has: `chart` (a release; pin it in components/charts.py and its values
   builder in `components/values/<name>.py`), `database`, `ui` (Service, port and health path),
   ServiceAccounts, `size_keys` (components/sizing.py, read through `ctx.sizes`), `secrets`,
   `restricted=False` if its pods are not proven to pass Pod Security `restricted`. A tool without
   `chart`, `ui` and `database` (AWS roles, say) gets none of those; its `deploy` returns
   `ToolDeployment()`, and may use `ctx.services`, the foundation's answer for the domain.
3. Append `<name>.SPEC` to `TOOLS` below. The order is part of the records (ServiceAccount and database
   lists), so append: never reorder.
4. Tests: its values (a pure-function test), and its resources under `program_for(stack)`. A domain that
   does not enable it must register nothing new: `python -m platformctl.records` before and after,
   then `python -m platformctl.records diff` (docs/ci.md).

Not a tool here: the catalog ingestion (`tools.datahubIngestion`) has no chart, UI or database in the
domain; it is the central catalog's feed (components/catalog_feed.py), created only when the stack
runs a catalog. The analyst sandbox is a tool without chart, UI, database or ServiceAccount: its AWS side
is built by the foundation from its `request` (`DomainRequest.sandbox`, components/aws/sandbox.py),
Superset's `deploy` adds its Athena connection, and its own `deploy` only exports what was built.
"""

from __future__ import annotations

from components.domain_config import Domain
from components.metadata_db import DatabaseSpec
from components.tools import airbyte, dagster, sandbox, superset
from components.tools.base import ToolSpec

TOOLS: tuple[ToolSpec, ...] = (dagster.SPEC, airbyte.SPEC, superset.SPEC, sandbox.SPEC)

# The UIs' unauthenticated health endpoints: the gateways let these alone through, and the load
# balancer's target groups check them.
UI_HEALTH_PATHS: dict[str, str] = {t.name: t.ui.health_path for t in TOOLS if t.ui is not None}
# Tools whose pods are not proven to pass Pod Security `restricted` (docs/security.md). A namespace
# without them runs only the platform's Jobs, which the render check proves restricted.
NOT_RESTRICTED_TOOLS = frozenset(t.name for t in TOOLS if not t.restricted)
DATABASES: dict[str, DatabaseSpec] = {t.name: t.database for t in TOOLS if t.database is not None}


def enabled(domain: Domain) -> list[ToolSpec]:
    """The domain's tools, in registry order."""
    return [t for t in TOOLS if t.enabled(domain)]
