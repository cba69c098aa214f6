"""The offline plan and diff (platformctl plan / diff).

A crafted program with known secrets and two fake domains checks masking, domain attribution,
the summary and the files; the real program checks plan.json against the records for each stack;
the domain-file test checks that adding a domain adds only that domain's resources.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import resource
import shutil
import subprocess
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.domain_config import load_domains
from platformctl import __main__ as cli_module
from platformctl import diff as plan_diff
from platformctl import plan
from platformctl.__main__ import main as cli
from tests.harness import PROJECT_DIR, Program, Secret, program_for, run_function, walk

KNOWN_SECRETS = ("hunter2-stringdata", "s3cr3t-in-values", "kubeconfig-secret-token", "db-pass-plain-input")
STACKS = ("dev", "prod")


class FakeDomain(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__(plan.DOMAIN_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        nested = pulumi.ComponentResource("dataplatform:test:Nested", f"{name}-nested", None, child)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": []}),
            opts=pulumi.ResourceOptions(parent=nested),
        )
        aws.iam.RolePolicy(
            f"{name}-read",
            role=role.name,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": f"arn:{name}/*"}
                    ],
                }
            ),
            opts=child,
        )
        k8s.core.v1.Secret(
            f"{name}-db",
            metadata={"name": f"{name}-db", "namespace": name},
            string_data={"password": "hunter2-stringdata"},
            opts=child,
        )
        k8s.helm.v3.Release(
            f"{name}-superset",
            k8s.helm.v3.ReleaseArgs(
                name="superset",
                namespace=name,
                chart="superset",
                version="0.15.0",
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://apache.github.io/superset"),
                values={"ingress": {"enabled": True, "hosts": [f"superset.{name}.example.com"], "tls": [{}]}},
            ),
            opts=child,
        )
        # The bug the contract warns about: pulumi turns the whole values map into a secret.
        k8s.helm.v3.Release(
            f"{name}-leaky",
            k8s.helm.v3.ReleaseArgs(
                namespace=name,
                chart="oci://registry.example.com/charts/leaky",
                version="1.0.0",
                values={"auth": {"password": pulumi.Output.secret("s3cr3t-in-values")}},
            ),
            opts=child,
        )
        k8s.networking.v1.Ingress(
            f"{name}-ui",
            metadata={"name": "ui", "namespace": name},
            spec={
                "rules": [{"host": f"ui.{name}.example.com"}],
                "tls": [{"hosts": [f"ui.{name}.example.com"]}],
            },
            opts=child,
        )
        aws.rds.Instance(
            f"{name}-db",
            instance_class="db.t4g.micro",
            engine="postgres",
            password="db-pass-plain-input",
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        self.register_outputs({})


@functools.cache  # one run per set of domains; tests treat the records as read-only
def crafted_program(domains: tuple[str, ...] = ("alpha", "beta")) -> Program:
    def program() -> None:
        aws_provider = aws.Provider("aws", region="eu-west-1")
        k8s_provider = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret("kubeconfig-secret-token"))
        providers = pulumi.ResourceOptions(providers=[aws_provider, k8s_provider])
        aws.s3.Bucket("platform-logs", opts=pulumi.ResourceOptions(provider=aws_provider))
        for name in domains:
            FakeDomain(name, providers)

    return run_function(program, "dev")


def reveal(value: Any) -> Any:
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def files_text(out: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(out.rglob("*")) if p.is_file())


def secret_leaves(program: Program) -> set[str]:
    """Every secret string value the program's records carry (long enough to be recognisable)."""
    found: set[str] = set()
    for r in program.resources:
        for leaf in walk(r.inputs):
            if isinstance(leaf, Secret):
                found |= {v for v in walk(leaf.value) if isinstance(v, str) and len(v) >= 8}
        if r.inputs.get("kind") == "Secret":
            for key in ("data", "stringData"):
                value = r.inputs.get(key)
                value = value.value if isinstance(value, Secret) else value
                found |= {v for v in walk(value) if isinstance(v, str) and len(v) >= 8}
    return found


# crafted program: masking, attribution, summary, files


def test_crafted_plan_masks_every_secret(tmp_path: Path) -> None:
    program = crafted_program()
    plan.write_plan(program, tmp_path)
    raw = json.dumps([reveal(r.inputs) for r in program.resources], default=str)
    text = files_text(tmp_path)
    for secret in KNOWN_SECRETS:
        assert secret in raw, f"the crafted program should carry {secret}"
        assert secret not in text, f"{secret} leaked into the plan output"
    doc = json.loads((tmp_path / "plan.json").read_text())
    secret = next(r for r in doc["resources"] if r["type"] == "kubernetes:core/v1:Secret")
    assert secret["inputs"]["stringData"] == {"password": plan.MASK}
    leaky = next(r for r in doc["resources"] if r["name"] == "alpha-leaky")
    assert leaky["inputs"]["values"] == plan.MASK


