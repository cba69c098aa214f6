"""Names the analyst sandbox's per-domain half and its shared notebook half agree on.

The domain side (its analyst IAM role and Pod Identity association) and the environment side
(the `sandbox` namespace, JupyterHub and one ServiceAccount per domain) are built apart, and in
split mode in different stacks, so they meet only through these deterministic names.
"""

# One shared namespace for every domain's notebooks (docs/sandbox.md says why).
SANDBOX_NAMESPACE = "sandbox"
# The only prefix of a domain's own bucket an analyst may write (query results, scratch).
SANDBOX_PREFIX = "sandbox/"


def analyst_service_account(domain: str) -> str:
    """The ServiceAccount in SANDBOX_NAMESPACE whose pods run as `domain`'s analyst role."""
    return f"analyst-{domain}"


def athena_workgroup(environment: str, domain: str) -> str:
    """`domain`'s sandbox Athena workgroup (AWS): PyAthena uses it when env AWS_ATHENA_WORK_GROUP names it."""
    return f"dp-{environment}-{domain}-sandbox"


def glue_database(environment: str, domain: str) -> str:
    """`domain`'s sandbox Glue database (AWS), holding its own and consumed products' tables.
    Athena takes lowercase letters, digits and '_' in database names unquoted."""
    return f"dp_{environment}_{domain}".replace("-", "_")
