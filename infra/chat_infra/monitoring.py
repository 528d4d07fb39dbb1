"""CloudWatch alarms (to an encrypted SNS topic) and one dashboard for the whole chat."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.chat_infra.functions import ChatFunction

FIVE_MINUTES = Duration.minutes(5)


#: Every metric the functions emit through Powertools (``metrics.add_metric``); each is charted.
FUNCTION_METRICS = (
    "Connected",
    "ConnectRefused",
    "ConnectUnavailable",
    "Disconnected",
    "Frames",
    "PrunedConnections",
    "FanoutPosts",
    "FanoutRecipientsDropped",
)


class Monitoring(Construct):
    """Alarms on every function's errors and throttles, API 5xx, the prune schedule, the migration, RDS and
    sessions pinned in RDS Proxy."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        functions: Sequence[ChatFunction],
        websocket_api: apigwv2.WebSocketApi,
        websocket_stage: apigwv2.WebSocketStage,
        http_api: apigwv2.HttpApi,
        http_stage: apigwv2.HttpStage,
        table: dynamodb.ITable,
        database: rds.DatabaseInstance,
        proxy: rds.DatabaseProxy,
        prune_rule: events.Rule,
        fanout_dead_letters: sqs.IQueue,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"chat ({stage}): encrypts the alarm topic",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch publishes alarm notifications to an encrypted topic only if it may use the key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name=f"chat {stage} alarms", master_key=key, enforce_ssl=True
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

        ws_dimensions = {"ApiId": websocket_api.api_id, "Stage": websocket_stage.stage_name}

        def ws_metric(name: str, statistic: str = "Sum") -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map=ws_dimensions,
                statistic=statistic,
                period=FIVE_MINUTES,
            )

        for fn in functions:
            label = fn.folder
            self._alarm(
                f"{label}Errors",
                fn.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
                description=f"The {label} function raised or timed out"
                + (" (the deploy-time migration failed)" if label == "migrate" else ""),
            )
            self._alarm(
                f"{label}Throttles",
                fn.function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                threshold=1,
                description=f"The {label} function was throttled (account or reserved concurrency reached)",
            )
        self._alarm(
            "WebSocketExecutionErrors",
            ws_metric("ExecutionError"),
            threshold=1,
            description="API Gateway failed to invoke a WebSocket route's function (the client got a 5xx)",
        )
        self._alarm(
            "WebSocketIntegrationErrors",
            ws_metric("IntegrationError"),
            threshold=5,
            description="WebSocket route functions returned errors (4xx/5xx) five times or more in 5 minutes",
        )
        self._alarm(
            "HttpApi5xx",
            http_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            description="The HTTP API answered 5xx (function error, timeout or database unavailable)",
        )
        self._alarm(
            "PruneScheduleFailedInvocations",
            cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="FailedInvocations",
                dimensions_map={"RuleName": prune_rule.rule_name},
                statistic="Sum",
                period=FIVE_MINUTES,
            ),
            threshold=1,
            description="EventBridge could not invoke the prune function",
        )
        self._alarm(
            "FanoutDeadLetters",
            fanout_dead_letters.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
            threshold=1,
            description="A large room's fan-out job failed five times and is in the dead-letter queue",
        )
        self._alarm(
            "FanoutRecipientsDropped",
            cloudwatch.Metric(
                namespace="Chat",
                metric_name="FanoutRecipientsDropped",
                dimensions_map={"service": "chat"},
                statistic="Sum",
                period=FIVE_MINUTES,
            ),
            threshold=1,
            description="Fan-out workers gave up posting to connections after five attempts (budget or throttling)",
        )
        self._alarm(
            "DatabaseCpuHigh",
            database.metric_cpu_utilization(period=FIVE_MINUTES, statistic="Average"),
            threshold=80,
            evaluation_periods=3,
            description="PostgreSQL CPU above 80% for 15 minutes: consider a larger dbInstanceClass",
        )
        self._alarm(
            "DatabaseStorageLow",
            database.metric_free_storage_space(period=FIVE_MINUTES, statistic="Minimum"),
            threshold=2 * 1024**3,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            description="PostgreSQL has less than 2 GiB of free storage",
        )

        def proxy_metric(name: str, statistic: str = "Maximum") -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/RDS",
                metric_name=name,
                dimensions_map={"ProxyName": proxy.db_proxy_name},
                statistic=statistic,
                period=FIVE_MINUTES,
            )

        self._alarm(
            "ProxySessionsPinned",
            proxy_metric("DatabaseConnectionsCurrentlySessionPinned"),
            threshold=1,
            description="RDS Proxy pinned a client session to a database connection (a SET, a prepared statement, "
            "a temporary table...): pinned connections are no longer shared, and the pool can run dry",
        )

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"chat-{stage}", default_interval=Duration.hours(6)
        )
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(markdown=f"# chat ({stage})\nWebSocket, HTTP API, functions and data.", width=24),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="WebSocket traffic",
                left=[ws_metric("ConnectCount"), ws_metric("MessageCount")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="WebSocket errors",
                left=[ws_metric("ClientError"), ws_metric("IntegrationError"), ws_metric("ExecutionError")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="WebSocket integration latency (p90)",
                left=[ws_metric("IntegrationLatency", "p90")],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="HTTP API requests and errors",
                left=[http_api.metric_count(period=FIVE_MINUTES)],
                right=[
                    http_api.metric_client_error(period=FIVE_MINUTES),
                    http_api.metric_server_error(period=FIVE_MINUTES),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="HTTP API latency (p90)",
                left=[http_api.metric_latency(period=FIVE_MINUTES, statistic="p90")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function invocations",
                left=[fn.function.metric_invocations(period=FIVE_MINUTES, label=fn.folder) for fn in functions],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[fn.function.metric_errors(period=FIVE_MINUTES, label=fn.folder) for fn in functions],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function duration (p90)",
                left=[
                    fn.function.metric_duration(period=FIVE_MINUTES, statistic="p90", label=fn.folder)
                    for fn in functions
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Chat metrics (Powertools)",
                left=[
                    cloudwatch.Metric(
                        namespace="Chat",
                        metric_name=name,
                        dimensions_map={"service": "chat"},
                        statistic="Sum",
                        period=FIVE_MINUTES,
                    )
                    for name in FUNCTION_METRICS
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Connections table",
                left=[
                    table.metric_consumed_read_capacity_units(period=FIVE_MINUTES),
                    table.metric_consumed_write_capacity_units(period=FIVE_MINUTES),
                ],
                right=[
                    table.metric_user_errors(period=FIVE_MINUTES),
                    table.metric_system_errors_for_operations(period=FIVE_MINUTES),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="PostgreSQL",
                left=[database.metric_cpu_utilization(period=FIVE_MINUTES)],
                right=[database.metric_database_connections(period=FIVE_MINUTES)],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="RDS Proxy connections",
                left=[proxy_metric("ClientConnections"), proxy_metric("DatabaseConnections")],
                right=[proxy_metric("DatabaseConnectionsCurrentlySessionPinned")],
                width=24,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )

    def _alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=comparison,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm
