// The one WebSocket connection of a tab (docs/protocol.md): it hears about every room of its user.
//
// It connects with the token, keeps the connection alive with `ping`, reconnects with exponential
// backoff and jitter whenever the socket closes (API Gateway's idle timeout, its 2-hour limit, a
// deploy, a network change), "views" one room at a time (`join` for its history, members, typing and
// read receipts; `leave` when the page moves on) and catches that room up with `since` after a
// reconnect. It sends the outbox (js/outbox.js, shared by the user's tabs and kept across reloads)
// whenever it is connected and resends what was not acknowledged, under the same clientMsgId, which
// the server stores once.
//
// Events (CustomEvent, payload in `detail`):
//   state {state}                        connecting | connected | reconnecting | offline | stopped
//   open {reconnect}                     a socket opened (after the first: a reconnect, state may be stale)
//   message {roomId, message, live}      a new message in any room (live) or from a page (live: false)
//   changed {roomId, message}            a message was edited, deleted or reacted to
//   room {roomId}                        a viewed room's state changed (history, members, typing, reads)
//   joined {roomId, room}                the server answered a join (the user is a member from now on)
//   room_added / room_updated / room_removed / member_joined / member_left / presence / user_updated /
//   mention / read {…the frame}          membership, presence, profile and mention frames, as they come
//   roomerror {roomId, code, message}    the room cannot be viewed (forbidden, room_not_found)
//   servererror {code, message, requestType, roomId, clientMsgId}
//   fatal {code, message}                the token is no longer valid: stop and log in again

import { MessageLog } from "./message-log.js";

export const State = Object.freeze({
  CONNECTING: "connecting",
  CONNECTED: "connected",
  RECONNECTING: "reconnecting",
  OFFLINE: "offline",
  STOPPED: "stopped",
});

const DEFAULTS = {
  /** API Gateway closes a connection idle for 10 minutes; ping well inside that. */
  pingIntervalMs: 5 * 60_000,
  /** No pong within this time means the connection is dead even if the browser has not noticed. */
  pongTimeoutMs: 30_000,
  backoffBaseMs: 500,
  /** The longest wait between two attempts: a person waiting for their message should not wait long. */
  backoffMaxMs: 10_000,
  /** An open connection this long without trouble resets the backoff. */
  stableAfterMs: 5_000,
  /** At most one `typing` frame per this interval. */
  typingIntervalMs: 3_000,
  /** Resend a message not acknowledged after this long (safe: the server dedupes by clientMsgId). */
  resendAfterMs: 10_000,
  historyPageSize: 50,
  /** Gap filling after a long absence asks for bigger pages. */
  catchUpPageSize: 200,
};

// Errors about a message that retrying the same frame cannot fix.
const PERMANENT_MESSAGE_ERRORS = new Set(["message_too_long", "forbidden", "invalid_message", "rate_limited", "room_not_found"]);

/**
 * API Gateway invokes the handler for each frame independently, so two messages sent close together may
 * reach a client in either order (and one may still be on its way when the connection drops). A catch-up
 * therefore starts before every message that arrived live in this window: a late earlier message is
 * fetched, and what is already held merges by id. 29 s is API Gateway's integration timeout.
 */
export const REORDER_WINDOW_MS = 30_000;

/** The id a catch-up of `room` asks for messages after: its synced point, moved back to where it was
 * when the first message still within REORDER_WINDOW_MS arrived live. */
export function catchUpFrom(room, now = Date.now()) {
  room.recentLive = room.recentLive.filter((seen) => now - seen.at <= REORDER_WINDOW_MS);
  let since = room.syncedUpTo ?? null;
  if (since === null) return null;
  for (const seen of room.recentLive) since = Math.min(since, seen.before);
  return since;
}

