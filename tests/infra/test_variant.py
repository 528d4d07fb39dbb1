"""The app with NAT off, deletion protection off, Multi-AZ on, reserved concurrency and no CloudFront logging
(context), still nag-clean."""

from __future__ import annotations

from tests.infra import template_tools as tt
from tests.infra.synthesis import Synth, nag_plugin_report


def test_without_nat_the_vpc_has_no_route_out_but_reaches_secrets_manager(variant: Synth) -> None:
    """natGateway=false: no NAT or internet gateway; a Secrets Manager endpoint serves the VPC functions."""
    assert not tt.of_type(variant, "AWS::EC2::NatGateway")
    assert not tt.of_type(variant, "AWS::EC2::InternetGateway")
    endpoints = tt.of_type(variant, "AWS::EC2::VPCEndpoint")
    services = [str(e["Properties"]["ServiceName"]) for e in endpoints.values()]
    assert any("secretsmanager" in s for s in services) and any("dynamodb" in s for s in services)
    interface_id = next(k for k, e in endpoints.items() if e["Properties"].get("VpcEndpointType") == "Interface")
    assert endpoints[interface_id]["Properties"]["PrivateDnsEnabled"] is True
    (trigger,) = tt.of_type(variant, "Custom::Trigger").values()
    assert interface_id in trigger["DependsOn"]


def test_variant_settings_reach_the_database_and_stage(variant: Synth) -> None:
    """Deletion protection off (the guard turns it off; delete, no snapshot), Multi-AZ on, the stage named."""
    (instance,) = tt.of_type(variant, "AWS::RDS::DBInstance").values()
    assert instance["Properties"]["DeletionProtection"] is False
    assert instance["Properties"]["MultiAZ"] is True
    assert instance["DeletionPolicy"] == "Delete"
    (guard,) = tt.of_type(variant, "Custom::DeletionProtection").values()
    for phase in ("Create", "Update"):
        text = "".join(p for p in guard["Properties"][phase]["Fn::Join"][1] if isinstance(p, str))
        assert '"DeletionProtection":false' in text, phase
    assert variant.stack.stack_name == "chat-staging"
    stage = variant.resources[variant.logical_id(variant.stack.websocket_stage)]
    assert stage["Properties"]["StageName"] == "staging"


def test_variant_is_nag_clean_with_its_own_acknowledgments(variant: Synth) -> None:
    """The variant passes cdk-nag; CloudFront without logs is acknowledged, Multi-AZ needs no acknowledgment."""
    report = nag_plugin_report(variant)
    assert report["violations"] == []
    rules = {s["ruleName"] for s in report["suppressedViolations"]}
    assert {"AwsSolutions-RDS10", "AwsSolutions-CFR3"} <= rules
    assert "AwsSolutions-RDS3" not in rules


def test_variant_reserves_concurrency_for_the_database_functions(synth: Synth, variant: Synth) -> None:
    """reservedConcurrency<Function> context reaches exactly those functions; by default no function reserves any."""
    expected = {"connect": 5, "message": 20, "rest": 10}
    for folder in variant.stack.functions:
        configured = variant.resources[variant.function_id(folder)]["Properties"]
        assert configured.get("ReservedConcurrentExecutions") == expected.get(folder), folder
        default = synth.resources[synth.function_id(folder)]["Properties"]
        assert "ReservedConcurrentExecutions" not in default, folder


def test_without_cloudfront_logging_the_distribution_logs_nothing(variant: Synth) -> None:
    """cloudFrontLogging=false: the distribution has no Logging, the web bucket still logs its accesses."""
    distribution = variant.resources[variant.logical_id(variant.stack.web.distribution)]["Properties"]
    assert "Logging" not in distribution["DistributionConfig"]
    bucket = variant.resources[variant.logical_id(variant.stack.web.bucket)]["Properties"]
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "web-bucket/"
