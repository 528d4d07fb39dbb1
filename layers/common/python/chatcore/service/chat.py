"""The chat service: what happens on every frame after ``$connect`` (see :mod:`chatcore.service.gate`).

Identity always comes from the connection record written at ``$connect`` (from the verified token),
never from a frame. A message is broadcast only after PostgreSQL has stored it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from chatcore.errors import RegistryUnavailable, StoreUnavailable
from chatcore.fields import DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT
from chatcore.observability import logger
from chatcore.ports import Connections, Store
from chatcore.protocol import (
    ClientFrame,
    ErrorCode,
    FrameError,
    HistoryFrame,
    HistoryOut,
    JoinedOut,
    JoinFrame,
    LeaveFrame,
    ListFrame,
    ListOut,
    MemberJoinedOut,
    MemberLeftOut,
    MessageFrame,
    MessageOut,
    PingFrame,
    PongOut,
    ReadFrame,
    ReadOut,
    ServerFrame,
    TypingFrame,
    TypingOut,
    error_frame,
    parse_client_frame,
)
from chatcore.rows import ConnectionRecord, Role, RoomRow
from chatcore.rules import RateLimits, can_read, can_write
from chatcore.service.fanout import Fanout
from chatcore.service.views import member_views, message_view, room_view


class _Reject(Exception):
    """Ends handling of one frame with an ``error`` frame to the sender."""

    def __init__(self, code: ErrorCode, detail: str | None = None) -> None:
        super().__init__(code.value)
        self.code = code
        self.detail = detail


class ChatService:
    """Handles every client frame of the protocol."""

    def __init__(
        self,
        store: Store,
        registry: Connections,
        fanout: Fanout,
        limits: RateLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._registry = registry
        self._fanout = fanout
        self._limits = limits or RateLimits()
        self._clock = clock

    def handle_frame(self, connection_id: str, body: str | None) -> None:
        """Parse one frame from ``connection_id`` and act on it; every failure becomes an ``error`` frame."""
        try:
            frame = parse_client_frame(body)
        except FrameError as exc:
            self._send(connection_id, exc.to_frame())
            return
        room_id = getattr(frame, "room_id", None)
        client_msg_id = getattr(frame, "client_msg_id", None)
        try:
            record, usage = self._registry.count_frame(connection_id, frame.type)
            if record is None:
                raise _Reject(ErrorCode.NOT_CONNECTED)
            logger.append_keys(user_id=record.user_id, frame_type=frame.type)
            if frame.type == "typing" and usage.typing > self._limits.typing:
                return  # typing indicators beyond the limit are dropped, not errors
            over_messages = frame.type == "message" and usage.messages > self._limits.messages
            if usage.frames > self._limits.frames or over_messages:
                raise _Reject(ErrorCode.RATE_LIMITED, f"Limit is {self._limits.describe()}")
            self._dispatch(record, frame)
        except _Reject as rejection:
            self._send(
                connection_id,
                error_frame(
                    rejection.code,
                    detail=rejection.detail,
                    request_type=frame.type,
                    room_id=room_id,
                    client_msg_id=client_msg_id,
                ),
            )
        except StoreUnavailable:
            logger.exception("database unavailable")
            code = ErrorCode.SAVE_FAILED if frame.type == "message" else ErrorCode.UNAVAILABLE
            self._send(
                connection_id,
                error_frame(code, request_type=frame.type, room_id=room_id, client_msg_id=client_msg_id),
            )
        except Exception:
            logger.exception("frame handling failed")
            code = ErrorCode.SAVE_FAILED if frame.type == "message" else ErrorCode.INTERNAL_ERROR
            self._send(
                connection_id,
                error_frame(code, request_type=frame.type, room_id=room_id, client_msg_id=client_msg_id),
            )

    def _dispatch(self, record: ConnectionRecord, frame: ClientFrame) -> None:
        match frame:
            case JoinFrame():
                self._join(record, frame)
            case MessageFrame():
                self._message(record, frame)
            case LeaveFrame():
                self._leave(record, frame)
            case ListFrame():
                self._list(record, frame)
            case HistoryFrame():
                self._history(record, frame)
            case TypingFrame():
                self._typing(record, frame)
            case ReadFrame():
                self._read(record, frame)
            case PingFrame():  # count_frame already refreshed last-seen
                self._send(record.connection_id, PongOut(ts=int(self._clock() * 1000)))

    def _room_for(self, record: ConnectionRecord, room_id: int, *, write: bool = False) -> tuple[RoomRow, Role | None]:
        """The room and the caller's role, or a rejection: unknown room, or no access."""
        room, role = self._store.room_and_role(room_id, record.user_id)
        if room is None:
            raise _Reject(ErrorCode.ROOM_NOT_FOUND)
        if write and not can_write(role):
            raise _Reject(ErrorCode.FORBIDDEN, "Join the room before posting to it")
        if not can_read(room, role):
            raise _Reject(ErrorCode.FORBIDDEN, "This room is private")
        return room, role

    def _join(self, record: ConnectionRecord, frame: JoinFrame) -> None:
        room, role = self._room_for(record, frame.room_id)
        if role is None:  # a public group: joining makes the caller a member
            self._store.add_member(room.id, record.user_id)
        before = self._registry.room_connections(room.id)
        already_here = any(c.connection_id == record.connection_id for c in before)
        user_was_present = any(c.user_id == record.user_id and c.connection_id != record.connection_id for c in before)
        if not already_here:
            self._registry.subscribe(record, room.id)
        online = {c.user_id for c in before} | {record.user_id}
        members = self._store.list_members(room.id)
        if frame.since is not None:
            history, has_more = self._store.messages_after(room.id, frame.since, MAX_HISTORY_LIMIT)
        else:
            history, has_more = self._store.latest_messages(room.id, DEFAULT_HISTORY_LIMIT)
        self._send(
            record.connection_id,
            JoinedOut(
                room_id=room.id,
                room=room_view(room),
                members=member_views(members, online),
                history=[message_view(m) for m in history],
                has_more=has_more,
            ),
        )
        if not already_here and not user_was_present:
            announcement = MemberJoinedOut(room_id=room.id, user=record.username)
            self._broadcast((c.connection_id for c in before if c.connection_id != record.connection_id), announcement)

    def _message(self, record: ConnectionRecord, frame: MessageFrame) -> None:
        room, _role = self._room_for(record, frame.room_id, write=True)
        saved = self._store.save_message(room.id, record.user_id, frame.text, frame.client_msg_id)
        if saved.message.room_id != room.id:
            raise _Reject(ErrorCode.INVALID_MESSAGE, "clientMsgId was already used for another room")
        out = MessageOut(room_id=room.id, message=message_view(saved.message))
        if not saved.created:
            # A retry of a stored message: acknowledge to the sender only, never broadcast twice.
            self._send(record.connection_id, out)
            return
        try:
            recipients = self._registry.room_connection_ids(room.id)
        except RegistryUnavailable:
            # Stored, so never "save_failed" (a resend would only be acknowledged, never broadcast): the
            # sender learns it is saved, and the room gets it when its clients catch up with ``since``.
            logger.exception("room lookup failed after the message was stored; only its sender was told")
            self._send(record.connection_id, out)
            return
        recipients.append(record.connection_id)  # the sender hears its own message even if not joined
        self._broadcast(recipients, out)

    def _leave(self, record: ConnectionRecord, frame: LeaveFrame) -> None:
        if not self._registry.unsubscribe(record.connection_id, frame.room_id):
            return
        remaining = self._registry.room_connections(frame.room_id)
        if any(c.user_id == record.user_id for c in remaining):
            return
        self._broadcast(
            (c.connection_id for c in remaining), MemberLeftOut(room_id=frame.room_id, user=record.username)
        )

    def _list(self, record: ConnectionRecord, frame: ListFrame) -> None:
        room, _role = self._room_for(record, frame.room_id)
        online = {c.user_id for c in self._registry.room_connections(room.id)}
        members = member_views(self._store.list_members(room.id), online)
        self._send(record.connection_id, ListOut(room_id=room.id, members=members))

    def _history(self, record: ConnectionRecord, frame: HistoryFrame) -> None:
        room, _role = self._room_for(record, frame.room_id)
        if frame.before is not None:
            page, has_more = self._store.messages_before(room.id, frame.before, frame.limit)
        else:
            page, has_more = self._store.latest_messages(room.id, frame.limit)
        self._send(
            record.connection_id,
            HistoryOut(room_id=room.id, messages=[message_view(m) for m in page], has_more=has_more),
        )

    def _typing(self, record: ConnectionRecord, frame: TypingFrame) -> None:
        room, _role = self._room_for(record, frame.room_id, write=True)
        others = [c.connection_id for c in self._registry.room_connections(room.id) if c.user_id != record.user_id]
        self._broadcast(others, TypingOut(room_id=room.id, user=record.username))

    def _read(self, record: ConnectionRecord, frame: ReadFrame) -> None:
        room, _role = self._room_for(record, frame.room_id, write=True)
        marker = self._store.mark_read(room.id, record.user_id, frame.message_id)
        if marker is None:
            raise _Reject(ErrorCode.FORBIDDEN, "Join the room first")
        recipients = self._registry.room_connection_ids(room.id)
        self._broadcast(recipients, ReadOut(room_id=room.id, user=record.username, message_id=marker))

    # ------------------------------------------------------------ delivery

    def _send(self, connection_id: str, frame: ServerFrame) -> None:
        self._fanout.send(connection_id, frame)

    def _broadcast(self, connection_ids: Iterable[str], frame: ServerFrame) -> None:
        self._fanout.broadcast(connection_ids, frame)
