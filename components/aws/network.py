"""Network: the VPC every other AWS resource of the platform lives in.

API:

    Network(name, config: NetworkConfig, *, cluster_name: str | None = None,
            tags: Mapping[str, str] | None = None, opts=None)
      .vpc_id (Output[str]), .vpc_cidr (str), .azs (list[Output[str]], one per AZ used)
      .public_subnet_ids, .private_subnet_ids (list[Output[str]], index i is in azs[i])
      .private_route_table_ids (list[Output[str]]), .nat_gateway_ids (list[Output[str]])

Creates: a VPC with DNS support and hostnames; per AZ (the first `az_count` available,
non-opt-in AZs of the region) a public and a private subnet; an internet gateway and the public
route table; NAT gateways (one in the first public subnet for "single", one per AZ for "perAz")
and one private route table per AZ; an S3 gateway endpoint on the private route tables; the VPC's
default security group with every rule removed; with `flow_logs`, a VPC flow log of all traffic
to a CloudWatch log group kept `flow_log_retention_days`, through a role only
vpc-flow-logs.amazonaws.com (for this account's flow logs) may assume, allowed only to write log
streams of that group.

Invariants: subnet CIDRs depend only on the VPC CIDR and the AZ index (see `subnet_layout`), so
changing `az_count` never renumbers existing subnets; public subnets do not map public IPs on
launch; subnets carry the AWS Load Balancer Controller role tags and, with `cluster_name`,
`kubernetes.io/cluster/<name>=shared`; no resource is created inside an apply.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.config import NetworkConfig

# The VPC is cut in 8 blocks: private subnet i is block i (AZ index < 6 fits), block 6 is kept
# free for later use, and block 7 is cut in 8 again for the (small) public subnets.
_SPLIT = 3
_PUBLIC_BLOCK = 7


def subnet_layout(cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """(public, private) subnet CIDRs for AZ indexes 0..az_count-1; stable per index."""
    vpc = ipaddress.IPv4Network(cidr)
    blocks = list(vpc.subnets(prefixlen_diff=_SPLIT))
    if az_count > _PUBLIC_BLOCK - 1:
        raise ValueError(f"at most {_PUBLIC_BLOCK - 1} AZs fit this layout (got {az_count})")
    public_blocks = list(blocks[_PUBLIC_BLOCK].subnets(prefixlen_diff=_SPLIT))
    return [str(b) for b in public_blocks[:az_count]], [str(b) for b in blocks[:az_count]]


def first_zones(names: list[str], count: int) -> list[str]:
    """The first `count` AZ names, or a RunError naming the config key when the region has fewer."""
    if len(names) < count:
        raise pulumi.RunError(
            f"dataplatform:network.azCount is {count} but the region has only {len(names)} available AZs"
        )
    return names[:count]


class Network(pulumi.ComponentResource):
    """VPC, subnets, gateways, routes, S3 endpoint, closed default SG and optional flow logs."""

    def __init__(
        self,
        name: str,
        config: NetworkConfig,
        *,
        cluster_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        base_tags = dict(tags or {})

        def named(suffix: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
            return {**base_tags, "Name": f"{name}-{suffix}", **(extra or {})}

        count = config.az_count
        public_cidrs, private_cidrs = subnet_layout(config.cidr, count)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        zones = aws.get_availability_zones_output(
            state="available",
            # Only the region's standard AZs: Local/Wavelength Zones need an opt-in.
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=invoke,
        )
        names = zones.names.apply(lambda n: first_zones(list(n), count))
        self.azs: list[pulumi.Output[str]] = [names.apply(lambda n, i=i: n[i]) for i in range(count)]
        region = aws.get_region_output(opts=invoke).region

        self.vpc_cidr = config.cidr
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            aws.ec2.VpcArgs(
                cidr_block=config.cidr, enable_dns_support=True, enable_dns_hostnames=True, tags=named("vpc")
            ),
            opts=child,
        )
        self.vpc_id: pulumi.Output[str] = vpc.id
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            aws.ec2.DefaultSecurityGroupArgs(vpc_id=vpc.id, ingress=[], egress=[], tags=named("default-closed")),
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", aws.ec2.InternetGatewayArgs(vpc_id=vpc.id, tags=named("igw")), opts=child
        )

        cluster_tag = {f"kubernetes.io/cluster/{cluster_name}": "shared"} if cluster_name else {}
        public = [
            aws.ec2.Subnet(
                f"{name}-public-{i}",
                aws.ec2.SubnetArgs(
                    vpc_id=vpc.id,
                    cidr_block=public_cidrs[i],
                    availability_zone=self.azs[i],
                    map_public_ip_on_launch=False,
                    tags=named(f"public-{i}", {"kubernetes.io/role/elb": "1", **cluster_tag}),
                ),
                opts=child,
            )
            for i in range(count)
        ]
        private = [
            aws.ec2.Subnet(
                f"{name}-private-{i}",
                aws.ec2.SubnetArgs(
                    vpc_id=vpc.id,
                    cidr_block=private_cidrs[i],
                    availability_zone=self.azs[i],
                    map_public_ip_on_launch=False,
                    tags=named(f"private-{i}", {"kubernetes.io/role/internal-elb": "1", **cluster_tag}),
                ),
                opts=child,
            )
            for i in range(count)
        ]
        self.public_subnet_ids: list[pulumi.Output[str]] = [s.id for s in public]
        self.private_subnet_ids: list[pulumi.Output[str]] = [s.id for s in private]

        public_rt = aws.ec2.RouteTable(
            f"{name}-public", aws.ec2.RouteTableArgs(vpc_id=vpc.id, tags=named("public")), opts=child
        )
        aws.ec2.Route(
            f"{name}-public-default",
            aws.ec2.RouteArgs(route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id),
            opts=child,
        )
        for i, subnet in enumerate(public):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}",
                aws.ec2.RouteTableAssociationArgs(subnet_id=subnet.id, route_table_id=public_rt.id),
                opts=child,
            )

        nat_count = count if config.nat_strategy == "perAz" else 1
        nats = []
        for i in range(nat_count):
            eip = aws.ec2.Eip(f"{name}-nat-{i}", aws.ec2.EipArgs(domain="vpc", tags=named(f"nat-{i}")), opts=child)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    aws.ec2.NatGatewayArgs(
                        allocation_id=eip.allocation_id, subnet_id=public[i].id, tags=named(f"nat-{i}")
                    ),
                    # A public NAT gateway needs the internet gateway attached first.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        self.nat_gateway_ids: list[pulumi.Output[str]] = [n.id for n in nats]

        private_rts = []
        for i, subnet in enumerate(private):
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}", aws.ec2.RouteTableArgs(vpc_id=vpc.id, tags=named(f"private-{i}")), opts=child
            )
            aws.ec2.Route(
                f"{name}-private-{i}-default",
                aws.ec2.RouteArgs(
                    route_table_id=rt.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nats[i if nat_count > 1 else 0].id,
                ),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}",
                aws.ec2.RouteTableAssociationArgs(subnet_id=subnet.id, route_table_id=rt.id),
                opts=child,
            )
            private_rts.append(rt)
        self.private_route_table_ids: list[pulumi.Output[str]] = [rt.id for rt in private_rts]

        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            aws.ec2.VpcEndpointArgs(
                vpc_id=vpc.id,
                service_name=pulumi.Output.concat("com.amazonaws.", region, ".s3"),
                vpc_endpoint_type="Gateway",
                route_table_ids=self.private_route_table_ids,
                tags=named("s3"),
            ),
            opts=child,
        )

        if config.flow_logs:
            self._flow_logs(name, vpc, config.flow_log_retention_days, base_tags, region, invoke)

        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "azs": self.azs,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _flow_logs(
        self,
        name: str,
        vpc: aws.ec2.Vpc,
        retention_days: int,
        tags: dict[str, str],
        region: pulumi.Output[str],
        invoke: pulumi.InvokeOutputOptions,
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            aws.cloudwatch.LogGroupArgs(retention_in_days=retention_days, tags=tags or None),
            opts=child,
        )
        trust = pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "VpcFlowLogsOfThisAccount",
                        "Effect": "Allow",
                        "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        # Confused-deputy guard recommended by the VPC user guide.
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": account},
                            "ArnLike": {
                                "aws:SourceArn": pulumi.Output.format(
                                    "arn:{0}:ec2:{1}:{2}:vpc-flow-log/*", partition, region, account
                                )
                            },
                        },
                    }
                ],
            }
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            aws.iam.RoleArgs(
                assume_role_policy=trust, description="Delivers the VPC flow logs to CloudWatch Logs", tags=tags or None
            ),
            opts=child,
        )
        # No CreateLogGroup (the group exists) and no DescribeLogGroups (it cannot be scoped to a group).
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            aws.iam.RolePolicyArgs(role=role.id, policy=group.arn.apply(flow_log_policy)),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            aws.ec2.FlowLogArgs(
                vpc_id=vpc.id,
                traffic_type="ALL",
                log_destination_type="cloud-watch-logs",
                log_destination=group.arn,
                iam_role_arn=role.arn,
                tags=tags or None,
            ),
            opts=child,
        )


def flow_log_policy(log_group_arn: str) -> str:
    """The flow-log role's permissions: write streams of one log group, nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WriteFlowLogStreams",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
                }
            ],
        }
    )
