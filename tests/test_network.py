"""Network under mocks: subnets, NAT strategy, S3 endpoint, closed default SG, flow logs."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterator
from typing import Any

import parliament
import pulumi
import pulumi_aws as aws
import pytest

from components.aws.network import Network, first_zones, flow_log_policy, subnet_layout
from components.config import NetworkConfig
from platformctl.simulate import ACCOUNT_ID, PlatformMocks
from tests.harness import Program, Resource, run_function

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"


@pytest.fixture(scope="module")
def invokes() -> Iterator[list[Any]]:
    """Records every invoke the mocks answer (token, args, provider)."""
    calls: list[Any] = []
    original = PlatformMocks.call

    def call(self: PlatformMocks, args: Any) -> tuple[dict, list[tuple[str, str]]]:
        calls.append(args)
        return original(self, args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PlatformMocks, "call", call)
        yield calls


def _network(config: NetworkConfig, cluster_name: str | None = "dp-test", stack: str = "dev") -> Program:
    def fn() -> None:
        provider = aws.Provider("aws", region="eu-west-1")
        network = Network(
            "network", config, cluster_name=cluster_name, opts=pulumi.ResourceOptions(providers=[provider])
        )
        pulumi.export("azs", network.azs)
        pulumi.export("private", network.private_subnet_ids)
        pulumi.export("public", network.public_subnet_ids)
        pulumi.export("cidr", network.vpc_cidr)

    return run_function(fn, stack)


@pytest.fixture(scope="module")
def single(invokes: list[Any]) -> Program:
    return _network(NetworkConfig(cidr="10.20.0.0/16", az_count=3, nat_strategy="single", flow_logs=False))


@pytest.fixture(scope="module")
def per_az(invokes: list[Any]) -> Program:
    return _network(NetworkConfig(cidr="10.30.0.0/16", az_count=3, nat_strategy="perAz", flow_logs=True), stack="prod")


def _subnets(program: Program, kind: str) -> list[Resource]:
    return sorted((s for s in program.of_type(SUBNET) if s.name.startswith(f"network-{kind}-")), key=lambda s: s.name)


@pytest.mark.parametrize("cidr", ["10.20.0.0/16", "10.0.0.0/8", "172.16.0.0/20"])
def test_subnet_layout_is_disjoint_inside_the_vpc_and_stable_per_az_index(cidr: str) -> None:
    vpc = ipaddress.IPv4Network(cidr)
    previous: tuple[list[str], list[str]] | None = None
    for count in range(2, 7):
        public, private = subnet_layout(cidr, count)
        nets = [ipaddress.IPv4Network(c) for c in public + private]
        assert len(public) == len(private) == count
        assert all(n.subnet_of(vpc) for n in nets)
        assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
        if previous:  # one more AZ adds subnets, never renumbers
            assert public[:-1] == previous[0] and private[:-1] == previous[1]
        previous = public, private
    with pytest.raises(ValueError):
        subnet_layout(cidr, 7)


def test_subnets_span_the_azs_with_load_balancer_and_cluster_tags(single: Program, per_az: Program) -> None:
    for program, count in ((single, 3), (per_az, 3)):
        public, private = _subnets(program, "public"), _subnets(program, "private")
        assert len(public) == len(private) == count
        zones = [f"eu-west-1{c}" for c in "abcdef"[:count]]
        assert [s.inputs["availabilityZone"] for s in public] == zones
        assert [s.inputs["availabilityZone"] for s in private] == zones
        for s in public:
            assert s.inputs["tags"]["kubernetes.io/role/elb"] == "1"
            assert "kubernetes.io/role/internal-elb" not in s.inputs["tags"]
        for s in private:
            assert s.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
            assert "kubernetes.io/role/elb" not in s.inputs["tags"]
        for s in public + private:
            assert s.inputs["tags"]["kubernetes.io/cluster/dp-test"] == "shared"
            assert s.inputs["mapPublicIpOnLaunch"] is False
        assert program.exports["azs"] == zones
        assert len(program.exports["private"]) == len(program.exports["public"]) == count


def test_no_cluster_tag_without_a_cluster_name(invokes: list[Any]) -> None:
    program = _network(NetworkConfig(az_count=3, nat_strategy="single", flow_logs=False), cluster_name=None)
    for s in program.of_type(SUBNET):
        assert not [k for k in s.inputs["tags"] if k.startswith("kubernetes.io/cluster/")]


def test_vpc_has_dns_and_the_configured_cidr(per_az: Program) -> None:
    vpc = per_az.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.30.0.0/16" == per_az.exports["cidr"]
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True


def _default_routes(program: Program, kind: str) -> list[Resource]:
    return sorted(
        (
            r
            for r in program.of_type(ROUTE)
            if r.name.startswith(f"network-{kind}") and r.inputs["destinationCidrBlock"] == "0.0.0.0/0"
        ),
        key=lambda r: r.name,
    )


def _mock_id(r: Resource) -> str:
    # The id PlatformMocks.new_resource gives a resource.
    return f"{r.name}-{hashlib.sha1(f'{r.type}/{r.name}'.encode()).hexdigest()[:8]}"


def test_single_nat_in_the_first_public_subnet_serves_every_private_route_table(single: Program) -> None:
    (nat,) = single.of_type(NAT)
    assert len(single.of_type("aws:ec2/eip:Eip")) == 1
    assert nat.inputs["subnetId"] == _mock_id(_subnets(single, "public")[0])
    routes = _default_routes(single, "private")
    assert len(routes) == 3
    assert {r.inputs["natGatewayId"] for r in routes} == {_mock_id(nat)}


def test_per_az_nat_gateways_each_serve_their_own_az(per_az: Program) -> None:
    nats = sorted(per_az.of_type(NAT), key=lambda n: n.name)
    assert len(nats) == 3 and len(per_az.of_type("aws:ec2/eip:Eip")) == 3
    routes = _default_routes(per_az, "private")
    for nat, subnet, route in zip(nats, _subnets(per_az, "public"), routes, strict=True):
        assert nat.inputs["subnetId"] == _mock_id(subnet)
        assert route.inputs["natGatewayId"] == _mock_id(nat)
    (public_route,) = _default_routes(per_az, "public")
    assert public_route.inputs["gatewayId"] == _mock_id(per_az.one("aws:ec2/internetGateway:InternetGateway"))


def test_s3_gateway_endpoint_on_every_private_route_table(per_az: Program) -> None:
    endpoint = per_az.one("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    assert endpoint.inputs["serviceName"] == "com.amazonaws.eu-west-1.s3"
    private_tables = [
        r for r in per_az.of_type("aws:ec2/routeTable:RouteTable") if r.name.startswith("network-private-")
    ]
    assert sorted(endpoint.inputs["routeTableIds"]) == sorted(_mock_id(rt) for rt in private_tables)
    assert len(private_tables) == 3


def test_default_security_group_is_closed(single: Program, per_az: Program) -> None:
    for program in (single, per_az):
        sg = program.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
        assert sg.inputs["ingress"] == [] and sg.inputs["egress"] == []
        assert sg.inputs["vpcId"] == _mock_id(program.one("aws:ec2/vpc:Vpc"))


def test_flow_logs_off_creates_nothing_for_them(single: Program) -> None:
    for typ in (
        "aws:ec2/flowLog:FlowLog",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
    ):
        assert single.of_type(typ) == []


def test_flow_logs_on_go_to_a_retained_log_group_through_a_scoped_role(per_az: Program) -> None:
    group = per_az.one("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["retentionInDays"] == 365
    flow = per_az.one("aws:ec2/flowLog:FlowLog")
    role = per_az.one("aws:iam/role:Role")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow.inputs["logDestination"] == group.outputs["arn"]
    assert flow.inputs["iamRoleArn"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    assert trust["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:ec2:eu-west-1:{ACCOUNT_ID}:vpc-flow-log/*"}
    policy = json.loads(per_az.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in a for a in statement["Action"])
        assert all(r.startswith(group.outputs["arn"]) for r in statement["Resource"])


@pytest.mark.parametrize("days", [7, 731])
def test_flow_log_retention_follows_config(invokes: list[Any], days: int) -> None:
    config = NetworkConfig.model_validate({"azCount": 3, "natStrategy": "single", "flowLogRetentionDays": days})
    program = _network(config)
    assert program.one("aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == days


def test_flow_log_policy_passes_parliament() -> None:
    doc = flow_log_policy(f"arn:aws:logs:eu-west-1:{ACCOUNT_ID}:log-group:network-flow-logs-1234")
    findings = parliament.analyze_policy_string(doc).findings
    assert findings == [], [(f.issue, f.detail) for f in findings]
    # The check can fail: DescribeLogGroups cannot be scoped to a log group.
    widened = json.loads(doc)
    widened["Statement"][0]["Action"].append("logs:DescribeLogGroups")
    assert parliament.analyze_policy_string(json.dumps(widened)).findings


def test_everything_uses_the_explicit_provider(invokes: list[Any]) -> None:
    invokes.clear()
    program = _network(NetworkConfig(az_count=3, nat_strategy="perAz", flow_logs=True))
    provider = program.one("pulumi:providers:aws").urn
    for r in program.resources:
        if r.type.startswith("aws:"):
            assert r.provider_urn == provider, r.name
    assert {c.token for c in invokes} >= {
        "aws:index/getAvailabilityZones:getAvailabilityZones",
        "aws:index/getCallerIdentity:getCallerIdentity",
    }
    assert all(c.provider.startswith(provider) for c in invokes)


def test_too_few_azs_in_the_region_is_a_clear_error() -> None:
    assert first_zones(["eu-west-1a", "eu-west-1b", "eu-west-1c"], 2) == ["eu-west-1a", "eu-west-1b"]
    with pytest.raises(pulumi.RunError, match="azCount is 3 but the region has only 2"):
        first_zones(["eu-west-1a", "eu-west-1b"], 3)
