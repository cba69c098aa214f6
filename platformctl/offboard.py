"""`python -m platformctl offboard <domain> --stack <stack>`: what retiring a domain deletes and keeps.

It runs the program under mocks twice, as the domain files are and with the domain marked
`retired: true`, and compares the domain's resources: what the retired run still registers with
retain_on_delete is kept in AWS, everything else of the domain is deleted by the next update.
It prints both lists with names and ARNs and writes `domains/retired/<name>.yaml`
(components/retirement.py), the record a later onboarding imports the kept resources from.

IDs and ARNs come from the stack's state when `--state` is given (`pulumi stack export`); otherwise
they are computed offline for `--account-id` and the ones only the cloud assigns (the security
group ID, the Redshift namespace ARN) are left empty, which the record loader reports before a
re-onboarding could use them.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.retirement import (
    IMPORT_ID_INPUT,
    RETIRED_DIR,
    RetainedResource,
    RetiredRecord,
    StackRecord,
    dump_record,
)
from platformctl.plan import domains_by_urn, offline_arn, physical_name
from platformctl.simulate import Program, Resource

# Resources the retire update itself creates: offline, their names are not known yet.
CREATED_AT_RETIREMENT = frozenset({"aws:redshiftserverless/snapshot:Snapshot", "random:index/randomId:RandomId"})


def _order(item: Item) -> tuple[bool, str, str]:
    return (item.type not in IMPORT_ID_INPUT, item.type, item.logical_name)


@dataclass(frozen=True)
class Item:
    type: str
    logical_name: str
    physical_name: str | None
    id: str | None
    arn: str | None


@dataclass(frozen=True)
class OffboardPlan:
    domain: str
    stack: str
    deleted: list[Item]
    retained: list[Item]
    source: str  # "state" or "offline"
    account_id: str
    region: str


def _domain_resources(program: Program, domain: str) -> list[Resource]:
    of = domains_by_urn(program.resources)
    return [r for r in program.resources if r.custom and of[r.urn] == domain]


def _state_index(state: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(type, logical name) -> state resource, from a `pulumi stack export` document."""
    resources = state.get("deployment", state).get("resources", [])
    return {(r["type"], r["urn"].rsplit("::", 1)[-1]): r for r in resources if r.get("custom")}


def _item(r: Resource, program: Program, state: dict[tuple[str, str], dict[str, Any]] | None) -> Item:
    name = physical_name(r)
    if state is not None:
        found = state.get((r.type, r.name))
        if found is not None:
            outputs = found.get("outputs") or {}
            arn = outputs.get("arn") if isinstance(outputs.get("arn"), str) else None
            return Item(r.type, r.name, name, found.get("id") or None, arn)
        return Item(r.type, r.name, name, None, None)
    if r.type in CREATED_AT_RETIREMENT:
        return Item(r.type, r.name, None, None, None)  # named by a random suffix the update draws
    # Offline: the provider's import ID is the name the program gives (None: assigned by AWS).
    field = IMPORT_ID_INPUT.get(r.type)
    import_id = r.inputs.get(field) if field else None
    return Item(
        r.type,
        r.name,
        name,
        import_id if isinstance(import_id, str) else None,
        offline_arn(r.type, name, program.region, program.account_id),
    )


def plan_offboarding(
    current: Program, retired: Program, domain: str, state: dict[str, Any] | None = None
) -> OffboardPlan:
    """Compare the domain's resources in the two runs; `state` supplies real IDs and ARNs."""
    index = _state_index(state) if state is not None else None
    kept = [r for r in _domain_resources(retired, domain) if r.retain_on_delete]
    kept_urns = {r.urn for r in kept}
    gone = [r for r in _domain_resources(current, domain) if r.urn not in kept_urns]
    return OffboardPlan(
        domain=domain,
        stack=current.stack,
        deleted=sorted((_item(r, current, index) for r in gone), key=_order),
        retained=sorted((_item(r, retired, index) for r in kept), key=_order),
        source="state" if state is not None else "offline",
        account_id=current.account_id,
        region=current.region,
    )


def record_for(plan: OffboardPlan, existing: RetiredRecord | None, now: dt.datetime) -> RetiredRecord:
    """The record with this stack's entry added or replaced (other stacks' entries are kept)."""
    entry = StackRecord(
        retired_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        source="state" if plan.source == "state" else "offline",
        account_id=plan.account_id,
        region=plan.region,
        resources=[
            RetainedResource(
                type=i.type, logical_name=i.logical_name, physical_name=i.physical_name, id=i.id, arn=i.arn
            )
            for i in plan.retained
        ],
    )
    stacks = {**(existing.stacks if existing else {}), plan.stack: entry}
    return RetiredRecord.model_validate({"name": plan.domain, "stacks": stacks})


def format_plan(plan: OffboardPlan) -> str:
    def line(i: Item) -> str:
        extra = [x for x in (i.physical_name, i.arn) if x]
        return f"  {i.type} {i.logical_name}" + (f" ({', '.join(extra)})" if extra else "")

    source = "from the stack's state" if plan.source == "state" else f"computed offline for account {plan.account_id}"
    return "\n".join(
        [
            f"Offboarding domain {plan.domain} from stack {plan.stack} (names and ARNs {source}).",
            "",
            f"RETAINED: {len(plan.retained)} resources stay in AWS with their data (unprotected, retain_on_delete;",
            "deleting the domain file later only drops them from the stack):",
            *[line(i) for i in plan.retained],
            "",
            f"DELETED by the next update: {len(plan.deleted)} resources (tools, namespace, role, workgroup, ...):",
            *[line(i) for i in plan.deleted],
        ]
    )


def retired_copy(domains_dir: Path, domain: str, into: Path) -> Path:
    """A copy of the domain files with `domain` marked retired (the file's other keys unchanged)."""
    target = into / "domains"
    shutil.copytree(domains_dir, target, ignore=shutil.ignore_patterns(RETIRED_DIR))
    path = target / f"{domain}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["retired"] = True
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return target


def offboard(
    domain: str,
    stack: str,
    *,
    domains_dir: Path,
    state_file: Path | None,
    account_id: str | None,
    write: bool,
    now: dt.datetime | None = None,
) -> tuple[OffboardPlan, Path | None]:
    """Run both programs, print nothing; return the plan and the record path written (if any)."""
    from platformctl.simulate import ACCOUNT_ID, run_program

    if not (domains_dir / f"{domain}.yaml").is_file():
        raise FileNotFoundError(f"{domains_dir}/{domain}.yaml: no such domain file")
    state = json.loads(state_file.read_text()) if state_file else None
    account = account_id or ACCOUNT_ID
    current = run_program(stack, domains_dir=domains_dir, account_id=account)
    with tempfile.TemporaryDirectory() as tmp:
        retired = run_program(stack, domains_dir=retired_copy(domains_dir, domain, Path(tmp)), account_id=account)
    plan = plan_offboarding(current, retired, domain, state)
    if not write:
        return plan, None
    path = domains_dir / RETIRED_DIR / f"{domain}.yaml"
    existing = RetiredRecord.model_validate(yaml.safe_load(path.read_text())) if path.is_file() else None
    record = record_for(plan, existing, now or dt.datetime.now(dt.UTC))
    path.parent.mkdir(exist_ok=True)
    path.write_text(dump_record(record), encoding="utf-8")
    return plan, path
