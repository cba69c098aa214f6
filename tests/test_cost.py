"""The monthly cost estimate (platformctl/cost.py): exact arithmetic per resource kind on a small
price fixture, the shared-cost rule when a domain is added, disabled tools, budgets, the PR diff,
and the committed snapshot's sources."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from components.domain_config import Budget, Domain, load_domains
from platformctl import __main__ as cli
from platformctl import cost, plan, pricing
from platformctl import diff as plan_diff
from tests.harness import PROJECT_DIR, program_for

D = Decimal


def _price(usd: str, unit: str) -> dict[str, str]:
    return {"usd": usd, "unit": unit, "source": "test fixture", "published": "2026-01-01"}


# Round prices so every expected figure below can be checked by hand.
FIXTURE: dict[str, Any] = {
    "region": "eu-west-1",
    "publicationDate": "2026-01-01",
    "prices": {
        "eks-cluster-hour": _price("0.10", "Hrs"),
        "ec2-m7i.xlarge-hour": _price("0.20", "Hrs"),
        "ebs-gp3-gb-month": _price("0.10", "GB-Mo"),
        "nat-gateway-hour": _price("0.05", "Hrs"),
        "nat-gateway-gb": _price("0.05", "GB"),
        "alb-hour": _price("0.02", "Hrs"),
        "alb-lcu-hour": _price("0.01", "LCU-Hrs"),
        "rds-postgres-db.t4g.micro-multi-az-hour": _price("0.04", "Hrs"),
        "rds-gp3-multi-az-gb-month": _price("0.25", "GB-Mo"),
        "redshift-serverless-rpu-hour": _price("0.50", "RPU-Hr"),
        "s3-standard-gb-month": _price("0.02", "GB-Mo"),
        "kms-key-month": _price("1", "Keys-Mo"),
        "cloudwatch-logs-ingestion-gb": _price("0.50", "GB"),
    },
    "unsourced": {},
    "instanceTypes": {"m7i.xlarge": {"vcpu": 4, "memoryGiB": 16, "maxPods": 58}},
}

FINANCE = """\
name: finance
description: Ledgers and close; every UI tool is off.
owners: {team: finance-analytics, email: finance-data@example.com}
costCenter: cc-4300
quota: {cpu: "6", memory: 16Gi, pods: 40}
tools:
  dagster: {enabled: false}
  airbyte: {enabled: false}
  superset: {enabled: false}
cost:
  warehouseActiveHoursPerDay: 1
  lakeGbPerZone: {raw: 100}
budget:
  monthlyUsd: 50
