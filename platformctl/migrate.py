"""`python -m platformctl.migrate --stack dev`: the commands that split an environment's one stack.

    python -m platformctl.migrate --stack dev [--state dev-state.json] [--domains-dir D]

Each domain's `DataDomainStack` (with everything under it) moves from `<env>` to `<env>-<domain>`
with `pulumi state move`, which rewrites only the stack name in URNs, copies the providers the moved
resources use into the destination (parented to its root stack, same URN), and drops the dependencies
on resources that stay behind (pulumi/pulumi pkg/cmd/pulumi/state/state_move.go). The domain stack's
program registers the same URNs and inputs (components/split.py), so its first preview shows no
cloud change: only two stand-in components created and its two providers re-parented under them.
`simulate_move` replays that on the mocks' records; tests/test_split.py checks the result against the
domain stack's own records (docs/runbooks/split-stacks.md).

URNs come from the stack's state when `--state` is given (`pulumi stack export`), otherwise they are
the engine's form for a top-level component: `urn:pulumi:<env>::dataplatform::<type>::<name>`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from platformctl.orchestrate import PROJECT_DIR, active_domains, domain_stack
from platformctl.simulate import PROJECT

DOMAIN_TYPE = "dataplatform:domain:DataDomainStack"


def domain_roots(environment: str, domains: list[str], state: dict[str, Any] | None = None) -> dict[str, str]:
    """The URN of each domain's DataDomainStack in the stack `environment`."""
    if state is None:
        return {d: f"urn:pulumi:{environment}::{PROJECT}::{DOMAIN_TYPE}::{d}" for d in domains}
    found = {
        r["urn"].rsplit("::", 1)[-1]: r["urn"]
        for r in state.get("deployment", state).get("resources", [])
        if r.get("type") == DOMAIN_TYPE
    }
    missing = sorted(set(domains) - set(found))
    if missing:
        raise ValueError(f"no DataDomainStack in the state for: {', '.join(missing)} (already moved?)")
    return {d: found[d] for d in domains}


def commands(environment: str, roots: dict[str, str]) -> list[str]:
    """The migration, in order: to run by a platform engineer with deploys of `environment` paused."""
    out = [
        "# 0. Pause deploys (a deploy between the steps would delete or re-create domains); keep the state.",
        "gh workflow disable deploy.yml",
        f"pulumi stack export -s {environment} --file {environment}-before-split.json",
        "# 1. Move each domain (its children and the providers they use come along):",
    ]
    for domain, urn in sorted(roots.items()):
        dest = domain_stack(environment, domain)
        out += [
            f'pulumi stack init {dest} --secrets-provider "$PULUMI_SECRETS_PROVIDER"',
            f"pulumi state move --source {environment} --dest {dest} --yes '{urn}'",
        ]
    out += [
        f"# 2. Merge dataplatform:scope: platform in Pulumi.{environment}.yaml. The environment's stack:",
        "#    expect no deletion, only the new output domainInputs.",
        f"python -m platformctl preview --stack {environment} --environment-only",
        f"python -m platformctl up --stack {environment} --environment-only",
        "# 3. The domain stacks get the environment's config and scope; expect only the two stand-in",
        "#    components created and no change to any cloud resource:",
        f"python -m platformctl preview --stack {environment}",
        f"python -m platformctl up --stack {environment}",
        "gh workflow enable deploy.yml",
    ]
    return out


def _rename(urn: str, source: str, dest: str) -> str:
    return urn.replace(f"urn:pulumi:{source}::", f"urn:pulumi:{dest}::", 1) if urn else urn


def simulate_move(document: dict[str, Any], root: str, dest: str, dest_root: str) -> dict[str, Any]:
    """What `pulumi state move --source <document's stack> --dest <dest> <root>` leaves in `dest`, on records
    (platformctl.records): `root` and its descendants, the providers they use (copied, parent = `dest_root`),
    URNs renamed, dependencies on resources left behind dropped."""
    source = document["stack"]
    by_urn = {r["urn"]: r for r in document["resources"]}
    moved, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for r in document["resources"]:
            if r["parent"] == parent and r["urn"] not in moved:
                moved.add(r["urn"])
                frontier.append(r["urn"])
    providers = {by_urn[u]["options"]["provider"] for u in moved} - {""}
    out = []
    for urn in sorted(moved | providers):
        r = json.loads(json.dumps(by_urn[urn]))
        r["urn"] = _rename(urn, source, dest)
        r["parent"] = _rename(r["parent"], source, dest) if r["parent"] in moved else dest_root
        options = r["options"]
        options["provider"] = _rename(options["provider"], source, dest)
        options["depends_on"] = sorted(_rename(u, source, dest) for u in options["depends_on"] if u in moved)
        out.append(r)
    return {"stack": dest, "preview": document["preview"], "resources": out, "exports": {}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m platformctl.migrate", description="Print the commands that split an environment's stack."
    )
    parser.add_argument("--stack", required=True, help="the environment's stack (dev, prod)")
    parser.add_argument("--state", help="`pulumi stack export` of it: the exact URNs (recommended)")
    parser.add_argument("--domains-dir", help="domain files folder (default domains/)")
    args = parser.parse_args(argv)
    domains_dir = Path(args.domains_dir).resolve() if args.domains_dir else PROJECT_DIR / "domains"
    try:
        domains = active_domains(domains_dir, args.stack)
        state = json.loads(Path(args.state).read_text()) if args.state else None
        roots = domain_roots(args.stack, domains, state)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(commands(args.stack, roots)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
