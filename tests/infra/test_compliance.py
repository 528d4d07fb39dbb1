"""cdk-nag (AwsSolutions), cfn-lint and checkov on the synthesized app."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
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


# ---------------------------------------------------------------- checkov

#: checkov pins many packages of its own, so it runs in a cached environment of its own (uv's tool cache),
#: never in the project's: the first run installs it from PyPI (about 20 s), later ones only scan (about 15 s).
CHECKOV_VERSION = "3.3.30"
#: CDK's own helper functions (custom resource providers, the bucket deployment, the triggers provider).
_CDK_HELPERS = (
    "AWS679f53fac002430cb0da5b7982bd2287",
    "AWSCDKTriggerCustomResourceProvider",
    "CustomCDKBucketDeployment",
    "CustomS3AutoDeleteObjectsCustomResourceProvider",
    "CustomVpcRestrictDefaultSGCustomResourceProvider",
)
_OUR_FUNCTIONS = (
    "ConnectFunction",
    "MessageFunction",
    "DisconnectFunction",
    "RestFunction",
    "FanoutFunction",
    "PruneFunction",
)
_ALL_FUNCTIONS = (*_OUR_FUNCTIONS, "MigrateFunction", *_CDK_HELPERS)


@dataclass(frozen=True)
class Skip:
    """A checkov check accepted on the resources whose logical ids start with one of ``resources``."""

    resources: tuple[str, ...]
    reason: str


CHECKOV_SKIPS: dict[str, Skip] = {
    "CKV_AWS_111": Skip(
        (
            "ConnectRoleDefaultPolicy",
            "MessageRoleDefaultPolicy",
            "RestRoleDefaultPolicy",
            "MigrateRoleDefaultPolicy",
            "CustomCDKBucketDeployment",
        ),
        "The write actions on '*' are the network-interface actions Lambda needs for VPC functions (EC2 Describe* "
        "has no resource-level permissions and the interfaces get their ids at run time) and, for CDK's bucket "
        "deployment, cloudfront:CreateInvalidation, which CloudFront does not scope; cdk-nag IAM5 says the same.",
    ),
    "CKV_AWS_115": Skip(
        _ALL_FUNCTIONS,
        "Reserved concurrency is opt-in through context (reservedConcurrencyConnect/Message/Rest): new accounts "
        "have a concurrency quota of 10 and cannot reserve any, and CDK's deploy-time helpers run a few times "
        "a deploy.",
    ),
    "CKV_AWS_116": Skip(
        _ALL_FUNCTIONS,
        "A dead-letter queue only catches asynchronous invocations: API Gateway and CloudFormation invoke these "
        "synchronously, and prune (EventBridge, every 5 minutes) is retried by the schedule's next run and alarmed.",
    ),
    "CKV_AWS_117": Skip(
        ("DisconnectFunction", "PruneFunction", "FanoutFunction", *_CDK_HELPERS),
        "These call AWS APIs only (DynamoDB, the Management API, S3, CloudFormation, RDS): a VPC would add ENIs "
        "and NAT traffic for nothing; the functions that reach PostgreSQL run in the VPC's app subnets.",
    ),
    "CKV_AWS_118": Skip(
        ("DatabaseInstance",),
        "Enhanced Monitoring needs a monitoring role (an AWS-managed policy) and bills per instance; the basic "
        "RDS metrics feed the CPU and storage alarms and the dashboard, enough for a small team's t4g.micro.",
    ),
    "CKV_AWS_119": Skip(
        ("RegistryTable",),
        "The registry holds connection ids and user ids that expire within hours; the AWS-managed key encrypts "
        "it at rest, and a customer-managed key would add cost without a key policy anyone needs.",
    ),
    "CKV_AWS_149": Skip(
        ("TokenSigningKeySecret", "chatprodDatabaseInstanceSecret", "DatabaseAppSecret"),
        "The secrets are encrypted with the account's aws/secretsmanager key; access is controlled by IAM, "
        "each function's role naming exactly the secrets it reads, and no secret is shared across accounts.",
    ),
    "CKV_AWS_157": Skip(
        ("DatabaseInstance",),
        "Single-AZ by default to keep a small team's bill down (context dbMultiAz=true turns Multi-AZ on); "
        "automated backups and point-in-time restore cover the loss of the instance.",
    ),
    "CKV_AWS_158": Skip(
        ("*",),
        "CloudWatch Logs encrypts every log group at rest with its own keys; the handlers log no tokens, passwords "
        "or message text (an integration test reads a session's logs for them), so a KMS key would add cost only.",
    ),
    "CKV_AWS_161": Skip(
        ("DatabaseInstance",),
        "Clients never connect to the instance with IAM tokens: the functions authenticate to RDS Proxy with "
        "the chat_app secret (SCRAM), the proxy and the migration to the instance with Secrets Manager passwords.",
    ),
    "CKV_AWS_173": Skip(
        _ALL_FUNCTIONS,
        "The environment holds names, ARNs, URLs and limits, never a secret value (the functions fetch secrets "
        "from Secrets Manager at run time), and Lambda encrypts it at rest with its service key already.",
    ),
    "CKV_AWS_174": Skip(
        ("WebDistribution",),
        "Without a custom domain CloudFront serves its default *.cloudfront.net certificate, whose minimum protocol "
        "version cannot be set; TLSv1.2_2021 applies once a domain and ACM certificate are added (cdk-nag CFR4).",
    ),
    "CKV_AWS_18": Skip(
        ("AccessLogsBucket",),
        "This is the access-log bucket itself: it receives the other bucket's, CloudFront's and the VPC's logs, "
        "and logging its own accesses into itself would log every log delivery.",
    ),
    "CKV_AWS_21": Skip(
        ("AccessLogsBucket", "WebBucket", "AttachmentsBucket"),
        "Log objects are written once and expire after 90 days; the web bucket is rebuilt from the repository's "
        "web/ folder on every deploy, so earlier versions of either have nothing to restore; and a deleted "
        "message's files must really be gone, which a noncurrent version kept by versioning would contradict.",
    ),
    "CKV_AWS_27": Skip(
        ("FanoutJobs",),
        "The fan-out queues are encrypted at rest with SQS-managed keys (SqsManagedSseEnabled, as the template "
        "shows); this checkov version recognizes only a KMS key, which would add a KMS request per message.",
    ),
    "CKV_AWS_68": Skip(
        ("WebDistribution",),
        "The distribution serves static files only (GET/HEAD from a private bucket); the APIs are not behind it. "
        "A WAF web ACL (from about 5 USD a month) is left to deployments that need one (cdk-nag CFR2).",
    ),
}


def _skip_for(check_id: str, resource: str) -> Skip | None:
    skip = CHECKOV_SKIPS.get(check_id)
    logical_id = resource.split(".", 1)[-1]
    if skip is not None and ("*" in skip.resources or logical_id.startswith(skip.resources)):
        return skip
    return None


@pytest.fixture(scope="session")
def checkov_report(synth: Synth) -> dict[str, Any]:
    """checkov's JSON report (failed checks and summary) of the synthesized template, scanned offline."""
    uv = shutil.which("uv")
    assert uv, "the checkov test runs checkov through uv"
    template = synth.outdir / f"{synth.stack.artifact_id}.template.json"
    command = [uv, "tool", "run", "--from", f"checkov=={CHECKOV_VERSION}", "checkov", "-f", str(template)]
    command += ["--framework", "cloudformation", "--skip-download", "--output", "json", "--quiet", "--compact"]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: some check failed, judged below
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_checkov_fails_nothing_outside_the_documented_skips(checkov_report: dict[str, Any]) -> None:
    """checkov scanned the template (many checks passed), and every failed check is a documented skip."""
    summary = checkov_report["summary"]
    assert summary["checkov_version"] == CHECKOV_VERSION
    assert summary["resource_count"] > 100 and summary["passed"] > 100, summary
    failed = checkov_report.get("results", {}).get("failed_checks", [])
    unexplained = [
        f"{f['check_id']} {f['check_name']} on {f['resource']}"
        for f in failed
        if _skip_for(f["check_id"], f["resource"]) is None
    ]
    assert unexplained == []


def test_every_checkov_skip_is_used_and_has_a_specific_reason(checkov_report: dict[str, Any]) -> None:
    """Each documented skip still matches a failed check (none is stale) and says why in a real sentence."""
    failed = checkov_report.get("results", {}).get("failed_checks", [])
    used = {f["check_id"] for f in failed if _skip_for(f["check_id"], f["resource"]) is not None}
    assert set(CHECKOV_SKIPS) - used == set()
    for check_id, skip in CHECKOV_SKIPS.items():
        assert len(skip.reason.split()) >= 20, check_id
        assert skip.reason.strip().lower().rstrip(".") not in GENERIC_REASONS, check_id
