"""Client frames: parsing what a client sends into its model, or into one FrameError and its error frame."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatcore.fields import DEFAULT_HISTORY_LIMIT, MAX_FRAME_BYTES, MAX_TEXT_LENGTH
from chatcore.protocol.base import encode
from chatcore.protocol.client import (
    CLIENT_FRAME_TYPES,
    FrameError,
    HistoryFrame,
    JoinFrame,
    LeaveFrame,
    ListFrame,
    MessageFrame,
    PingFrame,
    ReadFrame,
    TypingFrame,
    parse_client_frame,
)
from chatcore.protocol.server import ErrorCode, ErrorOut
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tests.helpers.cold import models_built_cold

# ---------------------------------------------------------------- valid client frames


_VALID_FRAMES: list[tuple[dict[str, Any], BaseModel]] = [
    ({"type": "join", "roomId": 7}, JoinFrame(type="join", room_id=7)),
    ({"type": "join", "roomId": 7, "since": 42}, JoinFrame(type="join", room_id=7, since=42)),
    (
        {"type": "message", "roomId": 7, "text": "Hello Bob!"},
        MessageFrame(type="message", room_id=7, text="Hello Bob!"),
    ),
    (
        {"type": "message", "roomId": 7, "text": "hi", "clientMsgId": "c-1"},
        MessageFrame(type="message", room_id=7, text="hi", client_msg_id="c-1"),
    ),
    ({"type": "leave", "roomId": 7}, LeaveFrame(type="leave", room_id=7)),
    ({"type": "list", "roomId": 7}, ListFrame(type="list", room_id=7)),
    ({"type": "history", "roomId": 7}, HistoryFrame(type="history", room_id=7, limit=DEFAULT_HISTORY_LIMIT)),
    (
        {"type": "history", "roomId": 7, "before": 99, "limit": 200},
        HistoryFrame(type="history", room_id=7, before=99, limit=200),
    ),
    ({"type": "typing", "roomId": 7}, TypingFrame(type="typing", room_id=7)),
    ({"type": "read", "roomId": 7, "messageId": 3}, ReadFrame(type="read", room_id=7, message_id=3)),
    ({"type": "ping"}, PingFrame(type="ping")),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    _VALID_FRAMES,
    ids=[f"{body['type']}-{'-'.join(sorted(set(body) - {'type'})) or 'bare'}" for body, _ in _VALID_FRAMES],
)
def test_every_client_frame_parses(body: dict[str, Any], expected: BaseModel) -> None:
    """Each frame type of the protocol parses into its model with camelCase fields mapped."""
    assert parse_client_frame(json.dumps(body)) == expected


def test_every_protocol_type_is_covered() -> None:
    """The routed types are exactly the eleven client frames of the protocol."""
    expected = {"join", "message", "edit", "delete", "react", "leave", "list", "history", "typing", "read", "ping"}
    assert frozenset(expected) == CLIENT_FRAME_TYPES


def test_bytes_body_parses_like_text() -> None:
    """A UTF-8 bytes body parses as the same frame as its text."""
    body = {"type": "message", "roomId": 1, "text": "grüße 👋"}
    assert parse_client_frame(json.dumps(body).encode()) == parse_client_frame(json.dumps(body, ensure_ascii=False))


def test_untrusted_identity_fields_are_dropped() -> None:
    """``sender``, ``username`` and ``userId`` in a frame never reach the parsed model."""
    frame = parse_client_frame(
        json.dumps({"type": "message", "roomId": 1, "text": "hi", "sender": "mallory", "username": "root", "userId": 1})
    )
    dumped = frame.model_dump(by_alias=True)
    assert not {"sender", "username", "userId", "user_id"} & set(dumped)
    assert dumped == {
        "type": "message",
        "roomId": 1,
        "text": "hi",
        "clientMsgId": None,
        "replyTo": None,
        "attachments": [],
    }


def test_text_at_the_limit_is_accepted_in_characters_not_bytes() -> None:
    """Exactly MAX_TEXT_LENGTH characters is accepted even when each is four UTF-8 bytes."""
    text = "😀" * MAX_TEXT_LENGTH
    frame = parse_client_frame(json.dumps({"type": "message", "roomId": 1, "text": text}))
    assert isinstance(frame, MessageFrame) and frame.text == text


def test_frame_of_exactly_128_kb_is_accepted() -> None:
    """A frame of exactly MAX_FRAME_BYTES bytes is still handled (only larger ones are refused)."""
    prefix = '{"type":"ping","pad":"'
    body = prefix + "x" * (MAX_FRAME_BYTES - len(prefix) - 2) + '"}'
    assert len(body.encode()) == MAX_FRAME_BYTES
    assert parse_client_frame(body) == PingFrame(type="ping")


# ---------------------------------------------------------------- refused frames


def _expect_error(body: str | bytes | None, code: ErrorCode) -> FrameError:
    with pytest.raises(FrameError) as caught:
        parse_client_frame(body)
    assert caught.type is FrameError
    assert caught.value.code is code, caught.value.detail
    return caught.value


_DEEP = "[" * 100_000 + "]" * 100_000  # 200 KB would be refused for size; this stays under it
_DEEP_OBJECT = '{"type":"ping","x":' + "[" * 60_000 + "]" * 60_000 + "}"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(None, ErrorCode.INVALID_MESSAGE, id="none"),
        pytest.param("", ErrorCode.INVALID_MESSAGE, id="empty"),
        pytest.param("hello", ErrorCode.INVALID_MESSAGE, id="not-json"),
        pytest.param("{'type': 'ping'}", ErrorCode.INVALID_MESSAGE, id="python-not-json"),
        pytest.param(b"\xff\xfe\x00garbage", ErrorCode.INVALID_MESSAGE, id="bad-utf8"),
        pytest.param("[1, 2]", ErrorCode.INVALID_MESSAGE, id="array"),
        pytest.param('"ping"', ErrorCode.INVALID_MESSAGE, id="string"),
        pytest.param("null", ErrorCode.INVALID_MESSAGE, id="null"),
        pytest.param("42", ErrorCode.INVALID_MESSAGE, id="number"),
        pytest.param("{}", ErrorCode.INVALID_MESSAGE, id="missing-type"),
        pytest.param('{"type": 5}', ErrorCode.INVALID_MESSAGE, id="type-not-string"),
        pytest.param('{"type": null}', ErrorCode.INVALID_MESSAGE, id="type-null"),
        pytest.param('{"type": "unknown_command"}', ErrorCode.UNKNOWN_TYPE, id="unknown-type"),
        pytest.param('{"type": "JOIN", "roomId": 1}', ErrorCode.UNKNOWN_TYPE, id="type-case-sensitive"),
        pytest.param(_DEEP, ErrorCode.INVALID_MESSAGE, id="deep-array"),
        pytest.param(_DEEP_OBJECT, ErrorCode.INVALID_MESSAGE, id="deep-inside-frame"),
        pytest.param('{"type":"join","roomId":' + "9" * 5000 + "}", ErrorCode.INVALID_MESSAGE, id="int-5000-digits"),
        pytest.param('{"type":"join","roomId":' + "9" * 4000 + "}", ErrorCode.INVALID_MESSAGE, id="int-4000-digits"),
        pytest.param('{"type":"join","roomId":1e999}', ErrorCode.INVALID_MESSAGE, id="float-infinity"),
        pytest.param('{"type":"join","roomId":NaN}', ErrorCode.INVALID_MESSAGE, id="nan"),
    ],
)
def test_malformed_frames_raise_one_frame_error(body: str | bytes | None, code: ErrorCode) -> None:
    """Non-JSON, non-objects, a missing or unknown type, deep nesting and huge numbers each get one FrameError."""
    _expect_error(body, code)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"type": "join"}, id="join-no-room"),
        pytest.param({"type": "join", "roomId": "abc"}, id="room-not-number"),
        pytest.param({"type": "join", "roomId": [1]}, id="room-list"),
        pytest.param({"type": "join", "roomId": {"id": 1}}, id="room-object"),
        pytest.param({"type": "join", "roomId": None}, id="room-null"),
        pytest.param({"type": "join", "roomId": 1.5}, id="room-fraction"),
        pytest.param({"type": "join", "roomId": 0}, id="room-zero"),
        pytest.param({"type": "join", "roomId": -3}, id="room-negative"),
        pytest.param({"type": "join", "roomId": 2**63}, id="room-over-bigint"),
        pytest.param({"type": "join", "roomId": 1, "since": "yesterday"}, id="since-string"),
        pytest.param({"type": "join", "roomId": 1, "since": -1}, id="since-negative"),
        pytest.param({"type": "message", "roomId": 1}, id="message-no-text"),
        pytest.param({"type": "message", "roomId": 1, "text": ""}, id="message-empty"),
        pytest.param({"type": "message", "roomId": 1, "text": 5}, id="text-number"),
        pytest.param({"type": "message", "roomId": 1, "text": ["a"]}, id="text-list"),
        pytest.param({"type": "message", "roomId": 1, "text": None}, id="text-null"),
        pytest.param({"type": "message", "roomId": 1, "text": "a\x00b"}, id="text-nul"),
        pytest.param({"type": "message", "roomId": 1, "text": "a\ud800b"}, id="text-lone-surrogate"),
        pytest.param({"type": "message", "roomId": 1, "text": "\udfff"}, id="text-lone-low-surrogate"),
        pytest.param({"type": "message", "roomId": 1, "text": "a", "clientMsgId": ""}, id="client-id-empty"),
        pytest.param({"type": "message", "roomId": 1, "text": "a", "clientMsgId": 5}, id="client-id-number"),
        pytest.param({"type": "message", "roomId": 1, "text": "a", "clientMsgId": "x" * 65}, id="client-id-long"),
        pytest.param({"type": "message", "roomId": 1, "text": "a", "clientMsgId": "a\x00"}, id="client-id-nul"),
        pytest.param({"type": "history", "roomId": 1, "limit": 0}, id="limit-zero"),
        pytest.param({"type": "history", "roomId": 1, "limit": 201}, id="limit-over-max"),
        pytest.param({"type": "history", "roomId": 1, "limit": "all"}, id="limit-string"),
        pytest.param({"type": "history", "roomId": 1, "before": -1}, id="before-negative"),
        pytest.param({"type": "read", "roomId": 1}, id="read-no-message-id"),
        pytest.param({"type": "read", "roomId": 1, "messageId": "x"}, id="read-message-id-string"),
    ],
)
def test_wrong_fields_get_invalid_message_echoing_the_request(body: dict[str, Any]) -> None:
    """Missing or wrongly typed fields, NUL and lone surrogates give invalid_message naming the field."""
    error = _expect_error(json.dumps(body), ErrorCode.INVALID_MESSAGE)
    fields = ("roomId", "since", "text", "clientMsgId", "limit", "before", "messageId")
    assert any(name in error.detail for name in fields), error.detail
    out = error.to_frame()
    assert out.request_type == body["type"]
    assert json.loads(encode(out))["code"] == "invalid_message"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"type": "join", "roomId": True}, id="room-true"),
        pytest.param({"type": "join", "roomId": False}, id="room-false"),
        pytest.param({"type": "read", "roomId": 1, "messageId": True}, id="message-id-true"),
        pytest.param({"type": "join", "roomId": 1, "since": True}, id="since-true"),
        pytest.param({"type": "history", "roomId": 1, "limit": True}, id="limit-true"),
    ],
)
def test_booleans_are_not_accepted_as_numbers(body: dict[str, Any]) -> None:
    """A JSON boolean where a number belongs is a wrong type, not the number 1."""
    _expect_error(json.dumps(body), ErrorCode.INVALID_MESSAGE)


def test_raw_lone_surrogate_in_the_frame_text_is_refused() -> None:
    """A body str carrying an unescaped lone surrogate (not valid UTF-8 on the wire) is invalid_message."""
    _expect_error('{"type":"message","roomId":1,"text":"a\ud800"}', ErrorCode.INVALID_MESSAGE)


def test_text_over_the_limit_gets_message_too_long() -> None:
    """Text one character over MAX_TEXT_LENGTH gets message_too_long, echoing roomId and clientMsgId."""
    body = {"type": "message", "roomId": 9, "text": "x" * (MAX_TEXT_LENGTH + 1), "clientMsgId": "c-9"}
    error = _expect_error(json.dumps(body), ErrorCode.MESSAGE_TOO_LONG)
    assert json.loads(encode(error.to_frame())) == {
        "type": "error",
        "code": "message_too_long",
        "message": f"Message is longer than {MAX_TEXT_LENGTH} characters",
        "detail": error.detail,
        "requestType": "message",
        "roomId": 9,
        "clientMsgId": "c-9",
    }


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_frame_over_128_kb_is_refused_before_parsing(as_bytes: bool) -> None:
    """One byte over MAX_FRAME_BYTES is invalid_message, whatever the content."""
    prefix = '{"type":"ping","pad":"'
    body = prefix + "x" * (MAX_FRAME_BYTES - len(prefix) - 1) + '"}'
    assert len(body.encode()) == MAX_FRAME_BYTES + 1
    error = _expect_error(body.encode() if as_bytes else body, ErrorCode.INVALID_MESSAGE)
    assert str(MAX_FRAME_BYTES) in error.detail


def test_frame_size_counts_utf8_bytes_not_characters() -> None:
    """40,000 three-byte characters (120 KB of text) padded past 128 KB of UTF-8 are refused."""
    body = '{"type":"ping","pad":"' + "€" * 44_000 + '"}'
    assert len(body) < MAX_FRAME_BYTES < len(body.encode())
    _expect_error(body, ErrorCode.INVALID_MESSAGE)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"type":"\\ud800"}', id="type"),
        pytest.param('{"type":"message","roomId":1,"text":"x","clientMsgId":"\\ud800"}', id="client-msg-id"),
    ],
)
def test_error_frame_echoing_a_lone_surrogate_still_serialises(body: str) -> None:
    """The error frame for a request with an escaped lone surrogate can be sent back to the client."""
    with pytest.raises(FrameError) as caught:
        parse_client_frame(body)
    frame = json.loads(encode(caught.value.to_frame()))
    assert frame["type"] == "error"


# ---------------------------------------------------------------- properties

_FIELDS = ("roomId", "text", "clientMsgId", "since", "before", "limit", "messageId", "sender", "userId")
# st.text() draws valid UTF-8 only; escaped lone surrogates are covered by the test above.
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats()
    | st.text(max_size=20)
)
_shallow = (
    _json_scalars
    | st.lists(_json_scalars, max_size=3)
    | st.dictionaries(st.text(max_size=5), _json_scalars, max_size=3)
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=5,
)
_frame_like = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(CLIENT_FRAME_TYPES)) | _json_scalars},
    optional={name: _shallow | st.integers(min_value=0, max_value=2**63) for name in _FIELDS},
)


def _check_outcome(body: str | bytes) -> FrameError | None:
    """Parse ``body``: a valid frame passes checks, a FrameError is returned; anything else propagates."""
    try:
        frame = parse_client_frame(body)
    except FrameError as error:
        assert isinstance(error.code, ErrorCode)
        assert isinstance(error.to_frame(), ErrorOut)
        return error
    assert frame.type in CLIENT_FRAME_TYPES
    room_id = getattr(frame, "room_id", None)
    assert room_id is None or 1 <= room_id < 2**63
    return None


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_frame_like | _json_values)
def test_any_json_value_gives_a_frame_or_a_frame_error(value: Any) -> None:
    """Whatever JSON a client sends, parsing returns a frame or raises FrameError whose reply serialises."""
    error = _check_outcome(json.dumps(value))
    if error is not None:
        assert json.loads(encode(error.to_frame()))["code"] == error.code.value


@settings(max_examples=500, deadline=None)
@given(
    body=st.binary(max_size=200)
    | st.text(max_size=200)
    | st.text(st.sampled_from('{}[]":,0123456789.-eE ntrufalsy\\'), max_size=60)
)
def test_any_bytes_give_a_frame_or_a_frame_error(body: str | bytes) -> None:
    """Arbitrary bytes or text (raw surrogates included) never raise anything but FrameError."""
    _check_outcome(body)


def test_a_cold_container_builds_the_validator_of_the_frame_it_parses_alone() -> None:
    """In a fresh interpreter no frame model is built at import, and parsing a message frame builds only its own."""
    report = models_built_cold(
        "chatcore.protocol.client",
        """module.parse_client_frame('{"type": "message", "roomId": 7, "text": "hi", "clientMsgId": "c-1"}')""",
    )
    assert (report.before, report.result) == ([], "MessageFrame")
    assert report.after == ["MessageFrame"]
