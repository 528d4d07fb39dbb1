"""The probe app: a CDK app whose WebSocket API exercises one API Gateway or Lambda rule per route.

``chat-local --app tests/fidelity/probe_app`` serves it from its synthesized template, as it serves the chat:
what the fidelity tests check is the emulator's reading of a template, not a hand-kept table. Each route's
function is a few lines in ``functions/<name>/handler.py``; the stage, the routes and the functions carry the
settings under test (integration and function timeouts, memory, reserved concurrency, throttling, route
responses). ``$connect`` and ``$disconnect`` record their events in a DynamoDB table, which the ``records``
route reads back.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs

FUNCTIONS = Path(__file__).resolve().parent / "functions"
STAGE = "probe"
#: The routes' own throttles (the stage's RouteSettings): burst 2 for ``limited``, 10 new connections.
LIMITED = {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 1}
CONNECT_LIMIT = {"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 10}
#: The jobs queue: a record not deleted is received again after 3 s, and moved to the dead letters after 2.
JOBS_VISIBILITY = 3
JOBS_MAX_RECEIVES = 2


class ProbeStack(Stack):
    def __init__(self, scope: App, name: str) -> None:
        super().__init__(scope, name)
        records = dynamodb.Table(
            self,
            "RecordsTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )

        def function(folder: str, **props: object) -> lambda_.Function:
            fn = lambda_.Function(
                self,
                folder.capitalize(),
                runtime=lambda_.Runtime.PYTHON_3_12,
                handler="handler.handler",
                code=lambda_.Code.from_asset(str(FUNCTIONS / folder)),
                environment={"RECORDS_TABLE": records.table_name, "PROBE_SETTING": "plain"},
                **props,  # type: ignore[arg-type]
            )
            records.grant_read_write_data(fn)
            return fn

        api = apigwv2.WebSocketApi(self, "Api", route_selection_expression="$request.body.type")
        stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=api,
            stage_name=STAGE,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=1000, burst_limit=1000),
        )
        stage_resource = stage.node.default_child
        assert isinstance(stage_resource, apigwv2.CfnStage)
        stage_resource.add_property_override("RouteSettings", {"limited": LIMITED, "$connect": CONNECT_LIMIT})

        def route(key: str, fn: lambda_.IFunction, *, reply: bool = False, timeout: Duration | None = None) -> None:
            integration = integrations.WebSocketLambdaIntegration(f"{key.strip('$')}Integration", fn, timeout=timeout)
            api.add_route(key, integration=integration, return_response=reply or None)

        route("$connect", function("connect", timeout=Duration.seconds(5)), timeout=Duration.seconds(2))
        route("$disconnect", function("disconnect", timeout=Duration.seconds(5)))
        echo = function("echo", timeout=Duration.seconds(7), memory_size=256)
        for key in ("$default", "echo", "1", "true", "limited"):
            route(key, echo, reply=True)
        route("records", function("records", timeout=Duration.seconds(5)), reply=True)
        route("fail", function("fail"))
        status = function("status")
        route("status500", status)
        route("status500reply", status, reply=True)
        route("kill", function("sleeper", timeout=Duration.seconds(1)))
        route("hang", function("slow", timeout=Duration.seconds(10)), timeout=Duration.seconds(1))
        route("hog", function("hog", memory_size=128, timeout=Duration.seconds(10)))
        route("single", function("single", reserved_concurrent_executions=1, timeout=Duration.seconds(5)), reply=True)

        # An SQS queue with a dead-letter queue, and a worker its event source mapping invokes.
        dead_letters = sqs.Queue(self, "DeadLetters", retention_period=Duration.days(1))
        jobs = sqs.Queue(
            self,
            "Jobs",
            visibility_timeout=Duration.seconds(JOBS_VISIBILITY),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=JOBS_MAX_RECEIVES),
        )
        worker = function("sqsworker", timeout=Duration.seconds(JOBS_VISIBILITY))
        worker.add_environment("JOBS_QUEUE_URL", jobs.queue_url)
        worker.add_environment("DEAD_LETTERS_ARN", dead_letters.queue_arn)
        worker.add_event_source(
            event_sources.SqsEventSource(
                jobs,
                batch_size=10,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
                max_concurrency=2,
            )
        )


app = App()
ProbeStack(app, "probe")
app.synth()
