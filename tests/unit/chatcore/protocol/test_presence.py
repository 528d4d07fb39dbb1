"""The presence frame: who came online or went offline, as every function that sends it encodes it."""

from __future__ import annotations

import json

from chatcore.protocol.base import encode
from chatcore.protocol.presence import PresenceOut

from tests.helpers.cold import models_built_cold


def test_presence_encodes_the_user_and_whether_they_are_online() -> None:
    """A presence frame names the user and their state, with the protocol's type."""
    assert json.loads(encode(PresenceOut(user="alice", online=False))) == {
        "type": "presence",
        "user": "alice",
        "online": False,
    }


def test_the_presence_module_defines_no_other_frame_and_builds_it_on_first_use() -> None:
    """A cold $connect or $disconnect defines the presence frame alone and builds its serializer on first send."""
    report = models_built_cold(
        "chatcore.protocol.presence",
        "__import__('chatcore.protocol.base').protocol.base.encode(module.PresenceOut(user='a', online=True))",
    )
    assert report.count == 2  # PresenceOut and its base, ServerModel
    assert report.before == []
    assert report.after == ["PresenceOut"]
