"""gx_check in a Dagster run: a failed error check blocks downstream assets; warnings only report."""

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance, ExecuteInProcessResult
from dataplatform_kit import QualitySettings
from dataplatform_kit.checks import gx_check
from defs import build
from suites import BAD, GOOD, orders_suite

NO_CATALOG = QualitySettings(catalog=False, domain="sales")


def run(settings: QualitySettings, severity: str, data: pd.DataFrame, tmp_path: Path) -> ExecuteInProcessResult:
    defs = build(settings, severity, data, tmp_path / "lake")
    return defs.resolve_job_def("daily").execute_in_process(instance=DagsterInstance.ephemeral(), raise_on_error=False)


def materialized(result: ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_failed_error_check_blocks_downstream(tmp_path: Path) -> None:
    result = run(NO_CATALOG, "error", BAD, tmp_path)

    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    assert materialized(result) == {"orders"}
    assert not result.success


def test_passing_error_check_lets_downstream_run(tmp_path: Path) -> None:
    result = run(NO_CATALOG, "error", GOOD, tmp_path)

    assert result.success
    assert materialized(result) == {"orders", "published_orders"}
    (check,) = result.get_asset_check_evaluations()
    # Data Docs went to the docs resource and are linked from the check.
    assert check.metadata["data_docs"].value == (tmp_path / "lake" / "docs" / "index.html").as_uri()
    assert (tmp_path / "lake" / "docs" / "index.html").is_file()


def test_failed_warning_check_only_reports(tmp_path: Path) -> None:
    result = run(NO_CATALOG, "warning", BAD, tmp_path)

    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == AssetCheckSeverity.WARN
    assert materialized(result) == {"orders", "published_orders"}


@pytest.mark.parametrize(
    ("block_on", "severity", "blocking"),
    [
        ("error", "error", True),
        ("error", "warning", False),
        ("warning", "warning", True),
        ("warning", "error", True),
        ("none", "error", False),
    ],
)
def test_domain_policy_decides_what_blocks(block_on: str, severity: str, blocking: bool) -> None:
    check = gx_check(
        AssetKey("orders"),
        orders_suite(),
        load=lambda: GOOD,
        table=("sales", "orders"),
        severity=severity,  # type: ignore[arg-type]
        settings=QualitySettings(block_on=block_on),  # type: ignore[arg-type]
    )

    (spec,) = check.check_specs
    assert spec.blocking is blocking


def test_none_policy_lets_a_failed_error_check_pass_through(tmp_path: Path) -> None:
    result = run(QualitySettings(catalog=False, block_on="none"), "error", BAD, tmp_path)

    assert materialized(result) == {"orders", "published_orders"}


def test_policy_comes_from_the_platform_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALITY_BLOCK_ON", "none")
    check = gx_check(AssetKey("orders"), orders_suite(), load=lambda: GOOD, table=("sales", "orders"))

    assert check.check_specs and not next(iter(check.check_specs)).blocking
    monkeypatch.setenv("QUALITY_BLOCK_ON", "sometimes")
    with pytest.raises(ValueError, match="QUALITY_BLOCK_ON='sometimes'"):
        gx_check(AssetKey("orders"), orders_suite(), load=lambda: GOOD, table=("sales", "orders"))
