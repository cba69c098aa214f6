"""Split stacks (`dataplatform:scope`, components/split.py) under mocks.

A domain stack registers exactly its domain's resources, with the inputs, options, names and (up to
the stack name) URNs of the one stack, so `pulumi state move` of a domain recreates nothing; the
environment's stack in split mode registers no domain resource and the one stack's platform part
unchanged. The domain stack reads the environment's `domainInputs` through a StackReference, which
the mocks answer with the split environment stack's own exports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.config import parse_stack_config
from components.scope import Scope, parse_scope
from components.split import check_domain, environment_stack
from components.validation import ConfigError
from platformctl import records
from platformctl.migrate import commands, domain_roots, simulate_move
from tests.harness import PROJECT_DIR, Program, Resource, Secret, program_for, stack_config, walk

DOMAIN_TYPE = "dataplatform:domain:DataDomainStack"
SAME = (
    "type",
    "name",
    "custom",
    "inputs",
    "protect",
    "retain_on_delete",
    "delete_before_replace",
    "ignore_changes",
    "import_id",
)


def scoped(scope: str) -> dict[str, Any]:
    return {**stack_config("dev"), "dataplatform:scope": scope}


def single() -> Program:
    return program_for("dev")


def platform() -> Program:
    return program_for("dev", config=scoped("platform"))


def domain_program(name: str, *, preview: bool = False) -> Program:
    outputs = {"dev": {"domainInputs": platform().exports["domainInputs"]}}
    return program_for(f"dev-{name}", config=scoped(f"domain/{name}"), stack_outputs=outputs, preview=preview)


def in_dev(urn: str, stack: str) -> str:
    """The URN as the one stack `dev` names it (a moved resource keeps everything but the stack name)."""
    return urn.replace(f"urn:pulumi:{stack}::", "urn:pulumi:dev::").replace(
        f"pulumi:pulumi:Stack::dataplatform-{stack}", "pulumi:pulumi:Stack::dataplatform-dev"
    )


def subtree(program: Program, domain: str) -> list[Resource]:
    root = program.one(DOMAIN_TYPE, domain)
    return [root, *program.descendants(root.urn)]


def domain_urns(program: Program) -> set[str]:
    return {r.urn for d in program.of_type(DOMAIN_TYPE) for r in subtree(program, d.name)}


@pytest.mark.parametrize("name", ["sales", "marketing"])  # marketing consumes sales.orders: a cross-domain grant
def test_a_domain_stack_registers_exactly_its_domain_with_the_one_stacks_inputs(name: str) -> None:
    one, alone = single(), domain_program(name)
    expected = {r.urn: r for r in subtree(one, name)}
    got = {in_dev(r.urn, f"dev-{name}"): r for r in subtree(alone, name)}
    assert set(got) == set(expected)
    for urn, want in expected.items():
        have = got[urn]
        for attr in SAME:
            assert getattr(have, attr) == getattr(want, attr), f"{urn}: {attr}"
        # Aliases name URNs of their own stack.
        assert [in_dev(a, f"dev-{name}") for a in have.aliases] == want.aliases, f"{urn}: aliases"
        assert in_dev(have.parent, f"dev-{name}") == want.parent, urn
        assert in_dev(have.provider_urn, f"dev-{name}") == want.provider_urn, urn
        # Dependencies inside the domain stay; those on the environment's resources (the engine's order within
        # one stack) become the environment stack's turn first (platformctl up) and its StackReference.
        inside = {u for u in want.depends_on if u in expected}
        assert {in_dev(u, f"dev-{name}") for u in have.depends_on if u in alone_urns(alone)} == inside, urn
    # Besides the domain: only the providers it uses, under stand-ins named like the environment's parents.
    extra = {(r.type, r.name) for r in alone.resources if in_dev(r.urn, f"dev-{name}") not in expected}
    assert extra == {
        ("dataplatform:foundation:AwsFoundation", "platform"),
        ("dataplatform:cluster:KubernetesCluster", "cluster"),
        ("pulumi:providers:aws", "aws"),
        ("pulumi:providers:kubernetes", "cluster-k8s-workloads"),
    }
    for r in alone.resources:
        if r.type.startswith("pulumi:providers:"):
            twin = one.by_urn(in_dev(r.urn, f"dev-{name}"))
            assert r.inputs == twin.inputs, r.urn  # a provider diff would touch every resource it manages


def alone_urns(program: Program) -> set[str]:
    return {r.urn for r in program.resources}


def test_the_environment_stack_in_split_mode_registers_no_domain_resource_and_the_same_platform() -> None:
    one, env = single(), platform()
    assert not env.of_type(DOMAIN_TYPE)
    names = {"sales", "marketing"}
    # The analysts' notebooks are the environment's; their profiles name each sandbox domain's
    # ServiceAccount, which the domain's stack registers (docs/notebooks.md).
    assert [r for r in env.resources if "dataplatform:notebooks:AnalystNotebooks" in r.urn]
    move = "a domain's resource in the environment's stack: register it under DataDomainStack (split-stacks.md)"
    for r in env.resources:
        # Its logical name, its Kubernetes name (e.g. analyst-sales) and its labels or tags (domain: sales).
        found = r.inputs.get("metadata")
        metadata: dict[str, Any] = found if isinstance(found, dict) else {}
        for name in (r.name, str(metadata.get("name", ""))):
            assert not set(name.split("-")) & names, f"{r.urn}: {move}"
        marks = [r.inputs.get("tags") or {}, metadata.get("labels") or {}]
        assert not any(v in names for v in walk(marks)), f"{r.urn}: {move}"
    platform_part = {r.urn: r for r in one.resources if r.urn not in domain_urns(one)}
    assert {r.urn for r in env.resources} == set(platform_part)
    for r in env.resources:
        assert r.inputs == platform_part[r.urn].inputs, r.urn
    assert env.exports["domains"] == {}


def test_the_environment_exports_what_a_domain_needs_and_no_secret() -> None:
    inputs = platform().exports["domainInputs"]
    assert not [v for v in walk(inputs) if isinstance(v, Secret)]
    json.dumps(inputs)  # plain data a StackReference carries
    one = single()
    bucket = one.one("aws:s3/bucket:Bucket", "sales-bucket").inputs["bucket"]
    assert bucket.endswith(f"-{inputs['lake']['suffix']}")  # the environment's suffix names the domains' buckets
    assert "domainInputs" not in one.exports  # the one stack stays as it was


def test_a_domain_stack_previews_from_a_deployed_environment_stack() -> None:
    alone = domain_program("marketing", preview=True)
    want = {r.urn for r in subtree(single(), "marketing")}
    assert {in_dev(r.urn, "dev-marketing") for r in subtree(alone, "marketing")} == want


# ---------------------------------------------------------------- scope: bad input stops early


def raw(scope: str, **extra: Any) -> dict[str, Any]:
    values = {k.split(":", 1)[1]: json.loads(v) if v[:1] in "{[" else v for k, v in stack_config("dev").items()}
    return {**values, "scope": scope, **extra}


@pytest.mark.parametrize("value", ["split", "domain/", "domain/Sales", "domains/sales", "environment/sales"])
def test_an_invalid_scope_names_the_key(value: str) -> None:
    with pytest.raises(ConfigError, match=r"dataplatform:scope: must be 'environment'"):
        parse_stack_config(raw(value))


def test_scopes() -> None:
    assert parse_stack_config(raw("environment")).stack_scope == Scope("environment")
    assert parse_scope("platform") == Scope("platform")
    assert parse_scope("domain/sales") == Scope("domain", "sales")
    assert not Scope("platform").includes("sales") and Scope("environment").includes("sales")
    assert Scope("domain", "sales").includes("sales") and not Scope("domain", "sales").includes("marketing")


def test_split_stacks_need_the_aws_foundation() -> None:
    local = {k.split(":", 1)[1]: v for k, v in stack_config("local").items()}
    local = {k: json.loads(v) if v[:1] in "{[" else v for k, v in local.items()}
    with pytest.raises(ConfigError, match="split stacks need the aws foundation"):
        parse_stack_config({**local, "scope": "platform"})


def test_a_domain_scope_needs_its_stack_name_and_its_domain_file() -> None:
    assert environment_stack(Scope("domain", "sales"), "dev-sales") == "dev"
    assert environment_stack(Scope("domain", "daily-revenue"), "prod-daily-revenue") == "prod"
    with pytest.raises(ConfigError, match="scope of the stack <environment>-sales, not of 'dev-marketing'"):
        environment_stack(Scope("domain", "sales"), "dev-marketing")
    with pytest.raises(ConfigError, match=r"no domain file domains/sael\.yaml includes stack 'dev'"):
        check_domain(Scope("domain", "sael"), ["marketing", "sales"], "dev")
    check_domain(Scope("domain", "sales"), ["marketing", "sales"], "dev")


def test_offline_tools_see_a_split_environment_whole(tmp_path: Path) -> None:
    text = (
        (PROJECT_DIR / "Pulumi.dev.yaml")
        .read_text()
        .replace("config:\n", "config:\n  dataplatform:scope: platform\n", 1)
    )
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    config = stack_config("dev", tmp_path)
    assert "dataplatform:scope" not in config and config == stack_config("dev")


# ---------------------------------------------------------------- migration: pulumi state move, replayed on records


def test_moving_a_domain_out_of_the_one_stack_leaves_nothing_for_its_first_update_to_change() -> None:
    one, alone = single(), domain_program("sales")
    root = one.one(DOMAIN_TYPE, "sales").urn
    dest_root = next(r.parent for r in alone.resources if r.type == DOMAIN_TYPE)
    moved = simulate_move(records.records(one), root, "dev-sales", dest_root)
    # The StackReference is read on every run, not kept in the state.
    program = records.records(alone)
    for r in program["resources"]:
        r["options"]["depends_on"] = [u for u in r["options"]["depends_on"] if "pulumi:pulumi:StackReference" not in u]
    differences = records.diff(moved, program, resources_only=True)
    stand_ins = [
        "urn:pulumi:dev-sales::dataplatform::dataplatform:foundation:AwsFoundation$dataplatform:cluster:KubernetesCluster::cluster",
        "urn:pulumi:dev-sales::dataplatform::pulumi:pulumi:Stack$dataplatform:foundation:AwsFoundation::platform",
    ]
    aws_provider = "urn:pulumi:dev-sales::dataplatform::dataplatform:foundation:AwsFoundation$pulumi:providers:aws::aws"
    k8s_provider = (
        "urn:pulumi:dev-sales::dataplatform::dataplatform:cluster:KubernetesCluster$pulumi:providers:kubernetes::"
        "cluster-k8s-workloads"
    )
    # Two components created (no cloud object), the two copied providers re-parented under them; nothing else.
    assert sorted(d.split(": ")[0] for d in differences) == sorted(
        [f"+ {u}" for u in stand_ins] + [f"~ {aws_provider}", f"~ {k8s_provider}"]
    ), differences
    assert all(d.split(": ", 1)[1].startswith("parent: ") for d in differences if d.startswith("~ ")), differences


def test_the_migration_commands_move_every_domain_root() -> None:
    roots = domain_roots("dev", ["marketing", "sales"])
    lines = commands("dev", roots)
    moves = [line for line in lines if line.startswith("pulumi state move")]
    assert moves == [
        "pulumi state move --source dev --dest dev-marketing --yes "
        "'urn:pulumi:dev::dataplatform::dataplatform:domain:DataDomainStack::marketing'",
        "pulumi state move --source dev --dest dev-sales --yes "
        "'urn:pulumi:dev::dataplatform::dataplatform:domain:DataDomainStack::sales'",
    ]
    assert lines.index("gh workflow disable deploy.yml") < lines.index(moves[0])
    assert lines.index(moves[-1]) < lines.index("python -m platformctl up --stack dev --environment-only")
    state = {"deployment": {"resources": [{"type": DOMAIN_TYPE, "urn": "urn:pulumi:dev::dataplatform::x$y::sales"}]}}
    assert domain_roots("dev", ["sales"], state) == {"sales": "urn:pulumi:dev::dataplatform::x$y::sales"}
    with pytest.raises(ValueError, match="already moved"):
        domain_roots("dev", ["marketing"], state)


def test_a_domain_stack_reads_only_its_file_and_its_producers(tmp_path: Path) -> None:
    from components.domain_config import load_domains

    folder = tmp_path / "domains"
    folder.mkdir()
    for name in ("sales", "marketing"):
        (folder / f"{name}.yaml").write_text((PROJECT_DIR / "domains" / f"{name}.yaml").read_text())
    (folder / "broken.yaml").write_text("name: broken\nconsumes: [nobody.nothing]\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml"):  # the environment's stack validates every file
        load_domains(folder, stack="dev")
    assert [d.name for d in load_domains(folder, stack="dev", only=["marketing"])] == ["marketing", "sales"]
    assert [d.name for d in load_domains(folder, stack="dev", only=["sales"])] == ["sales"]
    # The domain's own consumes are still checked.
    text = (folder / "marketing.yaml").read_text().replace("sales.orders", "sales.nothing")
    (folder / "marketing.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"consumes\[0\]: domain 'sales' has no product 'nothing'"):
        load_domains(folder, stack="dev", only=["marketing"])


def test_the_policy_pack_passes_on_each_split_stack_as_on_the_one_stack() -> None:
    """The pack runs on every stack (platformctl up); rules that look across resources (a bucket's companions,
    the log bucket, pod identity roles) see only that stack's resources there."""
    from policy import rules

    def findings(program: Program) -> list[str]:
        found = rules.evaluate([rules.from_record(r) for r in program.resources], rules.Ctx("dev"))
        return sorted(f"{f.level} {f.rule}: {in_dev(f.urn, program.stack)}" for f in found)

    one = findings(single())
    split = findings(platform()) + findings(domain_program("sales")) + findings(domain_program("marketing"))
    assert not [f for f in split if f.startswith("mandatory")]
    assert sorted(split) == one  # the same advisories, no new finding from being apart
