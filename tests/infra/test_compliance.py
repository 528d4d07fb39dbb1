"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized app."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from aws_cdk import aws_s3 as s3

from infra.chat_infra.nag import NAG_PREFIX, add_nag_checks
from tests.infra.synthesis import Acknowledged, Synth

#: cfn-lint warnings CDK itself causes: explicit DependsOn on a role the function also references (W3005).
ACCEPTED_WARNINGS = {"W3005"}
GENERIC_REASONS = {"not needed", "false positive", "ok", "n/a", "suppressed", "acknowledged", "todo"}


def test_cdk_nag_ran_and_left_no_unacknowledged_finding(nag_report: dict[str, Any]) -> None:
    """The AwsSolutions pack ran during the synth, succeeded, and reports zero unacknowledged findings."""
    assert nag_report["conclusion"] == "success"
    assert nag_report["violations"] == []
    assert nag_report["suppressedViolations"], "the pack reported nothing at all: did it run?"


def test_cdk_nag_fails_the_synth_on_a_finding(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The same nag wiring turns an unacknowledged finding into a failed synth (the check has teeth)."""
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("nag-control")))
    stack = cdk.Stack(app, "Control")
    s3.Bucket(stack, "Plain")  # no TLS policy, no access logs
    add_nag_checks(app)
    with pytest.raises(RuntimeError, match="AwsSolutions-S10"):
        app.synth()


def test_every_acknowledgment_has_a_specific_reason(acknowledgments: list[Acknowledged]) -> None:
    """Each acknowledgment names an AwsSolutions rule and gives a specific, non-generic written reason."""
    assert acknowledgments
    for ack in acknowledgments:
        assert ack.rule.startswith(f"{NAG_PREFIX}AwsSolutions-"), ack
        assert len(ack.reason.split()) >= 12, ack
        assert ack.reason.strip().lower().rstrip(".") not in GENERIC_REASONS, ack


def test_every_acknowledgment_matches_a_real_finding(
    acknowledgments: list[Acknowledged], nag_report: dict[str, Any]
) -> None:
    """Each acknowledgment suppressed at least one finding of its rule below where it was made (none is stale)."""
    used = {(s["acknowledgedAt"], s["acknowledgedId"]) for s in nag_report["suppressedViolations"]}
    stale = [ack for ack in acknowledgments if (ack.path, ack.rule) not in used]
    assert stale == []
    for suppressed in nag_report["suppressedViolations"]:
        for construct in suppressed["violatingConstructs"]:
            path = construct["constructPath"]
            assert path == suppressed["acknowledgedAt"] or path.startswith(suppressed["acknowledgedAt"] + "/")


def test_cfn_lint_finds_no_errors(synth: Synth) -> None:
    """cfn-lint reports no error on the template, and no warning besides CDK's own W3005."""
    template = json.dumps(synth.template)
    matches = cfnlint.api.lint(template, regions=["us-east-1"])
    by_rule = Counter(m.rule.id for m in matches)
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    assert set(by_rule) <= ACCEPTED_WARNINGS, [str(m) for m in matches if m.rule.id not in ACCEPTED_WARNINGS]
