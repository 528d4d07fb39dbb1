"""Hostile input: thousands of generated bad frames, each answered by exactly one error, nothing written."""

from __future__ import annotations

import json
import os
from typing import Any

import psycopg
from chatcore.aws.broadcaster import Broadcaster
from chatcore.aws.registry import ConnectionRegistry
from chatcore.fields import MAX_FRAME_BYTES
from chatcore.passwords import hash_password
from chatcore.postgres.store import ChatStore
from chatcore.rules import RateLimits
from chatcore.service.chat import ChatService
from chatcore.service.fanout import Fanout
from chatcore.service.gate import ConnectionGate
from chatcore.tokens import Identity, TokenService
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ManagementFake
from tests.helpers.events import route_of

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
KNOWN_TYPES = ["join", "message", "leave", "list", "history", "typing", "read", "ping"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
not_an_id = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=10).filter(lambda s: not s.strip().isdigit()),
    st.integers(max_value=0),
    st.integers(min_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f)),
    st.lists(scalars, max_size=2),
    st.dictionaries(st.text(max_size=4), scalars, max_size=2),
)


def _frame(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def _padded(kind: str, size: int) -> str:
    """A frame of exactly ``size`` bytes: a message too long, or a join of a room that does not exist."""
    fields = {"roomId": 10**12, "text": ""} if kind == "message" else {"roomId": 10**12}
    frame = _frame(kind, **fields, pad="")
    padding = size - len(frame.encode())
    if kind == "message":
        return _frame(kind, roomId=10**12, text="x" * padding, pad="")
    return _frame(kind, roomId=10**12, pad="x" * padding)


bad_frames = st.one_of(
    # not JSON, not an object, no usable type
    st.text(max_size=60).filter(lambda s: not s.strip().startswith("{")),
    st.binary(max_size=40).map(lambda b: b"\xff\xfe" + b),  # invalid UTF-8
    json_values.filter(lambda v: not isinstance(v, dict)).map(json.dumps),
    st.dictionaries(st.sampled_from(["roomId", "text", "kind"]), scalars, max_size=3).map(json.dumps),
    st.builds(lambda t: json.dumps({"type": t}), st.one_of(st.integers(), st.none(), st.lists(st.integers()))),
    # unknown types
    st.text(min_size=1, max_size=30).filter(lambda t: t not in KNOWN_TYPES).map(lambda t: _frame(t, roomId=1)),
    # wrong or missing fields for known types
    st.builds(lambda k, r: _frame(k, roomId=r), st.sampled_from([k for k in KNOWN_TYPES if k != "ping"]), not_an_id),
    st.sampled_from([k for k in KNOWN_TYPES if k != "ping"]).map(lambda k: _frame(k)),
    st.builds(
        lambda t: _frame("message", roomId=1, text=t),
        st.one_of(st.none(), st.integers(), st.just(""), st.lists(st.text(max_size=3), max_size=2)),
    ),
    st.builds(lambda n: _frame("message", roomId=1, text="x" * n), st.integers(4001, 20_000)),  # oversize
    st.builds(
        lambda c: _frame("message", roomId=1, text="hi", clientMsgId=c),
        st.one_of(st.integers(), st.text(min_size=65, max_size=80), st.just("")),
    ),
    st.builds(
        lambda n: _frame("history", roomId=1, limit=n), st.one_of(st.integers(max_value=0), st.integers(min_value=201))
    ),
    st.builds(lambda m: _frame("read", roomId=1, messageId=m), not_an_id),
    st.just('{"type":"message","roomId":1,"text":"nul \\u0000 inside"}'),
    st.just('{"type":"message","roomId":1,"text":"lone \\ud800 surrogate"}'),
    st.integers(1000, 50_000).map(lambda depth: '{"type":"join","roomId":' + "[" * depth + "]" * depth + "}"),
    st.integers(1000, 5000).map(lambda digits: '{"type":"join","roomId":1' + "0" * digits + "}"),
    # frames at and around the largest API Gateway accepts, padded with a field nobody reads
    st.builds(
        lambda size, kind: _padded(kind, size),
        st.integers(MAX_FRAME_BYTES - 64, MAX_FRAME_BYTES + 64),
        st.sampled_from(["message", "join", "bogus"]),
    ),
    # well-formed, but for rooms that don't exist or are private
    st.builds(
        lambda k, r: _frame(k, roomId=r, text="hi", messageId=1),
        st.sampled_from(["join", "message", "list", "history", "typing", "read"]),
        st.integers(10_000, 2**63 - 1),
    ),
)


def _counts(database_url: str) -> tuple[int, ...]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM users),"
            " (SELECT count(*) FROM rooms), (SELECT count(*) FROM room_members), (SELECT count(*) FROM user_tags)"
        ).fetchone()
    assert row is not None
    return tuple(row)


class _Outbox:
    """Reads what moto's Management API received for one connection, from where it last stopped."""

    def __init__(self, connection_id: str) -> None:
        from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
        from moto.core.models import DEFAULT_ACCOUNT_ID

        self._connections = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].connections
        self._id = connection_id
        self._offset = 0

    def new_frames(self) -> list[dict[str, Any]]:
        connection = self._connections.get(self._id)
        raw = connection.data if connection is not None else b""
        text = (raw.decode() if isinstance(raw, bytes) else raw)[self._offset :]
        self._offset += len(text)
        decoder, frames, index = json.JSONDecoder(), [], 0
        while index < len(text):
            frame, index = decoder.raw_decode(text, index)
            frames.append(frame)
        return frames


def test_every_hostile_frame_gets_exactly_one_error_and_writes_nothing(
    store: ChatStore,
    registry: ConnectionRegistry,
    management: ManagementFake,
    tokens: TokenService,
    database_url: str,
) -> None:
    """Generated bad frames (wrong types, missing fields, huge numbers, deep nesting, bad UTF-8, oversize)."""
    # Limits out of the way: this is about input handling, and a dropped typing frame answers nothing.
    unlimited = RateLimits(frames=10**9, messages=10**9, typing=10**9)
    chat = ChatService(store, registry, Fanout(registry, Broadcaster(management)), limits=unlimited)
    owner = store.create_user("owner", hash_password("pw-for-tests"))
    store.create_group("secret", private=True, created_by=owner.id)  # a private room the fuzzer may hit
    user = store.create_user("fuzzer", hash_password("pw-for-tests"))
    ConnectionGate(store, registry, tokens).connect("fuzz-1", tokens.issue(Identity(user.id, user.username)))
    outbox = _Outbox("fuzz-1")
    before = _counts(database_url)
    seen_codes: set[str] = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(frame=bad_frames)
    def one_error_each(frame: str | bytes) -> None:
        chat.handle_frame("fuzz-1", route_of(frame), frame)  # type: ignore[arg-type]
        replies = outbox.new_frames()
        assert len(replies) == 1, (frame, replies)
        assert replies[0]["type"] == "error", (frame, replies)
        seen_codes.add(replies[0]["code"])

    one_error_each()

    assert _counts(database_url) == before
    assert [c.connection_id for c in registry.room_connections(1)] == []
    assert {"invalid_message", "unknown_type", "message_too_long", "room_not_found"} <= seen_codes
