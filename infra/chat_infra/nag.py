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


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on ``scope`` (and its children) with a specific written ``reason``."""
    if len(reason.split()) < _MIN_REASON_WORDS:
        raise ValueError(f"the acknowledgment of {rule_id} needs a specific reason, not {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
