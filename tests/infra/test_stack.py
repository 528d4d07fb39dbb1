"""What the synthesized stack must contain: routes, functions, permissions, data, web, schedule, alarms."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match
from chatcore.aws.registry import TTL_ATTRIBUTE, table_definition
from chatcore.composition import APP_ROLE

from infra.chat_infra.functions import VPC_ENI_ACTIONS
from infra.chat_infra.layer import INSTANCE_CA_BUNDLE, LAYER_MOUNT, PROXY_CA_BUNDLE
from infra.chat_infra.monitoring import FUNCTION_METRICS
from infra.chat_infra.paths import FUNCTIONS_DIR, MIGRATIONS_DIR
from infra.chat_infra.stack import MESSAGE_ROUTES
from tests.infra import template_tools as tt
from tests.infra.synthesis import EXTRA_ORIGIN, Synth, layer_asset_dir

COMMON_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
#: The variables each function reads (chatcore.settings.Settings, through chatcore.composition), no more.
EXPECTED_ENV = {
    "connect": {
        "CONNECTIONS_TABLE",
        "DATABASE_SECRET_ARN",
        "DATABASE_HOST",
        "DATABASE_NAME",
        "DATABASE_CA_BUNDLE",
        "TOKEN_SECRET_ARN",
        "ALLOWED_ORIGINS",
        "MANAGEMENT_API_URL",  # a user coming online is announced
        "BROADCAST_MAX_WORKERS",
    },
    "message": {
        "CONNECTIONS_TABLE",
        "MANAGEMENT_API_URL",
        "BROADCAST_MAX_WORKERS",
        "DATABASE_SECRET_ARN",
        "DATABASE_HOST",
        "DATABASE_NAME",
        "DATABASE_CA_BUNDLE",
        "ATTACHMENTS_BUCKET",  # retags sent files, deletes a deleted message's files
        "FANOUT_QUEUE_URL",  # a large room's delivery is queued
        "FANOUT_LARGE_ROOM",
    },
    "disconnect": {"CONNECTIONS_TABLE", "MANAGEMENT_API_URL", "BROADCAST_MAX_WORKERS"},
    "rest": {
        "DATABASE_SECRET_ARN",
        "DATABASE_HOST",
        "DATABASE_NAME",
        "DATABASE_CA_BUNDLE",
        "TOKEN_SECRET_ARN",
        "TOKEN_TTL_SECONDS",
        "CONNECTIONS_TABLE",
        "MANAGEMENT_API_URL",  # membership changes reach open connections
        "BROADCAST_MAX_WORKERS",
        "ATTACHMENTS_BUCKET",  # signs uploads and downloads
        "FANOUT_QUEUE_URL",  # a large room's rename or deletion is queued
        "FANOUT_LARGE_ROOM",
    },
    "prune": {"CONNECTIONS_TABLE", "MANAGEMENT_API_URL", "BROADCAST_MAX_WORKERS"},
    "fanout": {
        "CONNECTIONS_TABLE",
        "MANAGEMENT_API_URL",
        "BROADCAST_MAX_WORKERS",
        "FANOUT_QUEUE_URL",  # failed posts are queued again
        "FANOUT_POSTS_PER_SECOND",
    },
    "migrate": {
        "DATABASE_SECRET_ARN",
        "APP_DATABASE_SECRET_ARN",
        "DATABASE_HOST",
        "DATABASE_NAME",
        "DATABASE_CA_BUNDLE",
    },
}
EXPECTED_TABLE_ACTIONS = {
    "connect": {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
    },
    "message": {
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
    },
    "disconnect": {
        "dynamodb:GetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
    },
    "rest": {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    },
    "prune": {
        "dynamodb:Scan",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:GetItem",  # the sweep's place between runs
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
    },
    "fanout": {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
    },
    "migrate": set(),
}
POSTING_FUNCTIONS = {"connect", "message", "disconnect", "rest", "fanout", "prune"}
VPC_FUNCTIONS = {"connect", "message", "rest", "migrate"}


def _cloudfront_url(synth: Synth) -> dict[str, Any]:
    return {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [synth.logical_id(synth.stack.web.distribution), "DomainName"]}]]
    }


# ---------------------------------------------------------------- the app


def test_app_synthesizes_one_stack_with_the_urls_as_outputs(synth: Synth) -> None:
    """The app synthesizes offline into one stack whose outputs are the web, wss and HTTP API URLs."""
    outputs = synth.template["Outputs"]
    assert {"WebUrl", "WebSocketUrl", "HttpApiUrl"} <= set(outputs)
    assert outputs["WebUrl"]["Value"] == _cloudfront_url(synth)
    assert outputs["WebSocketUrl"]["Value"]["Fn::Join"][1][0] == "wss://"
    assert outputs["HttpApiUrl"]["Value"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.http_api), "ApiEndpoint"]}


def test_one_function_per_functions_folder(synth: Synth) -> None:
    """Every functions/<name>/handler.py is deployed as exactly one function of the same name."""
    folders = {p.parent.name for p in FUNCTIONS_DIR.glob("*/handler.py")}
    assert set(synth.stack.functions) == folders
    assert EXPECTED_ENV.keys() == folders


# ---------------------------------------------------------------- WebSocket API


def test_websocket_routes_reach_their_functions(synth: Synth) -> None:
    """$connect, $disconnect, $default and one route per frame type, each integrated with the right function."""
    api_id = synth.logical_id(synth.stack.websocket_api)
    synth.assertions().has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.type"},
    )
    routes = tt.routes(synth, api_id)
    expected = {"$connect": "connect", "$disconnect": "disconnect", "$default": "message"}
    expected.update({route: "message" for route in MESSAGE_ROUTES})
    assert set(routes) == set(expected)
    for route_key, folder in expected.items():
        integration = tt.route_integration(synth, routes[route_key])
        assert integration["IntegrationType"] == "AWS_PROXY", route_key
        assert tt.function_arn_target(integration["IntegrationUri"]) == synth.function_id(folder), route_key


def test_websocket_stage_is_throttled_and_access_logged(synth: Synth) -> None:
    """The WebSocket stage has rate and burst limits and JSON access logs, after the account's logging role."""
    stage_id = synth.logical_id(synth.stack.websocket_stage)
    stage = synth.resources[stage_id]
    properties = stage["Properties"]
    assert properties["StageName"] == "prod"
    assert properties["AutoDeploy"] is True
    settings = properties["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] > 0
    assert settings["ThrottlingBurstLimit"] >= settings["ThrottlingRateLimit"]
    assert "$context.connectionId" in properties["AccessLogSettings"]["Format"]
    assert "DestinationArn" in properties["AccessLogSettings"]
    account_ids = list(tt.of_type(synth, "AWS::ApiGateway::Account"))
    assert len(account_ids) == 1 and account_ids[0] in stage["DependsOn"]


def test_management_api_url_is_the_stage_callback_url(synth: Synth) -> None:
    """MANAGEMENT_API_URL is https://{api}.execute-api.{region}.{suffix}/{stage}, the stage's callback URL."""
    api_id = synth.logical_id(synth.stack.websocket_api)
    expected = {
        "Fn::Join": [
            "",
            [
                "https://",
                {"Ref": api_id},
                ".execute-api.",
                {"Ref": "AWS::Region"},
                ".",
                {"Ref": "AWS::URLSuffix"},
                "/prod",
            ],
        ]
    }
    for folder in ("message", "disconnect", "prune"):
        assert tt.environment(synth, folder)["MANAGEMENT_API_URL"] == expected, folder


# ---------------------------------------------------------------- HTTP API


def test_http_api_default_route_invokes_rest_with_payload_v2(synth: Synth) -> None:
    """The HTTP API's catch-all $default route is a payload-2.0 proxy integration with the rest function."""
    routes = tt.routes(synth, synth.logical_id(synth.stack.http_api))
    assert set(routes) == {"$default"}
    integration = tt.route_integration(synth, routes["$default"])
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "2.0"
    assert tt.function_arn_target(integration["IntegrationUri"]) == synth.function_id("rest")
    synth.assertions().has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "AccessLogSettings": Match.object_like({"Format": Match.string_like_regexp(r"\$context\.requestId")}),
            "DefaultRouteSettings": Match.object_like({"ThrottlingRateLimit": Match.any_value()}),
        },
    )


