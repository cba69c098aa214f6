"""Backups and final snapshots: retention per environment, PITR, and final-snapshot names unique per deletion."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.config import parse_stack_config
from components.validation import ConfigError
from tests.harness import Program, Resource, program_for, stack_config

RDS = "aws:rds/instance:Instance"
RANDOM_ID = "random:index/randomId:RandomId"
NAMESPACE = "aws:redshiftserverless/namespace:Namespace"


def _raw(stack: str) -> dict[str, Any]:
    return {k.split(":", 1)[1]: json.loads(v) if v[:1] in "{[" else v for k, v in stack_config(stack).items()}


def _config(stack: str, **changes: Any) -> dict[str, Any]:
    """The stack file's config with `changes` (top-level keys under dataplatform:) replaced."""
    raw = {k: json.loads(v) if v[:1] in "{[" else v for k, v in stack_config(stack).items()}
    raw.update({f"dataplatform:{k}": v for k, v in changes.items()})
    return raw


@pytest.fixture(scope="module")
def prod_with_catalog_rds() -> Program:
    """Prod with the catalog's RDS and a retention set in the stack file (one run serves both)."""
    return program_for("prod", config=_config("prod", catalog={"sql": "rds"}, backups={"rdsRetentionDays": 21}))


def _suffix_of(program: Program, db: Resource) -> Resource:
    return next(r for r in program.of_type(RANDOM_ID) if r.name == f"{db.name}-final-snapshot")


def test_every_final_snapshot_name_is_the_identifier_plus_a_random_suffix_of_that_instance(
    prod_with_catalog_rds: Program,
) -> None:
    dbs = prod_with_catalog_rds.of_type(RDS)
    assert {db.name for db in dbs} == {"sales-metadb", "marketing-metadb", "catalog-aws-sql"}
    for db in dbs:
        suffix = _suffix_of(prod_with_catalog_rds, db)
        hex_ = suffix.outputs["hex"]
        assert len(hex_) == 8 and suffix.inputs["byteLength"] == 4
        assert db.inputs["finalSnapshotIdentifier"] == f"{db.inputs['identifier']}-final-{hex_}"
        # A replaced instance (new identifier or key) gets a new suffix too, so its deletion never reuses a name.
        assert suffix.inputs["keepers"]["identifier"] == db.inputs["identifier"]
        assert suffix.inputs["keepers"]["kmsKeyId"] == db.inputs["kmsKeyId"]
        assert suffix.parent == db.parent and db.inputs["skipFinalSnapshot"] is False
    names = [db.inputs["finalSnapshotIdentifier"] for db in dbs]
    assert len(set(names)) == len(names)


def test_deleting_and_creating_a_domain_again_gives_a_new_final_snapshot_name() -> None:
    # Each lifetime of the stack's random resources stands for one create; the old name was used by the
    # old instance's deletion, so the new instance must not carry it (the bug was a fixed "<id>-final").
    first = program_for("dev")
    second = program_for("dev", random_seed="created-again")
    for name in ("sales-metadb", "marketing-metadb"):
        a, b = first.one(RDS, name).inputs, second.one(RDS, name).inputs
        assert a["identifier"] == b["identifier"]
        assert a["finalSnapshotIdentifier"] != b["finalSnapshotIdentifier"]
        assert a["finalSnapshotIdentifier"].startswith(f"{a['identifier']}-final-")


def test_a_new_stack_previews_with_the_suffix_still_unknown() -> None:
    preview = program_for("dev", preview=True)
    db = preview.one(RDS, "sales-metadb")
    assert "finalSnapshotIdentifier" not in db.inputs or not str(db.inputs["finalSnapshotIdentifier"]).startswith(
        "dp-dev-sales-meta-final-"
    )
    assert preview.one(RANDOM_ID, "sales-metadb-final-snapshot").outputs.get("hex") is None


def test_prod_keeps_14_days_of_backups_with_pitr_and_keeps_them_after_a_deletion() -> None:
    dbs = program_for("prod").of_type(RDS)
    assert dbs
    for db in dbs:
        assert db.inputs["backupRetentionPeriod"] == 14  # > 0 turns on point-in-time recovery
        assert db.inputs["deleteAutomatedBackups"] is False


def test_dev_keeps_one_day_and_drops_automated_backups_with_the_instance() -> None:
    for db in program_for("dev").of_type(RDS):
        assert db.inputs["backupRetentionPeriod"] == 1 and db.inputs["deleteAutomatedBackups"] is True


def test_retention_is_configurable(prod_with_catalog_rds: Program) -> None:
    assert {db.inputs["backupRetentionPeriod"] for db in prod_with_catalog_rds.of_type(RDS)} == {21}
    assert {db.inputs["deleteAutomatedBackups"] for db in prod_with_catalog_rds.of_type(RDS)} == {False}


@pytest.mark.parametrize(
    ("stack", "backups", "expected"),
    [
        ("prod", {"rdsRetentionDays": 3}, "dataplatform:backups.rdsRetentionDays: must be at least 7 in prod (got 3)"),
        ("dev", {"rdsRetentionDays": 36}, "dataplatform:backups.rdsRetentionDays: Input should be less than or equal"),
        ("dev", {"warehouseSnapshotRetentionDays": 0}, "dataplatform:backups: warehouseSnapshotRetentionDays must"),
        ("dev", {"retentionDays": 7}, "dataplatform:backups.retentionDays: unknown key"),
    ],
)
def test_bad_backup_settings_name_the_key(stack: str, backups: dict[str, Any], expected: str) -> None:
    raw = {**_raw(stack), "backups": backups}
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw)
    assert isinstance(caught.value, pulumi.RunError)
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_redshift_recovery_points_need_no_setting_and_the_namespace_stays_protected_in_prod() -> None:
    # Recovery points are automatic (every 30 min, kept 24 h, not configurable); the namespace is what keeps them.
    for ns in program_for("prod").of_type(NAMESPACE):
        assert (ns.protect, ns.retain_on_delete) == (True, True)
