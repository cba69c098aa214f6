"""The stack config model: the stack files validate; bad input fails with one clear line per problem."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest

from components.config import EKS_LOG_TYPES, parse_stack_config
from components.validation import ConfigError
from tests.harness import stack_config


def _raw(stack: str) -> dict[str, Any]:
    """A stack file's `dataplatform:` keys as the program reads them (structured values arrive as JSON)."""
    return {
        key.split(":", 1)[1]: json.loads(value) if value[:1] in "{[" else value
        for key, value in stack_config(stack).items()
    }


def _problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(raw)
    assert isinstance(caught.value, pulumi.RunError)  # printed by the CLI without a traceback
    assert str(caught.value).startswith("invalid stack configuration")
    return caught.value.problems


def _with(stack: str, path: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(_raw(stack))
    *parents, leaf = path.split(".")
    node = raw
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return raw


_DELETE = object()


def test_dev_stack_file_validates() -> None:
    raw = _raw("dev")
    config = parse_stack_config(raw)
    assert config.environment == "dev"
    assert config.network.az_count == raw["network"]["azCount"]
    assert (config.network.nat_strategy, config.network.flow_logs) == ("single", False)
    assert config.protection.force_destroy_buckets is True
    assert config.eks.log_types == ["api", "audit"]
    assert config.common_tags == {
        "environment": "dev",
        "owner": "data-platform-team",
        "cost-center": "cc-1234",
        "managed-by": "pulumi",
    }


def test_prod_stack_file_validates_at_the_prod_baseline() -> None:
    config = parse_stack_config(_raw("prod"))
    assert config.environment == "prod"
    assert set(config.eks.log_types) == set(EKS_LOG_TYPES)
    assert config.protection.protect_stateful and not config.protection.force_destroy_buckets
    assert config.protection.kms_deletion_window_days == 30
    assert config.network.flow_logs and config.network.nat_strategy == "perAz"


# (path in the raw config, bad value, the key the message must name, words saying what is accepted)
BAD_VALUES = [
    ("environment", "staging", "dataplatform:environment", "'dev', 'prod' or 'local'"),
    ("region", "Europe", "dataplatform:region", "AWS region name such as eu-west-1"),
    ("network.azCount", 1, "dataplatform:network.azCount", "greater than or equal to"),
    ("network.azCount", 7, "dataplatform:network.azCount", "less than or equal to 6"),
    ("network.natStrategy", "both", "dataplatform:network.natStrategy", "'single' or 'perAz'"),
    ("network.cidr", "10.0.0.0/33", "dataplatform:network.cidr", "IPv4 CIDR such as 10.20.0.0/16"),
    ("network.flowLogRetentionDays", 10, "dataplatform:network.flowLogRetentionDays", "365"),
    ("network.azcount", 3, "dataplatform:network.azcount", "unknown key"),
    ("cluster.version", "1.20", "dataplatform:cluster.version", "'1.35'"),
    ("cluster.adminPrincipals", ["admin"], "dataplatform:cluster.adminPrincipals[0]", "IAM role or user ARN"),
    ("cluster.logTypes", ["api", "kubelet"], "dataplatform:cluster.logTypes[1]", "'controllerManager'"),
    (
        "cluster.nodeGroups.general.capacityType",
        "RESERVED",
        "dataplatform:cluster.nodeGroups.general.capacityType",
        "'SPOT'",
    ),
    (
        "cluster.nodeGroups.general.minSize",
        5,
        "dataplatform:cluster.nodeGroups.general",
        "minSize <= desiredSize <= maxSize",
    ),
    ("tags.owner", _DELETE, "dataplatform:tags.owner", "Field required"),
    (
        "protection.kmsDeletionWindowDays",
        3,
        "dataplatform:protection.kmsDeletionWindowDays",
        "greater than or equal to 7",
    ),
    ("ingress.scheme", "public", "dataplatform:ingress.scheme", "'internal' or 'internet-facing'"),
]


@pytest.mark.parametrize(
    ("path", "value", "key", "accepted"),
    BAD_VALUES,
    ids=[f"{b[0]}={'<deleted>' if b[1] is _DELETE else repr(b[1])}" for b in BAD_VALUES],
)
def test_a_bad_value_is_one_message_naming_the_key_and_what_is_accepted(
    path: str, value: Any, key: str, accepted: str
) -> None:
    (problem,) = _problems(_with("dev", path, value))
    assert problem.startswith(f"{key}: "), problem
    assert accepted in problem, problem


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/2"])
def test_the_eks_endpoint_is_never_opened_to_the_internet(cidr: str) -> None:
    (problem,) = _problems(_with("dev", "cluster.publicAccessCidrs", ["203.0.113.0/24", cidr]))
    assert problem.startswith("dataplatform:cluster.publicAccessCidrs[1]: ")
    assert "must not be open to the internet" in problem and cidr in problem


def test_every_bad_key_is_reported_at_once() -> None:
    raw = _with("dev", "network.natStrategy", "both")
    raw["network"]["azCount"] = 9
    raw["region"] = "mars"
    raw["cluster"]["publicAccessCidrs"] = ["0.0.0.0/0"]
    problems = _problems(raw)
    keys = sorted(p.split(": ", 1)[0] for p in problems)
    assert keys == [
        "dataplatform:cluster.publicAccessCidrs[0]",
        "dataplatform:network.azCount",
        "dataplatform:network.natStrategy",
        "dataplatform:region",
    ]


def test_a_vpc_cidr_too_small_for_the_subnets_is_refused() -> None:
    (problem,) = _problems(_with("dev", "network.cidr", "10.20.0.0/24"))
    assert problem.startswith("dataplatform:network") and "/20" in problem


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        ("cluster.logTypes", ["api", "audit"], "cluster.logTypes"),
        ("protection.protectStateful", False, "protection.protectStateful"),
        ("protection.forceDestroyBuckets", True, "protection.forceDestroyBuckets"),
        ("protection.kmsDeletionWindowDays", 7, "protection.kmsDeletionWindowDays"),
        ("network.flowLogs", False, "network.flowLogs"),
    ],
)
def test_prod_cannot_relax_a_baseline_control(path: str, value: Any, key: str) -> None:
    (problem,) = _problems(_with("prod", path, value))
    assert key in problem and "prod" in problem
    parse_stack_config(_with("dev", path, value))  # the same value is a legal dev relaxation


def test_prod_relaxations_are_one_message_per_key() -> None:
    raw = _with("prod", "cluster.logTypes", ["api"])
    raw["protection"]["protectStateful"] = False
    raw["network"]["flowLogs"] = False
    keys = sorted(p.split(": ", 1)[0] for p in _problems(raw))
    assert keys == [
        "dataplatform:cluster.logTypes",
        "dataplatform:network.flowLogs",
        "dataplatform:protection.protectStateful",
    ]


def test_vpc_cidr_larger_than_16_is_refused() -> None:
    (problem,) = _problems(_with("dev", "network.cidr", "10.0.0.0/8"))
    assert problem.startswith("dataplatform:network.cidr: ")
