"""The one place an environment value that points at AWS becomes its local stand-in.

The template gives each function its environment: plain strings, and CloudFormation values that point at
resources (``{"Ref": "ConnectionsTable..."}``, the stage's callback URL, a secret's ARN). Plain strings
pass as they are. Each value that points somewhere is mapped here, by its variable's name first
(:data:`BY_NAME`), else by the type of the resource it points at (:data:`BY_TYPE`):

======================  ===================================  ==============================================
variable / points at    in AWS                               locally
======================  ===================================  ==============================================
DynamoDB table (Ref)    the table's name                     the same table in moto's DynamoDB (its name)
S3 bucket (Ref)         the bucket's name                    the same bucket in moto's S3 (its name)
SQS queue (Ref)         the queue's URL                      the same queue in moto's SQS (its URL there)
SQS queue (Arn, name)   ``arn:aws:sqs:...``, its name        the local queue's ARN, its name
WebSocket API URL       ``https://{api}.execute-api...``     ``http://HOST:PORT/{stage}`` (this gateway)
``DATABASE_SECRET_ARN`` the database user's secret           ``DATABASE_URL``: the embedded PostgreSQL
``DATABASE_HOST``       RDS Proxy's endpoint                 dropped: ``DATABASE_URL`` carries the host
``TOKEN_SECRET_ARN``    the signing key's secret             ``TOKEN_SECRET``: the key in ``.local/``
``ALLOWED_ORIGINS``     the CloudFront site (+ context's)    the UI's local origins (+ ``--allowed-origin``)
``POWERTOOLS_LOG_LEVEL`` ``INFO``                            ``WARNING`` (``INFO`` with ``--verbose``)
======================  ===================================  ==============================================

Added to every function: the AWS SDK's endpoints for DynamoDB, S3 and SQS (``AWS_ENDPOINT_URL_DYNAMODB``,
``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL_SQS``: moto's one server), the stack's credentials and region (the
Management API verifies signatures by them), and ``POWERTOOLS_METRICS_DISABLED`` /
``POWERTOOLS_TRACE_DISABLED`` (no CloudWatch or X-Ray here).
A function whose environment names a bucket also gets ``ATTACHMENTS_PUBLIC_ENDPOINT``: where browsers reach
S3 locally (the gateway's ``/_s3``, which checks presigned requests as S3 does), so the URLs it presigns
work from a browser; in AWS presigned URLs point at S3 itself and the variable is unset. A value that points
at anything else stops the start with a message naming the function, the variable and the resource type: add
its stand-in here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.credentials import Credentials

from chat_local.sigv4 import credentials_environment
from chat_local.spec import FunctionSpec, LocalSpec, references


class StandInError(ValueError):
    """An environment value points at a resource the local stack has no stand-in for."""


@dataclass(frozen=True)
class LocalQueue:
    """A queue in the local SQS: what ``Ref`` (its URL) and ``Fn::GetAtt`` (``Arn``, ``QueueName``) give."""

    url: str
    arn: str
    name: str


@dataclass(frozen=True)
class Locals:
    """Where the local stand-ins are."""

    region: str
    credentials: Credentials
    gateway_url: str
    """``http://HOST:PORT`` of this gateway (the Management API is at ``/{stage}/@connections``)."""
    web_origins: str
    """``ALLOWED_ORIGINS``: the web UI's local origins, comma-separated (``*`` for any)."""
    token_secret: str
    dynamodb_endpoint: str | None = None
    database_url: str | None = None
    table_names: dict[str, str] = field(default_factory=dict)
    """The local table's name by the template's logical id."""
    bucket_names: dict[str, str] = field(default_factory=dict)
    """The local bucket's name by the template's logical id."""
    queues: dict[str, LocalQueue] = field(default_factory=dict)
    """The local queue by the template's logical id."""
    public_s3_endpoint: str | None = None
    """Where browsers reach the local S3 (``http://HOST:PORT/_s3``)."""
    verbose: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    """Local knobs given to every function (e.g. ``PRUNE_STALE_AFTER_SECONDS`` from ``--prune-stale-after``)."""


#: A variable's local value, or None to leave it out.
Rule = Callable[[Locals, Any], "dict[str, str]"]


def _database(locals_: Locals, _value: Any) -> dict[str, str]:
    if not locals_.database_url:
        raise StandInError("DATABASE_SECRET_ARN needs the local PostgreSQL, which is not running")
    return {"DATABASE_URL": locals_.database_url}


BY_NAME: dict[str, Rule] = {
    "DATABASE_SECRET_ARN": _database,
    "DATABASE_HOST": lambda _l, _v: {},
    "TOKEN_SECRET_ARN": lambda locals_, _v: {"TOKEN_SECRET": locals_.token_secret},
    "ALLOWED_ORIGINS": lambda locals_, _v: {"ALLOWED_ORIGINS": locals_.web_origins},
    "POWERTOOLS_LOG_LEVEL": lambda locals_, _v: {"POWERTOOLS_LOG_LEVEL": "INFO" if locals_.verbose else "WARNING"},
}