/** What the connection knows of one room it has viewed (or heard messages of). */
export class RoomState {
  constructor(id) {
    this.id = id;
    this.log = new MessageLog();
    /** {id, name, private, kind, description?, other?} from `joined`/`room_updated` */
    this.room = null;
    this.members = [];
    this.membersHasMore = false;
    this.hasEarlier = false;
    this.loadingEarlier = false;
    /** The server answered the current view's `join`. */
    this.joined = false;
    /** The log holds every message from `syncedUpTo` back to where it starts (live frames kept it whole). */
    this.synced = false;
    this.syncedUpTo = null;
    /** Live messages of the last REORDER_WINDOW_MS, {id, at, before}: `before` is the synced point they
     * arrived at, since an earlier message may still have been on its way. */
    this.recentLive = [];
    /** Every change (edit, deletion, reaction) up to this revision is applied: the next join's `sinceRev`. */
    this.syncedRev = null;
    /** username -> newest message id that user has read */
    this.reads = new Map();
    /** The viewer's own read marker when the room was first joined in this tab (for "New messages"). */
    this.firstReadMarker = undefined;
    /** username -> when their typing indicator expires */
    this.typing = new Map();
    /** forbidden | room_not_found, when the room cannot be viewed */
    this.error = null;
    this.version = 0;
  }

  get hasHistory() {
    return this.joined || this.log.size > 0;
  }
}

export class ChatConnection extends EventTarget {
  /**
   * @param {object} options
   * @param {string} options.wsUrl   the WebSocket endpoint from config.json
   * @param {string} options.token   the bearer token (sent as ?token=, browsers cannot set headers)
   * @param {string} options.username  the signed-in user's username (to tell own messages apart)
   * @param {import("./outbox.js").Outbox} options.outbox
   * @param {() => Promise<boolean|null>} [options.checkAuth]  asked after a connection fails before
   *   opening: false means the token is no longer valid, so retrying is pointless
   */
  constructor({ wsUrl, token, username, outbox, checkAuth = null, WebSocketImpl = globalThis.WebSocket, ...options }) {
    super();
    this.wsUrl = wsUrl;
    this.token = token;
    this.username = username;
    this.outbox = outbox;
    this.checkAuth = checkAuth;
    this.WebSocketImpl = WebSocketImpl;
    this.options = { ...DEFAULTS, ...options };

    this.state = State.STOPPED;
    /** roomId -> RoomState */
    this.rooms = new Map();
    /** The room this tab looks at, or null. */
    this.viewing = null;
    /** When the next attempt is due (ms since the epoch), while reconnecting. */
    this.nextAttemptAt = 0;
    /** How many sockets were opened; tests and the debug hook read it. */
    this.connections = 0;

    this.socket = null;
    this.open = false;
    this.stopped = true;
    this.attempt = 0;
    /** roomId -> the `since` its pending join was sent with (null: a plain join) */
    this.pendingJoins = new Map();
    /** roomId -> {purpose: "earlier"|"gap"|"find", floor} of the history request in flight */
    this.historyRequests = new Map();
    this.lastReadSent = new Map();
    this.lastTypingSent = new Map();
    this.timers = { reconnect: 0, ping: 0, pong: 0, resend: 0, stable: 0 };

    this.onOnline = () => this.retryNow();
    // The browser knows it has no network: an open socket is as good as dead, say so and wait for "online".
    this.onOffline = () => {
      if (this.stopped) return;
      if (this.socket) this.#abandon();
      this.#setState(State.OFFLINE);
    };
    this.onVisible = () => {
      if (document.visibilityState === "visible" && !this.open) this.retryNow();
    };
    /** clientMsgId -> {connection, at}: when this tab sent it last, and on which socket */
    this.sent = new Map();
    // Only this tab's own new entries go out at once; another tab's are its business unless they stay
    // unacknowledged (then the resend timer sends them here too, which the server dedupes).
    this.onOutbox = (event) => {
      if (event.detail?.local) this.#flushOutbox();
    };
  }

