"""One Lambda function per ``functions/<name>/`` folder, each with its own log group and least-privilege role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, triggers
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.chat_infra.layer import LAYER_PLATFORM, LAYER_PYTHON_VERSION
from infra.chat_infra.nag import acknowledge
from infra.chat_infra.paths import FUNCTIONS_DIR

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64
if RUNTIME.name != f"python{LAYER_PYTHON_VERSION}" or "x86_64" not in LAYER_PLATFORM:
    raise RuntimeError("the function runtime and the layer build target must be the same Python and platform")
#: What Lambda does with a VPC function's role: the network-interface actions of the AWS-managed
#: AWSLambdaVPCAccessExecutionRole, without that policy's logs:CreateLogGroup/CreateLogStream/PutLogEvents on "*".
VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


class ChatFunction(Construct):
    """``functions/<folder>/handler.py`` as a Lambda function with the common layer.

    The role starts with nothing but writing to the function's own log group (and X-Ray, which has no
    resource-level permissions); callers add exactly what the function uses with the ``grant_*`` methods.
    Functions given a VPC get the network-interface actions Lambda needs to attach them, and their own
    security group whose only egress is HTTPS (AWS APIs) until the caller opens the database port with
    ``allow_database``. ``reserved_concurrency`` caps (and reserves) the function's concurrent executions.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        description: str,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        timeout: Duration,
        memory_size: int,
        log_retention: logs.RetentionDays,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        trigger_after: Sequence[Construct] | None = None,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.folder = folder
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of the chat {folder} function",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="OwnLogGroup",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.security_group: ec2.SecurityGroup | None = None
        if vpc is not None:
            self.security_group = ec2.SecurityGroup(
                self,
                "SecurityGroup",
                vpc=vpc,
                description=f"chat {folder} function",
                allow_all_outbound=False,
            )
            # HTTPS to AWS APIs: Secrets Manager, DynamoDB (gateway endpoint) and the Management API (NAT).
            self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs")
            self.role.add_to_policy(
                iam.PolicyStatement(sid="VpcNetworkInterfaces", actions=list(VPC_ENI_ACTIONS), resources=["*"])
            )
        props: dict[str, Any] = {
            "runtime": RUNTIME,
            "architecture": ARCHITECTURE,
            "handler": "handler.handler",
            "code": lambda_.Code.from_asset(
                str(FUNCTIONS_DIR / folder), exclude=["__pycache__", "*.pyc", "tests", "*.md"]
            ),
            "layers": [layer],
            "environment": dict(environment),
            "description": description,
            "timeout": timeout,
            "memory_size": memory_size,
            "role": self.role,
            "log_group": self.log_group,
            "tracing": lambda_.Tracing.ACTIVE,
        }
        if vpc is not None:
            props.update(vpc=vpc, vpc_subnets=vpc_subnets, security_groups=[self.security_group])
        if reserved_concurrency is not None:
            props["reserved_concurrent_executions"] = reserved_concurrency
        if trigger_after is not None:
            self.function: lambda_.Function = triggers.TriggerFunction(
                self, "Function", execute_after=list(trigger_after), execute_on_handler_change=True, **props
            )
        else:
            self.function = lambda_.Function(self, "Function", **props)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Resource '*' holds only what cannot be scoped: X-Ray's PutTraceSegments and PutTelemetryRecords "
            "(X-Ray has no resource-level permissions) and, for functions in the VPC, the network-interface "
            "actions Lambda uses to attach them: EC2 grants DescribeNetworkInterfaces and DescribeSubnets on "
            "'*' only, and the interfaces Lambda creates, assigns addresses to and deletes get their ids at "
            "run time. Logs go to the function's own log group alone.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"Pinned to {RUNTIME.name}: the common layer's compiled wheels (psycopg-binary, pydantic-core) are "
            "built for this CPython version, and tests/infra checks the layer's .so files match it.",
        )

    def grant_secret_read(self, secret: secretsmanager.ISecret) -> None:
        """``secretsmanager:GetSecretValue`` on exactly ``secret`` (what Powertools' get_secret calls)."""
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secret.secret_arn])
        )

    def grant_table(self, table_arn: str, actions: Sequence[str], *, indexes: Sequence[str] = ()) -> None:
        """``actions`` (``dynamodb:`` prefixed) on the table, and ``dynamodb:Query`` on the named indexes only."""
        self.role.add_to_policy(iam.PolicyStatement(actions=sorted(actions), resources=[table_arn]))
        if indexes:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:Query"],
                    resources=[f"{table_arn}/index/{index}" for index in indexes],
                )
            )

    def allow_database(self, peer: ec2.IConnectable, port: int, description: str) -> None:
        """Open this function's egress (and ``peer``'s ingress) on the PostgreSQL port."""
        if self.security_group is None:
            raise ValueError(f"function {self.folder} is not in the VPC")
        peer.connections.allow_from(self.security_group, ec2.Port.tcp(port), description)

    @property
    def function_name(self) -> str:
        return self.function.function_name
