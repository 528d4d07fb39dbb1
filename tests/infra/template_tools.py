"""Reading a synthesized CloudFormation template: who integrates with what, which role may do what."""

from __future__ import annotations

from typing import Any

from tests.infra.synthesis import Synth


def of_type(synth: Synth, resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: res for key, res in synth.resources.items() if res["Type"] == resource_type}


def function_arn_target(value: Any) -> str:
    """The logical id of the function whose ``Arn`` ``value`` (GetAtt, or a Join containing one) names."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
            return str(value["Fn::GetAtt"][0])
        if "Fn::Join" in value:
            for part in value["Fn::Join"][1]:
                if isinstance(part, dict) and "Fn::GetAtt" in part:
                    return function_arn_target(part)
    raise AssertionError(f"no function ARN in {value!r}")


def routes(synth: Synth, api_id: str) -> dict[str, dict[str, Any]]:
    """Route key -> route properties, for the API with logical id ``api_id``."""
    return {
        res["Properties"]["RouteKey"]: res["Properties"]
        for res in of_type(synth, "AWS::ApiGatewayV2::Route").values()
        if res["Properties"]["ApiId"] == {"Ref": api_id}
    }


def route_integration(synth: Synth, route: dict[str, Any]) -> dict[str, Any]:
    """The integration properties a route's ``integrations/<id>`` target points at."""
    parts = route["Target"]["Fn::Join"][1]
    assert parts[0] == "integrations/", route
    properties: dict[str, Any] = synth.resources[parts[1]["Ref"]]["Properties"]
    return properties


def role_id(synth: Synth, folder: str) -> str:
    return synth.logical_id(synth.stack.functions[folder].role)


def statements(synth: Synth, role_logical_id: str) -> list[dict[str, Any]]:
    """Every inline policy statement attached to the role ``role_logical_id``."""
    found: list[dict[str, Any]] = []
    for policy in of_type(synth, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def allowed(synth: Synth, folder: str, prefix: str) -> set[str]:
    """The actions starting with ``prefix`` (``dynamodb:``) the function's role allows."""
    return {
        action
        for statement in statements(synth, role_id(synth, folder))
        if statement["Effect"] == "Allow"
        for action in actions(statement)
        if action.startswith(prefix)
    }


def environment(synth: Synth, folder: str) -> dict[str, Any]:
    variables: dict[str, Any] = synth.resources[synth.function_id(folder)]["Properties"]["Environment"]["Variables"]
    return variables
