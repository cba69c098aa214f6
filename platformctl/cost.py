"""What a domain costs: a monthly estimate per domain and for the shared foundation, offline.

The estimate reads the resources the program registers under Pulumi mocks (the same run as the
offline plan), the domain files (usage assumptions and budgets) and the committed price snapshot
`pricing/<region>.json`. Nothing is read from AWS. A month is 730 hours.

What is priced, per resource kind (docs/cost.md has the formulas):
- EKS control plane: hours x the per-cluster price;
- node groups: desiredSize x hours x the first instance type's price (Spot is not in the Price List,
  so Spot node groups are flagged), plus each node's gp3 root volume;
- NAT gateways: hours each, plus the GB processed (a platform assumption plus each domain's `cost.natGbPerMonth`);
- ALBs: one per Ingress group (`alb.ingress.kubernetes.io/group.name`), hours plus an assumed average LCU;
- RDS: instance hours by class and Multi-AZ, gp3 storage; automated backups up to the provisioned
  storage are free, and the estimate assumes backups stay within that allowance;
- Redshift Serverless: base RPUs x the domain's `cost.warehouseActiveHoursPerDay`;
- S3 Standard: the domain's assumed GB per lake zone (`cost.lakeGbPerZone`), platform buckets a fixed assumption;
- KMS: one key-month per customer managed key;
- CloudWatch Logs ingestion: control-plane log types and flow logs (platform assumptions), each domain's `cost.logsGbPerMonth`.

The split rule for shared costs:
1. Nodes: a domain's share of the node pool is its ResourceQuota requests against the nodes'
   allocatable capacity at desiredSize, taking the larger of the CPU and memory fractions. The
   platform keeps the rest (system pods, the catalog, headroom). Quotas can reserve more than the
   nodes at desiredSize provide; the estimate then prices the reserved capacity and flags it.
2. Everything else the platform owns (control plane, NAT hours, platform ALB, platform keys and
   logs, the node-pool remainder) is shared equally by the stack's active domains (a retired
   domain, which keeps only its data, pays for its data only).
A domain's total is its own resources + its node share + its equal share of the platform. Adding a
domain adds its own cost and its node share and leaves every other domain's own cost unchanged.

A price the snapshot cannot source is flagged on its line, and that line is left out of every total.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from components.domain_config import Domain, load_domains, parse_quantity
from platformctl import pricing
from platformctl.plan import PLATFORM, domains_by_urn
from platformctl.pricing import HOURS_PER_MONTH, PriceKey, Snapshot
from platformctl.simulate import PROJECT_DIR, Program, Resource, stack_config

CENT = Decimal("0.01")
GIB = Decimal(2**30)
MIB = Decimal(2**20)

# Platform usage assumptions (the domains set theirs in `cost:`); printed with every estimate.
PLATFORM_ASSUMPTIONS: dict[str, Decimal] = {
    "natGbPerMonth": Decimal(50),  # image pulls and AWS APIs without a VPC endpoint
    "albAverageLcu": Decimal(1),  # per ALB, averaged over the month (internal UIs)
    "controlPlaneLogGbPerTypePerMonth": Decimal(2),  # per enabled EKS log type
    "flowLogGbPerMonth": Decimal(20),  # VPC flow logs to CloudWatch, when enabled
    "platformBucketGb": Decimal(10),  # per platform bucket (access logs, platform)
}


class CostError(Exception):
    """The estimate cannot be computed (unknown region, no snapshot); names the file or key."""


@dataclass
class Line:
    owner: str  # a domain name or "platform"
    kind: str  # eks, nodes, node-share, nat, alb, rds, redshift, s3, kms, logs
    resource: str
    formula: str
    usd: Decimal | None  # the priced parts; None when no part has a price
    # What the line leaves out (a part without a price); such parts are in no total.
    flag: str = ""
    price_keys: list[str] = field(default_factory=list)


@dataclass
class DomainCost:
    direct: Decimal
    shared: Decimal
    total: Decimal
    unpriced: list[str]
    budget: Decimal | None
    breach: str = ""
    retired: bool = False


@dataclass
class Estimate:
    stack: str
    region: str
    prices: str
    publication_date: str
    assumptions: dict[str, dict[str, Any]]
    lines: list[Line]
    domains: dict[str, DomainCost]
    platform: Decimal
    total: Decimal
    flags: list[str]

    def breaches(self) -> list[str]:
        return [d.breach for d in self.domains.values() if d.breach]

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        return plain(
            {
                "stack": self.stack,
                "region": self.region,
                "prices": self.prices,
                "publicationDate": self.publication_date,
                "assumptions": self.assumptions,
                "domains": {k: asdict(v) for k, v in self.domains.items()},
                "platform": self.platform,
                "total": self.total,
                "flags": self.flags,
                "lines": [asdict(line) for line in self.lines],
            }
        )


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _usd(value: Decimal | None, flag: str = "") -> str:
    if value is None:
        return "unpriced"
    return f"${_cents(value):,}" + ("+?" if flag else "")


# ---------------------------------------------------------------- reading the records


def _num(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return default
    return default


def region_of(program: Program) -> str | None:
    """The AWS region of the program's explicit aws provider; None for a stack with no AWS resources."""
    for r in program.of_type("pulumi:providers:aws"):
        region = r.inputs.get("region")
        if isinstance(region, str):
            return region
    return None


