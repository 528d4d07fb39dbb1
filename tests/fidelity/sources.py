"""The AWS sources the fidelity tests follow: documentation pages, and the shapes of captured events.

Each captured event is summarised as its *shape*: every key, nested, with the JSON type of its value (the
values themselves are one deployment's). The captures are real events that API Gateway sent to a Lambda
function, kept as test data by two AWS projects:

* aws-lambda-go ``events/testdata/apigw-websocket-request-send-message.json`` and
  ``apigw-websocket-request-disconnect.json`` (captured 20 Jan 2024, commit cf69909);
* Powertools for AWS Lambda (Python) ``tests/events/apiGatewayWebSocketApiConnect.json`` (captured 11 Nov
  2024, commit 75bd56f), ``apiGatewayWebSocketApiMessage.json`` and ``apiGatewayWebSocketApiDisconnect.json``
  (commit 51db5d5).
"""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.aws.amazon.com/apigateway/latest/developerguide/"
QUOTAS = DOCS + "apigateway-execution-service-websocket-limits-table.html"
BINARY = DOCS + "websocket-api-develop-binary-media-types.html"
ROUTES = DOCS + "websocket-api-develop-routes.html"
CONNECT_ROUTE = DOCS + "apigateway-websocket-api-route-keys-connect-disconnect.html"
SUBPROTOCOLS = DOCS + "websocket-connect-route-subprotocol.html"
INTEGRATION_RESPONSES = DOCS + "apigateway-websocket-api-integration-responses.html"
PROTECT = DOCS + "websocket-api-protect.html"
CONNECTIONS = DOCS + "apigateway-how-to-call-websocket-api-connections.html"
GET_CONNECTION = "https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apigw-management-api-connections.html"
LAMBDA = "https://docs.aws.amazon.com/lambda/latest/dg/"
SCALING = LAMBDA + "lambda-concurrency.html"
RESERVED = LAMBDA + "configuration-concurrency.html"
ENVIRONMENT = LAMBDA + "lambda-runtime-environment.html"
TIMEOUT = LAMBDA + "configuration-timeout.html"
MEMORY = LAMBDA + "configuration-memory.html"
CONTEXT = LAMBDA + "python-context.html"
RUNTIME_VARIABLES = LAMBDA + "configuration-envvars.html#configuration-envvars-runtime"

_IDENTITY = {"sourceIp": "str", "userAgent": "str"}
"""``identity``: Powertools' captures have ``sourceIp`` only (their client sent no User-Agent)."""

_CONTEXT = {
    "routeKey": "str",
    "eventType": "str",
    "extendedRequestId": "str",
    "requestTime": "str",
    "messageDirection": "str",
    "stage": "str",
    "connectedAt": "int",
    "requestTimeEpoch": "int",
    "identity": _IDENTITY,
    "requestId": "str",
    "domainName": "str",
    "connectionId": "str",
    "apiId": "str",
}

#: Powertools' apiGatewayWebSocketApiConnect.json (and its queryStringParameters when a query is given,
#: as in aws-lambda-go's apigw-websocket-request.json).
CONNECT: dict[str, Any] = {
    "headers": "dict",
    "multiValueHeaders": "dict",
    "requestContext": _CONTEXT,
    "isBase64Encoded": "bool",
}
CONNECT_QUERY = {"queryStringParameters": "dict", "multiValueQueryStringParameters": "dict"}

#: aws-lambda-go's apigw-websocket-request-send-message.json; Powertools' apiGatewayWebSocketApiMessage.json.
MESSAGE: dict[str, Any] = {
    "requestContext": {**_CONTEXT, "messageId": "str"},
    "body": "str",
    "isBase64Encoded": "bool",
}

#: aws-lambda-go's apigw-websocket-request-disconnect.json; Powertools' apiGatewayWebSocketApiDisconnect.json.
DISCONNECT: dict[str, Any] = {
    "headers": {"Host": "str", "x-api-key": "str", "X-Forwarded-For": "str", "x-restapi": "str"},
    "multiValueHeaders": {"Host": "list", "x-api-key": "list", "X-Forwarded-For": "list", "x-restapi": "list"},
    "requestContext": {**_CONTEXT, "disconnectStatusCode": "int", "disconnectReason": "str"},
    "isBase64Encoded": "bool",
}

#: The ``$disconnect`` code and reason of an empty close frame (Powertools' capture).
EMPTY_CLOSE = (1005, "Client-side close frame status not set")
#: After ``DELETE @connections/{id}``: API Gateway's execution log of the $disconnect event in boto/boto3#3789.
DELETED = (1000, "Connection Closed Normally")


def shape(value: Any, template: Any) -> Any:
    """``value``'s keys and leaf types, down to where ``template`` stops (a type name: a leaf, not walked)."""
    if isinstance(template, dict) and isinstance(value, dict):
        return {key: shape(item, template.get(key, "")) for key, item in value.items()}
    names = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict", type(None): "null"}
    return names[type(value)]


SQS = LAMBDA + "with-sqs.html"
"""Lambda's "Using Lambda with Amazon SQS": the event, polling and batching, deletion after success."""
BATCH_FAILURES = LAMBDA + "services-sqs-errorhandling.html#services-sqs-batchfailurereporting"
"""Lambda's "Reporting batch item failures" (ReportBatchItemFailures)."""
DEAD_LETTERS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
"""SQS's "Using dead-letter queues": a message received maxReceiveCount times moves to the dead-letter queue."""

#: A record of Lambda's SQS event: the example of "Using Lambda with Amazon SQS", with
#: ``md5OfMessageAttributes`` as in aws-lambda-go's captured ``events/testdata/sqs-event.json`` (a message
#: with attributes).
SQS_RECORD: dict[str, Any] = {
    "messageId": "str",
    "receiptHandle": "str",
    "body": "str",
    "attributes": {
        "ApproximateReceiveCount": "str",
        "SentTimestamp": "str",
        "SenderId": "str",
        "ApproximateFirstReceiveTimestamp": "str",
    },
    "messageAttributes": "dict",
    "md5OfBody": "str",
    "md5OfMessageAttributes": "str",
    "eventSource": "str",
    "eventSourceARN": "str",
    "awsRegion": "str",
}
#: A message attribute in the record (lower camel case, unlike ReceiveMessage's answer).
SQS_STRING_ATTRIBUTE = {"stringValue": "str", "stringListValues": "list", "binaryListValues": "list", "dataType": "str"}
SQS_BINARY_ATTRIBUTE = {"binaryValue": "str", "stringListValues": "list", "binaryListValues": "list", "dataType": "str"}