def test_http_api_cors_allows_only_the_web_origins(synth: Synth) -> None:
    """CORS allows exactly the CloudFront site and the configured origin, with the Authorization header."""
    api = synth.resources[synth.logical_id(synth.stack.http_api)]["Properties"]
    cors = api["CorsConfiguration"]
    assert cors["AllowOrigins"] == [_cloudfront_url(synth), EXTRA_ORIGIN]
    assert "*" not in cors["AllowOrigins"]
    assert "authorization" in cors["AllowHeaders"]
    assert cors.get("AllowCredentials") in (None, False)


# ---------------------------------------------------------------- functions


def test_functions_get_exactly_the_variables_they_read(synth: Synth) -> None:
    """Each function's environment holds the Powertools settings plus only the variables it reads."""
    for folder, expected in EXPECTED_ENV.items():
        variables = tt.environment(synth, folder)
        assert set(variables) == expected | COMMON_ENV, folder
        assert variables["POWERTOOLS_SERVICE_NAME"] == "chat"
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Chat"


def test_function_variables_point_at_the_deployed_resources(synth: Synth) -> None:
    """Table, proxy endpoint, secrets and origins in the environment reference this stack's resources."""
    table = {"Ref": synth.logical_id(synth.stack.table)}
    proxy_endpoint = {"Fn::GetAtt": [synth.logical_id(synth.stack.database.proxy), "Endpoint"]}
    master_secret = synth.stack.resolve(synth.stack.database.secret.secret_arn)
    app_secret = synth.stack.resolve(synth.stack.database.app_secret.secret_arn)
    instance_address = {"Fn::GetAtt": [synth.logical_id(synth.stack.database.instance), "Endpoint.Address"]}
    for folder in ("connect", "message", "disconnect", "rest", "prune"):
        assert tt.environment(synth, folder)["CONNECTIONS_TABLE"] == table, folder
    for folder in ("connect", "message", "rest"):
        variables = tt.environment(synth, folder)
        assert variables["DATABASE_HOST"] == proxy_endpoint, folder
        assert variables["DATABASE_SECRET_ARN"] == app_secret, folder  # chat_app, never the master user
        assert variables["DATABASE_NAME"] == "chat"
        assert variables["DATABASE_CA_BUNDLE"] == PROXY_CA_BUNDLE, folder
    for folder in ("connect", "rest"):
        assert tt.environment(synth, folder)["TOKEN_SECRET_ARN"]["Ref"].startswith("TokenSigningKey"), folder
    # The deploy-time migration goes straight to the instance (the proxy target may still be registering),
    # as the master user, and sets chat_app's password from the app secret.
    migrate = tt.environment(synth, "migrate")
    assert migrate["DATABASE_HOST"] == instance_address
    assert migrate["DATABASE_SECRET_ARN"] == master_secret
    assert migrate["APP_DATABASE_SECRET_ARN"] == app_secret
    assert migrate["DATABASE_CA_BUNDLE"] == INSTANCE_CA_BUNDLE
    origins = tt.environment(synth, "connect")["ALLOWED_ORIGINS"]
    assert origins == {"Fn::Join": ["", ["https://", _cloudfront_url(synth)["Fn::Join"][1][1], f",{EXTRA_ORIGIN}"]]}


