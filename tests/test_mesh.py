"""The whole program over a mesh the samples do not cover: a third producer, and a domain that publishes
nothing but consumes from two producers. Each case failed to be noticed by the sample-based tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Program, program_for
from tests.test_domain_stack import STACKS, owned, sample, write_domains

PRODUCERS = {"sales": "orders", "finance": "ledger"}
CONSUMER = "ops"


@pytest.fixture(scope="module")
def mesh_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    finance = sample("sales") | {
        "name": "finance",
        "products": [{"name": "ledger", "description": "General ledger.", "prefix": "curated/ledger/"}],
    }
    ops = sample("marketing") | {"name": "ops", "consumes": ["sales.orders", "finance.ledger"]}
    ops.pop("products")
    return write_domains(
        tmp_path_factory.mktemp("mesh") / "domains", {"sales": sample("sales"), "finance": finance, CONSUMER: ops}
    )


@pytest.fixture(scope="module")
def mesh(mesh_dir: Path) -> Program:
    return program_for("dev", domains_dir=mesh_dir)


def _statements(program: Program, domain: str) -> list[dict[str, Any]]:
    (policy,) = [
        r for r in owned(program, domain) if r.type == "aws:iam/rolePolicy:RolePolicy" and r.name == f"{domain}-domain"
    ]
    return json.loads(policy.inputs["policy"])["Statement"]


def _own_bucket(program: Program, domain: str) -> str:
    return next(st["Resource"] for st in _statements(program, domain) if st["Sid"] == "OwnBucketList")


def test_a_domain_without_products_is_registered_in_the_catalog(mesh: Program) -> None:
    mine = owned(mesh, CONSUMER)
    (configmap,) = [
        r
        for r in mine
        if r.type == "kubernetes:core/v1:ConfigMap" and r.inputs["metadata"]["name"].startswith("datahub-registration-")
    ]
    proposals = json.loads(configmap.inputs["data"]["proposals.json"])
    assert {p["entityUrn"] for p in proposals} == {f"urn:li:domain:{CONSUMER}"}
    props = next(p for p in proposals if p["aspectName"] == "domainProperties")["aspect"]["customProperties"]
    assert props["consumes"] == "finance.ledger, sales.orders"
    jobs = [r for r in mine if r.type == "kubernetes:batch/v1:Job"]
    assert any(r.inputs["metadata"]["name"].startswith("datahub-register-") for r in jobs)


def test_each_grant_reaches_its_own_producers_bucket(mesh: Program) -> None:
    buckets = {producer: _own_bucket(mesh, producer) for producer in PRODUCERS}
    assert len(set(buckets.values())) == len(PRODUCERS)
    consumed = [st for st in _statements(mesh, CONSUMER) if st["Sid"].startswith("Consume")]
    assert len(consumed) == 2 * len(PRODUCERS)
    for producer, product in PRODUCERS.items():
        listing = [st for st in consumed if st["Action"] == "s3:ListBucket" and st["Resource"] == buckets[producer]]
        assert [st["Condition"]["StringLike"]["s3:prefix"][0] for st in listing] == [f"curated/{product}/"]
        reads = [st["Resource"] for st in consumed if st["Action"] == "s3:GetObject"]
        assert f"{buckets[producer]}/curated/{product}/*" in reads
    other = {"sales": "finance", "finance": "sales"}
    for producer, product in PRODUCERS.items():
        wrong = f"{buckets[other[producer]]}/curated/{product}/*"
        assert all(st["Resource"] != wrong for st in consumed), f"{product} is granted on the {other[producer]} bucket"


# Pods of these call the Kubernetes API: Dagster's run launcher and Airbyte's workload launcher create Jobs and
# pods, and Dagster's user code launches step pods. Every other domain ServiceAccount gets no token.
API_CALLERS = {"dagster", "airbyte", "dagster-user-code"}


@pytest.mark.parametrize("stack", STACKS)
def test_only_api_callers_automount_a_token_in_domain_namespaces(stack: str) -> None:
    program = program_for(stack)
    for domain in ("sales", "marketing"):
        accounts = {
            r.inputs["metadata"]["name"]: r.inputs.get("automountServiceAccountToken")
            for r in owned(program, domain)
            if r.type == "kubernetes:core/v1:ServiceAccount"
        }
        assert len(accounts) > len(API_CALLERS), accounts
        assert {name for name, mount in accounts.items() if mount is not False} == API_CALLERS, (domain, accounts)
