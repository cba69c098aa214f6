"""The DataHub push: the token comes from the mounted file on every call, so a rotation needs no restart."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from dagster import DagsterInstance, build_run_status_sensor_context, job, op
from sales_user_code import catalog


class Gms(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Gms.received.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gms(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    Gms.received = []
    server = HTTPServer(("127.0.0.1", 0), Gms)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = tmp_path / "datahub" / "token"
    token.parent.mkdir()
    monkeypatch.setenv("DATAHUB_GMS_URL", f"http://127.0.0.1:{server.server_port}/")
    monkeypatch.setenv("DATAHUB_GMS_TOKEN_FILE", str(token))
    yield token
    server.shutdown()


def test_each_call_reads_the_token_file_again(gms: Path) -> None:
    gms.write_text("token-week-1\n")
    catalog.push(catalog.run_proposal("sales_daily", "run-1", "SUCCESS"))
    # The issuer rotates the Secret; kubelet rewrites the mounted file in the running pod.
    gms.write_text("token-week-2\n")
    catalog.push(catalog.run_proposal("sales_daily", "run-2", "SUCCESS"))
    assert [r["auth"] for r in Gms.received] == ["Bearer token-week-1", "Bearer token-week-2"]
    first = Gms.received[0]
    assert first["path"] == "/aspects?action=ingestProposal"
    assert first["body"]["proposal"]["entityUrn"] == "urn:li:dataFlow:(dagster,sales.sales_daily,PROD)"
    assert json.loads(first["body"]["proposal"]["aspect"]["value"])["customProperties"] == {
        "lastRunId": "run-1",
        "lastRunStatus": "SUCCESS",
    }


def test_a_missing_or_empty_token_is_a_clear_error(gms: Path) -> None:
    with pytest.raises(catalog.CatalogUnavailableError, match="does not exist yet"):
        catalog.gms_token()
    gms.write_text("\n")
    with pytest.raises(catalog.CatalogUnavailableError, match="is empty"):
        catalog.gms_token()


def test_sensors_exist_only_when_the_platform_connects_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATAHUB_GMS_URL", raising=False)
    assert catalog.catalog_sensors() == []
    monkeypatch.setenv("DATAHUB_GMS_URL", "http://gms:8080")
    assert sorted(s.name for s in catalog.catalog_sensors()) == ["datahub_run_failure", "datahub_run_success"]


@op
def noop() -> None:
    pass


@job
def tiny() -> None:
    noop()


def test_the_success_sensor_pushes_the_finished_run(gms: Path) -> None:
    gms.write_text("current-token")
    [success] = [s for s in catalog.catalog_sensors() if s.name == "datahub_run_success"]
    with DagsterInstance.ephemeral() as instance:
        result = tiny.execute_in_process(instance=instance)
        context = build_run_status_sensor_context(
            sensor_name=success.name,
            dagster_event=result.get_run_success_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        )
        success(context)
    [pushed] = Gms.received
    assert pushed["auth"] == "Bearer current-token"
    value = json.loads(pushed["body"]["proposal"]["aspect"]["value"])
    assert value["customProperties"] == {"lastRunId": result.run_id, "lastRunStatus": "SUCCESS"}
