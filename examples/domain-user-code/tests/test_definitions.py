"""The code location: loads, and its scheduled job materializes the dbt assets and runs every check in-process."""

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, Definitions, ExecuteInProcessResult

EXPECTED_ASSETS = {AssetKey("raw_orders"), AssetKey("stg_orders"), AssetKey("orders_daily")}


@pytest.fixture(scope="module")
def run(defs: Definitions) -> ExecuteInProcessResult:
    return defs.resolve_job_def("sales_daily").execute_in_process()


def test_code_location_loads(defs: Definitions) -> None:
    from sales_user_code.definitions import sales_dbt_assets

    Definitions.validate_loadable(defs)
    assert set(sales_dbt_assets.keys) == EXPECTED_ASSETS
    schedule = defs.get_schedule_def("sales_daily_schedule")
    assert (schedule.job_name, schedule.cron_schedule, schedule.execution_timezone) == (
        "sales_daily",
        "0 6 * * *",
        "UTC",
    )


def test_scheduled_job_materializes_dbt_assets_and_passes_checks(run: ExecuteInProcessResult) -> None:
    assert run.success
    assert {e.asset_key for e in run.get_asset_materialization_events()} == EXPECTED_ASSETS
    checks = {e.check_name: e for e in run.get_asset_check_evaluations()}
    # 7 dbt data tests, mapped to asset checks by dagster-dbt, plus the GX suite.
    assert len(checks) == 8
    assert all(check.passed for check in checks.values())
    assert checks["gx_suite"].metadata["rows"].value == 7


def test_job_publishes_dbt_artifacts_and_data_docs_to_the_lake(run: ExecuteInProcessResult, workdir: Path) -> None:
    lake = workdir / "lake"
    artifacts = lake / "dbt" / "artifacts"
    assert {p.name for p in artifacts.iterdir()} == {"manifest.json", "run_results.json", "catalog.json"}
    # run_results.json is the build's, not the one `docs generate` writes afterwards.
    assert json.loads((artifacts / "run_results.json").read_text())["args"]["which"] == "build"
    assert "model.sales.orders_daily" in json.loads((artifacts / "catalog.json").read_text())["nodes"]
    assert (lake / "docs" / "index.html").is_file()
    assert list((lake / "docs" / "validations").rglob("*.html"))


def test_gx_check_fails_on_a_bad_row_in_the_warehouse(
    run: ExecuteInProcessResult, workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sales_user_code.definitions import orders_daily_gx_suite
    from sales_user_code.lake import LakeResource

    # A copy, so the job's warehouse stays clean for other tests.
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(workdir / "warehouse.duckdb", warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into sales.orders_daily values (date '2026-03-02', 0, -5.00)")
    monkeypatch.setenv("DUCKDB_PATH", str(warehouse))

    result = orders_daily_gx_suite(lake=LakeResource(local_dir=str(tmp_path / "lake")))

    assert not result.passed
    assert sorted(result.metadata["failed_expectations"].value) == [
        "expect_column_values_to_be_between(order_count)",
        "expect_column_values_to_be_between(total_amount)",
        "expect_column_values_to_be_unique(order_date)",
    ]


def test_the_dbt_project_dir_comes_from_the_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import sales_user_code.project as project

    elsewhere = tmp_path / "dbt"
    shutil.copytree(project.sales_project.project_dir, elsewhere, ignore=shutil.ignore_patterns("target"))
    monkeypatch.setenv("DBT_PROJECT_DIR", str(elsewhere))
    try:
        assert importlib.reload(project).sales_project.project_dir == elsewhere
    finally:
        monkeypatch.delenv("DBT_PROJECT_DIR")
        importlib.reload(project)
