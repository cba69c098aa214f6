"""The data platform: validated input, the foundation, one DataDomainStack per domain file, exports.

`dataplatform:scope` picks the stack's part (components/split.py): everything (default), the
environment's part of a split environment (`platform`), or one domain (`domain/<name>`).
"""

import os
from pathlib import Path

import pulumi

from components.aws.cluster import STORAGE_CLASS
from components.aws.foundation import CLUSTER_NAME_PREFIX
from components.catalog import CentralCatalog, catalog_endpoint, catalog_ui_url
from components.config import load_stack_config, with_user_code_overrides
from components.cost_monitoring import CostMonitoring
from components.domain import DataDomainStack, domain_ui_urls, grants_for
from components.domain_config import load_domains
from components.examples import refuse_example_values
from components.foundations import foundation_exports, make_foundation
from components.identity_provider import sign_in_settings
from components.notebooks import AnalystNotebooks, notebooks_url, sandbox_domains
from components.quality import check_quality
from components.retirement import adoptions, load_retired_records
from components.sign_in import redirect_uris
from components.split import DOMAIN_INPUTS, RemoteFoundation, check_domain, domain_inputs, environment_stack

PROJECT_DIR = Path(__file__).resolve().parent

# 1. Every value a user wrote is validated before the first resource is registered.
config = load_stack_config()
scope = config.stack_scope
domains_dir = Path(os.environ.get("DATAPLATFORM_DOMAINS_DIR", PROJECT_DIR / "domains"))
# A domain stack reads only its file and its producers' (its cost must not grow with the number of domains).
domains = load_domains(domains_dir, stack=config.environment, only=[scope.domain] if scope.domain else None)
# A stack may run other user-code images than the domain files name (`make local`: a locally built one).
domains = with_user_code_overrides(domains, config)
# The shipped example values run under the offline tools only (components/examples.py).
refuse_example_values(config, domains, domains_dir)
# What retired domains left in AWS: a domain onboarded again adopts it (docs/runbooks/offboarding.md).
adopt = adoptions(load_retired_records(domains_dir), [d.name for d in domains if not d.retired], config.environment)
check_quality(config, domains, every_domain=scope.domain is None)
check_domain(scope, [d.name for d in domains], config.environment)

# 2. The shared foundation of this environment; a domain stack reads the environment's stack instead.
foundation = (
    RemoteFoundation(config, environment_stack(scope, pulumi.get_stack()))
    if scope.kind == "domain"
    else make_foundation(config)
)

# 3. One identity provider every UI signs in with (the bundled Dex on a laptop).
ui_urls = domain_ui_urls(domains, foundation)
if config.catalog.enabled and scope.kind != "domain":
    ui_urls["datahub"] = [catalog_ui_url(config, foundation)]
# The notebooks belong to the environment's part (a domain stack has only its analyst role).
if sandboxes := sandbox_domains(domains) if scope.kind != "domain" else []:
    ui_urls["notebooks"] = [notebooks_url(config, foundation)]
sign_in = sign_in_settings(
    config,
    foundation,
    redirect_uris=redirect_uris(ui_urls),
    opts=pulumi.ResourceOptions(providers=foundation.providers),
)

# 4. The central catalog every domain registers in and feeds (a domain stack: the environment's, by name).
catalog = (
    CentralCatalog(
        "catalog", config, foundation, sign_in=sign_in, opts=pulumi.ResourceOptions(providers=foundation.providers)
    )
    if config.catalog.enabled and scope.kind != "domain"
    else None
)
catalog_for_domains = (
    catalog.endpoint
    if catalog
    else catalog_endpoint(config, foundation)
    if config.catalog.enabled and scope.kind == "domain"
    else None
)

# Actual spend per namespace (= per domain), to compare with `platformctl cost` (docs/cost.md).
cost_monitoring = (
    CostMonitoring(
        "cost-monitoring",
        cluster_id=f"{CLUSTER_NAME_PREFIX}-{config.environment}",
        storage_class=STORAGE_CLASS,
        chart_overrides=config.charts,
        opts=pulumi.ResourceOptions(providers=foundation.providers),
    )
    if config.foundation == "aws" and scope.kind != "domain"
    else None
)

# 5. The analysts' notebooks: one hub, a profile per domain that enables the sandbox (docs/notebooks.md).
by_name = {d.name: d for d in domains}
notebooks = (
    AnalystNotebooks(
        "notebooks",
        sandboxes,
        foundation,
        sign_in=sign_in,
        grants={d.name: grants_for(d, by_name) for d in sandboxes},
        opts=pulumi.ResourceOptions(providers=foundation.providers),
    )
    if sandboxes
    else None
)

# 6. One isolated slice per data domain (none in the environment's stack of a split environment).
stacks = {
    d.name: DataDomainStack(
        d,
        foundation,
        grants=grants_for(d, by_name),
        catalog=catalog_for_domains,
        adopt=adopt.get(d.name),
        sign_in=sign_in,
        sandbox_namespace=notebooks.guardrails if notebooks else None,
        opts=pulumi.ResourceOptions(providers=foundation.providers),
    )
    for d in domains
    if scope.includes(d.name)
}

# 7. Exports.
if not isinstance(foundation, RemoteFoundation):
    for key, value in foundation_exports(foundation).items():
        pulumi.export(key, value)
    pulumi.export("signInRedirectUris", redirect_uris(ui_urls))
if scope.kind == "platform":
    pulumi.export(DOMAIN_INPUTS, domain_inputs(foundation))  # type: ignore[arg-type]
pulumi.export("domains", {name: s.exports for name, s in stacks.items()})
if sign_in.test_users is not None:
    pulumi.export("signIn", sign_in.test_users)
if catalog:
    pulumi.export("catalog", catalog.exports)
if notebooks:
    pulumi.export("notebooks", notebooks.exports)
