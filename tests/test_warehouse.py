"""Warehouse under mocks: private, TLS-only, customer-key encrypted, reachable only from given SGs."""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.aws.warehouse import PORT, Warehouse, WarehouseArgs
from tests.harness import Program, Resource, Secret, run_function

KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
ALLOWED = ["sg-cluster", "sg-bastion"]
NAMESPACE = "aws:redshiftserverless/namespace:Namespace"
WORKGROUP = "aws:redshiftserverless/workgroup:Workgroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def _args(**overrides: Any) -> WarehouseArgs:
    values: dict[str, Any] = {
        "name": "dp-dev-sales",
        "kms_key_arn": KEY,
        "vpc_id": "vpc-123",
        "subnet_ids": ["subnet-a", "subnet-b", "subnet-c"],
        "allowed_security_group_ids": ALLOWED,
        "base_capacity": 32,
        "tags": {"domain": "sales"},
        "protect": False,
        "retain": False,
    }
    return WarehouseArgs(**(values | overrides))


def _warehouse(args: WarehouseArgs) -> Program:
    def fn() -> None:
        provider = aws.Provider("aws", region="eu-west-1")
        w = Warehouse("sales-warehouse", args, opts=pulumi.ResourceOptions(providers=[provider]))
        for attr in (
            "namespace_name",
            "workgroup_name",
            "endpoint",
            "admin_secret_arn",
            "namespace_arn",
            "workgroup_arn",
        ):
            pulumi.export(attr, getattr(w, attr))
        pulumi.export("port", w.port)
        pulumi.export("security_group_id", w.security_group_id)

    return run_function(fn, "dev")


@pytest.fixture(scope="module")
def dev() -> Program:
    return _warehouse(_args())


@pytest.fixture(scope="module")
def prod() -> Program:
    return _warehouse(_args(name="dp-prod-sales", protect=True, retain=True, base_capacity=1024))


def _mock_id(r: Resource) -> str:
    # The id PlatformMocks.new_resource gives a resource.
    return f"{r.name}-{hashlib.sha1(f'{r.type}/{r.name}'.encode()).hexdigest()[:8]}"


def test_workgroup_is_private_routes_through_the_vpc_and_requires_tls(dev: Program) -> None:
    wg = dev.one(WORKGROUP).inputs
    assert wg["publiclyAccessible"] is False
    assert wg["enhancedVpcRouting"] is True
    assert {"parameterKey": "require_ssl", "parameterValue": "true"} in wg["configParameters"]
    assert wg["baseCapacity"] == 32
    assert wg["port"] == PORT == 5439
    assert wg["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert wg["namespaceName"] == wg["workgroupName"] == "dp-dev-sales"


def test_namespace_uses_the_customer_key_and_an_aws_managed_admin_password(dev: Program) -> None:
    ns = dev.one(NAMESPACE).inputs
    assert ns["kmsKeyId"] == KEY
    assert ns["manageAdminPassword"] is True
    assert "adminUserPassword" not in ns and "adminUserPasswordWo" not in ns
    assert ns["adminUsername"] == Secret("dpadmin")
    assert ns["dbName"] == "analytics"
    assert sorted(ns["logExports"]) == ["connectionlog", "useractivitylog", "userlog"]
    assert ns["tags"] == {"domain": "sales"}


def test_only_the_allowed_security_groups_reach_the_workgroup(dev: Program) -> None:
    sg = dev.one("aws:ec2/securityGroup:SecurityGroup")
    assert "ingress" not in sg.inputs or sg.inputs["ingress"] == []
    assert dev.one(WORKGROUP).inputs["securityGroupIds"] == [_mock_id(sg)]
    rules = dev.of_type(INGRESS)
    assert sorted(r.inputs["referencedSecurityGroupId"] for r in rules) == sorted(ALLOWED)
    for r in rules:
        assert r.inputs["securityGroupId"] == _mock_id(sg)
        assert (r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) == ("tcp", PORT, PORT)
        assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(r.inputs)
    (egress,) = dev.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert (egress.inputs["fromPort"], egress.inputs["toPort"]) == (443, 443)


def test_namespace_protection_follows_the_args(dev: Program, prod: Program) -> None:
    assert not dev.one(NAMESPACE).protect and not dev.one(NAMESPACE).retain_on_delete
    assert prod.one(NAMESPACE).protect and prod.one(NAMESPACE).retain_on_delete
    assert prod.one(WORKGROUP).inputs["baseCapacity"] == 1024


def test_outputs_and_explicit_provider(dev: Program) -> None:
    assert dev.exports["endpoint"] == "dp-dev-sales.123456789012.eu-west-1.redshift-serverless.amazonaws.com"
    assert dev.exports["admin_secret_arn"].startswith("arn:aws:secretsmanager:eu-west-1:123456789012:secret:")
    assert dev.exports["port"] == 5439
    assert dev.exports["namespace_name"] == dev.exports["workgroup_name"] == "dp-dev-sales"
    assert dev.exports["security_group_id"] == _mock_id(dev.one("aws:ec2/securityGroup:SecurityGroup"))
    provider = dev.one("pulumi:providers:aws").urn
    assert all(r.provider_urn == provider for r in dev.resources if r.type.startswith("aws:"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"base_capacity": 4}, "base_capacity"),
        ({"base_capacity": 12}, "base_capacity"),
        ({"base_capacity": 1032}, "base_capacity"),
        ({"subnet_ids": ["subnet-a", "subnet-b"]}, "at least 3 subnets"),
        ({"allowed_security_group_ids": []}, "allowed_security_group_ids"),
        ({"name": "DP_dev"}, "name"),
        ({"db_name": "1db"}, "db_name"),
        ({"admin_username": "Admin"}, "admin_username"),
        ({"log_exports": ("auditlog",)}, "log_exports"),
    ],
)
def test_bad_args_are_refused_before_anything_is_registered(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _args(**overrides)


@pytest.mark.parametrize("capacity", [8, 64, 1024])
def test_valid_capacities_are_accepted(capacity: int) -> None:
    assert _args(base_capacity=capacity).base_capacity == capacity
