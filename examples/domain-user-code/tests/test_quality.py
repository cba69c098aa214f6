"""The Great Expectations suite through the kit (catalog off): passes on good data, fails on a crafted bad row,
renders Data Docs."""

from pathlib import Path

import pandas as pd
from dataplatform_kit import QualitySettings, Table
from dataplatform_kit.validation import validate
from great_expectations.core import ExpectationSuiteValidationResult
from sales_user_code.quality import orders_daily_suite

GOOD = pd.DataFrame(
    {
        "order_date": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-03"]),
        "order_count": [5, 3, 1],
        "total_amount": [817.28, 0.0, 12.5],
    }
)


def validate_orders_daily(frame: pd.DataFrame, docs_dir: Path) -> ExpectationSuiteValidationResult:
    settings = QualitySettings(catalog=False)
    return validate(
        frame, orders_daily_suite(), table=Table("sales", "orders_daily"), docs_dir=docs_dir, settings=settings
    ).result


def failed_expectations(frame: pd.DataFrame, docs_dir: Path) -> list[tuple[str, str]]:
    result = validate_orders_daily(frame, docs_dir)
    assert result.statistics["evaluated_expectations"] == 5
    return sorted(
        (r.expectation_config.type, r.expectation_config.kwargs["column"])
        for r in result.results
        if not r.success and r.expectation_config is not None
    )


def test_suite_passes_on_good_data_and_renders_data_docs(tmp_path: Path) -> None:
    assert failed_expectations(GOOD, tmp_path) == []
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "expectations" / "sales" / "orders_daily.html").is_file()
    assert len(list((tmp_path / "validations").rglob("*.html"))) == 1


def test_suite_fails_on_a_bad_row(tmp_path: Path) -> None:
    # A second row for an existing day, with no orders and negative revenue.
    bad_row = pd.DataFrame({"order_date": pd.to_datetime(["2026-03-01"]), "order_count": [0], "total_amount": [-5.0]})

    assert failed_expectations(pd.concat([GOOD, bad_row], ignore_index=True), tmp_path) == [
        ("expect_column_values_to_be_between", "order_count"),
        ("expect_column_values_to_be_between", "total_amount"),
        ("expect_column_values_to_be_unique", "order_date"),
    ]


def test_suite_fails_on_missing_values(tmp_path: Path) -> None:
    missing = GOOD.astype({"total_amount": "object"})
    missing.loc[1, ["order_date", "total_amount"]] = [pd.NaT, None]

    assert failed_expectations(missing, tmp_path) == [
        ("expect_column_values_to_not_be_null", "order_date"),
        ("expect_column_values_to_not_be_null", "total_amount"),
    ]