def test_every_function_runs_the_common_layer_on_python_312(synth: Synth) -> None:
    """All functions: python3.12 on x86_64, handler.handler, active tracing, the common layer, own log group."""
    layer_ref = {"Ref": synth.logical_id(synth.stack.layer)}
    layer = synth.resources[layer_ref["Ref"]]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.12"]
    assert layer["CompatibleArchitectures"] == ["x86_64"]
    for folder in synth.stack.functions:
        properties = synth.resources[synth.function_id(folder)]["Properties"]
        assert properties["Runtime"] == "python3.12", folder
        assert properties["Handler"] == "handler.handler", folder
        assert properties.get("Architectures", ["x86_64"]) == ["x86_64"], folder
        assert properties["Layers"] == [layer_ref], folder
        assert properties["TracingConfig"] == {"Mode": "Active"}, folder
        log_group = synth.logical_id(synth.stack.functions[folder].log_group)
        assert properties["LoggingConfig"]["LogGroup"] == {"Ref": log_group}, folder


def test_only_database_functions_run_in_the_vpc(synth: Synth) -> None:
    """connect, message, rest and migrate run in the VPC's app subnets; disconnect and prune stay outside."""
    for folder in synth.stack.functions:
        properties = synth.resources[synth.function_id(folder)]["Properties"]
        assert ("VpcConfig" in properties) == (folder in VPC_FUNCTIONS), folder


def test_each_function_has_its_own_role(synth: Synth) -> None:
    """No two functions share an execution role."""
    roles = [
        synth.resources[synth.function_id(f)]["Properties"]["Role"]["Fn::GetAtt"][0] for f in synth.stack.functions
    ]
    assert len(set(roles)) == len(roles)


