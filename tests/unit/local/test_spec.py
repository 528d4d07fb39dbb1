"""Reading a template: routes, integrations, route responses, stages' throttles, functions and schedules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chat_local.spec import ScheduleSpec, TemplateError, Throttle, read_template

FUNCTION_ARN = {"Fn::GetAtt": ["Fn", "Arn"]}


def template(code: Path, **extra: Any) -> dict[str, Any]:
    api = {"Ref": "Api"}
    resources: dict[str, Any] = {
        "Api": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"},
        },
        "Stage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {
                "ApiId": api,
                "StageName": "dev",
                "DefaultRouteSettings": {"ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20},
                "RouteSettings": {"send": {"ThrottlingBurstLimit": 2}},
            },
        },
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Metadata": {"aws:asset:path": str(code)},
            "Properties": {
                "Handler": "app.main",
                "Runtime": "python3.12",
                "MemorySize": 256,
                "ReservedConcurrentExecutions": 4,
                "Environment": {"Variables": {"TABLE": {"Ref": "Table"}}},
                "Layers": [{"Ref": "Layer"}],
            },
        },
        "Layer": {"Type": "AWS::Lambda::LayerVersion", "Metadata": {"aws:asset:path": str(code)}},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"KeySchema": []}},
        "Integration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": api,
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": {"Fn::Join": ["", ["arn:", {"Fn::GetAtt": ["Fn", "Arn"]}, "/invocations"]]},
                "TimeoutInMillis": 5000,
            },
        },
        "SendRoute": {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": api,
                "RouteKey": "send",
                "Target": {"Fn::Join": ["", ["integrations/", {"Ref": "Integration"}]]},
                "RouteResponseSelectionExpression": "$default",
            },
        },
        "SendResponse": {"Type": "AWS::ApiGatewayV2::RouteResponse", "Properties": {"RouteId": {"Ref": "SendRoute"}}},
        "Schedule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "rate(2 minutes)",
                "Targets": [{"Arn": {"Fn::GetAtt": ["Fn", "Arn"]}}],
            },
        },
        **extra,
    }
    return {"Resources": resources}


def test_routes_integrations_and_stage_come_from_the_template(tmp_path: Path) -> None:
    """Route keys, their function, integration timeout, route response and throttle (route over stage)."""
    spec = read_template(template(tmp_path), stack_name="s", base_dir=tmp_path)
    assert spec.websocket is not None and spec.http is None
    assert (spec.websocket.stage, spec.websocket.route_selection_expression) == ("dev", "$request.body.action")
    route = spec.websocket.routes["send"]
    assert (route.function, route.timeout, route.two_way) == ("Fn", 5.0, True)
    assert route.throttle == Throttle(rate=10, burst=2)


def test_functions_tables_and_schedules_come_from_the_template(tmp_path: Path) -> None:
    """Handler, code and layer folders, memory, reserved concurrency, AWS's 3 s default timeout; tables; rates."""
    spec = read_template(template(tmp_path), stack_name="s", base_dir=tmp_path)
    function = spec.functions["Fn"]
    assert (function.handler, function.code_dir, function.layers) == ("app.main", str(tmp_path), (str(tmp_path),))
    assert (function.timeout, function.memory_mb, function.reserved_concurrency) == (3.0, 256, 4)
    assert function.environment == {"TABLE": {"Ref": "Table"}}
    assert spec.tables["Table"].name == "s-Table"
    assert spec.schedules == (ScheduleSpec("Schedule", "Schedule", "rate(2 minutes)", "Fn"),)
    assert spec.schedules[0].interval == 120
    assert ScheduleSpec("x", "x", "cron(0 12 * * ? *)", "Fn").interval is None


def test_what_the_local_stack_cannot_run_is_named(tmp_path: Path) -> None:
    """A Node function behind a route, a missing code folder, no API at all: a TemplateError naming it."""
    node = template(tmp_path)
    node["Resources"]["Fn"]["Properties"]["Runtime"] = "nodejs20.x"
    with pytest.raises(TemplateError, match=r"runs nodejs20\.x"):
        read_template(node, stack_name="s", base_dir=tmp_path)
    missing = template(tmp_path / "nowhere")
    with pytest.raises(TemplateError, match="does not exist"):
        read_template(missing, stack_name="s", base_dir=tmp_path)
    with pytest.raises(TemplateError, match="no API Gateway"):
        read_template({"Resources": {}}, stack_name="s", base_dir=tmp_path)


def test_queues_and_their_event_source_mappings_come_from_the_template(tmp_path: Path) -> None:
    """A queue's visibility timeout and redrive policy; an SQS mapping's batch, window, response types, scaling;
    its function is run though no route names it (a worker only the queue invokes)."""
    worker = {
        "Type": "AWS::Lambda::Function",
        "Metadata": {"aws:asset:path": str(tmp_path)},
        "Properties": {"Handler": "worker.handler", "Runtime": "python3.12", "Timeout": 60},
    }
    queues = {
        "Worker": worker,
        "Dead": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "Jobs": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "VisibilityTimeout": 360,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dead", "Arn"]}, "maxReceiveCount": 5},
            },
        },
        "Mapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Jobs", "Arn"]},
                "FunctionName": {"Ref": "Worker"},
                "BatchSize": 7,
                "MaximumBatchingWindowInSeconds": 2,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": 16},
            },
        },
        "StreamMapping": {  # not SQS: not emulated, and not in the way
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]}, "FunctionName": {"Ref": "Fn"}},
        },
    }
    spec = read_template(template(tmp_path, **queues), stack_name="s", base_dir=tmp_path)
    jobs, dead = spec.queues["Jobs"], spec.queues["Dead"]
    assert (jobs.name, jobs.visibility_timeout, jobs.dead_letter_queue, jobs.max_receive_count) == (
        "s-Jobs",
        360,
        "Dead",
        5,
    )
    assert (dead.visibility_timeout, dead.retention, dead.dead_letter_queue) == (
        30,
        1209600,
        None,
    )  # SQS's default 30 s
    (mapping,) = spec.event_sources
    assert (mapping.function, mapping.queue, mapping.batch_size, mapping.batching_window) == ("Worker", "Jobs", 7, 2.0)
    assert mapping.report_batch_item_failures and mapping.maximum_concurrency == 16 and mapping.enabled
    assert spec.functions["Worker"].timeout == 60.0
    bare = {
        **queues,
        "Mapping": {
            **queues["Mapping"],
            "Properties": {"EventSourceArn": {"Fn::GetAtt": ["Jobs", "Arn"]}, "FunctionName": {"Ref": "Worker"}},
        },
    }
    (defaults,) = read_template(template(tmp_path, **bare), stack_name="s", base_dir=tmp_path).event_sources
    assert (defaults.batch_size, defaults.report_batch_item_failures, defaults.maximum_concurrency) == (10, False, None)