def test_masks_k8s_secret_data_even_when_not_marked_secret() -> None:
    record = copy.copy(crafted_program().one("kubernetes:core/v1:Secret", "alpha-db"))
    record.type = "kubernetes:apiextensions.k8s.io:CustomSecretish"  # only kind says Secret here
    record.inputs = {**record.inputs, "data": {"token": "cGxhaW4tdmFsdWU="}}
    masked = plan.masked_inputs(record)
    assert masked["data"] == {"token": plan.MASK}
    assert "cGxhaW4tdmFsdWU=" not in json.dumps(masked)


def test_crafted_plan_attributes_resources_to_domains(tmp_path: Path) -> None:
    program = crafted_program()
    doc = plan.write_plan(program, tmp_path)
    by_name = {r["name"]: r["domain"] for r in doc["resources"]}
    assert by_name["alpha-role"] == "alpha"  # two levels below the domain component
    assert by_name["alpha"] == "alpha" and by_name["beta-db"] == "beta"
    assert by_name["platform-logs"] == "platform" and by_name["k8s"] == "platform"
    assert list(doc["domains"]) == ["platform", "alpha", "beta"]
    assert doc["domains"]["alpha"]["count"] == doc["domains"]["beta"]["count"] == 9


def test_crafted_summary_lists_charts_grants_and_urls(tmp_path: Path) -> None:
    doc = plan.write_plan(crafted_program(), tmp_path)
    alpha = doc["domains"]["alpha"]
    releases = {h["resource"]: h for h in alpha["helmReleases"]}
    assert releases["alpha-superset"] == {
        "resource": "alpha-superset",
        "namespace": "alpha",
        "name": "superset",
        "chart": "superset",
        "version": "0.15.0",
        "repo": "https://apache.github.io/superset",
    }
    assert releases["alpha-leaky"]["repo"] is None
    [grant] = alpha["iamGrants"]
    assert grant["role"] == "alpha-role"
    assert grant["statements"] == [
        {"effect": "Allow", "actions": ["s3:GetObject", "s3:ListBucket"], "resources": ["arn:alpha/*"]}
    ]
    assert alpha["urls"] == ["https://superset.alpha.example.com", "https://ui.alpha.example.com"]
    text = plan.format_summary(doc)
    assert "== domain alpha: 9 resources" in text
    assert "alpha/superset: superset 0.15.0 from https://apache.github.io/superset" in text
    assert (
        "    role alpha-role:\n      inline alpha-read\n        Allow s3:GetObject, s3:ListBucket on arn:alpha/*"
        in text
    )


def test_crafted_plan_writes_values_and_manifests(tmp_path: Path) -> None:
    plan.write_plan(crafted_program(), tmp_path)
    values = tmp_path / "values" / "alpha-superset.yaml"
    assert values.read_text().startswith("# chart: superset\n# version: 0.15.0\n")
    assert yaml.safe_load(values.read_text())["ingress"]["hosts"] == ["superset.alpha.example.com"]
    manifests = sorted(p.name for p in (tmp_path / "manifests").iterdir())
    assert manifests == [
        "ingress-alpha-ui.yaml",
        "ingress-beta-ui.yaml",
        "secret-alpha-alpha-db.yaml",
        "secret-beta-beta-db.yaml",
    ]
    ingress = yaml.safe_load((tmp_path / "manifests" / "ingress-alpha-ui.yaml").read_text())
    assert ingress["kind"] == "Ingress" and ingress["apiVersion"] == "networking.k8s.io/v1"
    releases = json.loads((tmp_path / "releases.json").read_text())
    assert {r["valuesFile"] for r in releases} >= {"values/alpha-superset.yaml", "values/beta-superset.yaml"}


# diff


