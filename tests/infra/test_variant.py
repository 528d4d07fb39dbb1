"""The app with NAT off, deletion protection off and Multi-AZ on (context), still nag-clean."""

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
    """Deletion protection off (delete, no snapshot), Multi-AZ on, and the stage named by context."""
    (instance,) = tt.of_type(variant, "AWS::RDS::DBInstance").values()
    assert instance["Properties"]["DeletionProtection"] is False
    assert instance["Properties"]["MultiAZ"] is True
    assert instance["DeletionPolicy"] == "Delete"
    assert variant.stack.stack_name == "chat-staging"
    stage = variant.resources[variant.logical_id(variant.stack.websocket_stage)]
    assert stage["Properties"]["StageName"] == "staging"


def test_variant_is_nag_clean_with_its_own_acknowledgments(variant: Synth) -> None:
    """The variant passes cdk-nag; deletion protection off is acknowledged, Multi-AZ needs no acknowledgment."""
    report = nag_plugin_report(variant)
    assert report["violations"] == []
    rules = {s["ruleName"] for s in report["suppressedViolations"]}
    assert "AwsSolutions-RDS10" in rules
    assert "AwsSolutions-RDS3" not in rules