def test_manage_connections_only_for_the_functions_that_post(synth: Synth) -> None:
    """execute-api:ManageConnections (this API's stage only) is granted to message, disconnect and prune only."""
    api_id = synth.logical_id(synth.stack.websocket_api)
    for folder in synth.stack.functions:
        granted = [
            statement
            for statement in tt.statements(synth, tt.role_id(synth, folder))
            if "execute-api:ManageConnections" in tt.actions(statement)
        ]
        assert bool(granted) == (folder in POSTING_FUNCTIONS), folder
        for statement in granted:
            (resource,) = tt.resources(statement)
            parts = resource["Fn::Join"][1]
            assert {"Ref": api_id} in parts and parts[-1] == "/prod/*/@connections/*", folder
    # Nobody else in the stack may post either.
    posting_roles = {
        policy_role["Ref"]
        for policy in tt.of_type(synth, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "execute-api:ManageConnections" in tt.actions(statement)
        for policy_role in policy["Properties"]["Roles"]
    }
    assert posting_roles == {tt.role_id(synth, f) for f in POSTING_FUNCTIONS}


def test_table_permissions_are_exactly_what_each_function_uses(synth: Synth) -> None:
    """Each role has only its own DynamoDB actions, on this table only (the table has no index)."""
    table_arn = {"Fn::GetAtt": [synth.logical_id(synth.stack.table), "Arn"]}
    assert "GlobalSecondaryIndexes" not in synth.resources[synth.logical_id(synth.stack.table)]["Properties"]
    for folder, expected in EXPECTED_TABLE_ACTIONS.items():
        assert tt.allowed(synth, folder, "dynamodb:") == expected, folder
        for statement in tt.statements(synth, tt.role_id(synth, folder)):
            if any(a.startswith("dynamodb:") for a in tt.actions(statement)):
                assert tt.resources(statement) == [table_arn], folder


def test_secrets_are_readable_only_by_the_functions_that_read_them(synth: Synth) -> None:
    """GetSecretValue (nothing more): the app secret for DB users, the master secret for the migration only,
    the token key for token users."""
    master_secret = synth.stack.resolve(synth.stack.database.secret.secret_arn)
    app_secret = synth.stack.resolve(synth.stack.database.app_secret.secret_arn)
    token_secret = {"Ref": next(k for k in tt.of_type(synth, "AWS::SecretsManager::Secret") if k.startswith("Token"))}
    # The message function never sees the signing key: identity comes from the connection record.
    # Only the migration reads the master user's secret.
    readers = {"connect": [app_secret, token_secret], "message": [app_secret]}
    readers |= {"rest": [app_secret, token_secret], "migrate": [master_secret, app_secret]}
    readers |= {"disconnect": [], "prune": []}
    for folder, expected in readers.items():
        assert tt.allowed(synth, folder, "secretsmanager:") == (
            {"secretsmanager:GetSecretValue"} if expected else set()
        )
        granted = [
            resource
            for statement in tt.statements(synth, tt.role_id(synth, folder))
            if "secretsmanager:GetSecretValue" in tt.actions(statement)
            for resource in tt.resources(statement)
        ]
        assert sorted(map(str, granted)) == sorted(map(str, expected)), folder


def test_roles_write_logs_only_to_their_own_log_group(synth: Synth) -> None:
    """The logs statement of each role names the function's own log group, no wildcard."""
    for folder, fn in synth.stack.functions.items():
        statement = next(
            s for s in tt.statements(synth, tt.role_id(synth, folder)) if "logs:PutLogEvents" in tt.actions(s)
        )
        assert tt.resources(statement) == [{"Fn::GetAtt": [synth.logical_id(fn.log_group), "Arn"]}], folder


# ---------------------------------------------------------------- data


def test_table_matches_the_registry_definition(synth: Synth) -> None:
    """Keys, attribute types, billing, TTL attribute and PITR equal chatcore.registry's definition (no index)."""
    expected = table_definition("ignored")
    table = synth.resources[synth.logical_id(synth.stack.table)]["Properties"]
    assert table["KeySchema"] == expected["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)
    assert table["BillingMode"] == expected["BillingMode"]
    assert "GlobalSecondaryIndexes" not in table and "GlobalSecondaryIndexes" not in expected
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_database_is_private_encrypted_and_behind_a_tls_proxy(synth: Synth) -> None:
    """PostgreSQL (current engine) is not public, encrypted, in isolated subnets; the proxy requires TLS."""
    synth.assertions().has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "postgres",
            "EngineVersion": Match.string_like_regexp(r"^17\.\d+$"),
            "PubliclyAccessible": False,
            "StorageEncrypted": True,
            "CACertificateIdentifier": "rds-ca-rsa2048-g1",
            "BackupRetentionPeriod": Match.any_value(),
        },
    )
    synth.assertions().has_resource_properties(
        "AWS::RDS::DBProxy",
        {
            "EngineFamily": "POSTGRESQL",
            "RequireTLS": True,
            "Auth": [Match.object_like({"AuthScheme": "SECRETS"}), Match.object_like({"AuthScheme": "SECRETS"})],
        },
    )
    # The instance's subnets have no route out (isolated): no NAT or internet gateway route in their tables.
    subnet_group = next(iter(tt.of_type(synth, "AWS::RDS::DBSubnetGroup").values()))["Properties"]
    subnet_ids = {s["Ref"] for s in subnet_group["SubnetIds"]}
    associations = tt.of_type(synth, "AWS::EC2::SubnetRouteTableAssociation").values()
    tables = {
        a["Properties"]["RouteTableId"]["Ref"] for a in associations if a["Properties"]["SubnetId"]["Ref"] in subnet_ids
    }
    routes = [
        r for r in tt.of_type(synth, "AWS::EC2::Route").values() if r["Properties"]["RouteTableId"]["Ref"] in tables
    ]
    assert tables and not routes


