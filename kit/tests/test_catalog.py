"""The real GX checkpoint with the real DataHub action (datahub_gx_plugin.action_v1) against a GMS stand-in."""

from pathlib import Path

import pytest
from dataplatform_kit.settings import QualitySettings
from dataplatform_kit.validation import Table, validate
from standins import StandIn
from suites import BAD, GOOD, orders_suite

TABLE = Table("sales", "orders_daily")
URN = "urn:li:dataset:(urn:li:dataPlatform:postgres,sales.sales.orders_daily,PROD)"
INGEST = "/aspects?action=ingestProposal"


def settings(gms: StandIn, **overrides) -> QualitySettings:
    return QualitySettings(
        gms_url=gms.url, dataset_platform="postgres", dataset_database="sales", domain="sales", **overrides
    )


@pytest.fixture
def token_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "token"
    path.write_text("domain-token-1\n")
    monkeypatch.setenv("DATAHUB_GMS_TOKEN_FILE", str(path))
    monkeypatch.setenv("DATAHUB_GMS_TOKEN", "stale-env-token")
    return path


def by_aspect(gms: StandIn, aspect: str) -> dict[str, dict]:
    return {p["entityUrn"]: p["aspect"] for p in gms.proposals() if p["aspectName"] == aspect}


def test_passing_suite_publishes_assertions_and_successful_run_events(
    gms: StandIn, token_file: Path, tmp_path: Path
) -> None:
    outcome = validate(GOOD, orders_suite(), table=TABLE, docs_dir=tmp_path / "docs", settings=settings(gms))

    assert outcome.result.success
    assert outcome.catalog == "DataHub notification succeeded"
    assert {r.path for r in gms.requests} == {INGEST}
    assert {r.headers["Authorization"] for r in gms.requests} == {"Bearer domain-token-1"}
    infos, events = by_aspect(gms, "assertionInfo"), by_aspect(gms, "assertionRunEvent")
    # One assertion per expectation, each on the table's dataset, each with a run event.
    assert len(infos) == 3 and set(events) == set(infos)
    assert {info["customAssertion"]["entity"] for info in infos.values()} == {URN}
    assert {info["customProperties"]["expectation_suite_name"] for info in infos.values()} == {"sales.orders_daily"}
    assert {e["asserteeUrn"] for e in events.values()} == {URN}
    assert {(e["status"], e["result"]["type"]) for e in events.values()} == {("COMPLETE", "SUCCESS")}
    assert {p["aspect"]["platform"] for p in gms.proposals() if p["aspectName"] == "dataPlatformInstance"} == {
        "urn:li:dataPlatform:great-expectations"
    }
    assert (tmp_path / "docs" / "index.html").is_file()


def test_failing_suite_publishes_failures_for_the_failed_expectations(
    gms: StandIn, token_file: Path, tmp_path: Path
) -> None:
    outcome = validate(BAD, orders_suite(), table=TABLE, docs_dir=tmp_path / "docs", settings=settings(gms))

    assert not outcome.result.success
    assert sorted(outcome.failed_expectations) == [
        "expect_column_values_to_be_between(order_count)",
        "expect_column_values_to_be_unique(order_date)",
    ]
    infos, events = by_aspect(gms, "assertionInfo"), by_aspect(gms, "assertionRunEvent")
    results = {
        (infos[urn]["customAssertion"]["nativeType"], infos[urn]["customAssertion"]["nativeParameters"]["column"]): e[
            "result"
        ]["type"]
        for urn, e in events.items()
    }
    assert results == {
        ("expect_column_values_to_not_be_null", "order_date"): "SUCCESS",
        ("expect_column_values_to_be_unique", "order_date"): "FAILURE",
        ("expect_column_values_to_be_between", "order_count"): "FAILURE",
    }
    assert {e["asserteeUrn"] for e in events.values()} == {URN}
    assert {info["customAssertion"]["field"] for info in infos.values()} == {
        f"urn:li:schemaField:({URN},order_date)",
        f"urn:li:schemaField:({URN},order_count)",
    }


def test_token_file_is_read_on_every_run(gms: StandIn, token_file: Path, tmp_path: Path) -> None:
    validate(GOOD, orders_suite(), table=TABLE, docs_dir=tmp_path / "a", settings=settings(gms))
    token_file.write_text("domain-token-2\n")  # the platform rotated the token
    validate(GOOD, orders_suite(), table=TABLE, docs_dir=tmp_path / "b", settings=settings(gms))

    tokens = [r.headers["Authorization"] for r in gms.requests]
    assert tokens[0] == "Bearer domain-token-1" and tokens[-1] == "Bearer domain-token-2"


def test_env_token_is_the_fallback(gms: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAHUB_GMS_TOKEN", "env-token")

    validate(GOOD, orders_suite(), table=TABLE, docs_dir=tmp_path, settings=settings(gms))

    assert {r.headers["Authorization"] for r in gms.requests} == {"Bearer env-token"}


def test_catalog_off_sends_nothing(gms: StandIn, token_file: Path, tmp_path: Path) -> None:
    outcome = validate(BAD, orders_suite(), table=TABLE, docs_dir=tmp_path, settings=settings(gms, catalog=False))

    assert gms.requests == [] and outcome.catalog is None
    assert not outcome.result.success


def test_catalog_refusal_does_not_fail_the_check(gms: StandIn, token_file: Path, tmp_path: Path) -> None:
    gms.status = 401  # e.g. an expired token; 5xx answers are retried by the emitter first

    outcome = validate(
        GOOD,
        orders_suite(),
        table=TABLE,
        docs_dir=tmp_path,
        settings=settings(gms),
    )

    assert outcome.result.success
    assert outcome.catalog == "DataHub notification failed"
