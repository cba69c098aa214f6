"""Domain-level change summary between two offline plans (base and head of a pull request).

Resources are matched by URN (and by alias, so a rename with an alias is not reported as a
delete plus a create). For a changed resource it lists which inputs/options keys differ, down to
a few levels, so a reviewer sees "inputs.values.superset.ingress" rather than "inputs.values".
Secret values are masked in both plans, so a changed secret value does not show up here.

Per domain it also says plainly what happens to cloud resources, with names and ARNs: DELETED
(removed and not retained), RETAINED (removed with retain_on_delete, or newly retained and
unprotected by retiring the domain: they stay in AWS with their data) and BLOCKED (removed while
protected: `pulumi up` fails; retire the domain first, docs/runbooks/offboarding.md).

When the plans carry a cost estimate (`plan.json` "cost", platformctl/cost.py), each domain's row
also shows its monthly estimate, the change from base, its budget and any breach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from platformctl.plan import PLATFORM

MAX_DEPTH = 4  # path segments below inputs/options; deeper differences are reported at this level
MAX_MARKDOWN_ITEMS = 50  # per list: keeps the PR comment under GitHub's size limit


@dataclass
class Entry:
    type: str
    name: str
    urn: str
    notes: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    physical: str = ""  # "name, arn" when known


@dataclass
class DomainDiff:
    added: list[Entry] = field(default_factory=list)
    removed: list[Entry] = field(default_factory=list)
    changed: list[Entry] = field(default_factory=list)
    renamed: list[Entry] = field(default_factory=list)
    # What the change does to cloud resources (custom resources only).
    deleted: list[Entry] = field(default_factory=list)
    retained: list[Entry] = field(default_factory=list)
    blocked: list[Entry] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.renamed)


@dataclass
class CostChange:
    base: Decimal | None  # None: the base plan has no estimate for this domain
    head: Decimal | None
    budget: Decimal | None = None
    breach: str = ""
    unpriced: list[str] = field(default_factory=list)

    @property
    def delta(self) -> Decimal | None:
        if self.head is None:
            return None if self.base is None else -self.base
        return self.head - (self.base or Decimal(0))


@dataclass
class PlanDiff:
    stack: str
    domains: dict[str, DomainDiff]
    cost: dict[str, CostChange] = field(default_factory=dict)
    cost_flags: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return all(d.empty() for d in self.domains.values())


def _totals(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cost = plan.get("cost")
    if not isinstance(cost, dict):
        return {}
    out: dict[str, dict[str, Any]] = {PLATFORM: {"total": cost.get("platform")}}
    out.update(cost.get("domains") or {})
    return out


def cost_changes(base: dict[str, Any], head: dict[str, Any]) -> dict[str, CostChange]:
    """Per domain (and platform): the monthly estimate in base and head, budget and breach from head."""
    before, after = _totals(base), _totals(head)
    if not after:
        return {}
    out: dict[str, CostChange] = {}
    for name in sorted(set(before) | set(after), key=lambda n: (n != PLATFORM, n)):
        b, h = before.get(name, {}), after.get(name, {})
        out[name] = CostChange(
            base=Decimal(str(b["total"])) if b.get("total") is not None else None,
            head=Decimal(str(h["total"])) if h.get("total") is not None else None,
            budget=Decimal(str(h["budget"])) if h.get("budget") is not None else None,
            breach=str(h.get("breach") or ""),
            unpriced=list(h.get("unpriced") or []),
        )
    return out


def load_plan(path: Path) -> dict[str, Any]:
    """A plan.json, given as the file or as the plan directory that holds it."""
    file = path / "plan.json" if path.is_dir() else path
    return json.loads(file.read_text())


def changed_paths(base: Any, head: Any, prefix: str, depth: int = 0) -> list[str]:
    if base == head:
        return []
    if isinstance(base, dict) and isinstance(head, dict) and depth < MAX_DEPTH:
        out: list[str] = []
        for key in sorted(set(base) | set(head), key=str):
            out += changed_paths(base.get(key), head.get(key), f"{prefix}.{key}", depth + 1)
        return out
    return [prefix]


def _removal_notes(resource: dict[str, Any]) -> list[str]:
    options = resource.get("options", {})
    notes = []
    if options.get("protect"):
        notes.append("protected: pulumi refuses to delete it until protect is lifted")
    if options.get("retain_on_delete"):
        notes.append("retain_on_delete: leaves the stack, the cloud resource and its data stay")
    return notes


def _entry(resource: dict[str, Any]) -> Entry:
    physical = resource.get("physical") or {}
    shown = ", ".join(str(v) for v in (physical.get("name"), physical.get("arn")) if v)
    return Entry(type=resource["type"], name=resource["name"], urn=resource["urn"], physical=shown)


def _newly_retained(base: dict[str, Any], head: dict[str, Any]) -> bool:
    """Retiring: the resource stays registered, now retained and unprotected, so deleting the file keeps it."""
    b, h = base["options"], head["options"]
    return (
        bool(h.get("retain_on_delete")) and not h.get("protect") and (b.get("protect") or not b.get("retain_on_delete"))
    )


def diff_plans(base: dict[str, Any], head: dict[str, Any]) -> PlanDiff:
    base_by_urn = {r["urn"]: r for r in base["resources"]}
    head_by_urn = {r["urn"]: r for r in head["resources"]}
    domains: dict[str, DomainDiff] = {}

    def at(domain: str) -> DomainDiff:
        return domains.setdefault(domain, DomainDiff())

    renamed_from: set[str] = set()
    for urn, r in head_by_urn.items():
        if urn in base_by_urn:
            continue
        old = next(
            (a for a in r["options"].get("aliases", []) if a in base_by_urn and a not in head_by_urn),
            None,
        )
        if old is not None:
            renamed_from.add(old)
            entry = _entry(r)
            entry.notes.append(f"renamed from {old}")
            entry.changed = changed_paths(base_by_urn[old]["inputs"], r["inputs"], "inputs")
            at(r["domain"]).renamed.append(entry)
        else:
            at(r["domain"]).added.append(_entry(r))

    for urn, r in base_by_urn.items():
        if urn not in head_by_urn and urn not in renamed_from:
            entry = _entry(r)
            entry.notes = _removal_notes(r)
            at(r["domain"]).removed.append(entry)
            if r.get("custom"):
                options = r.get("options", {})
                fate = (
                    "blocked"
                    if options.get("protect")
                    else "retained"
                    if options.get("retain_on_delete")
                    else "deleted"
                )
                getattr(at(r["domain"]), fate).append(entry)

    for urn, h in head_by_urn.items():
        b = base_by_urn.get(urn)
        if b is None:
            continue
        paths = changed_paths(b["inputs"], h["inputs"], "inputs")
        paths += changed_paths(b["options"], h["options"], "options")
        paths += [key for key in ("parent", "domain", "custom") if b.get(key) != h.get(key)]
        if paths:
            entry = _entry(h)
            entry.changed = paths
            at(h["domain"]).changed.append(entry)
            if h.get("custom") and _newly_retained(b, h):
                at(h["domain"]).retained.append(entry)

    for domain in {r["domain"] for r in [*base["resources"], *head["resources"]]}:
        at(domain)
    cost = cost_changes(base, head)
    for name in cost:
        at(name)
    ordered = dict(sorted(domains.items(), key=lambda kv: (kv[0] != PLATFORM, kv[0])))
    head_cost = head.get("cost")
    head_cost = head_cost if isinstance(head_cost, dict) else {}
    return PlanDiff(
        stack=str(head.get("stack", "?")),
        domains=ordered,
        cost=cost,
        cost_flags=list(head_cost.get("flags") or []),
    )


def _money(value: Decimal | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _signed(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return ("+" if value > 0 else "-" if value < 0 else "±") + f"${abs(value):,.2f}"


def _cost_cell(change: CostChange | None) -> str:
    if change is None:
        return "| | | "
    budget = _money(change.budget) if change.budget is not None else "none"
    if change.breach:
        budget += " **exceeded**"
    head = _money(change.head) + ("*" if change.unpriced else "")
    return f"| {head} | {_signed(change.delta) if change.base is not None else 'new'} | {budget} "


def _detail(entry: Entry) -> str:
    extra = [*entry.notes]
    if entry.changed:
        extra.append("changed: " + ", ".join(entry.changed))
    return entry.name + (f" ({'; '.join(extra)})" if extra else "")


def _sections(d: DomainDiff) -> list[tuple[str, list[Entry]]]:
    return [("added", d.added), ("removed", d.removed), ("renamed", d.renamed), ("changed", d.changed)]


FATES = (
    ("deleted", "DELETED from the cloud"),
    ("retained", "RETAINED in the cloud with their data (leave or may leave the stack, never deleted)"),
    ("blocked", "BLOCKED: protected, so `pulumi up` fails; mark the domain `retired: true` first"),
)


def _fates(d: DomainDiff) -> list[tuple[str, list[Entry]]]:
    return [(title, getattr(d, key)) for key, title in FATES if getattr(d, key)]


def _fate_line(e: Entry) -> str:
    return f"{e.type} {e.name}" + (f" ({e.physical})" if e.physical else "")


def format_text(diff: PlanDiff) -> str:
    lines = [f"Offline plan diff for stack {diff.stack}"]
    for domain, d in diff.domains.items():
        title = "platform" if domain == PLATFORM else f"domain {domain}"
        change = diff.cost.get(domain)
        if change is not None:
            lines.append(
                f"{title}: estimate {_money(change.base)} -> {_money(change.head)} per month ({_signed(change.delta)})"
                + (f"; BUDGET EXCEEDED: {change.breach}" if change.breach else "")
            )
        if d.empty():
            lines.append(f"{title}: no changes")
            continue
        counts = ", ".join(f"{len(items)} {label}" for label, items in _sections(d) if items)
        lines.append(f"{title}: {counts}")
        marks = {"added": "+", "removed": "-", "renamed": ">", "changed": "~"}
        for label, items in _sections(d):
            lines += [f"  {marks[label]} {e.type} {_detail(e)}" for e in items]
        for title, items in _fates(d):
            lines.append(f"  {title}: {len(items)}")
            lines += [f"    {_fate_line(e)}" for e in items]
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def format_markdown(diff: PlanDiff) -> str:
    lines = [
        f"### Offline plan diff: `{diff.stack}`",
        "",
        "Computed from the program under Pulumi mocks (no cloud access); the `pulumi preview` comment shows "
        "the diff against the deployed stack.",
        "",
    ]
    if diff.empty() and not diff.cost:
        return "\n".join([*lines, "No resource changes."])
    header, rule = "| domain | added | removed | renamed | changed ", "|---|---:|---:|---:|---:"
    if diff.cost:
        header += "| est. $/month | change | budget "
        rule += "|---:|---:|---:"
    lines += [header + "|", rule + "|"]
    for domain, d in diff.domains.items():
        cells = f"| {_md(domain)} | " + " | ".join(str(len(items)) for _, items in _sections(d)) + " "
        lines.append(cells + (_cost_cell(diff.cost.get(domain)) if diff.cost else "") + "|")
    if diff.cost:
        lines += [
            "",
            "Estimates: list prices from the committed snapshot under `pricing/`, usage assumptions from the domain "
            "files (`cost:`), shared platform cost split equally by the domains (docs/cost.md). "
            "\\* leaves out unpriced items.",
        ]
        breaches = [c.breach for c in diff.cost.values() if c.breach]
        lines += [f"- :x: **Budget exceeded**: {_md(b)}" for b in breaches]
        unpriced = sorted({f for f in diff.cost_flags})
        if unpriced:
            lines += ["", "<details><summary>Unpriced items (left out of the estimates)</summary>", ""]
            lines += [f"- {_md(f)}" for f in unpriced[:MAX_MARKDOWN_ITEMS]]
            lines += ["", "</details>"]
    for domain, d in diff.domains.items():
        if d.empty():
            continue
        for title, items in _fates(d):
            lines += ["", f"**{_md(domain)}: {_md(title)}: {len(items)}**", ""]
            lines += [
                f"- `{_md(e.type)}` {_md(e.name)}" + (f": {_md(e.physical)}" if e.physical else "") for e in items
            ]
        lines += ["", f"<details><summary><b>{_md(domain)}</b></summary>", ""]
        for label, items in _sections(d):
            if not items:
                continue
            lines.append(f"**{label}**")
            lines += [f"- `{_md(e.type)}` {_md(_detail(e))}" for e in items[:MAX_MARKDOWN_ITEMS]]
            if len(items) > MAX_MARKDOWN_ITEMS:
                lines.append(f"- … and {len(items) - MAX_MARKDOWN_ITEMS} more (see the plan artifact)")
            lines.append("")
        lines.append("</details>")
    return "\n".join(lines)
