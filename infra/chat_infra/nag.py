"""cdk-nag (3.x API) wiring: the AwsSolutions pack on the app, and written acknowledgments.

Every acknowledgment names the exact finding (IAM4/IAM5 findings by their bracketed id) and says why the
finding does not apply or is accepted. ``acknowledge`` refuses an empty or generic reason.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

_MIN_REASON_WORDS = 8


def add_nag_checks(app: App) -> None:
    """Run the AwsSolutions rules at synth; any unacknowledged finding fails the synth."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


#: How cdk-nag 3 names its findings for ``Validations.acknowledge`` (``AwsSolutions::AwsSolutions-L1``).
NAG_PREFIX = "AwsSolutions::"


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` (``AwsSolutions-L1``, ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and below.

    ``reason`` must say specifically why; a short or empty one is refused.
    """
    if not rule_id.startswith("AwsSolutions-"):
        raise ValueError(f"not an AwsSolutions rule id: {rule_id!r}")
    if len(reason.split()) < _MIN_REASON_WORDS:
        raise ValueError(f"the acknowledgment of {rule_id} needs a specific reason, not {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{NAG_PREFIX}{rule_id}", reason=reason))
