"""The environment's AWS values mapped to the local stand-ins, in one place."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.credentials import Credentials
from chat_local.spec import FunctionSpec, LocalSpec
from chat_local.stand_ins import LocalQueue, Locals, StandInError, function_environment

TYPES = {
    "Table": "AWS::DynamoDB::Table",
    "Api": "AWS::ApiGatewayV2::Api",
    "Secret": "AWS::SecretsManager::Secret",
    "Proxy": "AWS::RDS::DBProxy",
    "Queue": "AWS::SQS::Queue",
    "Bucket": "AWS::S3::Bucket",
    "Topic": "AWS::SNS::Topic",
}
LOCAL = Locals(
    region="us-east-1",
    credentials=Credentials("id", "secret"),
    gateway_url="http://127.0.0.1:9",
    web_origins="http://127.0.0.1:9",
    token_secret="signing-key",
    dynamodb_endpoint="http://127.0.0.1:8",
    database_url="postgresql://local",
    table_names={"Table": "stack-Table"},
    bucket_names={"Bucket": "stack-bucket"},
    queues={
        "Queue": LocalQueue(
            "http://127.0.0.1:8/000000000000/stack-Queue", "arn:aws:sqs:us-east-1:0:stack-Queue", "stack-Queue"
        )
    },
    public_s3_endpoint="http://127.0.0.1:9/_s3",
)


def environment(variables: dict[str, Any]) -> dict[str, str]:
    function = FunctionSpec("Fn", "fn", "stack-Fn", "/code", "handler.handler", "python3.12", (), variables)
    spec = LocalSpec("stack", TYPES, {"Fn": function}, None, None, {}, ())
    return function_environment(spec, function, LOCAL)


def test_each_kind_of_aws_value_has_its_stand_in() -> None:
    """Tables, the callback URL, secrets, the proxy, the origins; plain values as they are."""
    callback = {
        "Fn::Join": [
            "",
            [
                "https://",
                {"Ref": "Api"},
                ".execute-api.",
                {"Ref": "AWS::Region"},
                ".",
                {"Ref": "AWS::URLSuffix"},
                "/prod",
            ],
        ]
    }
    mapped = environment(
        {
            "CONNECTIONS_TABLE": {"Ref": "Table"},
            "MANAGEMENT_API_URL": callback,
            "DATABASE_SECRET_ARN": {"Ref": "Secret"},
            "DATABASE_HOST": {"Fn::GetAtt": ["Proxy", "Endpoint"]},
            "TOKEN_SECRET_ARN": {"Ref": "Secret"},
            "ALLOWED_ORIGINS": {"Fn::Join": ["", ["https://", {"Fn::GetAtt": ["Distribution", "DomainName"]}]]},
            "FILES": {"Ref": "Bucket"},
            "JOBS_URL": {"Ref": "Queue"},
            "JOBS_ARN": {"Fn::GetAtt": ["Queue", "Arn"]},
            "JOBS_NAME": {"Fn::GetAtt": ["Queue", "QueueName"]},
            "PLAIN": "as is",
        }
    )
    assert mapped["CONNECTIONS_TABLE"] == "stack-Table"
    assert mapped["MANAGEMENT_API_URL"] == "http://127.0.0.1:9/prod"
    assert mapped["DATABASE_URL"] == "postgresql://local" and "DATABASE_SECRET_ARN" not in mapped
    assert "DATABASE_HOST" not in mapped
    assert mapped["TOKEN_SECRET"] == "signing-key" and "TOKEN_SECRET_ARN" not in mapped
    assert mapped["ALLOWED_ORIGINS"] == "http://127.0.0.1:9"
    assert mapped["FILES"] == "stack-bucket" and mapped["ATTACHMENTS_PUBLIC_ENDPOINT"] == "http://127.0.0.1:9/_s3"
    assert mapped["JOBS_URL"] == "http://127.0.0.1:8/000000000000/stack-Queue"
    assert (mapped["JOBS_ARN"], mapped["JOBS_NAME"]) == ("arn:aws:sqs:us-east-1:0:stack-Queue", "stack-Queue")
    assert mapped["PLAIN"] == "as is"
    assert mapped["AWS_ENDPOINT_URL_DYNAMODB"] == mapped["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:8"
    assert mapped["AWS_ENDPOINT_URL_SQS"] == "http://127.0.0.1:8"
    assert (mapped["AWS_ACCESS_KEY_ID"], mapped["AWS_SECRET_ACCESS_KEY"]) == ("id", "secret")


def test_a_value_with_no_stand_in_stops_the_start_naming_it() -> None:
    """An SNS topic (no stand-in): StandInError names the function, the variable and the resource type."""
    with pytest.raises(
        StandInError, match=r"function fn: environment variable ALERTS points at Topic \(AWS::SNS::Topic\)"
    ):
        environment({"ALERTS": {"Ref": "Topic"}})
