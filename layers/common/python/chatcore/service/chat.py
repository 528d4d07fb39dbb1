"""The chat service: what happens on every frame after ``$connect`` (see :mod:`chatcore.service.gate`).

Identity always comes from the connection record written at ``$connect`` (from the verified token),
never from a frame. A message is broadcast only after PostgreSQL has stored it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from chatcore.errors import (
    FilesUnavailable,
    InvalidInput,
    QueueUnavailable,
    RegistryUnavailable,
    StoreUnavailable,
)
from chatcore.fields import (
    DEFAULT_HISTORY_LIMIT,
    MAX_DB_ID,
    MAX_HISTORY_LIMIT,
    MAX_POST_BYTES,
    MEMBER_PAGE_SIZE,
    mentioned_usernames,
)
from chatcore.observability import logger
from chatcore.protocol.base import encode
from chatcore.protocol.client import (
    CLIENT_FRAME_TYPES,
    ClientFrame,
    DeleteFrame,
    EditFrame,
    FrameError,
    HistoryFrame,
    JoinFrame,
    LeaveFrame,
    ListFrame,
    MessageFrame,
    PingFrame,
    ReactFrame,
    ReadFrame,
    TypingFrame,
    parse_client_frame,
)
from chatcore.protocol.server import (
    ErrorCode,
    HistoryOut,
    JoinedOut,
    ListOut,
    MentionOut,
    MessageDeletedOut,
    MessageEditedOut,
    MessageOut,
    PongOut,
    ReactionOut,
    ReadOut,
    ServerFrame,
    TypingOut,
    error_frame,
)
from chatcore.rules import MAX_MEMBERSHIPS, RateLimits, can_read, can_write
from chatcore.service.attachments import object_key
from chatcore.service.delivery import RoomDelivery
from chatcore.service.live import LiveUpdates, members_if_small
from chatcore.service.views import (
    first_that_fit,
    member_views,
    message_view,
    newest_that_fit,
    reaction_views,
    room_view,
    user_view,
)

if TYPE_CHECKING:
    from chatcore.ports import Connections, Files, Store
    from chatcore.records import ConnectionRecord
    from chatcore.rows import MessageRow, Role, RoomRow
    from chatcore.service.fanout import Fanout

# ``joined`` gives members at most this much of the frame; the newest history that fits gets the rest.
_MEMBERS_BUDGET = MAX_POST_BYTES // 3

# Room for the ``changes`` key and its flag, so history and changes together still fit.
_CHANGES_ENVELOPE = 64
# At most this many changed messages in one ``joined``; beyond them ``changesHasMore`` asks for a reload.
MAX_CHANGES = 200
# At most this many ``@names`` of one message are looked up.
MAX_MENTIONS = 50

# The request each reply answers, for the error a reply too large to send turns into.
_REPLY_TO = {"joined": "join", "list": "list", "history": "history", "pong": "ping"}


def _request_type(frame: ServerFrame) -> str | None:
    return _REPLY_TO.get(frame.type)


def _fields(body: str | None) -> dict[str, Any]:
    """The top-level fields of a JSON object frame, or nothing (for echoing them in an error)."""
    try:
        data = json.loads(body or "")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


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
        files: Files | None = None,
        delivery: RoomDelivery | None = None,
    ) -> None:
        self._store = store
        self._files = files
        self._registry = registry
        self._fanout = fanout
        self._delivery = delivery or RoomDelivery(registry, fanout)
        self._live = LiveUpdates(registry, fanout, self._delivery)
        self._limits = limits or RateLimits()
        self._clock = clock

    def handle_frame(self, connection_id: str, route: str, body: str | None) -> None:
        """Count one frame from ``connection_id`` against its limits, then parse it and act on it.

        ``route`` is the route API Gateway chose (the frame's ``type``, or ``$default``). Counting comes
        before any other work, so a flood of malformed or unknown frames is ``rate_limited`` like any other;
        every failure becomes one ``error`` frame to the sender.
        """
        kind = route if route in CLIENT_FRAME_TYPES else "$default"
        try:
            record, usage = self._registry.count_frame(connection_id, kind)
        except Exception:
            logger.exception("counting the frame failed")
            self._reply_error(connection_id, ErrorCode.INTERNAL_ERROR, kind=kind, body=body)
            return
        if record is None:
            self._reply_error(connection_id, ErrorCode.NOT_CONNECTED, kind=kind, body=body)
            return
        logger.append_keys(user_id=record.user_id, frame_type=kind)
        if kind == "typing" and usage.typing > self._limits.typing:
            return  # typing indicators beyond the limit are dropped, not errors
        if usage.frames > self._limits.frames or (kind == "message" and usage.messages > self._limits.messages):
            detail = f"Limit is {self._limits.describe()}"
            self._reply_error(connection_id, ErrorCode.RATE_LIMITED, kind=kind, body=body, detail=detail)
            return
        try:
            frame = parse_client_frame(body)
        except FrameError as exc:
            self._send(connection_id, exc.to_frame())
            return
        room_id = getattr(frame, "room_id", None)
        client_msg_id = getattr(frame, "client_msg_id", None)
        try:
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

    def _reply_error(
        self, connection_id: str, code: ErrorCode, *, kind: str, body: str | None, detail: str | None = None
    ) -> None:
        """An ``error`` frame for a frame refused before it was parsed, echoing what it can of the request."""
        echoed = FrameError(code, detail or "", _fields(body)).to_frame()
        self._send(
            connection_id,
            error_frame(
                code,
                detail=detail,
                request_type=echoed.request_type or (None if kind == "$default" else kind),
                room_id=echoed.room_id,
                client_msg_id=echoed.client_msg_id,
            ),
        )

    def _dispatch(self, record: ConnectionRecord, frame: ClientFrame) -> None:
        match frame:
            case JoinFrame():
                self._join(record, frame)
            case MessageFrame():
                self._message(record, frame)
            case EditFrame():
                self._edit(record, frame)
            case DeleteFrame():
                self._delete(record, frame)
            case ReactFrame():
                self._react(record, frame)
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
        """The connection looks at the room: its history and members, and it becomes one of the room's viewers.

        A public group the caller is not in makes the caller a member (unless its owner removed them), and
        every open connection of the caller starts hearing the room.
        """
        room, role = self._room_for(record, frame.room_id)
        if role is None:  # a public group
            if self._store.is_banned(room.id, record.user_id):
                raise _Reject(ErrorCode.FORBIDDEN, "The group's owner removed you from it")
            if self._store.membership_count(record.user_id) >= MAX_MEMBERSHIPS:
                raise _Reject(ErrorCode.FORBIDDEN, f"You are in {MAX_MEMBERSHIPS} rooms already; leave one first")
            if self._store.add_member(room.id, record.user_id):
                small = members_if_small(self._store, room.id)
                self._live.member_added(
                    room_view(room), record.user_id, record.username, shards=room.shards, member_ids=small
                )
        if not self._registry.view(record.connection_id, room.id, room.shards):
            # Subscribed at $connect to the rooms it had then; a membership younger than that joins here.
            self._registry.subscribe(record, room.id, room.shards)
            self._registry.view(record.connection_id, room.id, room.shards)
        rows, more_members = self._store.members_page(room.id, after=None, limit=MEMBER_PAGE_SIZE)
        online = set(self._registry.users_connections(m.id for m in rows))
        members, cut = first_that_fit(member_views(rows, online), _MEMBERS_BUDGET)
        other = next((m for m in rows if m.id != record.user_id), None) if room.kind == "direct" else None
        info = room_view(room, user_view(other.id, other.username, other.nickname) if other else None)
        if frame.since is not None:
            history, has_more = self._store.messages_after(room.id, frame.since, MAX_HISTORY_LIMIT)
        else:
            history, has_more = self._store.latest_messages(room.id, DEFAULT_HISTORY_LIMIT)
        joined = JoinedOut(
            room_id=room.id,
            room=info,
            members=members,
            members_has_more=more_members or cut,
            history=[],
            has_more=has_more,
        )
        budget = MAX_POST_BYTES - len(encode(joined)) - _CHANGES_ENVELOPE
        messages, older_cut = newest_that_fit([message_view(m) for m in history], budget)
        joined = joined.model_copy(update={"history": messages, "has_more": has_more or older_cut})
        if frame.since_rev is not None:
            # What changed among the messages the client holds: up to ``since``, or older than this history.
            older_than_history = history[0].id - 1 if history else MAX_DB_ID
            up_to = frame.since if frame.since is not None else older_than_history
            changed, more = self._store.changes_after(
                room.id, up_to=up_to, since_rev=frame.since_rev, limit=MAX_CHANGES
            )
            used = sum(len(encode(m)) + 1 for m in messages)
            changes, changes_cut = first_that_fit([message_view(m) for m in changed], budget - used)
            joined = joined.model_copy(update={"changes": changes, "changes_has_more": more or changes_cut})
        self._send(record.connection_id, joined)

    def _message(self, record: ConnectionRecord, frame: MessageFrame) -> None:
        room, _role = self._room_for(record, frame.room_id, write=True)
        if frame.reply_to is not None and self._store.message(room.id, frame.reply_to) is None:
            raise _Reject(ErrorCode.MESSAGE_NOT_FOUND, "replyTo is not a message of this room")
        attachment_ids = [str(a) for a in dict.fromkeys(frame.attachments)]
        if attachment_ids:
            self._mark_sent(record, room.id, attachment_ids, frame.client_msg_id)
        try:
            saved = self._store.save_message(
                room.id,
                record.user_id,
                frame.text,
                frame.client_msg_id,
                reply_to=frame.reply_to,
                mention_ids=self._mentioned(room.id, frame.text),
                attachment_ids=attachment_ids,
            )
        except InvalidInput as exc:
            raise _Reject(ErrorCode.INVALID_MESSAGE, exc.message) from exc
        if saved.message.room_id != room.id:
            raise _Reject(ErrorCode.INVALID_MESSAGE, "clientMsgId was already used for another room")
        out = MessageOut(room_id=room.id, message=message_view(saved.message))
        if not saved.created:
            # A retry of a stored message: acknowledge to the sender only, never broadcast twice.
            self._send(record.connection_id, out)
            return
        try:
            # The sender hears its own message even if not joined (and first, when the room is large).
            self._delivery.to_room(room, out, also=[record.connection_id])
        except (RegistryUnavailable, QueueUnavailable):
            # Stored, so never "save_failed" (a resend would only be acknowledged, never broadcast): the
            # sender learns it is saved, and the room gets it when its clients catch up with ``since``.
            logger.exception("room delivery failed after the message was stored; only its sender was told")
            self._send(record.connection_id, out)
            return
        self._notify_mentions(record, saved.message, already=())

    def _mentioned(self, room_id: int, text: str) -> list[int]:
        """The ids of the room's members that ``text`` mentions as ``@username`` (at most 50 names looked up)."""
        names = sorted(mentioned_usernames(text))[:MAX_MENTIONS]
        return self._store.member_ids_by_username(room_id, names) if names else []

    def _mark_sent(
        self, record: ConnectionRecord, room_id: int, attachment_ids: list[str], retry_key: str | None
    ) -> None:
        """Check the files are the sender's, for this room, uploaded and not sent yet, and tag them sent.

        Tagged before the message is stored: if storing then fails, a file stays (untagged it would expire),
        never a message whose file the lifecycle rule deletes. A retry of a stored message skips the check.
        """
        rows = {a.id: a for a in self._store.attachments(attachment_ids)}
        for attachment_id in attachment_ids:
            row = rows.get(attachment_id)
            if row is None or row.uploader_id != record.user_id or row.room_id != room_id:
                raise _Reject(ErrorCode.INVALID_MESSAGE, f"attachment {attachment_id} is not one you uploaded here")
            if row.message_id is not None:
                if retry_key is not None:
                    return  # possibly this message's retry: save_message decides
                raise _Reject(ErrorCode.INVALID_MESSAGE, f"attachment {attachment_id} was sent already")
        files = self._files
        if files is None:
            raise _Reject(ErrorCode.INVALID_MESSAGE, "attachments are not configured on this deployment")
        for attachment_id in attachment_ids:
            if not files.mark_sent(object_key(room_id, attachment_id)):
                raise _Reject(ErrorCode.INVALID_MESSAGE, f"attachment {attachment_id} was not uploaded")

    def _notify_mentions(self, record: ConnectionRecord, message: MessageRow, *, already: Iterable[str]) -> None:
        """A ``mention`` to every connection of each user the message mentions, except the author and those
        in ``already`` (mentioned before an edit)."""
        names = set(message.mentions) - set(already) - {record.username}
        if not names:
            return
        ids = self._store.member_ids_by_username(message.room_id, sorted(names))
        connections = [c for ids_ in self._registry.users_connections(ids).values() for c in ids_]
        self._broadcast(connections, MentionOut(room_id=message.room_id, message=message_view(message)))

    def _own_message(
        self, record: ConnectionRecord, room_id: int, message_id: int
    ) -> tuple[RoomRow, Role | None, MessageRow]:
        """The room, the caller's role and the (not deleted) message, or a rejection."""
        room, role = self._room_for(record, room_id, write=True)
        message = self._store.message(room.id, message_id)
        if message is None or message.deleted_at is not None:
            raise _Reject(ErrorCode.MESSAGE_NOT_FOUND)
        return room, role, message

    def _edit(self, record: ConnectionRecord, frame: EditFrame) -> None:
        """The author replaces a message's text; the room gets ``message_edited``."""
        room, _role, message = self._own_message(record, frame.room_id, frame.message_id)
        if message.user_id != record.user_id:
            raise _Reject(ErrorCode.FORBIDDEN, "Only its author can edit a message")
        edited = self._store.edit_message(room.id, message.id, frame.text, self._mentioned(room.id, frame.text))
        if edited is None:  # deleted in between
            raise _Reject(ErrorCode.MESSAGE_NOT_FOUND)
        self._to_room(record, room, MessageEditedOut(room_id=room.id, message=message_view(edited)))
        self._notify_mentions(record, edited, already=message.mentions)

    def _delete(self, record: ConnectionRecord, frame: DeleteFrame) -> None:
        """The author, or a group's owner, deletes a message: its text and files are gone, a tombstone stays."""
        room, role, message = self._own_message(record, frame.room_id, frame.message_id)
        if message.user_id != record.user_id and not (room.kind == "group" and role == "owner"):
            raise _Reject(ErrorCode.FORBIDDEN, "Only its author or the group's owner can delete a message")
        deleted = self._store.delete_message(room.id, message.id)
        if deleted is None:  # deleted in between
            raise _Reject(ErrorCode.MESSAGE_NOT_FOUND)
        tombstone, file_ids = deleted
        if file_ids and self._files is not None:
            try:
                self._files.delete([object_key(room.id, f) for f in file_ids])
            except FilesUnavailable:
                # The rows are gone, so nobody can get a URL for them; the objects stay until someone removes them.
                logger.exception("deleting a message's files failed", extra={"files": file_ids})
        out = MessageDeletedOut(room_id=room.id, message_id=tombstone.id, message=message_view(tombstone))
        self._to_room(record, room, out)

    def _react(self, record: ConnectionRecord, frame: ReactFrame) -> None:
        """Toggle the caller's reaction; the room gets the message's reactions as they now are."""
        room, _role, message = self._own_message(record, frame.room_id, frame.message_id)
        reacted = self._store.toggle_reaction(room.id, message.id, record.user_id, frame.emoji)
        if reacted is None:  # deleted in between
            raise _Reject(ErrorCode.MESSAGE_NOT_FOUND)
        out = ReactionOut(
            room_id=room.id, message_id=reacted.id, rev=reacted.rev, reactions=reaction_views(reacted.reactions)
        )
        self._to_room(record, room, out)

    def _to_room(self, record: ConnectionRecord, room: RoomRow, frame: ServerFrame) -> None:
        """Every connection that hears the room, and the sender's (which may not have joined it)."""
        self._delivery.to_room(room, frame, also=[record.connection_id])

    def _leave(self, record: ConnectionRecord, frame: LeaveFrame) -> None:
        """The connection stops looking at the room (it still hears its messages while the user is a member)."""
        self._registry.unview(record.connection_id, frame.room_id)

    def _list(self, record: ConnectionRecord, frame: ListFrame) -> None:
        room, _role = self._room_for(record, frame.room_id)
        rows, more = self._store.members_page(room.id, after=frame.after, limit=MEMBER_PAGE_SIZE)
        online = set(self._registry.users_connections(m.id for m in rows))
        envelope = len(encode(ListOut(room_id=room.id, members=[], has_more=True)))
        members, cut = first_that_fit(member_views(rows, online), MAX_POST_BYTES - envelope)
        self._send(record.connection_id, ListOut(room_id=room.id, members=members, has_more=more or cut))

    def _history(self, record: ConnectionRecord, frame: HistoryFrame) -> None:
        room, _role = self._room_for(record, frame.room_id)
        if frame.before is not None:
            page, has_more = self._store.messages_before(room.id, frame.before, frame.limit)
        else:
            page, has_more = self._store.latest_messages(room.id, frame.limit)
        envelope = len(encode(HistoryOut(room_id=room.id, messages=[], has_more=True)))
        messages, cut = newest_that_fit([message_view(m) for m in page], MAX_POST_BYTES - envelope)
        self._send(record.connection_id, HistoryOut(room_id=room.id, messages=messages, has_more=has_more or cut))

    def _typing(self, record: ConnectionRecord, frame: TypingFrame) -> None:
        room, _role = self._room_for(record, frame.room_id, write=True)
        if self._delivery.is_large(room):
            return  # a large room shows no typing: each indicator would reach every viewer
        others = [c.connection_id for c in self._registry.room_viewers(room.id) if c.user_id != record.user_id]
        self._broadcast(others, TypingOut(room_id=room.id, user=record.username))

    def _read(self, record: ConnectionRecord, frame: ReadFrame) -> None:
        room, _role = self._room_for(record, frame.room_id, write=True)
        marker = self._store.mark_read(room.id, record.user_id, frame.message_id)
        if marker is None:
            raise _Reject(ErrorCode.FORBIDDEN, "Join the room first")
        # The room's viewers see the receipt (not in a large room); every tab of the reader clears its unread count.
        large = self._delivery.is_large(room)
        viewers = [] if large else [c.connection_id for c in self._registry.room_viewers(room.id)]
        own = self._registry.user_connection_ids(record.user_id)
        self._broadcast(viewers + own, ReadOut(room_id=room.id, user=record.username, message_id=marker))

    # ------------------------------------------------------------ delivery

    def _send(self, connection_id: str, frame: ServerFrame) -> None:
        """Post ``frame`` to one connection; a frame that cannot fit becomes a ``frame_too_large`` error instead."""
        data = encode(frame)
        if len(data) > MAX_POST_BYTES:
            logger.error("frame too large to post", extra={"frame_type": frame.type, "bytes": len(data)})
            room_id = getattr(frame, "room_id", None)
            frame = error_frame(ErrorCode.FRAME_TOO_LARGE, request_type=_request_type(frame), room_id=room_id)
        self._fanout.send(connection_id, frame)

    def _broadcast(self, connection_ids: Iterable[str], frame: ServerFrame) -> None:
        self._fanout.broadcast(connection_ids, frame)