def test_diff_reports_added_removed_changed_renamed_per_domain(tmp_path: Path) -> None:
    base = plan.build_plan(crafted_program())
    head = copy.deepcopy(base)
    resources = head["resources"]
    release = next(r for r in resources if r["name"] == "alpha-superset")
    release["inputs"]["values"]["ingress"]["hosts"] = ["bi.alpha.example.com"]
    # Two resources are named beta-db (a Secret and the RDS instance), in async registration order.
    next(r for r in resources if r["name"] == "beta-db" and r["type"].startswith("aws:rds"))["options"]["protect"] = (
        False
    )
    # Two resources are named alpha-db (the RDS instance and a Secret); registration order varies, so pick by type.
    resources.remove(next(r for r in resources if r["name"] == "alpha-db" and r["type"].startswith("aws:rds")))
    renamed = next(r for r in resources if r["name"] == "alpha-ui")
    renamed["options"]["aliases"] = [renamed["urn"]]
    renamed["urn"] = renamed["urn"].replace("::alpha-ui", "::alpha-web")
    renamed["name"] = "alpha-web"
    resources.append({**copy.deepcopy(renamed), "name": "gamma-x", "urn": "urn:x::gamma-x", "domain": "gamma"})
    resources[-1]["options"]["aliases"] = []

    result = plan_diff.diff_plans(base, head)
    alpha, beta, gamma = result.domains["alpha"], result.domains["beta"], result.domains["gamma"]
    assert [e.name for e in alpha.changed] == ["alpha-superset"]
    assert alpha.changed[0].changed == ["inputs.values.ingress.hosts"]
    assert [e.name for e in alpha.removed] == ["alpha-db"]
    assert any("retain_on_delete" in n for n in alpha.removed[0].notes)
    assert [e.name for e in alpha.renamed] == ["alpha-web"] and not alpha.added
    assert [(e.name, e.changed) for e in beta.changed] == [("beta-db", ["options.protect"])]
    assert [e.name for e in gamma.added] == ["gamma-x"]
    assert result.domains["platform"].empty()

    md = plan_diff.format_markdown(result)
    assert "| alpha | 0 | 1 | 1 | 1 |" in md and "| platform | 0 | 0 | 0 | 0 |" in md
    assert "<details><summary><b>gamma</b></summary>" in md
    text = plan_diff.format_text(result)
    assert "platform: no changes" in text and "~ kubernetes:helm.sh/v3:Release alpha-superset" in text


def test_diff_cli_reads_plan_dirs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan.write_plan(crafted_program(("alpha",)), tmp_path / "base")
    plan.write_plan(crafted_program(("alpha", "beta")), tmp_path / "head")
    assert cli(["diff", str(tmp_path / "base"), str(tmp_path / "head"), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| beta | 9 | 0 | 0 | 0 |" in out and "| alpha | 0 | 0 | 0 | 0 |" in out


def test_identical_plans_have_no_changes(tmp_path: Path) -> None:
    doc = plan.build_plan(crafted_program())
    result = plan_diff.diff_plans(doc, copy.deepcopy(doc))
    assert result.empty()
    assert "No resource changes." in plan_diff.format_markdown(result)


def test_render_flag_renders_into_the_plan_dir_and_fails_on_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, Path]] = []
    finding = types.SimpleNamespace(
        release=types.SimpleNamespace(namespace="sales", name="superset"),
        result=types.SimpleNamespace(errors=["image tag latest"]),
        findings=[],
    )

    def render_program(program: Program, out: Path) -> list[types.SimpleNamespace]:
        calls.append((program.stack, out))
        return [finding] if len(calls) > 1 else []

    monkeypatch.setattr("platformctl.render.render_program", render_program)
    # The stub renders nothing, so dev's restricted namespace (sandbox) could not be proven; that proof has
    # its own tests (tests/test_pss.py, tests/test_notebooks.py).
    monkeypatch.setattr("platformctl.render.pss_restricted_findings", lambda program, reports: [])
    monkeypatch.setattr(
        cli_module, "run_program", lambda stack, domains_dir=None: program_for(stack, domains_dir=domains_dir)
    )
    assert cli(["plan", "--stack", "dev", "--out", str(tmp_path), "--render", "--quiet"]) == 0
    assert calls == [("dev", tmp_path / "rendered")]
    assert cli(["plan", "--stack", "dev", "--out", str(tmp_path), "--render", "--quiet"]) == 1


# the real program


@pytest.mark.parametrize("stack", STACKS)
def test_plan_json_matches_the_records(stack: str, tmp_path: Path) -> None:
    program = program_for(stack)
    doc = plan.write_plan(program, tmp_path)
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["stack"] == stack
    assert [(r["type"], r["urn"]) for r in saved["resources"]] == [(r.type, r.urn) for r in program.resources]

    # Independent attribution: everything below a DataDomainStack is that domain's.
    expected: Counter[str] = Counter()
    owned: set[str] = set()
    for domain in program.of_type(plan.DOMAIN_TYPE):
        below = [domain, *program.descendants(domain.urn)]
        expected[domain.name] += len(below)
        owned |= {r.urn for r in below}
    expected[plan.PLATFORM] += sum(1 for r in program.resources if r.urn not in owned)
    counts = {d: s["count"] for d, s in doc["domains"].items()}
    assert counts == {d: n for d, n in expected.items() if n}
    assert sum(counts.values()) == len(program.resources)
    for d, s in doc["domains"].items():
        in_domain = [r for r in saved["resources"] if r["domain"] == d]
        assert s["byType"] == dict(sorted(Counter(r["type"] for r in in_domain).items()))
        assert len(s["helmReleases"]) == sum(1 for r in in_domain if r["type"] == plan.HELM_RELEASE)