def test_database_accepts_only_the_proxy_and_the_migration(synth: Synth) -> None:
    """The DB security group admits the proxy and the migrate function; the proxy admits the three DB users."""
    db_sg = synth.logical_id(synth.stack.database.security_group)
    proxy_sg = synth.logical_id(synth.stack.database.proxy_security_group)

    def sources(group: str) -> set[str]:
        return {
            rule["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0]
            for rule in tt.of_type(synth, "AWS::EC2::SecurityGroupIngress").values()
            if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}
        }

    migrate_sg = synth.logical_id(synth.stack.functions["migrate"].security_group)
    assert sources(db_sg) == {proxy_sg, migrate_sg}
    assert sources(proxy_sg) == {
        synth.logical_id(synth.stack.functions[f].security_group) for f in ("connect", "message", "rest")
    }
    assert not synth.resources[db_sg]["Properties"].get("SecurityGroupIngress")


# ---------------------------------------------------------------- migration at deploy


def test_migration_trigger_runs_after_the_database_and_before_the_functions(synth: Synth) -> None:
    """The migrate trigger invokes the function's current version after the DB and its SG rules exist."""
    (trigger_id, trigger) = next(iter(tt.of_type(synth, "Custom::Trigger").items()))
    version_ref = trigger["Properties"]["HandlerArn"]["Ref"]
    assert synth.resources[version_ref]["Properties"]["FunctionName"] == {"Ref": synth.function_id("migrate")}
    assert trigger["Properties"]["InvocationType"] == "RequestResponse"
    depends = set(trigger["DependsOn"])
    assert synth.logical_id(synth.stack.database.instance) in depends
    assert any(d.startswith("DatabaseDatabaseSecurityGroupfrom") and "Migrate" in d for d in depends)
    for folder in ("connect", "message", "rest"):
        assert trigger_id in synth.resources[synth.function_id(folder)]["DependsOn"], folder
    description = synth.resources[synth.function_id("migrate")]["Properties"]["Description"]
    assert "migrations" in description  # carries the migrations' digest: new SQL means a new version


# ---------------------------------------------------------------- schedule


def test_prune_runs_every_five_minutes(synth: Synth) -> None:
    """An EventBridge rule with rate(5 minutes) targets the prune function, and only it."""
    rules = tt.of_type(synth, "AWS::Events::Rule")
    assert len(rules) == 1
    (rule,) = rules.values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synth.function_id("prune"), "Arn"]}
    synth.assertions().has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "events.amazonaws.com", "FunctionName": {"Fn::GetAtt": [synth.function_id("prune"), "Arn"]}},
    )


# ---------------------------------------------------------------- web


