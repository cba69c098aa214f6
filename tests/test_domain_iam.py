"""The domain role's IAM documents: scoped to the domain, least privilege, parliament-clean."""

from __future__ import annotations

import json

import parliament

from components.aws.identity import domain_role_policy, pod_identity_trust_policy
from components.interfaces import ProductGrant

OWN = "arn:aws:s3:::dp-dev-domain-marketing-1a2b3c4d"
SALES = "arn:aws:s3:::dp-dev-domain-sales-1a2b3c4d"
FINANCE = "arn:aws:s3:::dp-dev-domain-finance-1a2b3c4d"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-0000-4000-8000-000000000000"
WORKGROUP = "arn:aws:redshift-serverless:eu-west-1:123456789012:workgroup/1234abcd-0000-4000-8000-000000000000"


def _policy(grants: list[tuple[ProductGrant, str]] | None = None) -> dict:
    return domain_role_policy(bucket_arn=OWN, kms_key_arn=KEY, workgroup_arn=WORKGROUP, grants=grants or [])


def _resources(doc: dict) -> set[str]:
    out: set[str] = set()
    for st in doc["Statement"]:
        res = st["Resource"]
        out.update([res] if isinstance(res, str) else res)
    return out


def test_own_bucket_key_and_warehouse_only() -> None:
    doc = _policy()
    assert _resources(doc) == {OWN, f"{OWN}/*", KEY, WORKGROUP}
    for st in doc["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        assert all("*" not in a for a in actions), st
        assert st["Effect"] == "Allow"


def test_another_domains_bucket_is_not_reachable_without_a_grant() -> None:
    assert not any(SALES in r for r in _resources(_policy()))


def test_grant_is_read_only_and_limited_to_the_product_prefix() -> None:
    doc = _policy([(ProductGrant("sales", "orders", "curated/orders/"), SALES)])
    consumed = [st for st in doc["Statement"] if st["Sid"].startswith("Consume")]
    assert len(consumed) == 2
    listing = next(st for st in consumed if st["Action"] == "s3:ListBucket")
    assert listing["Resource"] == SALES
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["curated/orders/", "curated/orders/*"]}}
    read = next(st for st in consumed if st["Action"] == "s3:GetObject")
    assert read["Resource"] == f"{SALES}/curated/orders/*"
    assert not any(FINANCE in r for r in _resources(doc))


def test_grants_are_ordered_independently_of_input_order() -> None:
    a = (ProductGrant("sales", "orders", "curated/orders/"), SALES)
    b = (ProductGrant("finance", "ledger", "curated/ledger/"), FINANCE)
    assert _policy([a, b]) == _policy([b, a])


def test_parliament_finds_nothing() -> None:
    doc = _policy([(ProductGrant("sales", "orders", "curated/orders/"), SALES)])
    findings = parliament.analyze_policy_string(json.dumps(doc)).findings
    assert findings == []


def test_trust_is_pod_identity_for_the_domain_namespace_only() -> None:
    doc = pod_identity_trust_policy(account_id="123456789012", cluster_name="dp-dev", namespace="sales")
    (st,) = doc["Statement"]
    assert st["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert st["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert st["Condition"]["StringEquals"] == {
        "aws:SourceAccount": "123456789012",
        "aws:RequestTag/eks-cluster-name": "dp-dev",
        "aws:RequestTag/kubernetes-namespace": "sales",
    }
