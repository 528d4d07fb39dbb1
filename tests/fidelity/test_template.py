"""One source of truth: ``chat-local`` serves what the synthesized CloudFormation template declares."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from botocore.credentials import Credentials
from chat_local import template as templates
from chat_local.sigv4 import REGION
from chat_local.spec import LocalSpec, references
from chat_local.stand_ins import LocalQueue, Locals, function_environment
from chatcore.protocol.client import CLIENT_FRAME_TYPES

from tests.fidelity.conftest import PROBE_APP
from tests.fidelity.probe import Probe, functions
from tests.helpers.clients import Api, ChatClient
from tests.helpers.stack import StackProcess

REPO = templates.REPO_ROOT
SELECTION = "$request.body.type"
ECHO_ARN = ["Echo", "Arn"]


def chat_template() -> templates.Template:
    """The chat app's template as ``chat-local`` gets it by default (cached, or synthesized now)."""
    return templates.load(REPO)


def test_the_chat_stack_serves_the_routes_and_functions_of_its_template(stack: StackProcess) -> None:
    """AWS::ApiGatewayV2::Route / AWS::Lambda::Function (CloudFormation): the WebSocket routes are the template's
    (every frame type of the protocol, $connect, $disconnect, $default), each running function has the
    template's Timeout, MemorySize and ReservedConcurrentExecutions."""
    template = chat_template()
    spec = template.spec()
    assert spec.websocket is not None and spec.websocket.route_selection_expression == "$request.body.type"
    assert set(spec.websocket.routes) == {"$connect", "$disconnect", "$default", *CLIENT_FRAME_TYPES}
    served = functions(stack)
    assert set(served) == {f.label for f in spec.functions.values()}
    for function in spec.functions.values():
        props = template.body["Resources"][function.logical_id]["Properties"]
        pool = served[function.label]
        assert (pool["timeout"], pool["memoryMb"], pool["reserved"]) == (
            props["Timeout"],
            props["MemorySize"],
            props.get("ReservedConcurrentExecutions"),
        )


def test_no_environment_value_of_a_function_still_points_at_aws() -> None:
    """Lambda environment variables from the template: every value that names an AWS resource (a table, a secret,
    the callback URL, the proxy, a queue) is mapped to its local stand-in, in chat_local/stand_ins.py."""
    spec = chat_template().spec()
    queues = {
        logical_id: LocalQueue(f"http://127.0.0.1:2/000000000000/{q.name}", f"local:{q.name}", q.name)
        for logical_id, q in spec.queues.items()
    }
    local = Locals(
        region=REGION,
        credentials=Credentials("local", "local"),
        gateway_url="http://127.0.0.1:1",
        web_origins="http://127.0.0.1:1",
        token_secret="k" * 48,
        dynamodb_endpoint="http://127.0.0.1:2",
        database_url="postgresql://local/chat",
        table_names={logical_id: table.name for logical_id, table in spec.tables.items()},
        bucket_names={logical_id: bucket.name for logical_id, bucket in spec.buckets.items()},
        queues=queues,
    )
    queued = 0
    for function in spec.functions.values():
        environment = function_environment(spec, function, local)
        text = json.dumps(environment)
        for aws in ("amazonaws.com", "arn:aws", "Fn::", '"Ref"', "${", "SECRET_ARN"):
            assert aws not in text, (function.label, aws, environment)
        if "MANAGEMENT_API_URL" in function.environment:
            assert environment["MANAGEMENT_API_URL"] == f"http://127.0.0.1:1/{spec.websocket.stage}"  # type: ignore[union-attr]
        if "FANOUT_QUEUE_URL" in function.environment:
            assert environment["FANOUT_QUEUE_URL"] in {q.url for q in queues.values()}
            queued += 1
    assert queued == 3  # message, rest and fanout send jobs to the fan-out queue


def test_the_committed_snapshot_serves_what_the_app_synthesizes() -> None:
    """The fallback when the app cannot be synthesized (local/chat_local/template_snapshot.json) is the app as it is:
    refresh it with `uv run python -m chat_local.template --write-snapshot`."""
    entry = json.loads(templates.SNAPSHOT.read_text())
    snapshot = templates.Template(entry["template"], entry["stack"], REPO, "snapshot").spec()
    current = chat_template().spec()
    assert _served(snapshot) == _served(current), (
        "the snapshot is stale: uv run python -m chat_local.template --write-snapshot"
    )


def _served(spec: LocalSpec) -> dict[str, Any]:
    """What the local stack serves from a spec: all but its origin and the types of resources no function names."""
    named = {ref for function in spec.functions.values() for ref, _ in references(function.environment)}
    served = {key: value for key, value in asdict(spec).items() if key not in ("source", "resource_types")}
    served["named_types"] = {ref: spec.resource_types.get(ref) for ref in sorted(named)}
    return served