def test_buckets_block_public_access_encrypt_and_require_tls(synth: Synth) -> None:
    """Every bucket blocks all public access, is encrypted, and its policy denies non-TLS requests."""
    buckets = tt.of_type(synth, "AWS::S3::Bucket")
    assert len(buckets) == 3  # access logs, web UI, attachments
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in tt.of_type(synth, "AWS::S3::BucketPolicy").values()}
    for bucket_id, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, bucket_id
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"], bucket_id
        statements = policies[bucket_id]["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        ), bucket_id


def test_cloudfront_reads_the_bucket_through_origin_access_control(synth: Synth) -> None:
    """The distribution serves the web bucket via OAC over HTTPS; only CloudFront may read the bucket."""
    distribution = synth.resources[synth.logical_id(synth.stack.web.distribution)]["Properties"]["DistributionConfig"]
    (origin,) = distribution["Origins"]
    assert "OriginAccessControlId" in origin
    assert origin["DomainName"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.web.bucket), "RegionalDomainName"]}
    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert distribution["DefaultRootObject"] == "index.html"
    web_policy = next(
        p
        for p in tt.of_type(synth, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": synth.logical_id(synth.stack.web.bucket)}
    )
    readers = [s for s in web_policy["Properties"]["PolicyDocument"]["Statement"] if "s3:GetObject" in tt.actions(s)]
    assert [s["Principal"] for s in readers] == [{"Service": "cloudfront.amazonaws.com"}]


def test_web_config_json_holds_the_deployed_api_urls(synth: Synth) -> None:
    """BucketDeployment uploads web/ and a config.json whose apiUrl/wsUrl are the deployed API endpoints."""
    (deployment,) = tt.of_type(synth, "Custom::CDKBucketDeployment").values()
    properties = deployment["Properties"]
    assert properties["DestinationBucketName"] == {"Ref": synth.logical_id(synth.stack.web.bucket)}
    assert properties["DistributionPaths"] == ["/*"]
    markers = {key: value["Fn::Join"][1] for marker in properties["SourceMarkers"] for key, value in marker.items()}
    values = list(markers.values())
    assert ['"', {"Fn::GetAtt": [synth.logical_id(synth.stack.http_api), "ApiEndpoint"]}, '"'] in values
    assert any(parts[0] == '"wss://' and parts[-1] == '/prod"' for parts in values)


# ---------------------------------------------------------------- monitoring


def test_alarms_watch_errors_throttles_5xx_schedule_and_migration(synth: Synth) -> None:
    """Errors and Throttles alarms per function (migrate included), API 5xx, failed schedule runs; all notify."""
    alarms = list(tt.of_type(synth, "AWS::CloudWatch::Alarm").values())
    topic = {"Ref": synth.logical_id(synth.stack.monitoring.topic)}

    def watched(metric: str, dimension: dict[str, Any]) -> bool:
        return any(
            a["Properties"].get("MetricName") == metric and dimension in a["Properties"].get("Dimensions", [])
            for a in alarms
        )

    for folder in synth.stack.functions:
        dimension = {"Name": "FunctionName", "Value": {"Ref": synth.function_id(folder)}}
        assert watched("Errors", dimension), folder
        assert watched("Throttles", dimension), folder
    assert watched("5xx", {"Name": "ApiId", "Value": {"Ref": synth.logical_id(synth.stack.http_api)}})
    assert watched("ExecutionError", {"Name": "ApiId", "Value": {"Ref": synth.logical_id(synth.stack.websocket_api)}})
    assert watched(
        "FailedInvocations", {"Name": "RuleName", "Value": {"Ref": synth.logical_id(synth.stack.prune_rule)}}
    )
    assert all(topic in a["Properties"]["AlarmActions"] for a in alarms)
    synth.assertions().resource_count_is("AWS::CloudWatch::Dashboard", 1)
    synth.assertions().has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_every_metric_the_functions_emit_is_charted(synth: Synth) -> None:
    """Each ``metrics.add_metric`` name in functions/ and the layer is on the dashboard, and it charts no other."""
    emitted = set()
    sources = [*FUNCTIONS_DIR.glob("*/handler.py"), *(FUNCTIONS_DIR.parent / "layers").rglob("*.py")]
    for source in sources:
        emitted |= set(re.findall(r'add_metric\(name="(\w+)"', source.read_text()))
    assert emitted == set(FUNCTION_METRICS)
    # The dashboard body is a JSON string inside the template: each metric appears as "Chat","<name>".
    body = json.dumps(next(iter(tt.of_type(synth, "AWS::CloudWatch::Dashboard").values()))["Properties"])
    charted = set(re.findall(r'\\"Chat\\",\\"(\w+)\\"', body))
    assert charted == set(FUNCTION_METRICS)


# ---------------------------------------------------------------- database access (hardening)


def test_attachment_bucket_is_private_with_cors_for_the_web_and_expires_abandoned_uploads(synth: Synth) -> None:
    """The attachment bucket: CORS for exactly the web origins (POST, GET), pending uploads expire after a day,
    incomplete multipart uploads are aborted, it is retained on teardown and logs its accesses."""
    bucket_id = synth.logical_id(synth.stack.attachments.bucket)
    resource = synth.resources[bucket_id]
    properties = resource["Properties"]
    (cors,) = properties["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == [_cloudfront_url(synth), EXTRA_ORIGIN]
    assert sorted(cors["AllowedMethods"]) == ["GET", "HEAD", "POST"]
    rules = {r["Id"]: r for r in properties["LifecycleConfiguration"]["Rules"]}
    pending = rules["expire-abandoned-uploads"]
    assert pending["ExpirationInDays"] == 1 and pending["TagFilters"] == [{"Key": "state", "Value": "pending"}]
    assert pending["Prefix"] == "rooms/"
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert resource["DeletionPolicy"] == "Retain"
    assert properties["LoggingConfiguration"]["LogFilePrefix"] == "attachments-bucket/"
    assert tt.environment(synth, "rest")["ATTACHMENTS_BUCKET"] == {"Ref": bucket_id}


def test_only_rest_and_message_touch_attachments_and_only_what_each_needs(synth: Synth) -> None:
    """rest may sign uploads and downloads (Put, PutTagging, Get) and message retag and delete, each on rooms/*
    only; message may list the rooms/ prefix (so a missing file is NoSuchKey); no other function has S3."""
    bucket_id = synth.logical_id(synth.stack.attachments.bucket)
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/rooms/*"]]}
    expected = {
        "rest": {("s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"): objects},
        "message": {
            ("s3:DeleteObject", "s3:PutObjectTagging"): objects,
            ("s3:ListBucket",): {"Fn::GetAtt": [bucket_id, "Arn"]},
        },
    }
    for folder in synth.stack.functions:
        granted = {
            tuple(sorted(tt.actions(s))): s["Resource"]
            for s in tt.statements(synth, tt.role_id(synth, folder))
            if any(a.startswith("s3:") for a in tt.actions(s))
        }
        assert granted == expected.get(folder, {}), folder


def test_function_roles_use_no_managed_policy_and_vpc_ones_only_the_eni_actions(synth: Synth) -> None:
    """No function role carries a managed policy (AWSLambdaVPCAccessExecutionRole wrote logs on '*'); VPC ones
    get the six network-interface actions inline, and no role may write logs anywhere but its own group."""
    for folder in synth.stack.functions:
        role = synth.resources[tt.role_id(synth, folder)]["Properties"]
        assert not role.get("ManagedPolicyArns"), folder
        statements = tt.statements(synth, tt.role_id(synth, folder))
        eni = [s for s in statements if any(a.startswith("ec2:") for a in tt.actions(s))]
        if folder in VPC_FUNCTIONS:
            (statement,) = eni
            assert sorted(tt.actions(statement)) == sorted(VPC_ENI_ACTIONS), folder
        else:
            assert eni == [], folder
        logs_on_anything = [
            s for s in statements if any(a.startswith("logs:") for a in tt.actions(s)) and "*" in tt.resources(s)
        ]
        assert logs_on_anything == [], folder


def test_proxy_authenticates_both_users_and_fails_callers_fast(synth: Synth) -> None:
    """The proxy holds the app and master secrets; it gives up a borrow before any proxy user's timeout and keeps
    part of max_connections for the migration (MaxConnectionsPercent < 100, idle under it)."""
    (proxy,) = tt.of_type(synth, "AWS::RDS::DBProxy").values()
    arns = [entry["SecretArn"] for entry in proxy["Properties"]["Auth"]]
    database = synth.stack.database
    assert sorted(map(str, arns)) == sorted(
        map(str, [synth.stack.resolve(database.secret.secret_arn), synth.stack.resolve(database.app_secret.secret_arn)])
    )
    (group,) = tt.of_type(synth, "AWS::RDS::DBProxyTargetGroup").values()
    pool = group["Properties"]["ConnectionPoolConfigurationInfo"]
    timeouts = {
        f: synth.resources[synth.function_id(f)]["Properties"]["Timeout"] for f in ("connect", "message", "rest")
    }
    assert pool["ConnectionBorrowTimeout"] < min(timeouts.values()), (pool, timeouts)
    assert pool["MaxConnectionsPercent"] < 100
    assert pool["MaxIdleConnectionsPercent"] <= pool["MaxConnectionsPercent"]


def test_app_secret_is_for_the_role_the_migration_creates(synth: Synth) -> None:
    """The generated app secret's user is chat_app: the NOLOGIN role migration 0004 creates and the layer expects."""
    secret_id = synth.logical_id(synth.stack.database.app_secret)
    template = synth.resources[secret_id]["Properties"]["GenerateSecretString"]["SecretStringTemplate"]
    assert json.loads(template)["username"] == APP_ROLE
    sql = (MIGRATIONS_DIR / "0004_app_role.sql").read_text()
    assert f"CREATE ROLE {APP_ROLE} NOLOGIN" in sql


def test_database_ca_bundles_named_in_the_environment_are_in_the_layer(synth: Synth, rds_bundle: Path) -> None:
    """DATABASE_CA_BUNDLE of every database function names a file of the layer (mounted at /opt): Amazon Trust
    Services' roots for the proxy's users, RDS's bundle for the migration."""
    root = layer_asset_dir(synth)
    for folder in ("connect", "message", "rest", "migrate"):
        path = tt.environment(synth, folder)["DATABASE_CA_BUNDLE"]
        assert path.startswith(f"{LAYER_MOUNT}/"), folder
        assert (root / path.removeprefix(f"{LAYER_MOUNT}/")).is_file(), folder
    assert (root / INSTANCE_CA_BUNDLE.removeprefix(f"{LAYER_MOUNT}/")).read_bytes() == rds_bundle.read_bytes()


def test_pinned_proxy_sessions_raise_an_alarm(synth: Synth) -> None:
    """An alarm watches RDS Proxy's DatabaseConnectionsCurrentlySessionPinned for this proxy and notifies the topic."""
    proxy_name = {"Ref": synth.logical_id(synth.stack.database.proxy)}
    (alarm,) = [
        a["Properties"]
        for a in tt.of_type(synth, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "DatabaseConnectionsCurrentlySessionPinned"
    ]
    assert alarm["Namespace"] == "AWS/RDS"
    assert alarm["Dimensions"] == [{"Name": "ProxyName", "Value": proxy_name}]
    assert alarm["Threshold"] == 1
    assert {"Ref": synth.logical_id(synth.stack.monitoring.topic)} in alarm["AlarmActions"]


# ---------------------------------------------------------------- a first deploy that fails


def _guard(synth: Synth) -> tuple[str, dict[str, Any]]:
    (item,) = tt.of_type(synth, "Custom::DeletionProtection").items()
    return item


def test_database_is_created_unprotected_and_protected_once_everything_else_exists(synth: Synth) -> None:
    """The instance is created without deletion protection (a failed first deploy can delete it on rollback); a
    custom resource depending on every other resource of the stack then turns protection on."""
    instance_id = synth.logical_id(synth.stack.database.instance)
    instance = synth.resources[instance_id]
    assert instance["Properties"]["DeletionProtection"] is False
    assert instance["DeletionPolicy"] == "Snapshot"
    guard_id, guard = _guard(synth)
    for phase in ("Create", "Update"):
        call = guard["Properties"][phase]["Fn::Join"][1]
        assert {"Ref": instance_id} in call
        text = "".join(part for part in call if isinstance(part, str))
        assert '"action":"modifyDBInstance"' in text and '"DeletionProtection":true' in text
    # Every resource of the stack but the guard's own (itself and its IAM policy) is one it waits for.
    own = {key for key in synth.resources if key.startswith("DatabaseDeletionProtectionGuard")}
    assert guard_id in own
    others = {key for key in synth.resources if key not in own and key != "CDKMetadata"}
    assert others <= set(guard["DependsOn"])
    # The ones most likely to fail a first deploy, named: the migration, the functions, the web upload.
    (trigger_id,) = tt.of_type(synth, "Custom::Trigger")
    (deployment_id,) = tt.of_type(synth, "Custom::CDKBucketDeployment")
    functions = {synth.function_id(f) for f in synth.stack.functions}
    assert {trigger_id, deployment_id, *functions} <= set(guard["DependsOn"])


def test_the_guard_may_only_modify_this_database(synth: Synth) -> None:
    """The guard's role may call rds:ModifyDBInstance on this instance only, and write its own log group."""
    role_id = synth.logical_id(synth.stack.database.node.find_child("DeletionGuardRole"))
    statements = tt.statements(synth, role_id)
    granted = {action: tt.resources(s) for s in statements for action in tt.actions(s)}
    instance_arn = synth.stack.resolve(synth.stack.database.instance.instance_arn)
    assert granted.pop("rds:ModifyDBInstance") == [instance_arn]
    assert set(granted) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert not synth.resources[role_id]["Properties"].get("ManagedPolicyArns")


# ---------------------------------------------------------------- large rooms (the fan-out queue)


def test_the_fanout_queue_is_encrypted_with_a_dead_letter_queue_the_alarms_watch(synth: Synth) -> None:
    """The queue and its dead-letter queue are encrypted and TLS-only; a job moves there after 5 receives; an
    alarm fires on one dead letter; the visibility timeout is six times the worker's timeout."""
    queue = synth.resources[synth.logical_id(synth.stack.fanout.queue)]["Properties"]
    dead_id = synth.logical_id(synth.stack.fanout.dead_letters)
    assert queue["SqsManagedSseEnabled"] is True
    assert synth.resources[dead_id]["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dead_id, "Arn"]}, "maxReceiveCount": 5}
    worker_timeout = synth.resources[synth.function_id("fanout")]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] == 6 * worker_timeout
    policies = [p["Properties"] for p in tt.of_type(synth, "AWS::SQS::QueuePolicy").values()]
    assert (
        all(
            any(
                s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                for s in p["PolicyDocument"]["Statement"]
            )
            for p in policies
        )
        and len(policies) == 2
    )
    alarms = [a["Properties"] for a in tt.of_type(synth, "AWS::CloudWatch::Alarm").values()]
    dead_letter_alarms = [
        a
        for a in alarms
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible" and a.get("Namespace") == "AWS/SQS"
    ]
    assert len(dead_letter_alarms) == 1 and dead_letter_alarms[0]["Threshold"] == 1


def test_the_worker_reads_the_queue_reporting_failures_one_by_one(synth: Synth) -> None:
    """The worker's SQS event source reports batch item failures, with the configured batch size and
    concurrency; the worker runs outside the VPC."""
    (mapping,) = tt.of_type(synth, "AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]
    assert properties["FunctionName"] == {"Ref": synth.function_id("fanout")}
    assert properties["EventSourceArn"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.fanout.queue), "Arn"]}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BatchSize"] == 10 and properties["ScalingConfig"] == {"MaximumConcurrency": 16}
    assert "VpcConfig" not in synth.resources[synth.function_id("fanout")]["Properties"]


def test_only_the_functions_that_post_to_rooms_may_queue_jobs(synth: Synth) -> None:
    """message, rest and the worker (its retries) may send to the queue; the worker alone may receive."""
    senders = {f for f in synth.stack.functions if "sqs:SendMessage" in tt.allowed(synth, f, "sqs:")}
    receivers = {f for f in synth.stack.functions if "sqs:ReceiveMessage" in tt.allowed(synth, f, "sqs:")}
    assert senders == {"message", "rest", "fanout"} and receivers == {"fanout"}
    for folder in ("message", "rest"):
        variables = tt.environment(synth, folder)
        assert variables["FANOUT_LARGE_ROOM"] == "1000"
        assert variables["FANOUT_QUEUE_URL"] == {"Ref": synth.logical_id(synth.stack.fanout.queue)}