def allocatable(spec: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """(CPU cores, memory bytes) a node offers pods: the EKS AMI's kubeReserved and evictionHard.

    CPU: 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% above; memory:
    11 MiB x maxPods + 255 MiB, plus 100 MiB eviction threshold (awslabs/amazon-eks-ami bootstrap.sh).
    """
    cores = Decimal(spec["vcpu"])
    reserved = Decimal(0)
    for start, end, share in ((0, 1, "0.06"), (1, 2, "0.01"), (2, 4, "0.005"), (4, 10**6, "0.0025")):
        span = min(cores, Decimal(end)) - Decimal(start)
        if span > 0:
            reserved += span * Decimal(share)
    memory = Decimal(spec["memoryGiB"]) * GIB - (11 * Decimal(spec["maxPods"]) + 255 + 100) * MIB
    return cores - reserved, memory


@dataclass
class _Pool:
    usd: Decimal | None
    cpu: Decimal
    memory: Decimal
    flag: str


class _Builder:
    def __init__(self, program: Program, domains: list[Domain], snapshot: Snapshot, region: str) -> None:
        self.program = program
        self.domains = {d.name: d for d in domains}
        self.snapshot = snapshot
        self.region = region
        self.owner = domains_by_urn(program.resources)
        self.lines: list[Line] = []

    def owner_of(self, r: Resource) -> str:
        owner = self.owner.get(r.urn, PLATFORM)
        return owner if owner in self.domains else PLATFORM

    def add(self, owner: str, kind: str, resource: str, parts: list[tuple[PriceKey, Decimal, str]]) -> Line:
        """One line: the sum of quantity x price over `parts`; unpriced if any part has no price."""
        total = Decimal(0)
        flags: list[str] = []
        formula: list[str] = []
        for key, quantity, what in parts:
            price = self.snapshot.price(key)
            if price is None:
                flags.append(f"{key.id}: {self.snapshot.why_missing(key)}")
                formula.append(f"{what} x [no price: {key.id}]")
                continue
            total += quantity * price.usd
            formula.append(f"{what} x ${price.usd}/{price.unit}")
        line = Line(
            owner=owner,
            kind=kind,
            resource=resource,
            formula=" + ".join(formula),
            usd=None if len(flags) == len(parts) else total,  # the priced parts; `flag` names the rest
            flag="; ".join(flags),
            price_keys=[k.id for k, _, _ in parts],
        )
        self.lines.append(line)
        return line

    # ------------------------------------------------------------ per resource kind

    def eks(self) -> None:
        for r in self.program.of_type("aws:eks/cluster:Cluster"):
            self.add(self.owner_of(r), "eks", r.name, [(pricing.eks_cluster(self.region), HOURS_PER_MONTH, "730 h")])

    def node_pool(self) -> _Pool:
        templates = {r.id: r for r in self.program.of_type("aws:ec2/launchTemplate:LaunchTemplate") if r.id}
        usd: Decimal | None = None
        cpu = memory = Decimal(0)
        flags: list[str] = []
        for r in self.program.of_type("aws:eks/nodeGroup:NodeGroup"):
            types = r.inputs.get("instanceTypes") or []
            instance_type = str(types[0]) if types else "?"
            count = _num((r.inputs.get("scalingConfig") or {}).get("desiredSize"))
            spot = r.inputs.get("capacityType") == "SPOT"
            key = pricing.ec2_spot(instance_type) if spot else pricing.ec2_on_demand(self.region, instance_type)
            parts = [(key, count * HOURS_PER_MONTH, f"{count} x 730 h {instance_type}{' spot' if spot else ''}")]
            template = templates.get(str((r.inputs.get("launchTemplate") or {}).get("id")))
            for mapping in (template.inputs.get("blockDeviceMappings") or []) if template else []:
                ebs = mapping.get("ebs") or {}
                if ebs.get("volumeType") == "gp3":
                    size = _num(ebs.get("volumeSize"))
                    parts.append((pricing.ebs_gp3(self.region), count * size, f"{count} x {size} GB gp3 root volume"))
            line = self.add(self.owner_of(r), "nodes", r.name, parts)
            if len(types) > 1:
                line.formula += f" (priced as {instance_type}, the first of {', '.join(map(str, types))})"
            usd = line.usd if usd is None else usd + (line.usd or Decimal(0))
            if line.flag:
                flags.append(line.flag)
            spec = self.snapshot.instance_types.get(instance_type)
            if spec is None:
                flags.append(f"{instance_type}: no vCPU/memory in the snapshot's instanceTypes")
                continue
            node_cpu, node_memory = allocatable(spec)
            cpu += count * node_cpu
            memory += count * node_memory
        return _Pool(usd, cpu, memory, "; ".join(flags))

    def node_shares(self, pool: _Pool) -> list[str]:
        """One node-share line per domain; returns the stack-level flags."""
        quotas: dict[str, tuple[Decimal, Decimal]] = {}
        for r in self.program.of_type("kubernetes:core/v1:ResourceQuota"):
            owner = self.owner_of(r)
            hard = (r.inputs.get("spec") or {}).get("hard") or {}
            if owner == PLATFORM or "requests.cpu" not in hard:
                continue
            quotas[owner] = (parse_quantity(str(hard["requests.cpu"])), parse_quantity(str(hard["requests.memory"])))
        flags: list[str] = []
        reserved = Decimal(0)
        for name in sorted(self.domains):
            cpu, memory = quotas.get(name, (Decimal(0), Decimal(0)))
            share = Decimal(0) if pool.cpu <= 0 or pool.memory <= 0 else max(cpu / pool.cpu, memory / pool.memory)
            reserved += share
            formula = (
                f"max({cpu} CPU / {pool.cpu.quantize(CENT)} CPU, {_gib(memory)} / {_gib(pool.memory)}) "
                f"= {share.quantize(Decimal('0.0001'))} of the node pool"
            )
            usd = None if pool.usd is None else share * pool.usd
            self.lines.append(Line(name, "node-share", "quota requests", formula, usd, pool.flag))
        rest = max(Decimal(0), 1 - reserved)
        self.lines.append(
            Line(
                PLATFORM,
                "node-share",
                "node pool not reserved by domain quotas",
                f"{rest.quantize(Decimal('0.0001'))} of the node pool",
                None if pool.usd is None else rest * pool.usd,
                pool.flag,
            )
        )
        if reserved > 1:
            flags.append(
                f"domain quotas reserve {reserved.quantize(CENT)}x the allocatable capacity of the nodes at "
                "desiredSize; the estimate prices the reserved capacity (the autoscaler adds nodes up to maxSize)"
            )
        return flags

    def nat(self) -> None:
        gateways = self.program.of_type("aws:ec2/natGateway:NatGateway")
        if not gateways:
            return
        n = Decimal(len(gateways))
        self.add(
            PLATFORM,
            "nat",
            f"{len(gateways)} NAT gateway(s)",
            [
                (pricing.nat_hour(self.region), n * HOURS_PER_MONTH, f"{n} x 730 h"),
                (pricing.nat_gb(self.region), PLATFORM_ASSUMPTIONS["natGbPerMonth"], "platform GB processed"),
            ],
        )
        for name, domain in sorted(self.domains.items()):
            if domain.retired:
                continue  # no workloads left, so no traffic
            gb = Decimal(str(domain.cost.nat_gb_per_month))
            self.add(name, "nat", "GB through NAT", [(pricing.nat_gb(self.region), gb, f"{gb} GB")])

    def albs(self) -> None:
        groups: dict[str, set[str]] = {}
        for r in self.program.of_type("kubernetes:networking.k8s.io/v1:Ingress"):
            spec = r.inputs.get("spec") or {}
            if spec.get("ingressClassName") != "alb":
                continue
            annotations = (r.inputs.get("metadata") or {}).get("annotations") or {}
            group = annotations.get("alb.ingress.kubernetes.io/group.name") or f"ingress {r.name}"
            groups.setdefault(str(group), set()).add(self.owner_of(r))
        lcu = PLATFORM_ASSUMPTIONS["albAverageLcu"]
        for group, owners in sorted(groups.items()):
            owner = owners.pop() if len(owners) == 1 else PLATFORM
            self.add(
                owner,
                "alb",
                f"ALB {group}",
                [
                    (pricing.alb_hour(self.region), HOURS_PER_MONTH, "730 h"),
                    (pricing.alb_lcu(self.region), lcu * HOURS_PER_MONTH, f"{lcu} LCU x 730 h"),
                ],
            )

    def rds(self) -> None:
        for r in self.program.of_type("aws:rds/instance:Instance"):
            cls = str(r.inputs.get("instanceClass"))
            multi = bool(r.inputs.get("multiAz"))
            storage = _num(r.inputs.get("allocatedStorage"))
            retention = _num(r.inputs.get("backupRetentionPeriod"))
            parts = [
                (
                    pricing.rds_instance(self.region, cls, multi),
                    HOURS_PER_MONTH,
                    f"730 h {cls}{' Multi-AZ' if multi else ''}",
                )
            ]
            if r.inputs.get("storageType") == "gp3":
                parts.append((pricing.rds_gp3(self.region, multi), storage, f"{storage} GB gp3"))
            line = self.add(self.owner_of(r), "rds", r.name, parts)
            line.formula += f"; backups ({retention} days) assumed within the free allowance of {storage} GB (the provisioned storage)"

    def redshift(self) -> None:
        for r in self.program.of_type("aws:redshiftserverless/workgroup:Workgroup"):
            owner = self.owner_of(r)
            rpu = _num(r.inputs.get("baseCapacity"))
            domain = self.domains.get(owner)
            per_day = Decimal(str(domain.cost.warehouse_active_hours_per_day)) if domain else Decimal(0)
            hours = per_day * HOURS_PER_MONTH / 24
            self.add(
                owner,
                "redshift",
                r.name,
                [(pricing.redshift_rpu(self.region), rpu * hours, f"{rpu} RPU x {per_day} h/day x 730/24 days")],
            )

    def s3(self) -> None:
        for r in self.program.of_type("aws:s3/bucket:Bucket"):
            owner = self.owner_of(r)
            domain = self.domains.get(owner)
            if domain is None:
                gb = PLATFORM_ASSUMPTIONS["platformBucketGb"]
                what = f"{gb} GB (platform assumption)"
            else:
                zones = {z: Decimal(str(domain.cost.zone_gb(z))) for z in domain.lake.zones}
                gb = sum(zones.values(), Decimal(0))
                what = " + ".join(f"{z} {v} GB" for z, v in zones.items())
            self.add(owner, "s3", r.name, [(pricing.s3_standard(self.region), gb, what)])

    def kms(self) -> None:
        for r in self.program.of_type("aws:kms/key:Key"):
            self.add(self.owner_of(r), "kms", r.name, [(pricing.kms_key(), Decimal(1), "1 key-month")])

    def logs(self) -> None:
        key = pricing.logs_ingestion(self.region)
        for r in self.program.of_type("aws:eks/cluster:Cluster"):
            types = r.inputs.get("enabledClusterLogTypes") or []
            if types:
                gb = len(types) * PLATFORM_ASSUMPTIONS["controlPlaneLogGbPerTypePerMonth"]
                self.add(
                    self.owner_of(r),
                    "logs",
                    f"{r.name} control-plane logs",
                    [(key, gb, f"{len(types)} types, {gb} GB")],
                )
        for r in self.program.of_type("aws:ec2/flowLog:FlowLog"):
            if r.inputs.get("logDestinationType") in (None, "cloud-watch-logs"):
                gb = PLATFORM_ASSUMPTIONS["flowLogGbPerMonth"]
                self.add(self.owner_of(r), "logs", f"{r.name} flow logs", [(key, gb, f"{gb} GB")])
        for name, domain in sorted(self.domains.items()):
            if domain.retired:
                continue
            gb = Decimal(str(domain.cost.logs_gb_per_month))
            self.add(name, "logs", "database and warehouse logs", [(key, gb, f"{gb} GB")])


def _gib(value: Decimal) -> str:
    return f"{(value / GIB).quantize(CENT)}Gi"


def price_keys(program: Program) -> list[PriceKey]:
    """Every SKU an estimate of `program` may look up (the regeneration script's wanted list)."""
    region = region_of(program)
    if region is None:
        return []
    return sorted({k.id: k for k in _all_keys(program, region)}.values(), key=lambda k: k.id)


def _all_keys(program: Program, region: str) -> Iterable[PriceKey]:
    yield pricing.eks_cluster(region)
    for r in program.of_type("aws:eks/nodeGroup:NodeGroup"):
        for t in r.inputs.get("instanceTypes") or []:
            yield (
                pricing.ec2_spot(str(t))
                if r.inputs.get("capacityType") == "SPOT"
                else pricing.ec2_on_demand(region, str(t))
            )
    for fn in (
        pricing.ebs_gp3,
        pricing.nat_hour,
        pricing.nat_gb,
        pricing.alb_hour,
        pricing.alb_lcu,
        pricing.s3_standard,
    ):
        yield fn(region)
    for r in program.of_type("aws:rds/instance:Instance"):
        multi = bool(r.inputs.get("multiAz"))
        yield pricing.rds_instance(region, str(r.inputs.get("instanceClass")), multi)
        yield pricing.rds_gp3(region, multi)
    yield pricing.redshift_rpu(region)
    yield pricing.kms_key()
    yield pricing.logs_ingestion(region)


# ---------------------------------------------------------------- the estimate


def estimate(program: Program, domains: list[Domain], snapshot: Snapshot) -> Estimate:
    region = region_of(program)
    if region is None:
        raise CostError(f"stack {program.stack}: no AWS resources (local foundation); nothing to estimate")
    b = _Builder(program, domains, snapshot, region)
    b.eks()
    pool = b.node_pool()
    flags = b.node_shares(pool)
    b.nat()
    b.albs()
    b.rds()
    b.redshift()
    b.s3()
    b.kms()
    b.logs()
    # Totals are sums of the lines as shown (to the cent).
    for line in b.lines:
        if line.usd is not None:
            line.usd = _cents(line.usd)
    # Node-group lines are the pool itself; the node-share lines split it, so only those count in totals.
    counted = [line for line in b.lines if line.kind != "nodes"]

    def owned(owner: str) -> tuple[Decimal, list[str]]:
        mine = [line for line in counted if line.owner == owner]
        return sum((line.usd for line in mine if line.usd is not None), Decimal(0)), [
            f"{line.kind} {line.resource}" for line in mine if line.flag
        ]

    platform, _ = owned(PLATFORM)
    # Retired domains (data kept, nothing running) pay for their data only, not for the platform.
    active = [d for d in domains if not d.retired]
    share = platform / len(active) if active else Decimal(0)
    per_domain: dict[str, DomainCost] = {}
    for d in sorted(domains, key=lambda d: d.name):
        direct, unpriced = owned(d.name)
        budget = Decimal(str(d.budget.monthly_usd)) if d.budget else None
        mine = Decimal(0) if d.retired else share
        direct, share_c, total = _cents(direct), _cents(mine), _cents(direct + mine)
        cost = DomainCost(direct, share_c, total, unpriced, budget, retired=d.retired)
        if budget is not None and total > budget:
            cost.breach = (
                f"domain {d.name} (domains/{d.name}.yaml): the estimate of ${total:,.2f}/month "
                f"(own ${direct:,.2f} + shared ${share_c:,.2f}) exceeds budget.monthlyUsd ${budget:,.2f} "
                f"by ${total - budget:,.2f}"
                + (f"; it also leaves out {len(unpriced)} unpriced item(s)" if unpriced else "")
            )
        per_domain[d.name] = cost
    flags += sorted({f"{line.kind} {line.resource}: {line.flag}" for line in b.lines if line.flag})
    return Estimate(
        stack=program.stack,
        region=region,
        prices=snapshot.path,
        publication_date=snapshot.publication_date,
        assumptions=_assumptions(domains),
        lines=b.lines,
        domains=per_domain,
        platform=_cents(platform),
        total=_cents(sum((line.usd for line in counted if line.usd is not None), Decimal(0))),
        flags=flags,
    )


def _assumptions(domains: list[Domain]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {PLATFORM: {k: str(v) for k, v in PLATFORM_ASSUMPTIONS.items()}}
    for d in sorted(domains, key=lambda d: d.name):
        out[d.name] = {
            "warehouseActiveHoursPerDay": d.cost.warehouse_active_hours_per_day,
            "lakeGbPerZone": {z: d.cost.zone_gb(z) for z in d.lake.zones},
            "natGbPerMonth": d.cost.nat_gb_per_month,
            "logsGbPerMonth": d.cost.logs_gb_per_month,
        }
    return out


def estimate_stack(program: Program, *, domains_dir: Path | None = None, pricing_dir: Path | None = None) -> Estimate:
    """The estimate for a program run: loads its stack's domain files and its region's snapshot."""
    region = region_of(program)
    if region is None:
        raise CostError(f"stack {program.stack}: no AWS resources (local foundation); nothing to estimate")
    environment = stack_config(program.stack).get("dataplatform:environment", program.stack)
    domains = load_domains(domains_dir or PROJECT_DIR / "domains", stack=environment)
    try:
        return estimate(program, domains, pricing.load_snapshot(region, pricing_dir or pricing.PRICING_DIR))
    except pricing.PricingError as exc:
        raise CostError(str(exc)) from None


# ---------------------------------------------------------------- output


def format_text(e: Estimate) -> str:
    lines = [
        f"Monthly cost estimate for stack {e.stack} ({e.region}), prices {e.prices} published {e.publication_date}",
        "Offline: from the resources the program registers under mocks; list prices, 730 h/month, before tax.",
        "",
        "Assumptions:",
    ]
    for owner, values in e.assumptions.items():
        lines.append(f"  {owner}: " + ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items()))
    lines += ["", f"{'owner':<12} {'kind':<10} {'monthly':>12}  resource: formula"]
    for line in sorted(e.lines, key=lambda x: (x.owner != PLATFORM, x.owner, x.kind)):
        note = " (the pool the node-share lines split)" if line.kind == "nodes" else ""
        lines.append(
            f"{line.owner:<12} {line.kind:<10} {_usd(line.usd, line.flag):>12}  {line.resource}: {line.formula}{note}"
        )
    active = sum(1 for d in e.domains.values() if not d.retired)
    lines += ["", f"platform (shared): {_usd(e.platform)}/month, split equally by the {active} active domain(s)"]
    for name, d in e.domains.items():
        budget = f", budget ${d.budget:,}" if d.budget is not None else ""
        lines.append(f"domain {name}: {_usd(d.total)}/month (own {_usd(d.direct)} + shared {_usd(d.shared)}{budget})")
        if d.unpriced:
            lines.append(f"  leaves out unpriced parts of: {', '.join(d.unpriced)}")
    lines.append(f"stack total: {_usd(e.total)}/month (priced lines only)")
    if e.flags:
        lines += ["", "Flagged (left out of every total):"] + [f"  - {f}" for f in e.flags]
    for breach in e.breaches():
        lines.append(f"BUDGET EXCEEDED: {breach}")
    return "\n".join(lines)


def main_cost(program: Program, domains_dir: Path | None, fmt: str) -> tuple[str, Estimate]:
    e = estimate_stack(program, domains_dir=domains_dir)
    text = json.dumps(e.to_dict(), indent=1) if fmt == "json" else format_text(e)
    return text, e
