"""The whole chat as one stack: APIs, functions, state, web UI, schedule, migration and monitoring."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import jsii
from aws_cdk import CfnElement, CfnOutput, Duration, RemovalPolicy, Stack, Tags, Token, triggers
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from chatcore.protocol.client import CLIENT_FRAME_TYPES
from constructs import Construct

from infra.chat_infra.attachments import AttachmentBucket
from infra.chat_infra.config import ChatConfig, ConfigError
from infra.chat_infra.data import ChatDatabase, ConnectionsTable, TokenSecret
from infra.chat_infra.fanout import FanoutQueue
from infra.chat_infra.functions import ARCHITECTURE, RUNTIME, ChatFunction
from infra.chat_infra.layer import INSTANCE_CA_BUNDLE, PROXY_CA_BUNDLE, layer_code
from infra.chat_infra.monitoring import Monitoring
from infra.chat_infra.nag import acknowledge
from infra.chat_infra.network import ChatNetwork
from infra.chat_infra.paths import MIGRATIONS_DIR
from infra.chat_infra.web import AccessLogBucket, WebSite, cloudfront_can_log_to

#: Every client frame type of the protocol is a WebSocket route to the message function.
MESSAGE_ROUTES = tuple(sorted(CLIENT_FRAME_TYPES))

#: The message function's table actions: count_frame (UpdateItem returning the record), a room's connections and
#: viewers (Query of a partition), viewing (UpdateItem + PutItem, DeleteItem), subscribing (BatchWriteItem),
#: forgetting a gone connection (GetItem + BatchWriteItem).
_MESSAGE_TABLE_ACTIONS = (
    "dynamodb:UpdateItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchWriteItem",
    "dynamodb:GetItem",  # a user's connections (read receipts to every tab, a new member's tabs)
    "dynamodb:BatchGetItem",  # who of a member page is online; presence to contacts when a dead one is found
)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """Stage access logging into ``log_group`` as one JSON object per request."""

    def __init__(self, log_group: logs.ILogGroup, fields: dict[str, str]) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)
        self._format = apigw.AccessLogFormat.custom(json.dumps(fields, separators=(",", ":")))

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


_WEBSOCKET_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTimeEpoch",
    "eventType": "$context.eventType",
    "routeKey": "$context.routeKey",
    "connectionId": "$context.connectionId",
    "status": "$context.status",
    "sourceIp": "$context.identity.sourceIp",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "error": "$context.error.message",
    "integrationError": "$context.integration.error",
}

_HTTP_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTimeEpoch",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "sourceIp": "$context.identity.sourceIp",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
}


def migrations_digest() -> str:
    """A short digest of the SQL migrations: part of the migrate function, so new SQL re-runs the trigger."""
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class ChatStack(Stack):
    """APIs, functions, state, web UI, schedule, migration and monitoring, configured by :class:`ChatConfig`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ChatConfig,
        common_layer_code: lambda_.Code | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"Serverless real-time chat ({config.stage}): WebSocket + HTTP APIs, Lambda, "
            "DynamoDB, RDS PostgreSQL, S3 + CloudFront",
            **kwargs,
        )
        self.config = config
        self._check_region(config)
        # CDK treats proxy target groups as taggable; CloudFormation rejects Tags on them.
        untaggable = ["AWS::RDS::DBProxyTargetGroup"]
        for key, value in {"project": "chat", "stage": config.stage, **config.tags}.items():
            Tags.of(self).add(key, value, exclude_resource_types=untaggable)

        # ------------------------------------------------------------ state and network
        access_logs = AccessLogBucket(self, "AccessLogs")
        network = ChatNetwork(self, "Network", nat_gateway=config.nat_gateway, flow_log_bucket=access_logs.bucket)
        # "Registry", not "Connections": the layout without indexes is a new table (CloudFormation cannot drop two
        # indexes in one update); the old one's items are live connections only, which reconnect.
        self.table = ConnectionsTable(self, "Registry").table
        token_secret = TokenSecret(self, "TokenSigningKey", stage=config.stage).secret
        self.database = ChatDatabase(self, "Database", config=config, network=network)
        self.web = WebSite(
            self, "Web", access_log_bucket=access_logs.bucket, cloudfront_logging=config.cloudfront_logging
        )

        self.layer = lambda_.LayerVersion(
            self,
            "CommonLayer",
            code=common_layer_code or layer_code(rds_ca_bundle=config.rds_ca_bundle_path),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="chatcore with Powertools, pydantic, psycopg (binary) and PyJWT for the Lambda platform",
        )

        # ------------------------------------------------------------ WebSocket API (functions attached below)
        self.websocket_api = apigwv2.WebSocketApi(
            self,
            "WebSocketApi",
            api_name=f"chat-{config.stage}-ws",
            description="chat WebSocket API: routes by the frame's type",
            route_selection_expression="$request.body.type",
        )
        ws_logs = logs.LogGroup(self, "WebSocketAccessLogs", retention=config.log_retention)
        self.websocket_stage = apigwv2.WebSocketStage(
            self,
            "WebSocketStage",
            web_socket_api=self.websocket_api,
            stage_name=config.stage,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.throttle_rate_limit, burst_limit=config.throttle_burst_limit
            ),
            access_log_settings=_AccessLogs(ws_logs, _WEBSOCKET_LOG_FIELDS),
        )
        if config.api_gateway_account_role:
            self._api_gateway_account_role()

        # ------------------------------------------------------------ functions
        powertools = {
            "POWERTOOLS_SERVICE_NAME": "chat",
            "POWERTOOLS_METRICS_NAMESPACE": "Chat",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        table_env = {"CONNECTIONS_TABLE": self.table.table_name}
        management_env = {
            "MANAGEMENT_API_URL": self.websocket_stage.callback_url,
            "BROADCAST_MAX_WORKERS": str(config.broadcast_max_workers),
        }
        # Through the proxy as chat_app (DML only), verifying the proxy's ACM certificate.
        database_env = {
            "DATABASE_SECRET_ARN": self.database.app_secret.secret_arn,
            "DATABASE_HOST": self.database.proxy.endpoint,
            "DATABASE_NAME": self.database.database_name,
            "DATABASE_CA_BUNDLE": PROXY_CA_BUNDLE,
        }
        token_env = {"TOKEN_SECRET_ARN": token_secret.secret_arn}
        web_origins = [self.web.url, *config.allowed_origins]
        self.attachments = AttachmentBucket(
            self, "Attachments", web_origins=web_origins, access_log_bucket=access_logs.bucket
        )
        files_env = {"ATTACHMENTS_BUCKET": self.attachments.bucket.bucket_name}
        worker_timeout = Duration.seconds(config.fanout_worker_timeout_seconds)
        self.fanout = FanoutQueue(
            self, "FanoutJobs", visibility_timeout=Duration.seconds(config.fanout_visibility_timeout)
        )
        # The functions that post to whole rooms queue a large room's delivery instead.
        queue_env = {
            "FANOUT_QUEUE_URL": self.fanout.queue.queue_url,
            "FANOUT_LARGE_ROOM": str(config.fanout_large_room),
        }

        def function(
            folder: str,
            description: str,
            environment: dict[str, str],
            *,
            timeout: Duration,
            in_vpc: bool,
            **extra: Any,
        ) -> ChatFunction:
            if folder in config.reserved_concurrency:
                extra["reserved_concurrency"] = config.reserved_concurrency[folder]
            return ChatFunction(
                self,
                folder.capitalize(),
                folder=folder,
                description=description,
                layer=self.layer,
                environment={**powertools, **environment},
                timeout=timeout,
                memory_size=config.function_memory_mb,
                log_retention=config.log_retention,
                vpc=network.vpc if in_vpc else None,
                vpc_subnets=network.app_subnets if in_vpc else None,
                **extra,
            )

        migrate = function(
            "migrate",
            f"Applies the SQL migrations at deploy (migrations {migrations_digest()})",
            {
                # The master user: the only function that may change the schema and set chat_app's password.
                "DATABASE_SECRET_ARN": self.database.secret.secret_arn,
                "APP_DATABASE_SECRET_ARN": self.database.app_secret.secret_arn,
                # Straight to the instance: the proxy's target can take minutes to register on a first deploy.
                "DATABASE_HOST": self.database.instance.db_instance_endpoint_address,
                "DATABASE_NAME": self.database.database_name,
                "DATABASE_CA_BUNDLE": INSTANCE_CA_BUNDLE,
            },
            timeout=Duration.minutes(5),
            in_vpc=True,
            trigger_after=[self.database.instance],
        )
        connect = function(
            "connect",
            "$connect: verifies the token and registers the connection",
            {
                **table_env,
                **management_env,  # a user coming online is announced to their contacts
                **database_env,
                **token_env,
                "ALLOWED_ORIGINS": ",".join(web_origins),
            },
            timeout=Duration.seconds(10),
            in_vpc=True,
        )
        message = function(
            "message",
            f"WebSocket frames ({', '.join(MESSAGE_ROUTES)}, $default)",
            {**table_env, **management_env, **database_env, **files_env, **queue_env},
            timeout=Duration.seconds(29),
            in_vpc=True,
        )
        disconnect = function(
            "disconnect",
            "$disconnect: forgets the connection and tells its rooms",
            {**table_env, **management_env},
            timeout=Duration.seconds(30),
            in_vpc=False,
        )
        rest = function(
            "rest",
            "HTTP API: auth, profile, conversations, groups, direct chats, tags, people, search, attachments",
            {
                **database_env,
                **files_env,
                **token_env,
                "TOKEN_TTL_SECONDS": str(config.token_ttl_seconds),
                # Membership changes reach the users' open connections at once (subscriptions and frames).
                **table_env,
                **management_env,
                **queue_env,
            },
            timeout=Duration.seconds(29),
            in_vpc=True,
        )
        fanout = function(
            "fanout",
            "SQS: posts a large room's frame to one shard of its connections, within the shared budget",
            {
                **table_env,
                **management_env,
                "FANOUT_QUEUE_URL": self.fanout.queue.queue_url,  # failed posts are queued again
                "FANOUT_POSTS_PER_SECOND": str(config.fanout_posts_per_second),
            },
            timeout=worker_timeout,
            in_vpc=False,
        )
        fanout.function.add_event_source(
            event_sources.SqsEventSource(
                self.fanout.queue,
                batch_size=config.fanout_batch_size,
                report_batch_item_failures=True,
                max_concurrency=config.fanout_max_concurrency,
            )
        )
        prune = function(
            "prune",
            "Every 5 minutes: forgets connections API Gateway no longer has",
            {**table_env, **management_env},
            timeout=Duration.minutes(2),
            in_vpc=False,
        )
        self.functions = {fn.folder: fn for fn in (connect, message, disconnect, rest, fanout, prune, migrate)}
        self._check_borrow_timeout(config, (connect, message, rest))

        # ------------------------------------------------------------ permissions (exactly what each uses)
        table_arn = self.table.table_arn
        # The connection item (PutItem), the user's set of connections (UpdateItem, capped), on a full set the
        # check of which listed connections still exist (GetItem, BatchGetItem), a subscription per room of the
        # user (BatchWriteItem), and the contacts' connections for the online presence (BatchGetItem).
        connect.grant_table(
            table_arn,
            [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
            ],
        )
        message.grant_table(table_arn, _MESSAGE_TABLE_ACTIONS)
        # Forgetting the connection: its item listing its room partitions (GetItem), its items (BatchWriteItem),
        # its entry in the user's set (UpdateItem, DeleteItem of an emptied set), the contacts' connections for
        # the offline presence (BatchGetItem).
        disconnect.grant_table(
            table_arn,
            [
                "dynamodb:GetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchGetItem",
            ],
        )
        # Live membership: a user's connections (GetItem) subscribed or unsubscribed (BatchWriteItem, and their
        # items' room lists: BatchGetItem, UpdateItem), a room's connections (Query of its partitions) told of a
        # change, new presence contacts (UpdateItem, BatchGetItem), a deleted account's connections forgotten
        # (GetItem, BatchWriteItem, UpdateItem, DeleteItem).
        rest.grant_table(
            table_arn,
            [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ],
        )
        # Scan for stale connections (its place kept in one item: GetItem/PutItem/DeleteItem), touch the live
        # ones (UpdateItem), forget the gone ones (GetItem + BatchWriteItem).
        prune.grant_table(
            table_arn,
            [
                "dynamodb:Scan",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchGetItem",  # presence to the contacts of a connection found gone
            ],
        )
        for fn in (connect, message, disconnect, rest, fanout, prune):
            self.websocket_stage.grant_management_api_access(fn.role)
            acknowledge(
                fn.role,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"
                f"<{self.get_logical_id(_default_child(self.websocket_api))}>/{config.stage}/*/@connections/*]",
                "execute-api:ManageConnections is scoped to this API's stage; the connection id and the "
                "HTTP method (POST to send, GET to probe) are runtime values, hence the two wildcards.",
            )
        # A shard's connections (Query), the shared budget's counter (UpdateItem; GetItem when it is nearly
        # spent), a deleted room's shard emptied (BatchWriteItem), gone connections forgotten (GetItem,
        # BatchWriteItem, UpdateItem, DeleteItem) with the offline presence (BatchGetItem).
        fanout.grant_table(
            table_arn,
            [
                "dynamodb:Query",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchGetItem",
            ],
        )
        for fn in (message, rest, fanout):
            self.fanout.queue.grant_send_messages(fn.role)
        self.attachments.grant_signing(rest.role)
        self.attachments.grant_sending(message.role)
        bucket_id = self.get_logical_id(_default_child(self.attachments.bucket))
        for fn in (rest, message):
            acknowledge(
                fn.role,
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/rooms/*]",
                "Attachment objects are rooms/<room>/<random id>, created at runtime: the grant is the chat's own "
                "prefix, and the function checks membership of the room before it signs or touches a key.",
            )
        for fn in (connect, message, rest, migrate):
            fn.grant_secret_read(self.database.app_secret)
        migrate.grant_secret_read(self.database.secret)
        for fn in (connect, rest):
            fn.grant_secret_read(token_secret)
        for fn in (connect, message, rest):
            fn.allow_database(self.database.proxy, self.database.port, f"{fn.folder} function to RDS Proxy")
        migrate.allow_database(self.database.instance, self.database.port, "migrate function to PostgreSQL")
        for fn in (connect, message, rest, migrate):
            if fn.security_group is not None:
                network.allow_endpoint_access(fn.security_group, f"{fn.folder} function to AWS API endpoints")

        # The migration runs once its network path exists (security group rules are separate resources,
        # so the instance alone is not enough), and before the functions whose code may need the new schema.
        trigger = migrate.function.node.find_child("Trigger")
        if not isinstance(trigger, triggers.Trigger):
            raise TypeError("the migrate TriggerFunction has no Trigger")
        if migrate.security_group is None:
            raise TypeError("the migrate function runs in the VPC and has a security group")
        trigger.execute_after(self.database.security_group, migrate.security_group, *network.endpoints)
        trigger.execute_before(connect.function, message.function, rest.function)

        # ------------------------------------------------------------ WebSocket routes
        self.websocket_api.add_route(
            "$connect", integration=integrations.WebSocketLambdaIntegration("ConnectIntegration", connect.function)
        )
        self.websocket_api.add_route(
            "$disconnect",
            integration=integrations.WebSocketLambdaIntegration("DisconnectIntegration", disconnect.function),
        )
        message_integration = integrations.WebSocketLambdaIntegration("MessageIntegration", message.function)
        for route_key in ("$default", *MESSAGE_ROUTES):
            self.websocket_api.add_route(route_key, integration=message_integration)

        # ------------------------------------------------------------ HTTP API
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=f"chat-{config.stage}-http",
            description="chat REST API (auth, groups, profile)",
            create_default_stage=False,
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=web_origins,
                allow_methods=[
                    apigwv2.CorsHttpMethod.GET,
                    apigwv2.CorsHttpMethod.POST,
                    apigwv2.CorsHttpMethod.PUT,
                    apigwv2.CorsHttpMethod.PATCH,
                    apigwv2.CorsHttpMethod.DELETE,
                    apigwv2.CorsHttpMethod.OPTIONS,
                ],
                allow_headers=["authorization", "content-type"],
                max_age=Duration.hours(1),
            ),
            default_integration=integrations.HttpLambdaIntegration(
                "RestIntegration", rest.function, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0
            ),
        )
        http_logs = logs.LogGroup(self, "HttpApiAccessLogs", retention=config.log_retention)
        self.http_stage = apigwv2.HttpStage(
            self,
            "HttpStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=config.http_throttle_rate_limit, burst_limit=config.http_throttle_burst_limit
            ),
            access_log_settings=_AccessLogs(http_logs, _HTTP_LOG_FIELDS),
        )

        # ------------------------------------------------------------ schedule
        self.prune_rule = events.Rule(
            self,
            "PruneSchedule",
            description="Runs the prune function every 5 minutes",
            schedule=events.Schedule.rate(Duration.minutes(5)),
            targets=[targets.LambdaFunction(prune.function, retry_attempts=2, max_event_age=Duration.minutes(4))],
        )
        # A failed run is not retried: the next one starts 5 minutes later and sees the same connections.
        prune.function.configure_async_invoke(retry_attempts=0, max_event_age=Duration.minutes(4))

        # ------------------------------------------------------------ web UI and its config.json
        self.web.deploy(api_url=self.http_api.api_endpoint, ws_url=self.websocket_stage.url)

        # ------------------------------------------------------------ monitoring
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            stage=config.stage,
            functions=list(self.functions.values()),
            websocket_api=self.websocket_api,
            websocket_stage=self.websocket_stage,
            http_api=self.http_api,
            http_stage=self.http_stage,
            table=self.table,
            database=self.database.instance,
            proxy=self.database.proxy,
            prune_rule=self.prune_rule,
            fanout_dead_letters=self.fanout.dead_letters,
            alarm_email=config.alarm_email,
        )

        self._acknowledge_findings()

        # Deletion protection goes on last: if anything else of a first deploy fails, the rollback can still
        # delete the new database (a protected one would leave the stack in ROLLBACK_FAILED).
        guard = self.database.deletion_guard
        for child in self.node.children:
            if child is not self.database:
                guard.node.add_dependency(child)
        for child in self.database.node.children:
            if child is not guard:
                guard.node.add_dependency(child)

        # ------------------------------------------------------------ outputs
        CfnOutput(self, "WebUrl", value=self.web.url, description="The chat web UI")
        CfnOutput(self, "WebSocketUrl", value=self.websocket_stage.url, description="wss:// URL of the WebSocket API")
        CfnOutput(self, "HttpApiUrl", value=self.http_api.api_endpoint, description="Base URL of the HTTP API")
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn, description="Subscribe here for alarms")
        CfnOutput(self, "DashboardName", value=f"chat-{config.stage}", description="CloudWatch dashboard")

    def _check_region(self, config: ChatConfig) -> None:
        """Refuse, at synth, a region where CloudFront cannot deliver its logs, unless they are turned off.

        The stack is environment-agnostic; the CDK CLI tells the app the region it deploys to in
        ``CDK_DEFAULT_REGION``. Without either, the region is unknown here and nothing is checked.
        """
        region = None if Token.is_unresolved(self.region) else self.region
        region = region or os.environ.get("CDK_DEFAULT_REGION")
        if config.cloudfront_logging and region and not cloudfront_can_log_to(region):
            raise ConfigError(
                f"CloudFront standard logging cannot deliver to a bucket in {region} (an opt-in region): deploy "
                "with -c cloudFrontLogging=false (the distribution then keeps no access logs), or to another region"
            )

    @staticmethod
    def _check_borrow_timeout(config: ChatConfig, proxy_users: tuple[ChatFunction, ...]) -> None:
        """The proxy must give up on a caller before Lambda gives up on the function."""
        for fn in proxy_users:
            timeout = fn.function.timeout
            seconds = timeout.to_seconds() if timeout is not None else 3
            if config.proxy_borrow_timeout_seconds >= seconds:
                raise ConfigError(
                    f"context 'proxyBorrowTimeoutSeconds' ({config.proxy_borrow_timeout_seconds}) must be under "
                    f"the {fn.folder} function's timeout ({seconds:g} s)"
                )

    def _api_gateway_account_role(self) -> None:
        """The region's API Gateway CloudWatch role: WebSocket stages cannot log without it.

        It is an account-wide setting, so the role is retained on teardown (other APIs may rely on it).
        """
        role = iam.Role(
            self,
            "ApiGatewayCloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="Lets API Gateway write API logs to CloudWatch Logs (account setting)",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(_APIGW_LOGS_POLICY)],
        )
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        self.websocket_stage.node.add_dependency(account)
        acknowledge(
            role,
            f"AwsSolutions-IAM4[Policy::{_AWS_POLICY_ARN}/{_APIGW_LOGS_POLICY}]",
            "This is API Gateway's account-wide logging role (every API of the region logs through it), so "
            "it cannot be scoped to this stack's log groups; AWS maintains the policy for exactly this use.",
        )

    def _acknowledge_findings(self) -> None:
        """Findings on the APIs and on constructs CDK itself adds to the stack (each with its reason)."""
        for api in (self.websocket_api, self.http_api):
            acknowledge(
                api,
                "AwsSolutions-APIG4",
                "Authorization happens in the functions: $connect verifies the signed token (?token=, HTTP 401 "
                "otherwise) and binds the identity to the connection, later routes act only as that identity; "
                "the HTTP API's /auth routes are public by nature and every other route checks the Bearer token.",
            )
        deployment = next(
            child for child in self.node.children if child.node.id.startswith("Custom::CDKBucketDeployment")
        )
        bucket_deployment_reasons = {
            f"AwsSolutions-IAM4[Policy::{_AWS_POLICY_ARN}/service-role/AWSLambdaBasicExecutionRole]": (
                "CDK's BucketDeployment handler (a CDK-managed singleton) uses the AWS-managed basic execution "
                "role to write its own logs; its role is not configurable short of replacing the construct."
            ),
            "AwsSolutions-IAM5[Action::s3:GetBucket*]": _BUCKET_DEPLOYMENT_S3,
            "AwsSolutions-IAM5[Action::s3:GetObject*]": _BUCKET_DEPLOYMENT_S3,
            "AwsSolutions-IAM5[Action::s3:List*]": _BUCKET_DEPLOYMENT_S3,
            "AwsSolutions-IAM5[Action::s3:Abort*]": _BUCKET_DEPLOYMENT_S3,
            "AwsSolutions-IAM5[Action::s3:DeleteObject*]": _BUCKET_DEPLOYMENT_S3,
            f"AwsSolutions-IAM5[Resource::{_CDK_ASSETS_BUCKET_ARN}/*]": (
                "The BucketDeployment handler reads the web/ asset zip from the CDK bootstrap assets bucket; "
                "asset object keys are content hashes, so the grant covers the bucket's objects."
            ),
            f"AwsSolutions-IAM5[Resource::<{self.get_logical_id(_default_child(self.web.bucket))}.Arn>/*]": (
                "The BucketDeployment handler syncs (writes and prunes) every object of the web UI bucket, "
                "so it needs the bucket's objects; it has no access to any other bucket of the stack."
            ),
            "AwsSolutions-IAM5[Resource::*]": (
                "The BucketDeployment handler creates a CloudFront invalidation after each upload; "
                "cloudfront:CreateInvalidation/GetInvalidation as granted by CDK are not resource-scoped."
            ),
            "AwsSolutions-L1": (
                "The BucketDeployment handler's runtime is chosen by aws-cdk-lib (a CDK-managed singleton "
                "Lambda); it moves to newer runtimes with aws-cdk-lib upgrades, not with this app's code."
            ),
        }
        for rule_id, reason in bucket_deployment_reasons.items():
            acknowledge(deployment, rule_id, reason)


_APIGW_LOGS_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
_AWS_POLICY_ARN = "arn:<AWS::Partition>:iam::aws:policy"
# The default bootstrap qualifier: the BucketDeployment handler reads assets from this bucket.
_CDK_ASSETS_BUCKET_ARN = "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>"

_BUCKET_DEPLOYMENT_S3 = (
    "CDK's BucketDeployment grants its handler the S3 read/write action groups (Get*, List*, DeleteObject*, "
    "Abort*) on exactly the asset bucket and the web UI bucket; the wildcards are in action names only."
)


def _default_child(construct: Construct) -> CfnElement:
    child = construct.node.default_child
    if not isinstance(child, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return child