def public_text(program: Program) -> str:
    """What the records show in the clear: inputs without Secret values and Kubernetes Secret data."""

    def strip(value: Any) -> Any:
        if isinstance(value, Secret):
            return None
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    shown = [
        {
            k: v
            for k, v in strip(r.inputs).items()
            if r.inputs.get("kind") != "Secret" or k not in ("data", "stringData")
        }
        for r in program.resources
    ]
    return json.dumps(shown, default=str) + " ".join(r.urn for r in program.resources)


@pytest.mark.parametrize("stack", STACKS)
def test_plan_of_the_real_program_shows_no_secret(stack: str, tmp_path: Path) -> None:
    program = program_for(stack)
    plan.write_plan(program, tmp_path)
    text = files_text(tmp_path)
    # A value that is secret in one place but plain in another (a DB host, a user name) is not a leak.
    public = public_text(program)
    secrets = {s for s in secret_leaves(program) if s not in public}
    assert secrets, "the program should carry some secret values (generated passwords)"
    leaked = sorted(s for s in secrets if s in text)
    assert not leaked, f"secret values in the {stack} plan output"


def test_cli_plans_dev_within_30_cpu_seconds(tmp_path: Path) -> None:
    """The real CLI (exit code, output) and what keeps planning fast: the CPU time of the plan process.
    Wall time is not asserted; on a shared machine it grows with everyone else's load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "platformctl", "plan", "--stack", "dev", "--out", str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert done.returncode == 0, done.stderr
    assert 0 < cpu < 30, f"plan took {cpu:.1f} CPU seconds"
    assert done.stdout.startswith("Offline plan for stack dev")
    assert (tmp_path / "plan.json").is_file()


def test_cli_reports_bad_input_without_traceback(tmp_path: Path) -> None:
    """The real CLI on a bad domain file: exit code 1 and the file and field, no traceback."""
    (tmp_path / "sales.yaml").write_text("name: sales\n")
    command = [sys.executable, "-m", "platformctl", "plan", "--stack", "dev", "--out", str(tmp_path / "out")]
    command += ["--domains-dir", str(tmp_path)]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1
    assert "sales.yaml: description" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_cli_reports_a_missing_stack_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["plan", "--stack", "nosuchstack", "--out", str(tmp_path / "out")]) == 1
    assert "Pulumi.nosuchstack.yaml" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


SAMPLE_DOMAINS = sorted((PROJECT_DIR / "domains").glob("*.yaml"))


def test_adding_a_domain_file_adds_only_that_domains_resources(tmp_path: Path) -> None:
    assert SAMPLE_DOMAINS, "domains/ has no sample domain file"
    assert program_for("dev").of_type(plan.DOMAIN_TYPE), "__main__.py registers no DataDomainStack"
    template = next((p for p in SAMPLE_DOMAINS if p.stem == "sales"), SAMPLE_DOMAINS[0])
    base_dir, head_dir = tmp_path / "base", tmp_path / "head"
    shutil.copytree(PROJECT_DIR / "domains", base_dir)
    shutil.copytree(PROJECT_DIR / "domains", head_dir)
    new = "finance"
    text, renamed = re.subn(rf"^name: {template.stem}\b", f"name: {new}", template.read_text(), flags=re.M)
    assert renamed == 1, f"no top-level name: line in {template.name}"
    (head_dir / f"{new}.yaml").write_text(text)
    assert new in {d.name for d in load_domains(head_dir, stack="dev")}, f"{template.name} is not in the dev stack"

    base = plan.build_plan(program_for("dev", domains_dir=base_dir))
    head = plan.build_plan(program_for("dev", domains_dir=head_dir))
    result = plan_diff.diff_plans(base, head)

    added = result.domains.get(new)
    assert added is not None and added.added, "the new domain registered no resources"
    assert not (added.removed or added.changed or added.renamed)
    for domain, d in result.domains.items():
        assert not d.removed, f"{domain}: adding a domain removed resources"
        if domain not in (new, plan.PLATFORM):
            assert d.empty(), f"adding {new} changed domain {domain}: {plan_diff.format_text(result)}"
