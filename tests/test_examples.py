"""Example values: the offline tools run on them; a real run of an aws stack stops before any resource."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import grpc
import pytest
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import resource_pb2_grpc

from components import examples
from components.config import parse_stack_config
from components.domain_config import load_domains
from components.validation import ConfigError
from tests.harness import PROJECT_DIR, program_for, run_function, stack_config

REAL_INGRESS = {
    "baseDomain": "data.acme-corp.io",
    "hostedZoneId": "Z04512345ABCDEFGHIJK",
    "certificateArn": "arn:aws:acm:eu-west-1:210987654321:certificate/1f0c5a8e-2b3d-4c5e-8f90-123456789abc",
}


REAL_IDENTITY = {
    "provider": "oidc",
    "issuerUrl": "https://login.microsoftonline.com/5d8c2e71-9a4b-4f3e-b1a2-7c6d5e4f3a21/v2.0",
    "clientId": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    "clientSecretArn": "arn:aws:secretsmanager:eu-west-1:210987654321:secret:dataplatform/prod/oidc-Xy12Zw",
}


def _config(stack: str, **overrides: Any):
    raw = {k.split(":", 1)[1]: v for k, v in stack_config(stack).items()}
    parsed = {k: json.loads(v) if v[:1] in "{[" else v for k, v in raw.items()}
    return parse_stack_config({**parsed, **overrides})


def _domains(stack: str):
    return load_domains(PROJECT_DIR / "domains", stack=stack)


def _real_cluster(stack: str) -> dict[str, Any]:
    cluster = json.loads(stack_config(stack)["dataplatform:cluster"])
    return {
        **cluster,
        "adminPrincipals": ["arn:aws:iam::210987654321:role/PlatformAdmin"],
        "publicAccessCidrs": ["198.18.7.0/24"],
    }


EXPECTED_DEV = [
    "dataplatform:cluster.adminPrincipals[0]",
    "dataplatform:cluster.publicAccessCidrs[0]",
    "dataplatform:ingress.baseDomain",
    "dataplatform:ingress.certificateArn",
    "dataplatform:ingress.hostedZoneId",
    "dataplatform:identity.issuerUrl",
    "dataplatform:identity.clientId",
    "dataplatform:identity.clientSecretArn",
    "dataplatform:notebooks.image.repository",
    "domains/marketing.yaml: tools.dagster.image.repository",
    "domains/sales.yaml: tools.dagster.image.repository",
]


def _keys_of(problems: list[str]) -> list[str]:
    out = []
    for p in problems:
        if p.startswith("domains/"):
            file, rest = p.split(": ", 1)
            out.append(f"{file}: {rest.split(': ', 1)[0]}")
        else:
            out.append(p.split(": ", 1)[0])
    return out


def test_the_shipped_stack_files_hold_examples_and_each_is_named() -> None:
    assert _keys_of(examples.example_value_problems(_config("dev"), _domains("dev"))) == EXPECTED_DEV
    assert _keys_of(examples.example_value_problems(_config("prod"), _domains("prod"))) == EXPECTED_DEV


def test_the_offline_tools_run_on_the_examples() -> None:
    # The harness (and `platformctl plan`) run the program under mocks: the guard lets the examples through.
    program = program_for("dev")
    assert program.of_type("aws:eks/cluster:Cluster")


def test_real_values_raise_nothing() -> None:
    config = _config(
        "prod",
        ingress=REAL_INGRESS,
        cluster=_real_cluster("prod"),
        identity=REAL_IDENTITY,
        notebooks={"image": {"repository": "123456789.dkr.ecr.eu-west-1.amazonaws.com/sandbox-notebook", "tag": "1"}},
    )
    real_image = [
        d.model_copy(
            update={
                "tools": d.tools.model_copy(
                    update={
                        "dagster": d.tools.dagster.model_copy(
                            update={
                                "image": d.tools.dagster.image.model_copy(
                                    update={"repository": f"123456789.dkr.ecr.eu-west-1.amazonaws.com/{d.name}"}
                                )
                            }
                        )
                    }
                )
            }
        )
        for d in _domains("prod")
        if d.tools.dagster.image is not None
    ]
    assert examples.example_value_problems(config, real_image) == []


def test_the_mock_monitor_is_told_apart_from_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    run_function(lambda: seen.append(examples.running_under_mocks()), "dev")
    assert seen == [True]
    # Under the engine the monitor is a gRPC stub (no connection is made until a call).
    with grpc.insecure_channel("127.0.0.1:1") as channel:
        monkeypatch.setattr(runtime_settings, "get_monitor", lambda: resource_pb2_grpc.ResourceMonitorStub(channel))
        assert examples.running_under_mocks() is False


def test_a_real_run_with_examples_stops_before_the_first_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(examples, "running_under_mocks", lambda: False)
    raised: list[ConfigError] = []

    def program() -> None:
        try:
            runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")
        except ConfigError as exc:
            raised.append(exc)

    result = run_function(program, "dev")
    assert len(raised) == 1, "a real run on the example values must stop"
    assert _keys_of(raised[0].problems) == EXPECTED_DEV
    assert "example values" in str(raised[0])
    assert result.resources == []


def test_the_local_stack_runs_on_its_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(examples, "running_under_mocks", lambda: False)
    examples.refuse_example_values(_config("local"), _domains("local"), Path(PROJECT_DIR / "domains"))


@pytest.mark.parametrize(
    ("cidr", "documentation"),
    [("203.0.113.0/24", True), ("203.0.113.128/25", True), ("192.0.2.0/24", True), ("198.18.7.0/24", False)],
)
def test_documentation_cidrs(cidr: str, documentation: bool) -> None:
    assert examples._is_documentation_cidr(cidr) is documentation


def test_a_retired_domain_runs_no_image_so_its_example_image_is_not_named() -> None:
    retired = [d.model_copy(update={"retired": True}) if d.name == "sales" else d for d in _domains("dev")]
    keys = _keys_of(examples.example_value_problems(_config("dev"), retired))
    assert "domains/sales.yaml: tools.dagster.image.repository" not in keys
    assert "domains/marketing.yaml: tools.dagster.image.repository" in keys


def test_the_example_notebook_image_is_refused_only_where_a_domain_runs_the_sandbox() -> None:
    config = _config("dev")
    problems = examples.example_value_problems(config, _domains("dev"))
    (line,) = [p for p in problems if p.startswith("dataplatform:notebooks.image.repository")]
    assert "images/sandbox-notebook" in line
    without = [
        d.model_copy(
            update={
                "tools": d.tools.model_copy(update={"sandbox": d.tools.sandbox.model_copy(update={"enabled": False})})
            }
        )
        for d in _domains("dev")
    ]
    assert not any(p.startswith("dataplatform:notebooks") for p in examples.example_value_problems(config, without))
