"""The dbt project on its own: `dbt build` on DuckDB, and every declared target's profile renders."""

import csv
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from dbt.cli.main import dbtRunner
from sales_user_code.project import sales_project
from sales_user_code.warehouse import read_table

DBT_DIR = str(sales_project.project_dir)


def dbt(*args: str, target_path: Path):
    return dbtRunner().invoke(
        [*args, "--project-dir", DBT_DIR, "--profiles-dir", DBT_DIR, "--target-path", str(target_path)]
    )


def expected_orders_daily() -> dict[str, tuple[int, Decimal]]:
    """orders_daily computed straight from the seed."""
    days: dict[str, tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
    with open(sales_project.project_dir / "seeds" / "raw_orders.csv", newline="") as seed:
        for row in csv.DictReader(seed):
            if row["status"] == "completed":
                count, total = days[row["ordered_at"]]
                days[row["ordered_at"]] = (count + 1, total + Decimal(row["amount"]))
    return dict(days)


def test_build_on_duckdb_runs_seed_models_and_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its own file: in-process dbt keeps the DuckDB lock, which the Dagster job's dbt subprocess would hit.
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    result = dbt("build", target_path=tmp_path)

    assert result.success, result.exception
    statuses = {r.node.name: str(r.status) for r in result.result}
    assert statuses == {
        "raw_orders": "success",
        "stg_orders": "success",
        "orders_daily": "success",
        "unique_stg_orders_order_id": "pass",
        "not_null_stg_orders_order_id": "pass",
        "not_null_stg_orders_order_date": "pass",
        "not_null_stg_orders_amount": "pass",
        "accepted_values_stg_orders_status__completed__returned__cancelled": "pass",
        "unique_orders_daily_order_date": "pass",
        "not_null_orders_daily_order_date": "pass",
    }
    table = read_table("sales", "orders_daily")
    actual = {
        row.order_date.date().isoformat(): (row.order_count, Decimal(str(row.total_amount)))
        for row in table.itertuples()
    }
    assert actual == expected_orders_daily()


# What the platform sets per target (AWS: no login at all, the pod's IAM role; local: a password Secret).
TARGET_ENV = {
    "postgres": {"WAREHOUSE_USER": "sales", "WAREHOUSE_PASSWORD": "not-a-secret"},
    "redshift": {"WAREHOUSE_WORKGROUP": "dp-dev-sales", "AWS_REGION": "eu-west-1"},
}


@pytest.mark.parametrize("target", ["postgres", "redshift"])
def test_profile_renders_for_warehouse_targets(target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `dbt parse` renders the selected output and loads its adapter without connecting.
    monkeypatch.setenv("DBT_TARGET", target)
    monkeypatch.setenv("WAREHOUSE_HOST", "dp-dev-sales.123456789012.eu-west-1.redshift-serverless.amazonaws.com")
    monkeypatch.setenv("WAREHOUSE_DB", "sales_wh")
    for name, value in TARGET_ENV[target].items():
        monkeypatch.setenv(name, value)

    result = dbt("parse", target_path=tmp_path)

    assert result.success, result.exception
    assert result.result.metadata.adapter_type == target
    node = result.result.nodes["model.sales.orders_daily"]
    assert (node.database, node.schema) == ("sales_wh", "sales")


def test_redshift_logs_in_with_the_pods_iam_role_in_the_workgroup() -> None:
    # dbt-redshift 1.11: method iam_role asks redshift_connector for IAM credentials of the serverless
    # workgroup (no db_user: the role's identity), so the profile needs neither user nor password.
    from dbt.adapters.redshift.connections import RedshiftConnectionMethod

    profile = yaml.safe_load((sales_project.project_dir / "profiles.yml").read_text())
    redshift = profile["sales"]["outputs"]["redshift"]
    assert redshift["method"] == RedshiftConnectionMethod.IAM_ROLE.value == "iam_role"
    assert redshift["is_serverless"] is True
    assert "WAREHOUSE_WORKGROUP" in redshift["serverless_work_group"]
    assert not {"user", "password"} & set(redshift)
