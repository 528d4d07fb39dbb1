"""The VPC: the database in isolated subnets, the VPC functions in app subnets with the egress they need."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct


class ChatNetwork(Construct):
    """Two AZs. ``data`` subnets (isolated) hold RDS and its proxy; ``app`` subnets hold the VPC functions.

    With ``nat_gateway`` the app subnets route to the internet through one NAT gateway: Secrets Manager
    and the public WebSocket Management API (``execute-api``) are reached that way. Without it the app
    subnets are isolated and get a Secrets Manager interface endpoint; then nothing in the VPC can post to
    the Management API (an ``execute-api`` endpoint with private DNS would capture the public API's
    hostname too), so only ``disconnect`` and ``prune``, which run outside the VPC, can post.
    DynamoDB and S3 are reached through (free) gateway endpoints either way.
    """

    def __init__(self, scope: Construct, construct_id: str, *, nat_gateway: bool, flow_log_bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.nat_gateway = nat_gateway
        app_subnet_type = ec2.SubnetType.PRIVATE_WITH_EGRESS if nat_gateway else ec2.SubnetType.PRIVATE_ISOLATED
        subnets = [
            ec2.SubnetConfiguration(name="app", subnet_type=app_subnet_type, cidr_mask=22),
            ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
        ]
        if nat_gateway:
            subnets.insert(0, ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24))
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=2,
            nat_gateways=1 if nat_gateway else 0,
            subnet_configuration=subnets,
            gateway_endpoints={
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
                # The message function tags and deletes attachments (a free gateway endpoint, as for DynamoDB).
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
            },
            flow_logs={
                "ToS3": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_s3(flow_log_bucket, "vpc-flow-logs/"),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
        self.app_subnets = ec2.SubnetSelection(subnet_group_name="app")
        self.data_subnets = ec2.SubnetSelection(subnet_group_name="data")
        #: What the VPC functions need before their first call (the interface endpoints, if any).
        self.endpoints: list[ec2.InterfaceVpcEndpoint] = []
        if not nat_gateway:
            endpoint = self.vpc.add_interface_endpoint(
                "SecretsManager",
                service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
                subnets=self.app_subnets,
                private_dns_enabled=True,
                # Not open to the whole VPC: allow_endpoint_access opens it to each VPC function's group.
                open=False,
            )
            self.endpoints.append(endpoint)

    def allow_endpoint_access(self, peer: ec2.IConnectable, description: str) -> None:
        """Let ``peer`` reach the interface endpoints (HTTPS), if there are any."""
        for endpoint in self.endpoints:
            endpoint.connections.allow_default_port_from(peer, description)
