"""Offboarding and re-onboarding a domain: what is kept, what is deleted, and how it comes back (issue 11)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from components.domain_config import load_domains
from components.retirement import (
    IMPORT_ID_INPUT,
    RETAINED_TYPES,
    RetiredRecord,
    adoptions,
    dump_record,
    load_retired_records,
)
from components.validation import ConfigError
from platformctl import diff as plan_diff
from platformctl import offboard as offboarding
from platformctl import plan
from platformctl.__main__ import main as cli
from tests.harness import PROJECT_DIR, Program, Resource, program_for

DOMAIN = "marketing"  # nothing consumes marketing, so it can retire alone
NOW = dt.datetime(2026, 12, 6, 5, 0, tzinfo=dt.UTC)
SG_ID = "sg-0a1b2c3d4e5f60718"


def _copy_domains(into: Path) -> Path:
    target = into / "domains"
    target.mkdir()
    for path in (PROJECT_DIR / "domains").glob("*.yaml"):
        shutil.copy(path, target / path.name)
    return target


def _retire(domains: Path, name: str = DOMAIN) -> None:
    path = domains / f"{name}.yaml"
    path.write_text(path.read_text() + "\nretired: true\n")


@pytest.fixture(scope="module")
def retired_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    domains = _copy_domains(tmp_path_factory.mktemp("retired"))
    _retire(domains)
    return domains


@pytest.fixture(scope="module")
def retired(retired_dir: Path) -> Program:
    return program_for("prod", domains_dir=retired_dir)


def _of_domain(program: Program, name: str) -> list[Resource]:
    of = plan.domains_by_urn(program.resources)
    return [r for r in program.resources if of[r.urn] == name]


def _state_export(program: Program, domain: str) -> dict:
    """What `pulumi stack export` holds for the domain: IDs as the AWS provider sets them (its import IDs)."""
    resources = []
    for r in _of_domain(program, domain):
        field = IMPORT_ID_INPUT.get(r.type)
        rid = SG_ID if r.type == "aws:ec2/securityGroup:SecurityGroup" else r.inputs.get(field) if field else r.id
        arn = plan.offline_arn(r.type, plan.physical_name(r), program.region, program.account_id)
        resources.append({"urn": r.urn, "type": r.type, "custom": r.custom, "id": rid, "outputs": {"arn": arn}})
    return {"version": 3, "deployment": {"resources": resources}}


# --- the retired domain registers only its data, unprotected and retained ------------------------------


def test_a_retired_prod_domain_registers_only_its_data_bearing_resources_unprotected_and_retained(
    retired: Program,
) -> None:
    mine = _of_domain(retired, DOMAIN)
    custom = [r for r in mine if r.custom]
    assert {(r.type, r.name) for r in mine if not r.custom} == {
        ("dataplatform:domain:DataDomainStack", DOMAIN),
        ("dataplatform:domain_services:AwsDomainServices", f"{DOMAIN}-aws"),
        ("dataplatform:lake:LakeBucket", f"{DOMAIN}-bucket"),
        ("dataplatform:warehouse:Warehouse", f"{DOMAIN}-warehouse"),
    }
    assert {r.type for r in custom} == RETAINED_TYPES
    for r in custom:
        assert (r.protect, r.retain_on_delete) == (False, True), r.name
    names = {(r.type, r.name) for r in custom}
    for data in [
        ("aws:s3/bucket:Bucket", f"{DOMAIN}-bucket"),
        ("aws:rds/instance:Instance", f"{DOMAIN}-metadb"),
        ("aws:redshiftserverless/namespace:Namespace", f"{DOMAIN}-warehouse-namespace"),
    ]:
        assert data in names
    assert not [r for r in custom if r.type.startswith("kubernetes:")]


def test_the_retired_database_keeps_its_protections_and_its_final_snapshot(retired: Program) -> None:
    db = retired.one("aws:rds/instance:Instance", f"{DOMAIN}-metadb").inputs
    assert db["deletionProtection"] is True and db["skipFinalSnapshot"] is False
    assert db["finalSnapshotIdentifier"].startswith(f"dp-prod-{DOMAIN}-meta-final-")


def test_the_retired_warehouse_gets_a_snapshot_with_an_explicit_retention(retired: Program) -> None:
    snapshot = retired.one("aws:redshiftserverless/snapshot:Snapshot", f"{DOMAIN}-warehouse-retired").inputs
    assert snapshot["namespaceName"] == f"dp-prod-{DOMAIN}"
    assert snapshot["retentionPeriod"] == -1  # the default of backups.warehouseSnapshotRetentionDays
    assert snapshot["snapshotName"].startswith(f"dp-prod-{DOMAIN}-retired-")
    assert not retired.of_type("aws:redshiftserverless/workgroup:Workgroup") or all(
        not w.name.startswith(DOMAIN) for w in retired.of_type("aws:redshiftserverless/workgroup:Workgroup")
    )


def test_retiring_one_domain_changes_nothing_of_the_others(retired: Program) -> None:
    before = {(r.urn, r.protect, r.retain_on_delete) for r in _of_domain(program_for("prod"), "sales")}
    after = {(r.urn, r.protect, r.retain_on_delete) for r in _of_domain(retired, "sales")}
    assert before == after


def test_the_retired_resources_keep_their_urns_so_the_update_changes_options_only(retired: Program) -> None:
    active = {r.urn for r in _of_domain(program_for("prod"), DOMAIN)}
    kept = {r.urn for r in _of_domain(retired, DOMAIN) if r.custom}
    # The warehouse snapshot and its suffix are the only new resources; everything else keeps its URN.
    assert {u.rsplit("::", 1)[1] for u in kept - active} == {
        f"{DOMAIN}-warehouse-retired",
        f"{DOMAIN}-warehouse-retired-snapshot",
    }


# --- the loader ---------------------------------------------------------------------------------------


def test_consuming_a_retired_domain_is_reported(tmp_path: Path) -> None:
    domains = _copy_domains(tmp_path)
    _retire(domains, "sales")  # marketing consumes sales.orders
    with pytest.raises(ConfigError) as caught:
        load_domains(domains, stack="prod")
    assert caught.value.problems == [
        "domains/marketing.yaml: consumes[0]: domain 'sales' is retired; remove this entry (its grant goes with the producer)"
    ]


def test_the_retired_folder_is_not_read_as_domain_files_and_bad_records_name_file_and_field(tmp_path: Path) -> None:
    domains = _copy_domains(tmp_path)
    (domains / "retired").mkdir()
    (domains / "retired" / "sales.yaml").write_text("name: sales\nstacks: {prod: {source: guess}}\n")
    (domains / "retired" / "notes.txt").write_text("x")
    assert {d.name for d in load_domains(domains, stack="prod")} == {"sales", "marketing"}
    with pytest.raises(ConfigError) as caught:
        load_retired_records(domains)
    problems = caught.value.problems
    assert (
        "domains/retired/notes.txt: the retired folder holds only <name>.yaml records written by offboard" in problems
    )
    assert any(
        p.startswith("domains/retired/sales.yaml: stacks.prod.source: Input should be 'state' or 'offline'")
        for p in problems
    )
    assert any(p.startswith("domains/retired/sales.yaml: stacks.prod.retiredAt: Field required") for p in problems)


# --- offboard: what is deleted and kept, and the record -------------------------------------------------


@pytest.fixture(scope="module")
def offboard_plan(retired: Program) -> offboarding.OffboardPlan:
    current = program_for("prod")
    return offboarding.plan_offboarding(current, retired, DOMAIN, _state_export(current, DOMAIN) | {})


def test_offboard_names_every_retained_resource_with_its_id_and_arn(
    offboard_plan: offboarding.OffboardPlan, retired: Program
) -> None:
    text = offboarding.format_plan(offboard_plan)
    kept = [r for r in _of_domain(retired, DOMAIN) if r.custom]
    assert len(offboard_plan.retained) == len(kept)
    for r in kept:
        assert f"{r.type} {r.name}" in text
    assert f"arn:aws:s3:::{retired.one('aws:s3/bucket:Bucket', f'{DOMAIN}-bucket').inputs['bucket']}" in text
    assert f"arn:aws:rds:eu-west-1:123456789012:db:dp-prod-{DOMAIN}-meta" in text
    deleted = {i.logical_name for i in offboard_plan.deleted}
    assert {f"{DOMAIN}-namespace", f"{DOMAIN}-dagster", f"{DOMAIN}-domain", f"{DOMAIN}-warehouse-workgroup"} <= deleted
    assert not deleted & {i.logical_name for i in offboard_plan.retained if i.type in IMPORT_ID_INPUT}


def test_the_record_carries_the_import_ids_from_the_state(offboard_plan: offboarding.OffboardPlan) -> None:
    record = offboarding.record_for(offboard_plan, None, NOW)
    entry = record.stacks["prod"]
    ids = {(r.type, r.logical_name): r.id for r in entry.resources}
    assert ids[("aws:ec2/securityGroup:SecurityGroup", f"{DOMAIN}-metadb")] == SG_ID
    assert ids[("aws:rds/instance:Instance", f"{DOMAIN}-metadb")] == f"dp-prod-{DOMAIN}-meta"
    assert ids[("aws:redshiftserverless/namespace:Namespace", f"{DOMAIN}-warehouse-namespace")] == f"dp-prod-{DOMAIN}"
    assert (entry.source, entry.retired_at) == ("state", "2026-12-06T05:00:00Z")
    assert RetiredRecord.model_validate(yaml.safe_load(dump_record(record))) == record


def test_an_offline_record_lacks_only_the_cloud_assigned_ids_and_stops_a_re_onboarding(retired: Program) -> None:
    offline = offboarding.plan_offboarding(program_for("prod"), retired, DOMAIN)  # no --state
    missing = {(i.type, i.logical_name) for i in offline.retained if i.type in IMPORT_ID_INPUT and not i.id}
    assert missing == {("aws:ec2/securityGroup:SecurityGroup", f"{DOMAIN}-metadb")}
    record = offboarding.record_for(offline, None, NOW)
    assert record.stacks["prod"].source == "offline"
    with pytest.raises(ConfigError) as caught:
        adoptions({DOMAIN: record}, [DOMAIN], "prod")
    [problem] = caught.value.problems
    assert problem.startswith(f"domains/retired/{DOMAIN}.yaml: stacks.prod.resources[")
    assert f"{DOMAIN}-metadb (aws:ec2/securityGroup:SecurityGroup)" in problem


def test_offboard_cli_prints_the_plan_and_writes_the_record(
    tmp_path: Path, retired: Program, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    domains = _copy_domains(tmp_path)
    state = tmp_path / "prod-state.json"
    state.write_text(__import__("json").dumps(_state_export(program_for("prod"), DOMAIN)))
    # The CLI runs the program as the files are and with the domain retired: reuse the cached runs.
    runs = iter([program_for("prod"), retired])
    monkeypatch.setattr("platformctl.simulate.run_program", lambda *a, **k: next(runs))
    code = cli(["offboard", DOMAIN, "--stack", "prod", "--domains-dir", str(domains), "--state", str(state)])
    out = capsys.readouterr().out
    assert code == 0
    assert "RETAINED: 17 resources stay in AWS" in out and "DELETED by the next update" in out
    record = load_retired_records(domains)[DOMAIN]
    assert {r.logical_name for r in record.stacks["prod"].resources} >= {f"{DOMAIN}-bucket", f"{DOMAIN}-metadb"}
    assert f"wrote {domains / 'retired' / f'{DOMAIN}.yaml'}" in out


def test_offboard_cli_names_an_unknown_domain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["offboard", "nosuch", "--stack", "prod", "--domains-dir", str(_copy_domains(tmp_path))]) == 1
    assert "nosuch.yaml: no such domain file" in capsys.readouterr().err


# --- the PR summary -----------------------------------------------------------------------------------


def test_the_pr_diff_says_what_retiring_deletes_and_retains(retired: Program) -> None:
    base, head = plan.build_plan(program_for("prod")), plan.build_plan(retired)
    d = plan_diff.diff_plans(base, head).domains[DOMAIN]
    retained = {e.name for e in d.retained}
    assert {f"{DOMAIN}-bucket", f"{DOMAIN}-metadb", f"{DOMAIN}-warehouse-namespace"} <= retained
    assert f"{DOMAIN}-warehouse-workgroup" in {e.name for e in d.deleted} and not d.blocked
    text = plan_diff.format_text(plan_diff.diff_plans(base, head))
    assert "DELETED from the cloud" in text and "RETAINED in the cloud with their data" in text
    assert f"arn:aws:rds:eu-west-1:123456789012:db:dp-prod-{DOMAIN}-meta" in text


def test_the_pr_diff_of_deleting_the_file_shows_only_retained_resources(retired: Program) -> None:
    base = plan.build_plan(retired)
    head = {**base, "resources": [r for r in base["resources"] if r["domain"] != DOMAIN]}
    d = plan_diff.diff_plans(base, head).domains[DOMAIN]
    assert not d.deleted and not d.blocked
    assert {e.name for e in d.retained} == {r.name for r in _of_domain(retired, DOMAIN) if r.custom}
    md = plan_diff.format_markdown(plan_diff.diff_plans(base, head))
    assert f"**{DOMAIN}: RETAINED in the cloud" in md


def test_the_pr_diff_flags_deleting_an_active_prod_domain_as_blocked() -> None:
    base = plan.build_plan(program_for("prod"))
    head = {**base, "resources": [r for r in base["resources"] if r["domain"] != DOMAIN]}
    d = plan_diff.diff_plans(base, head).domains[DOMAIN]
    assert {e.name for e in d.blocked} >= {f"{DOMAIN}-bucket", f"{DOMAIN}-metadb", f"{DOMAIN}-warehouse-namespace"}
    assert "BLOCKED: protected, so `pulumi up` fails" in plan_diff.format_text(plan_diff.diff_plans(base, head))


# --- re-onboarding ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reonboarded(tmp_path_factory: pytest.TempPathFactory, offboard_plan: offboarding.OffboardPlan) -> Program:
    domains = _copy_domains(tmp_path_factory.mktemp("back"))
    (domains / "retired").mkdir()
    (domains / "retired" / f"{DOMAIN}.yaml").write_text(dump_record(offboarding.record_for(offboard_plan, None, NOW)))
    return program_for("prod", domains_dir=domains)


def test_a_re_onboarded_domain_imports_its_retained_resources_by_the_recorded_ids(
    reonboarded: Program, offboard_plan: offboarding.OffboardPlan
) -> None:
    recorded = {(i.type, i.logical_name): i.id for i in offboard_plan.retained if i.type in IMPORT_ID_INPUT}
    assert len(recorded) == len(IMPORT_ID_INPUT)
    for (type_, name), rid in recorded.items():
        r = reonboarded.one(type_, name)
        assert r.import_id == rid
        field = IMPORT_ID_INPUT[type_]
        if field:  # the ID the provider imports by is the name this program gives the resource
            assert r.inputs[field] == rid
    # Protected again like any active prod resource, and nothing else is imported.
    assert reonboarded.one("aws:s3/bucket:Bucket", f"{DOMAIN}-bucket").protect
    imported = {(r.type, r.name) for r in reonboarded.resources if r.import_id}
    assert imported == set(recorded)


def test_the_record_of_another_stack_imports_nothing(offboard_plan: offboarding.OffboardPlan) -> None:
    record = offboarding.record_for(offboard_plan, None, NOW)
    assert adoptions({DOMAIN: record}, [DOMAIN], "dev") == {}
    assert adoptions({DOMAIN: record}, [], "prod") == {}  # still retired or deleted: nothing to adopt


def test_the_offline_plan_summary_lists_what_a_retired_domain_keeps(retired: Program) -> None:
    doc = plan.build_plan(retired)
    kept = doc["domains"][DOMAIN]["retained"]
    assert {x["name"] for x in kept} >= {f"{DOMAIN}-bucket", f"{DOMAIN}-metadb", f"{DOMAIN}-warehouse-namespace"}
    assert doc["domains"]["sales"]["retained"] == []  # active prod data is protected, not merely retained
    text = plan.format_summary(doc)
    assert "RETAINED in the cloud when removed from the stack" in text
    assert f"arn:aws:rds:eu-west-1:123456789012:db:dp-prod-{DOMAIN}-meta" in text


def test_the_kept_aws_resources_carry_the_retired_tag_the_policy_pack_trusts(retired: Program) -> None:
    # The pack cannot see retain_on_delete; it accepts an unprotected prod bucket, database or namespace that
    # carries lifecycle=retired. Here, where the option is visible, every such resource is indeed retained.
    from components.retirement import RETIRED_TAG
    from policy.rules import RETIRED_TAG as POLICY_TAG

    assert RETIRED_TAG == POLICY_TAG
    tagged = [
        r for r in retired.resources if isinstance(r.inputs.get("tags"), dict) and r.inputs["tags"].get("lifecycle")
    ]
    assert {(r.type, r.name) for r in tagged} >= {
        ("aws:s3/bucket:Bucket", f"{DOMAIN}-bucket"),
        ("aws:rds/instance:Instance", f"{DOMAIN}-metadb"),
        ("aws:redshiftserverless/namespace:Namespace", f"{DOMAIN}-warehouse-namespace"),
    }
    assert all(r.retain_on_delete and r.inputs["tags"]["lifecycle"] == "retired" for r in tagged)
    assert not [r for r in program_for("prod").resources if (r.inputs.get("tags") or {}).get("lifecycle")]


def test_retiring_previews_on_a_brand_new_stack(retired_dir: Path) -> None:
    # Cluster and random outputs unknown: the kept resources still register, unprotected and retained.
    preview = program_for("dev", domains_dir=retired_dir, preview=True)
    kept = [r for r in _of_domain(preview, DOMAIN) if r.custom]
    assert {r.type for r in kept} == RETAINED_TYPES
    assert all((r.protect, r.retain_on_delete) == (False, True) for r in kept)