  // ------------------------------------------------------------------ lifecycle

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    document.addEventListener("visibilitychange", this.onVisible);
    this.outbox.addEventListener("change", this.onOutbox);
    this.#setState(navigator.onLine === false ? State.OFFLINE : State.CONNECTING);
    this.#open();
  }

  /** Close for good (logging out, leaving the page). */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    document.removeEventListener("visibilitychange", this.onVisible);
    this.outbox.removeEventListener("change", this.onOutbox);
    this.#clearTimers();
    const socket = this.socket;
    this.socket = null;
    this.open = false;
    this.#setState(State.STOPPED);
    if (socket) {
      socket.onmessage = socket.onclose = socket.onopen = null;
      try {
        socket.close(1000, "Bye");
      } catch {
        // already closing
      }
    }
  }

  /** End the wait of a backoff and try now (the "Retry now" button, coming back online or to the tab). */
  retryNow() {
    if (this.stopped || this.socket) return;
    this.attempt = 0;
    this.#open();
  }

  #open() {
    clearTimeout(this.timers.reconnect);
    this.nextAttemptAt = 0;
    if (this.stopped || this.socket) return; // one socket at a time, whatever asked for this one
    const separator = this.wsUrl.includes("?") ? "&" : "?";
    const url = `${this.wsUrl}${separator}token=${encodeURIComponent(this.token)}`;
    let socket;
    try {
      socket = new this.WebSocketImpl(url);
    } catch {
      this.#scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.connections += 1;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.open = true;
      // The backoff starts over once the connection proves itself: a frame from the server, or a few
      // quiet seconds open (a server that accepts and drops at once is not retried in a tight loop).
      clearTimeout(this.timers.stable);
      this.timers.stable = setTimeout(() => {
        if (this.socket === socket) this.attempt = 0;
      }, this.options.stableAfterMs);
      this.#startKeepAlive();
      this.#setState(State.CONNECTED);
      this.#emit("open", { reconnect: this.connections > 1 });
      if (this.viewing !== null) this.#join(this.viewing);
      this.#flushOutbox();
    };
    socket.onmessage = (event) => this.#onFrame(event.data);
    socket.onerror = () => {}; // a close event always follows
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.#lost({ opened });
    };
  }

  /** The current socket is gone (closed by either side, or abandoned): plan the next attempt. */
  async #lost({ opened }) {
    this.socket = null;
    this.open = false;
    this.pendingJoins.clear();
    this.historyRequests.clear();
    this.#stopKeepAlive();
    for (const room of this.rooms.values()) {
      // Messages may be missed until the next join: nothing from here on extends what is known whole.
      room.synced = false;
      room.joined = false;
      room.loadingEarlier = false;
      room.typing.clear();
      room.version += 1;
    }
    if (this.stopped) return;
    this.#setState(navigator.onLine === false ? State.OFFLINE : State.RECONNECTING);
    if (this.viewing !== null) this.#emit("room", { roomId: this.viewing });
    if (!opened && this.checkAuth) {
      // The upgrade was refused or never reached the server; a 401 is invisible to the page, so ask.
      let valid = null;
      try {
        valid = await this.checkAuth();
      } catch {
        valid = null;
      }
      if (this.stopped) return;
      if (valid === false) {
        this.stop();
        this.#emit("fatal", { code: "unauthorized", message: "Your session has expired. Log in again." });
        return;
      }
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    if (this.stopped) return;
    clearTimeout(this.timers.reconnect);
    const ceiling = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** this.attempt);
    // "Equal jitter": at least half the ceiling, so a crowd of clients spreads out but nobody spins.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt = Math.min(this.attempt + 1, 16);
    this.nextAttemptAt = Date.now() + delay;
    this.timers.reconnect = setTimeout(() => this.#open(), delay);
    this.#emit("state", { state: this.state });
  }

  /** Give up on a socket the browser still thinks is open (no pong, or the server forgot it). */
  #abandon() {
    const socket = this.socket;
    if (!socket) return;
    socket.onclose = socket.onmessage = socket.onopen = null;
    try {
      socket.close(4000, "Reconnecting");
    } catch {
      // already closing
    }
    this.#lost({ opened: true });
  }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.#emit("state", { state });
  }

  #emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #startKeepAlive() {
    this.#stopKeepAlive();
    this.timers.ping = setInterval(() => {
      if (!this.#sendRaw({ type: "ping" })) return;
      // The deadline runs from the oldest unanswered ping; later pings do not push it back.
      if (!this.timers.pong) this.timers.pong = setTimeout(() => this.#abandon(), this.options.pongTimeoutMs);
    }, this.options.pingIntervalMs);
    this.timers.resend = setInterval(() => this.#resendStale(), Math.max(1000, this.options.resendAfterMs / 2));
  }

  #stopKeepAlive() {
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    this.timers.pong = 0;
    clearInterval(this.timers.resend);
  }

  #clearTimers() {
    clearTimeout(this.timers.reconnect);
    clearTimeout(this.timers.stable);
    this.#stopKeepAlive();
  }

  #sendRaw(frame) {
    const socket = this.socket;
    if (!this.open || !socket || socket.readyState !== 1) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  // ------------------------------------------------------------------ rooms

  /** The state of a room, made on first use. */
  roomState(roomId) {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new RoomState(roomId);
      this.rooms.set(roomId, room);
    }
    return room;
  }

  /** Look at a room (or at none, with null): join it for history, members, typing and reads. */
  view(roomId) {
    if (this.viewing === roomId) return roomId === null ? null : this.roomState(roomId);
    const previous = this.viewing;
    this.viewing = roomId;
    if (previous !== null) {
      const old = this.rooms.get(previous);
      if (old) {
        old.joined = false;
        old.typing.clear();
        old.version += 1;
      }
      this.pendingJoins.delete(previous);
      this.#sendRaw({ type: "leave", roomId: previous });
    }
    if (roomId === null) return null;
    const room = this.roomState(roomId);
    room.error = null;
    if (this.open) this.#join(roomId);
    return room;
  }

  /** Forget a room (the user was removed from it, left it, or it was deleted). */
  forget(roomId) {
    this.rooms.delete(roomId);
    this.pendingJoins.delete(roomId);
    this.historyRequests.delete(roomId);
    if (this.viewing === roomId) this.viewing = null;
  }

  #join(roomId) {
    const room = this.roomState(roomId);
    const since = room.log.size ? catchUpFrom(room) : null;
    const frame = { type: "join", roomId };
    if (since !== null) {
      frame.since = since;
      // Older messages edited, deleted or reacted to while this tab was away come back as `changes`.
      if (room.syncedRev) frame.sinceRev = room.syncedRev;
    }
    if (this.#sendRaw(frame)) this.pendingJoins.set(roomId, since);
  }

  // ------------------------------------------------------------------ incoming frames

  #onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    this.attempt = 0;
    const roomId = Number.isSafeInteger(frame.roomId) ? frame.roomId : null;
    switch (frame.type) {
      case "joined":
        return this.#onJoined(frame.roomId ?? frame.room?.id, frame);
      case "message":
        return this.#onMessage(frame.message);
      case "message_edited":
      case "message_deleted":
        return this.#onChanged(roomId, frame);
      case "reaction":
        return this.#onReaction(roomId, frame);
      case "history":
        return this.#onHistory(roomId, frame);
      case "list":
        return this.#onList(roomId, frame);
      case "member_joined":
      case "member_left":
        return this.#onMembership(roomId, frame);
      case "typing":
        return this.#onTyping(roomId, frame.user);
      case "read":
        return this.#onRead(roomId, frame.user, frame.messageId, true);
      case "room_added":
      case "user_updated":
      case "presence":
      case "mention":
        return this.#emit(frame.type, frame);
      case "room_updated":
        if (roomId !== null && frame.room && this.rooms.has(roomId)) {
          const room = this.rooms.get(roomId);
          room.room = { ...room.room, ...frame.room };
          this.#roomChanged(room);
        }
        return this.#emit(frame.type, frame);
      case "room_removed":
        this.#onRemoved(roomId, frame.reason);
        return this.#emit(frame.type, frame);
      case "pong":
        clearTimeout(this.timers.pong);
        this.timers.pong = 0;
        return;
      case "error":
        return this.#onError(frame);
      default:
        // API Gateway's own answer when a function fails: {"message": "Internal server error", ...}
        if (typeof frame.message === "string" && !frame.type) {
          this.#emit("servererror", { code: "internal_error", message: "Something went wrong on the server; retrying." });
        }
    }
  }

  #roomChanged(room) {
    room.version += 1;
    this.#emit("room", { roomId: room.id });
  }

  #onJoined(roomId, frame) {
    if (!Number.isSafeInteger(roomId)) return;
    const room = this.roomState(roomId);
    const since = this.pendingJoins.has(roomId) ? this.pendingJoins.get(roomId) : null;
    this.pendingJoins.delete(roomId);
    room.room = frame.room ?? room.room;
    room.error = null;
    this.#setMembers(room, frame.members, Boolean(frame.membersHasMore), false);
    const history = Array.isArray(frame.history) ? frame.history : [];
    const catchUp = since !== null && since !== undefined;
    if (!catchUp && room.log.size && history.length && !room.log.has(history[0].id) && history[0].id > (room.log.lastId ?? 0)) {
      // A plain join (nothing synced to catch up from) whose page does not touch what is held: start
      // afresh rather than show a hole.
      room.log = new MessageLog();
    }
    if (catchUp && frame.changesHasMore) {
      // More of the held messages changed than one answer can say: start the room afresh.
      room.log = new MessageLog();
      room.synced = false;
      room.syncedUpTo = null;
      room.syncedRev = null;
      this.pendingJoins.delete(roomId);
      if (this.#sendRaw({ type: "join", roomId })) this.pendingJoins.set(roomId, null);
      this.#roomChanged(room);
      return;
    }
    const changes = Array.isArray(frame.changes) ? frame.changes : [];
    for (const message of changes) room.log.update(message);
    const added = room.log.merge(history);
    this.#acknowledge(history);
    if (!catchUp) room.hasEarlier = Boolean(frame.hasMore);
    else if (!room.log.size) room.hasEarlier = Boolean(frame.hasMore);
    room.joined = this.viewing === roomId;
    const seenRev = Math.max(room.syncedRev ?? 0, ...history.map((m) => m.rev ?? 0), ...changes.map((m) => m.rev ?? 0));
    if (catchUp && frame.hasMore && history.length) {
      // More was missed than one catch-up page holds: fill the gap backwards down to what we had.
      this.#requestHistory(room, "gap", history[0].id, since);
      room.pendingRev = seenRev;
    } else {
      room.synced = true;
      room.syncedUpTo = room.log.lastId;
      room.syncedRev = catchUp ? seenRev : room.log.maxRev;
    }
    if (room.firstReadMarker === undefined) {
      const me = (frame.members ?? []).find((m) => m.username === this.username);
      room.firstReadMarker = Number.isSafeInteger(me?.lastReadMessageId) ? me.lastReadMessageId : null;
    }
    for (const message of added) this.#emit("message", { roomId, message, live: catchUp });
    this.#roomChanged(room);
    this.#emit("joined", { roomId, room: room.room });
    if (this.viewing !== roomId) this.#sendRaw({ type: "leave", roomId }); // the page moved on meanwhile
  }

  #onMessage(message) {
    if (!message || !Number.isSafeInteger(message.id) || !Number.isSafeInteger(message.roomId)) return;
    this.#acknowledge([message]);
    const room = this.roomState(message.roomId);
    const added = room.log.merge([message]);
    const before = room.syncedUpTo;
    if (room.synced && (room.syncedUpTo ?? 0) < message.id) room.syncedUpTo = message.id;
    if (added.length && before !== null) room.recentLive.push({ id: message.id, at: Date.now(), before });
    this.#sawRev(room, message.rev);
    if (room.typing.delete(message.sender)) room.version += 1;
    if (added.length) {
      this.#emit("message", { roomId: message.roomId, message, live: true });
      this.#roomChanged(room);
    }
  }

  #onChanged(roomId, frame) {
    const message = frame.message;
    if (!message || !Number.isSafeInteger(message.id)) return;
    const id = roomId ?? message.roomId;
    const room = this.rooms.get(id);
    if (room) {
      if (room.log.update(message)) this.#roomChanged(room);
      this.#sawRev(room, message.rev);
    }
    this.#emit("changed", { roomId: id, message, type: frame.type });
  }

  #onReaction(roomId, frame) {
    if (roomId === null || !Number.isSafeInteger(frame.messageId)) return;
    const room = this.rooms.get(roomId);
    const rev = Number.isSafeInteger(frame.rev) ? frame.rev : null;
    if (room) {
      if (room.log.patch(frame.messageId, (m) => ({ ...m, reactions: frame.reactions ?? [], rev: rev ?? m.rev }), rev)) this.#roomChanged(room);
      this.#sawRev(room, rev);
    }
    this.#emit("changed", { roomId, message: room?.log.get(frame.messageId) ?? null, type: "reaction" });
  }

  /** A change reached this room live: while the room is whole, it is whole up to that revision too. */
  #sawRev(room, rev) {
    if (room.synced && Number.isSafeInteger(rev) && rev > (room.syncedRev ?? 0)) room.syncedRev = rev;
  }

  #onHistory(roomId, frame) {
    if (roomId === null) return;
    const room = this.roomState(roomId);
    const request = this.historyRequests.get(roomId);
    this.historyRequests.delete(roomId);
    const messages = Array.isArray(frame.messages) ? frame.messages : [];
    const added = room.log.merge(messages);
    this.#acknowledge(messages);
    if (request?.purpose === "gap") {
      if (frame.hasMore && messages.length && messages[0].id > request.floor) {
        this.#requestHistory(room, "gap", messages[0].id, request.floor);
      } else {
        room.synced = true;
        room.syncedUpTo = room.log.lastId;
        room.syncedRev = Math.max(room.pendingRev ?? 0, ...messages.map((m) => m.rev ?? 0));
      }
    } else {
      room.hasEarlier = Boolean(frame.hasMore);
    }
    room.loadingEarlier = this.historyRequests.get(roomId)?.purpose === "earlier";
    for (const message of added) this.#emit("message", { roomId, message, live: false });
    this.#roomChanged(room);
    request?.resolve?.(added.length > 0 || !frame.hasMore);
  }

  #onList(roomId, frame) {
    if (roomId === null || !this.rooms.has(roomId)) return;
    const room = this.rooms.get(roomId);
    this.#setMembers(room, frame.members, Boolean(frame.hasMore), Boolean(room.listingAfter));
    room.listingAfter = null;
  }

  #onMembership(roomId, frame) {
    this.#emit(frame.type, frame);
    const room = roomId === null ? null : this.rooms.get(roomId);
    if (!room) return;
    if (frame.type === "member_left") {
      room.members = room.members.filter((m) => m.username !== frame.user);
      this.#roomChanged(room);
    }
    if (this.viewing === roomId) this.refreshMembers(roomId);
  }

  #onTyping(roomId, user) {
    if (roomId === null || typeof user !== "string" || user === this.username) return;
    const room = this.rooms.get(roomId);
    if (!room || this.viewing !== roomId) return;
    room.typing.set(user, Date.now() + 5_000);
    this.#roomChanged(room);
  }

  #onRead(roomId, user, messageId, live) {
    if (roomId === null || typeof user !== "string" || !Number.isSafeInteger(messageId)) return;
    const room = this.rooms.get(roomId);
    if (room && (room.reads.get(user) ?? 0) < messageId) {
      room.reads.set(user, messageId);
      this.#roomChanged(room);
    }
    if (user === this.username && (this.lastReadSent.get(roomId) ?? 0) < messageId) this.lastReadSent.set(roomId, messageId);
    if (live) this.#emit("read", { roomId, user, messageId });
  }

  #onRemoved(roomId, reason) {
    if (roomId === null) return;
    // What was waiting to go there never will: keep it visible as not sent, with its text.
    for (const entry of this.outbox.forRoom(roomId)) {
      if (entry.status === "pending") this.outbox.update(entry.clientMsgId, { status: "failed", error: "You are no longer a member of this conversation." });
    }
    const room = this.rooms.get(roomId);
    if (room) {
      room.error = reason === "deleted" ? "room_not_found" : "forbidden";
      room.removed = reason ?? "removed";
      room.joined = false;
      this.#roomChanged(room);
    }
  }

  /**
   * Drop outbox entries the server has stored: its echo, or (when the socket died before the echo)
   * the message found in a catch-up or history page.
   */
  #acknowledge(messages) {
    for (const message of messages) {
      if (message?.clientMsgId && message.sender === this.username && this.outbox.get(message.clientMsgId)) {
        this.outbox.remove(message.clientMsgId);
      }
    }
  }

  #onError(frame) {
    const { code, message, requestType, clientMsgId } = frame;
    const roomId = Number.isSafeInteger(frame.roomId) ? frame.roomId : null;
    if (clientMsgId && this.outbox.get(clientMsgId)) {
      if (PERMANENT_MESSAGE_ERRORS.has(code)) {
        this.outbox.update(clientMsgId, { status: "failed", error: message || code });
      } // other errors (save_failed, unavailable) are transient: the entry stays pending and is resent
    }
    if (requestType === "join" && roomId !== null) {
      this.pendingJoins.delete(roomId);
      if (code === "forbidden" || code === "room_not_found") {
        const room = this.roomState(roomId);
        room.error = code;
        this.#roomChanged(room);
        this.#emit("roomerror", { roomId, code, message });
        return;
      }
      // Could not join for now (database unavailable…): try again shortly.
      setTimeout(() => {
        if (this.viewing === roomId && this.open && !this.pendingJoins.has(roomId)) this.#join(roomId);
      }, 2_000);
    }
    if (requestType === "history" && roomId !== null) {
      const request = this.historyRequests.get(roomId);
      this.historyRequests.delete(roomId);
      const room = this.rooms.get(roomId);
      if (room) {
        room.loadingEarlier = false;
        this.#roomChanged(room);
      }
      request?.resolve?.(false);
    }
    if (code === "not_connected") {
      this.#abandon(); // the server no longer knows this connection (pruned): a new one fixes that
      return;
    }
    this.#emit("servererror", { code, message, requestType, roomId, clientMsgId });
  }

  #setMembers(room, members, hasMore, append) {
    if (!Array.isArray(members)) return;
    if (append) {
      const known = new Set(members.map((m) => m.username));
      room.members = [...room.members.filter((m) => !known.has(m.username)), ...members];
    } else {
      room.members = members;
    }
    room.membersHasMore = hasMore;
    for (const member of members) {
      if (Number.isSafeInteger(member.lastReadMessageId)) this.#onRead(room.id, member.username, member.lastReadMessageId, false);
    }
    this.#emit("members", { roomId: room.id, members });
    this.#roomChanged(room);
  }

  // ------------------------------------------------------------------ actions

  /** Queue a message; it goes out now when connected, else once the connection is back. */
  send(roomId, text, { replyTo = null, attachments = [] } = {}) {
    const entry = this.outbox.add({ roomId, text, replyTo, attachments });
    return entry.clientMsgId;
  }

  /** Try a failed message again, with the same clientMsgId. */
  retry(clientMsgId) {
    this.sent.delete(clientMsgId);
    this.outbox.update(clientMsgId, { status: "pending", error: null });
  }

  /** Take a message back out of the outbox (the page puts its text back into the composer). */
  discard(clientMsgId) {
    return this.outbox.remove(clientMsgId);
  }

  edit(roomId, messageId, text) {
    return this.#sendRaw({ type: "edit", roomId, messageId, text });
  }

  delete(roomId, messageId) {
    return this.#sendRaw({ type: "delete", roomId, messageId });
  }

  react(roomId, messageId, emoji) {
    return this.#sendRaw({ type: "react", roomId, messageId, emoji });
  }

  /** Ask the server for the member list again (first page). */
  refreshMembers(roomId) {
    const room = this.rooms.get(roomId);
    if (room) room.listingAfter = null;
    this.#sendRaw({ type: "list", roomId });
  }

  /** The next page of members after the last one held. */
  moreMembers(roomId) {
    const room = this.rooms.get(roomId);
    if (!room || !room.membersHasMore || !room.members.length) return;
    const after = [...room.members].map((m) => m.username).sort().at(-1);
    room.listingAfter = after;
    this.#sendRaw({ type: "list", roomId, after });
  }

  /** Ask for the page of messages before the oldest one held. False when there is nothing to do. */
  loadEarlier(roomId) {
    const room = this.rooms.get(roomId);
    if (!room || !this.open || !room.hasEarlier || this.historyRequests.has(roomId)) return false;
    if (!this.#requestHistory(room, "earlier", room.log.firstId, null)) return false;
    room.loadingEarlier = true;
    this.#roomChanged(room);
    return true;
  }

  /**
   * Load earlier pages until the message `messageId` is held (to scroll to a replied-to message or a
   * search result). Resolves true when it is held, false when it cannot be found.
   */
  async find(roomId, messageId, maxPages = 40) {
    const room = this.rooms.get(roomId);
    if (!room) return false;
    for (let page = 0; page < maxPages && !room.log.has(messageId); page++) {
      if (!this.open || (room.log.size && !room.hasEarlier)) break;
      if (this.historyRequests.has(roomId)) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const done = new Promise((resolve) => {
        const before = room.log.size ? room.log.firstId : messageId + 1;
        if (!this.#requestHistory(room, "earlier", before, null, resolve, this.options.catchUpPageSize)) resolve(false);
      });
      room.loadingEarlier = true;
      this.#roomChanged(room);
      if (!(await done)) break;
    }
    return room.log.has(messageId);
  }

  /** Tell the others the user is typing; rate-limited here to one frame per typingIntervalMs. */
  typing(roomId) {
    const now = Date.now();
    if (this.viewing !== roomId || now - (this.lastTypingSent.get(roomId) ?? 0) < this.options.typingIntervalMs) return;
    if (this.#sendRaw({ type: "typing", roomId })) this.lastTypingSent.set(roomId, now);
  }

  /** Mark everything held as read (only when something from someone else is newer than the marker). */
  markRead(roomId) {
    const room = this.rooms.get(roomId);
    if (!room || !room.joined) return false;
    const last = room.log.lastId;
    const marker = this.lastReadSent.get(roomId) ?? room.reads.get(this.username) ?? 0;
    if (last === null || last <= marker) return false;
    let fromOthers = false;
    for (let i = room.log.ids.length - 1; i >= 0 && room.log.ids[i] > marker; i--) {
      if (room.log.get(room.log.ids[i]).sender !== this.username) {
        fromOthers = true;
        break;
      }
    }
    if (!fromOthers) return false;
    if (!this.#sendRaw({ type: "read", roomId, messageId: last })) return false;
    this.lastReadSent.set(roomId, last);
    return true;
  }

  #requestHistory(room, purpose, before, floor, resolve = null, limit = null) {
    const frame = { type: "history", roomId: room.id };
    if (before !== null && before !== undefined) frame.before = before;
    frame.limit = limit ?? (purpose === "gap" ? this.options.catchUpPageSize : this.options.historyPageSize);
    if (!this.#sendRaw(frame)) return false;
    this.historyRequests.set(room.id, { purpose, floor, resolve });
    return true;
  }

  #transmit(entry) {
    if (!this.open || entry.status !== "pending") return;
    const frame = { type: "message", roomId: entry.roomId, text: entry.text, clientMsgId: entry.clientMsgId };
    if (entry.replyTo) frame.replyTo = entry.replyTo;
    if (entry.attachments?.length) frame.attachments = entry.attachments;
    if (this.#sendRaw(frame)) this.sent.set(entry.clientMsgId, { connection: this.connections, at: Date.now() });
  }

  /** Send every entry this tab has not sent on this connection yet. */
  #flushOutbox() {
    if (!this.open) return;
    for (const entry of this.outbox.all()) {
      const sent = this.sent.get(entry.clientMsgId);
      if (entry.status === "pending" && sent?.connection !== this.connections) this.#transmit(entry);
    }
  }

  #resendStale() {
    const now = Date.now();
    for (const entry of this.outbox.all()) {
      const sentAt = this.sent.get(entry.clientMsgId)?.at ?? 0;
      if (entry.status === "pending" && now - sentAt >= this.options.resendAfterMs) this.#transmit(entry);
    }
  }
}