_EXECUTE_API = re.compile(r"^https://\{(?P<api>[^}]+)\}\.execute-api\.\{[^}]+\}\.\{[^}]+\}(?P<path>/.*)?$")


def _flatten(value: Any) -> str:
    """A CloudFormation string value with each reference written ``{LogicalId}`` (``{AWS::Region}``...)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, item),) = value.items()
        if key == "Ref":
            return "{" + str(item) + "}"
        if key == "Fn::GetAtt":
            return "{" + (item if isinstance(item, str) else ".".join(item)) + "}"
        if key == "Fn::Join":
            separator, parts = item
            return str(separator).join(_flatten(part) for part in parts)
        if key == "Fn::Sub" and isinstance(item, str):
            return item.replace("${", "{")
    raise StandInError(f"cannot read the CloudFormation value {value!r}")


def _local_value(name: str, value: Any, spec: LocalSpec, locals_: Locals) -> dict[str, str]:
    if name in BY_NAME:
        return BY_NAME[name](locals_, value)
    if isinstance(value, str | int | float | bool):
        return {name: str(value).lower() if isinstance(value, bool) else str(value)}
    pointed = [(logical_id, spec.resource_types.get(logical_id, "?")) for logical_id, _ in references(value)]
    kinds = {kind for _, kind in pointed}
    if kinds == {"AWS::DynamoDB::Table"} and len(pointed) == 1 and pointed[0][0] in locals_.table_names:
        return {name: locals_.table_names[pointed[0][0]]}
    if kinds == {"AWS::S3::Bucket"} and len(pointed) == 1 and pointed[0][0] in locals_.bucket_names:
        environment = {name: locals_.bucket_names[pointed[0][0]]}
        if locals_.public_s3_endpoint:
            environment["ATTACHMENTS_PUBLIC_ENDPOINT"] = locals_.public_s3_endpoint
        return environment
    if kinds == {"AWS::SQS::Queue"} and len(pointed) == 1 and pointed[0][0] in locals_.queues:
        queue = locals_.queues[pointed[0][0]]
        attribute = next(references(value))[1]
        by_attribute = {None: queue.url, "QueueUrl": queue.url, "Arn": queue.arn, "QueueName": queue.name}
        whole = "{" + pointed[0][0] + (f".{attribute}" if attribute else "") + "}"
        if attribute in by_attribute and _flatten(value) == whole:  # the value is the reference, nothing around it
            return {name: by_attribute[attribute]}
    if kinds == {"AWS::ApiGatewayV2::Api"} and (match := _EXECUTE_API.match(_flatten(value))):
        return {name: locals_.gateway_url + (match["path"] or "")}
    if kinds <= {"AWS::RDS::DBProxy", "AWS::RDS::DBInstance", "AWS::RDS::DBCluster"} and kinds:
        return {}  # the database's address: DATABASE_URL carries it
    described = ", ".join(f"{logical_id} ({kind})" for logical_id, kind in pointed) or repr(value)
    raise StandInError(
        f"environment variable {name} points at {described}, which has no local stand-in:"
        " add one in local/chat_local/stand_ins.py"
    )


def function_environment(spec: LocalSpec, function: FunctionSpec, locals_: Locals) -> dict[str, str]:
    """``function``'s environment as the template sets it, with every AWS value mapped to its stand-in."""
    environment: dict[str, str] = {}
    for name, value in function.environment.items():
        try:
            environment.update(_local_value(name, value, spec, locals_))
        except StandInError as exc:
            raise StandInError(f"function {function.label}: {exc}") from None
    environment.update(
        {
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_REGION": locals_.region,
            "AWS_DEFAULT_REGION": locals_.region,
            **credentials_environment(locals_.credentials),
            **locals_.extra,
        }
    )
    environment.setdefault("POWERTOOLS_LOG_LEVEL", "INFO" if locals_.verbose else "WARNING")
    if locals_.dynamodb_endpoint:  # moto's one server: DynamoDB, S3 and SQS
        environment["AWS_ENDPOINT_URL_DYNAMODB"] = locals_.dynamodb_endpoint
        environment["AWS_ENDPOINT_URL_S3"] = locals_.dynamodb_endpoint
        environment["AWS_ENDPOINT_URL_SQS"] = locals_.dynamodb_endpoint
    return environment


def needs_database(spec: LocalSpec) -> bool:
    """Whether a function's environment points at a database secret (so the local PostgreSQL must run)."""
    return any("DATABASE_SECRET_ARN" in f.environment for f in spec.functions.values())
