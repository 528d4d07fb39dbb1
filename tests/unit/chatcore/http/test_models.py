"""chatcore.http.models: the REST bodies, whose validators and serializers are built on first use."""

from __future__ import annotations

from tests.helpers.cold import models_built_cold


def test_a_cold_container_builds_only_the_models_it_uses() -> None:
    """Importing the models builds none of them; validating a login body builds that model alone."""
    report = models_built_cold(
        "chatcore.http.models",
        'module.LoginRequest.model_validate({"username": "alice", "password": "correct horse"})',
    )
    assert report.count > 30
    assert report.before == []
    assert report.after == ["LoginRequest"]
