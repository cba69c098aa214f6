"""Reading a model back: each warehouse target logs in as the platform provides (AWS: IAM, local: password)."""

from typing import Any

import pytest
from sales_user_code import warehouse


class FakeServerless:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def get_credentials(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"dbUser": "IAMR:dp-dev-sales-domain", "dbPassword": "temporary"}


def test_redshift_reads_with_temporary_credentials_of_the_pods_role(monkeypatch: pytest.MonkeyPatch) -> None:
    serverless = FakeServerless()
    clients: list[tuple[str, str]] = []

    def client(service: str, region_name: str) -> FakeServerless:
        clients.append((service, region_name))
        return serverless

    connected: dict[str, Any] = {}

    def connect(**kwargs: Any) -> Any:
        connected.update(kwargs)
        raise ConnectionRefusedError("stop here: no Redshift in tests")

    monkeypatch.setattr(warehouse.boto3, "client", client)
    monkeypatch.setattr(warehouse.psycopg2, "connect", connect)
    for name, value in {
        "DBT_TARGET": "redshift",
        "WAREHOUSE_HOST": "dp-dev-sales.123456789012.eu-west-1.redshift-serverless.amazonaws.com",
        "WAREHOUSE_DB": "analytics",
        "WAREHOUSE_WORKGROUP": "dp-dev-sales",
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WAREHOUSE_USER", raising=False)
    monkeypatch.delenv("WAREHOUSE_PASSWORD", raising=False)

    with pytest.raises(ConnectionRefusedError):
        warehouse.read_table("sales", "orders_daily")
    assert clients == [("redshift-serverless", "eu-west-1")]
    assert serverless.calls == [{"workgroupName": "dp-dev-sales", "dbName": "analytics"}]
    assert (connected["user"], connected["password"]) == ("IAMR:dp-dev-sales-domain", "temporary")
    assert (connected["port"], connected["sslmode"]) == (5439, "require")