"""


def snapshot(doc: dict[str, Any] = FIXTURE) -> pricing.Snapshot:
    return pricing.snapshot_from(doc, "fixture.json")


@pytest.fixture(scope="module")
def finance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cost") / "domains"
    shutil.copytree(PROJECT_DIR / "domains", directory)
    (directory / "finance.yaml").write_text(FINANCE)
    return directory


def prod_estimate(domains_dir: Path | None = None) -> cost.Estimate:
    program = program_for("prod", domains_dir=domains_dir)
    domains = load_domains(domains_dir or PROJECT_DIR / "domains", stack="prod")
    return cost.estimate(program, domains, snapshot())


def lines(e: cost.Estimate, owner: str, kind: str | None = None) -> dict[str, Decimal | None]:
    return {ln.resource: ln.usd for ln in e.lines if ln.owner == owner and (kind is None or ln.kind == kind)}


# ---------------------------------------------------------------- arithmetic per resource kind


def test_allocatable_follows_the_eks_ami_reservations() -> None:
    cpu, memory = cost.allocatable({"vcpu": 4, "memoryGiB": 16, "maxPods": 58})
    assert cpu == D("3.92")  # 4 - (0.06 + 0.01 + 2 x 0.005)
    assert memory == (16 * 1024 - (11 * 58 + 255 + 100)) * 2**20


def test_arithmetic_is_exact_per_resource_kind() -> None:
    e = prod_estimate()
    assert lines(e, "platform", "eks") == {"cluster": D("73.00")}  # 730 h x 0.10
    # 3 x 730 h x 0.20 + 3 x 50 GB x 0.10: the pool the node-share lines split
    assert lines(e, "platform", "nodes") == {"cluster-general": D("453.00")}
    # 3 NAT x 730 h x 0.05 + 50 GB (platform) x 0.05; each domain 20 GB x 0.05
    assert lines(e, "platform", "nat") == {"3 NAT gateway(s)": D("112.00")}
    assert lines(e, "sales", "nat") == {"GB through NAT": D("1.00")}
    # one ALB per Ingress group: 730 h x 0.02 + 1 LCU x 730 h x 0.01
    # The analysts' notebooks (marketing enables the sandbox) have their own group: shared, so the platform's.
    assert lines(e, "platform", "alb") == {"ALB dp-prod-platform": D("21.90"), "ALB dp-prod-sandbox": D("21.90")}
    assert lines(e, "sales", "alb") == {"ALB dp-prod-sales": D("21.90")}
    # Multi-AZ db.t4g.micro 730 h x 0.04 + 20 GB Multi-AZ gp3 x 0.25
    assert lines(e, "sales", "rds") == {"sales-metadb": D("34.20")}
    # 8 RPU x 2 h/day x 730/24 days x 0.50 = 243.333...
    assert lines(e, "sales", "redshift") == {"sales-warehouse-workgroup": D("243.33")}
    # 3 zones x 50 GB x 0.02; platform buckets 10 GB x 0.02
    assert lines(e, "sales", "s3") == {"sales-bucket": D("3.00")}
    assert lines(e, "platform", "s3") == {"lake-access-logs": D("0.20"), "platform-bucket": D("0.20")}
    assert lines(e, "platform", "kms") == {"cluster-secrets": D("1.00"), "lake-key": D("1.00")}
    # 5 control-plane log types x 2 GB x 0.50; flow logs 20 GB x 0.50; each domain 2 GB x 0.50
    assert lines(e, "platform", "logs") == {
        "cluster control-plane logs": D("5.00"),
        "network-flow-logs flow logs": D("10.00"),
    }
    assert lines(e, "sales", "logs") == {"database and warehouse logs": D("1.00")}
    # Node shares: quota requests against 3 x (3.92 CPU, 15391 MiB); the larger fraction wins (CPU here).
    assert lines(e, "sales", "node-share") == {"quota requests": D("308.16")}  # 8 / 11.76 x 453
    assert lines(e, "marketing", "node-share") == {"quota requests": D("231.12")}  # 6 / 11.76 x 453
    assert lines(e, "platform", "node-share") == {"node pool not reserved by domain quotas": D("0.00")}
    assert any("reserve 1.19x" in f for f in e.flags)

    assert e.platform == D("246.20")  # 73 + 112 + 2 x 21.90 + 0.40 + 2 + 15 (+ 0 node remainder)
    sales = e.domains["sales"]
    assert sales.direct == D("612.59")  # 308.16 + 1 + 21.90 + 34.20 + 243.33 + 3 + 1
    assert sales.shared == D("123.10") and sales.total == D("735.69")
    assert e.total == e.platform + sum(d.direct for d in e.domains.values())


def test_a_missing_price_is_flagged_and_left_out_of_every_total() -> None:
    doc = json.loads(json.dumps(FIXTURE))
    del doc["prices"]["redshift-serverless-rpu-hour"]
    doc["unsourced"] = {"redshift-serverless-rpu-hour": {"reason": "not published for this test"}}
    e = cost.estimate(program_for("prod"), load_domains(PROJECT_DIR / "domains", stack="prod"), snapshot(doc))
    line = next(ln for ln in e.lines if ln.kind == "redshift" and ln.owner == "sales")
    assert line.usd is None and "not published for this test" in line.flag
    assert e.domains["sales"].direct == D("612.59") - D("243.33")
    assert "redshift sales-warehouse-workgroup" in e.domains["sales"].unpriced
    assert any("not published for this test" in f for f in e.flags)
    assert "unpriced" in cost.format_text(e)


# ---------------------------------------------------------------- the shared-cost rule, disabled tools, budgets


def test_adding_a_domain_adds_only_its_cost_and_its_share(finance_dir: Path) -> None:
    base, head = prod_estimate(), prod_estimate(finance_dir)
    for name in ("sales", "marketing"):
        assert lines(head, name) == lines(base, name), f"adding finance changed {name}'s own lines"
        assert head.domains[name].direct == base.domains[name].direct
    assert lines(head, "platform") == lines(base, "platform")
    finance = head.domains["finance"]
    assert lines(head, "finance") == {
        "quota requests": D("231.12"),  # same quota as marketing: 6 / 11.76 x 453
        "GB through NAT": D("1.00"),
        "finance-metadb": D("34.20"),
        "finance-warehouse-workgroup": D("121.67"),  # 8 RPU x 1 h/day x 730/24 x 0.50
        "finance-bucket": D("4.00"),  # (100 + 50 + 50) GB x 0.02
        "database and warehouse logs": D("1.00"),
    }
    assert head.total - base.total == finance.direct
    assert finance.shared == (head.platform / 3).quantize(D("0.01"))
    assert head.domains["sales"].shared < base.domains["sales"].shared


def test_a_retired_domain_pays_for_its_data_only(finance_dir: Path) -> None:
    domains = [
        d.model_copy(update={"retired": True}) if d.name == "finance" else d
        for d in load_domains(finance_dir, stack="prod")
    ]
    e = cost.estimate(program_for("prod", domains_dir=finance_dir), domains, snapshot())
    finance = e.domains["finance"]
    assert finance.shared == 0 and finance.total == finance.direct
    assert not lines(e, "finance", "nat") and not lines(e, "finance", "logs")
    assert e.domains["sales"].shared == (e.platform / 2).quantize(D("0.01"))


def test_a_disabled_tool_costs_nothing(finance_dir: Path) -> None:
    e = prod_estimate(finance_dir)
    assert not lines(e, "finance", "alb"), "finance has every UI tool off, so no ALB"
    assert lines(e, "marketing", "alb") == {"ALB dp-prod-marketing": D("21.90")}
    program = program_for("prod", domains_dir=finance_dir)
    owner = plan.domains_by_urn(program.resources)
    assert not [r.name for r in program.of_type("kubernetes:networking.k8s.io/v1:Ingress") if owner[r.urn] == "finance"]
    kinds = {ln.kind for ln in e.lines if ln.owner == "finance"}
    assert kinds == {"node-share", "nat", "rds", "redshift", "s3", "logs"}


def test_a_budget_breach_names_the_domain_and_the_figures(finance_dir: Path) -> None:
    e = prod_estimate(finance_dir)
    finance = e.domains["finance"]
    assert finance.budget == D("50") and finance.total > D("50")
    assert e.breaches() == [finance.breach]
    assert finance.breach == (
        f"domain finance (domains/finance.yaml): the estimate of ${finance.total:,.2f}/month "
        f"(own ${finance.direct:,.2f} + shared ${finance.shared:,.2f}) exceeds budget.monthlyUsd $50.00 "
        f"by ${finance.total - 50:,.2f}"
    )
    # A budget above the estimate passes.
    domains = load_domains(finance_dir, stack="prod")
    relaxed = [d.model_copy(update={"budget": Budget(monthly_usd=10_000)}) for d in domains]
    assert not cost.estimate(program_for("prod", domains_dir=finance_dir), relaxed, snapshot()).breaches()


def test_the_plan_check_fails_on_a_budget_breach(
    finance_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "run_program", lambda stack, domains_dir=None: program_for(stack, domains_dir=domains_dir))
    args = ["plan", "--stack", "prod", "--domains-dir", str(finance_dir), "--out", str(tmp_path), "--quiet"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "error: budget exceeded: domain finance (domains/finance.yaml)" in err
    document = json.loads((tmp_path / "plan.json").read_text())
    assert document["cost"]["domains"]["finance"]["breach"], "plan.json carries the estimate and the breach"
    assert cli.main(["plan", "--stack", "prod", "--out", str(tmp_path / "ok"), "--quiet"]) == 0


def test_a_region_without_a_snapshot_is_named_and_the_plan_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(cost.CostError, match=r"no price snapshot .*eu-west-1.json for region eu-west-1"):
        cost.estimate_stack(program_for("dev"), pricing_dir=tmp_path)
    monkeypatch.setattr(pricing, "PRICING_DIR", tmp_path)
    monkeypatch.setattr(cli, "run_program", lambda stack, domains_dir=None: program_for(stack, domains_dir=domains_dir))
    assert cli.main(["plan", "--stack", "dev", "--out", str(tmp_path / "plan"), "--quiet"]) == 0
    assert "warning: no cost estimate, budgets not checked" in capsys.readouterr().err
    assert "cost" not in json.loads((tmp_path / "plan" / "plan.json").read_text())


def test_the_pr_diff_shows_each_domains_estimate_change_and_breach(finance_dir: Path) -> None:
    base_e, head_e = prod_estimate(), prod_estimate(finance_dir)
    base = plan.build_plan(program_for("prod"), base_e.to_dict())
    head = plan.build_plan(program_for("prod", domains_dir=finance_dir), head_e.to_dict())
    result = plan_diff.diff_plans(base, head)
    md = plan_diff.format_markdown(result)
    assert "| domain | added | removed | renamed | changed | est. $/month | change | budget |" in md
    finance = head_e.domains["finance"]
    assert (
        f"| finance | {len(result.domains['finance'].added)} | 0 | 0 | 0 | ${finance.total:,.2f} | new | $50.00 **exceeded** |"
        in md
    )
    sales_delta = head_e.domains["sales"].total - base_e.domains["sales"].total
    assert sales_delta < 0
    assert f"| sales | 0 | 0 | 0 | 0 | ${head_e.domains['sales'].total:,.2f} | -${-sales_delta:,.2f} | none |" in md
    assert ":x: **Budget exceeded**: domain finance" in md
    text = plan_diff.format_text(result)
    assert (
        f"domain sales: estimate ${base_e.domains['sales'].total:,.2f} -> ${head_e.domains['sales'].total:,.2f}" in text
    )


# ---------------------------------------------------------------- the domain file's cost: and budget: blocks


def _domain(**extra: Any) -> dict[str, Any]:
    return {
        "name": "finance",
        "description": "x",
        "owners": {"team": "t", "email": "t@example.com"},
        "costCenter": "cc-1",
        "tools": {"dagster": {"enabled": False}},
        **extra,
    }


def test_cost_and_budget_blocks_are_optional_and_validated() -> None:
    d = Domain.model_validate(_domain())
    assert d.budget is None and d.cost.warehouse_active_hours_per_day == 2 and d.cost.zone_gb("raw") == 50
    with pytest.raises(ValidationError, match="lakeGbPerZone"):
        Domain.model_validate(_domain(cost={"lakeGbPerZone": {"gold": 5}}))
    with pytest.raises(ValidationError, match="warehouseActiveHoursPerDay"):
        Domain.model_validate(_domain(cost={"warehouseActiveHoursPerDay": 25}))
    with pytest.raises(ValidationError, match="extra"):
        Domain.model_validate(_domain(cost={"natGB": 5}))
    with pytest.raises(ValidationError, match="monthlyUsd"):
        Domain.model_validate(_domain(budget={"monthlyUsd": 0}))


# ---------------------------------------------------------------- the committed snapshot


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_sku_the_program_uses_is_priced_or_flagged_with_a_reason(stack: str) -> None:
    snap = pricing.load_snapshot("eu-west-1")
    for key in cost.price_keys(program_for(stack)):
        assert key.id in snap.prices or key.id in snap.unsourced or key.note == "spot", key.id


def test_every_committed_price_carries_its_source_and_date() -> None:
    for path in sorted((PROJECT_DIR / "pricing").glob("*.json")):
        doc = json.loads(path.read_text())
        snap = pricing.snapshot_from(doc, path.name)  # raises on a price without source or date
        assert snap.prices, path.name
        for key, entry in doc["prices"].items():
            assert entry["source"].strip() and len(entry["published"]) == 10, f"{path.name}: {key}"
            assert D(entry["usd"]) > 0, f"{path.name}: {key}"
        for key, entry in doc["unsourced"].items():
            assert key not in doc["prices"] and entry["reason"], f"{path.name}: {key}"


def test_a_price_without_source_is_refused() -> None:
    doc = json.loads(json.dumps(FIXTURE))
    doc["prices"]["eks-cluster-hour"]["source"] = ""
    with pytest.raises(pricing.PricingError, match=r"prices.eks-cluster-hour: missing source"):
        pricing.snapshot_from(doc, "fixture.json")


def test_cost_cli_prints_assumptions_and_flags(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "run_program", lambda stack, domains_dir=None: program_for(stack, domains_dir=domains_dir))
    assert cli.main(["cost", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "Assumptions:" in out and "warehouseActiveHoursPerDay" in out and "natGbPerMonth" in out
    assert "ec2-m7i.large-spot-hour: Spot prices are not in the AWS Price List" in out
    assert cli.main(["cost", "--stack", "local"]) == 1