SHOUT = '''"""A route added to the app (in a test's copy): answers with the text in capitals."""

import json


def handler(event, context):
    text = json.loads(event["body"]).get("text", "")
    return {"statusCode": 200, "body": json.dumps({"type": "shout", "text": str(text).upper()})}
'''

ROUTE = """
        from infra.chat_infra.paths import FUNCTIONS_DIR as _functions  # added by the fidelity test

        shout = lambda_.Function(
            self,
            "ShoutFunction",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(_functions / "shout")),
            timeout=Duration.seconds(5),
        )
        self.websocket_api.add_route(
            "shout",
            integration=integrations.WebSocketLambdaIntegration("ShoutIntegration", shout),
            return_response=True,
        )
"""
ANCHOR = "            self.websocket_api.add_route(route_key, integration=message_integration)\n"


def test_a_route_added_to_a_copy_of_the_app_is_served_with_no_other_change(tmp_path: Path, stack_database: str) -> None:
    """AWS::ApiGatewayV2::Route with a RouteResponse (CloudFormation): a route and its function added to the CDK
    app (a copy of it) are served by chat-local as they are, its answer sent back (a two-way route)."""
    copy = tmp_path / "app"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".local", ".mypy_cache", "cdk.out")
    for folder in ("infra", "functions", "layers", "web"):
        shutil.copytree(REPO / folder, copy / folder, ignore=ignore)
    shutil.copy(REPO / "cdk.json", copy / "cdk.json")
    (copy / "functions" / "shout").mkdir()
    (copy / "functions" / "shout" / "handler.py").write_text(SHOUT)
    stack_py = copy / "infra" / "chat_infra" / "stack.py"
    source = stack_py.read_text()
    assert ANCHOR in source, "the WebSocket routes of infra/chat_infra/stack.py moved: update this test's anchor"
    stack_py.write_text(source.replace(ANCHOR, ANCHOR + ROUTE, 1))

    process = StackProcess(
        tmp_path / "data", "--app", str(copy), env={"DATABASE_URL": stack_database}, log_path=tmp_path / "copy.log"
    ).start(timeout=240)
    try:
        account = Api(process.api_url).register("shouter")
        client = ChatClient(process.ws_url, account.token)
        client.send({"type": "shout", "text": "hello from the copy"})
        assert client.expect("shout") == {"type": "shout", "text": "HELLO FROM THE COPY"}
        client.close()
        assert f"synthesized from {copy}" in process.log_tail(100_000)  # its own template, not the repository's
    finally:
        process.stop()


def test_without_a_default_route_an_unmatched_frame_is_forbidden(tmp_path: Path) -> None:
    """Routes page ($default is where unmatched messages go): with no $default route API Gateway answers the
    ``Forbidden`` frame. Served from a hand-written template (``--template``), as from `cdk synth`'s."""
    echo = str(PROBE_APP / "functions" / "echo")
    api = {"Ref": "Api"}
    resources = {
        "Api": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": "bare",
                "ProtocolType": "WEBSOCKET",
                "RouteSelectionExpression": "$request.body.type",
            },
        },
        "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"ApiId": api, "StageName": "bare"}},
        "Echo": {
            "Type": "AWS::Lambda::Function",
            "Metadata": {"aws:asset:path": echo},
            "Properties": {"Handler": "handler.handler", "Runtime": "python3.12", "Timeout": 5},
        },
        "EchoIntegration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": api,
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": {"Fn::GetAtt": ["Echo", "Arn"]},
            },
        },
        "EchoRoute": {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": api,
                "RouteKey": "echo",
                "RouteResponseSelectionExpression": "$default",
                "Target": {"Fn::Join": ["", ["integrations/", {"Ref": "EchoIntegration"}]]},
            },
        },
        "EchoResponse": {
            "Type": "AWS::ApiGatewayV2::RouteResponse",
            "Properties": {"ApiId": api, "RouteId": {"Ref": "EchoRoute"}, "RouteResponseKey": "$default"},
        },
    }
    path = tmp_path / "bare.template.json"
    path.write_text(json.dumps({"Resources": resources}))
    process = StackProcess(tmp_path / "data", "--template", str(path), log_path=tmp_path / "bare.log").start()
    try:
        client = Probe(process)
        assert client.echo()["route"] == "echo"
        for frame in ({"type": "other"}, "not json"):
            client.send(frame)
            forbidden = client.message("Forbidden")
            assert set(forbidden) == {"message", "connectionId", "requestId"}
        client.close()
    finally:
        process.stop()
