"""The code location: loads, its scheduled job materializes the dbt assets and the product and runs every check
in-process, and a failing GX check blocks the product and alerts the owners."""

import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    DefaultSensorStatus,
    Definitions,
    ExecuteInProcessResult,
    build_sensor_context,
)

EXPECTED_ASSETS = {AssetKey("raw_orders"), AssetKey("stg_orders"), AssetKey("orders_daily")}
PRODUCT = AssetKey("daily_revenue")


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
    # The platform's alert sensor runs without anyone turning it on.
    assert defs.get_sensor_def("quality_alerts").default_status == DefaultSensorStatus.RUNNING
    (gx_spec,) = [s for s in defs.resolve_asset_graph().asset_check_keys if s.name == "gx_suite"]
    assert gx_spec.asset_key == AssetKey("orders_daily")


def test_scheduled_job_materializes_dbt_assets_and_passes_checks(run: ExecuteInProcessResult) -> None:
    assert run.success
    assert {e.asset_key for e in run.get_asset_materialization_events()} == EXPECTED_ASSETS | {PRODUCT}
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
    assert (lake / "curated" / "daily-revenue" / "orders_daily.csv").read_text().count("\n") == 8  # header + 7 days


@pytest.fixture
def bad_seed() -> Iterator[None]:
    """One bad order in the seed for this test: a completed order with a negative amount; restored after.

    The seed file itself, because the dbt assets run in the project they were defined with.
    """
    from sales_user_code.project import sales_project

    seed = sales_project.project_dir / "seeds" / "raw_orders.csv"
    original = seed.read_bytes()
    seed.write_bytes(original + b"9999,1,2026-04-01,completed,-50.00\n")
    try:
        yield
    finally:
        seed.write_bytes(original)


def test_failed_gx_check_blocks_the_product_and_alerts_the_owners(
    defs: Definitions, bad_seed: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sales_user_code.definitions import DAILY_REVENUE_KEY
    from sales_user_code.lake import LakeResource

    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    lake = tmp_path / "lake"
    instance = DagsterInstance.ephemeral()

    run = defs.resolve_job_def("sales_daily").execute_in_process(
        instance=instance, raise_on_error=False, resources={"lake": LakeResource(local_dir=str(lake))}
    )

    checks = {e.check_name: e for e in run.get_asset_check_evaluations()}
    gx = checks.pop("gx_suite")
    assert not gx.passed and gx.severity == AssetCheckSeverity.ERROR
    assert gx.metadata["failed_expectations"].value == ["expect_column_values_to_be_between(total_amount)"]
    assert all(check.passed for check in checks.values())  # dbt's tests do not look at amounts' sign
    # The dbt models were built, the product was not: the check blocked it.
    assert {e.asset_key for e in run.get_asset_materialization_events()} == EXPECTED_ASSETS
    assert not (lake / DAILY_REVENUE_KEY).exists()
    assert (lake / "docs" / "index.html").is_file()

    # The sensor on check results alerts the owners through the Slack webhook (a local stand-in here).
    with webhook_stand_in() as (url, received):
        monkeypatch.setenv("QUALITY_ALERT_CHANNEL", "slack")
        monkeypatch.setenv("QUALITY_SLACK_WEBHOOK_URL", url)
        monkeypatch.setenv("QUALITY_DOMAIN", "sales")
        defs.get_sensor_def("quality_alerts").evaluate_tick(build_sensor_context(instance=instance))
    (alert,) = received
    assert alert["text"].startswith("[sales] quality check failed: orders_daily / gx_suite")
    assert "expect_column_values_to_be_between(total_amount)" in alert["text"]


@contextmanager
def webhook_stand_in() -> Iterator[tuple[str, list[dict]]]:
    """A Slack incoming-webhook stand-in on 127.0.0.1 that keeps every JSON body it receives."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/X", received
    finally:
        server.shutdown()
        server.server_close()


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
