// The one WebSocket client of the UI, for one room: it reconnects, resends and catches up.
//
// It connects with the token, joins the room, keeps the connection alive with `ping`, reconnects with
// exponential backoff and jitter whenever the socket closes (API Gateway's idle timeout, its 2-hour
// limit, a deploy, a network change), rejoins with `since` = the newest message id it has and merges
// the catch-up without duplicates, and resends unacknowledged messages with their clientMsgId until
// the server's `message` echo (or a catch-up page holding them) acknowledges them; the server stores a
// clientMsgId once, so a resend of a message that was saved is not a duplicate.
//
// Events (all CustomEvent, payload in `detail`): state, joined, messages {added, live}, outbox,
// members, typing {user}, read {user, messageId}, history {hasEarlier, loading}, servererror
// {code, message, requestType, clientMsgId}, fatal {code, message}.

import { MessageLog } from "./message-log.js";

export const State = Object.freeze({
  CONNECTING: "connecting",
  CONNECTED: "connected",
  RECONNECTING: "reconnecting",
  DISCONNECTED: "disconnected",
});

const DEFAULTS = {
  /** API Gateway closes a connection idle for 10 minutes; ping well inside that. */
  pingIntervalMs: 5 * 60_000,
  /** No pong within this time means the connection is dead even if the browser has not noticed. */
  pongTimeoutMs: 30_000,
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
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

/** A v4 UUID; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newClientMsgId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export class ChatClient extends EventTarget {
  /**
   * @param {object} options
   * @param {string} options.wsUrl   the WebSocket endpoint from config.json
   * @param {string} options.token   the bearer token (sent as ?token=, browsers cannot set headers)
   * @param {number} options.roomId
   * @param {string} options.username  the signed-in user's username (to tell own messages apart)
   * @param {() => Promise<boolean|null>} [options.checkAuth]  asked after a connection fails before
   *   opening: false means the token is no longer valid, so retrying is pointless
   */
  constructor({ wsUrl, token, roomId, username, checkAuth = null, WebSocketImpl = globalThis.WebSocket, ...options }) {
    super();
    this.wsUrl = wsUrl;
    this.token = token;
    this.roomId = roomId;
    this.username = username;
    this.checkAuth = checkAuth;
    this.WebSocketImpl = WebSocketImpl;
    this.options = { ...DEFAULTS, ...options };

    this.state = State.CONNECTING;
    this.log = new MessageLog();
    /** clientMsgId -> {clientMsgId, text, status: "pending"|"failed", error, createdAt, sentAt} */
    this.outbox = new Map();
    this.room = null;
    this.members = [];
    this.hasEarlier = false;
    /** username -> newest message id that user has read (from `read` frames and member lists) */
    this.reads = new Map();
    /** How many sockets were opened; tests and the debug hook read it. */
    this.connections = 0;

    this.socket = null;
    this.joined = false;
    this.stopped = true;
    this.attempt = 0;
    this.joinSince = null;
    this.historyRequest = null;
    this.lastReadSent = 0;
    this.lastTypingSent = 0;
    this.timers = { reconnect: 0, ping: 0, pong: 0, resend: 0 };

    this.onOnline = () => this.#reconnectNow();
    this.onOffline = () => {
      if (!this.joined && !this.stopped) this.#setState(State.DISCONNECTED);
    };
    this.onVisible = () => {
      if (document.visibilityState === "visible") this.#reconnectNow();
    };
  }

  // ------------------------------------------------------------------ lifecycle

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    document.addEventListener("visibilitychange", this.onVisible);
    this.#open();
  }

  /**
   * Leave the room (unless `leave` is false) and close for good. Resolves once the socket has closed
   * (or after a short wait), so a page can navigate away without cutting the `leave` frame off.
   */
  stop({ leave = true } = {}) {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    document.removeEventListener("visibilitychange", this.onVisible);
    this.#clearTimers();
    const socket = this.socket;
    this.socket = null;
    this.joined = false;
    this.#setState(State.DISCONNECTED);
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => resolve();
      socket.onmessage = null;
      socket.onclose = done;
      setTimeout(done, 1000);
      if (socket.readyState === 1 && leave) socket.send(JSON.stringify({ type: "leave", roomId: this.roomId }));
      try {
        socket.close(1000, "Bye");
      } catch {
        done();
      }
    });
  }

  #open() {
    clearTimeout(this.timers.reconnect);
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
      this.joinSince = this.log.lastId;
      const join = { type: "join", roomId: this.roomId };
      if (this.joinSince !== null) join.since = this.joinSince;
      this.#sendRaw(join);
      this.#startKeepAlive();
    };
    socket.onmessage = (event) => this.#onFrame(event.data);
    socket.onerror = () => {}; // a close event always follows
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.#lost({ code: event.code, reason: event.reason, opened });
    };
  }

  /** The current socket is gone (closed by either side, or abandoned): plan the next attempt. */
  async #lost({ opened }) {
    this.socket = null;
    this.joined = false;
    this.historyRequest = null;
    this.#stopKeepAlive();
    if (this.stopped) return;
    this.#setState(navigator.onLine === false ? State.DISCONNECTED : State.RECONNECTING);
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
        this.#fatal("unauthorized", "Your session has expired. Log in again.");
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
    this.timers.reconnect = setTimeout(() => this.#open(), delay);
  }

  #reconnectNow() {
    if (this.stopped || this.socket) return;
    this.attempt = 0;
    this.#open();
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

  #fatal(code, message) {
    this.stop({ leave: false });
    this.dispatchEvent(new CustomEvent("fatal", { detail: { code, message } }));
  }

  #setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state } }));
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
    this.#stopKeepAlive();
  }

  #sendRaw(frame) {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) return false;
    socket.send(JSON.stringify(frame));
    return true;
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
    if (frame.roomId !== undefined && frame.roomId !== this.roomId && frame.type !== "error" && frame.type !== "message") return;
    switch (frame.type) {
      case "joined":
        return this.#onJoined(frame);
      case "message":
        // Every room of the user arrives on this connection; this client shows one.
        if (frame.roomId !== this.roomId) return;
        return this.#onMessage(frame);
      case "history":
        return this.#onHistory(frame);
      case "list":
        return this.#setMembers(frame.members);
      case "member_joined":
        this.#sendRaw({ type: "list", roomId: this.roomId });
        return;
      case "member_left":
        this.#setMembers(this.members.filter((m) => m.username !== frame.user));
        this.#sendRaw({ type: "list", roomId: this.roomId });
        return;
      case "presence":
        this.#setMembers(this.members.map((m) => (m.username === frame.user ? { ...m, online: frame.online } : m)));
        return;
      case "typing":
        if (frame.user !== this.username) this.#emit("typing", { user: frame.user });
        return;
      case "read":
        return this.#onRead(frame.user, frame.messageId);
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

  #onJoined(frame) {
    const catchUp = this.joinSince !== null;
    this.room = frame.room ?? this.room;
    this.#setMembers(frame.members ?? []);
    const history = Array.isArray(frame.history) ? frame.history : [];
    const added = this.log.merge(history);
    this.#acknowledge(history);
    if (!catchUp) this.hasEarlier = Boolean(frame.hasMore);
    this.joined = true;
    this.attempt = 0;
    this.#setState(State.CONNECTED);
    this.#emit("joined", { room: this.room, catchUp });
    if (added.length) this.#emit("messages", { added, live: catchUp });
    this.#emit("history", { hasEarlier: this.hasEarlier, loading: false });
    if (catchUp && frame.hasMore && history.length) {
      // More was missed than one catch-up page holds: fill the gap backwards down to what we had.
      this.#requestHistory("gap", history[0].id, this.joinSince);
    }
    this.#flushOutbox();
  }

  #onMessage(frame) {
    const message = frame.message;
    if (!message || message.roomId !== this.roomId) return;
    this.#acknowledge([message]);
    const added = this.log.merge([message]);
    if (added.length) this.#emit("messages", { added, live: true });
  }

  #onHistory(frame) {
    const request = this.historyRequest;
    this.historyRequest = null;
    const messages = Array.isArray(frame.messages) ? frame.messages : [];
    const added = this.log.merge(messages);
    this.#acknowledge(messages);
    if (request?.purpose === "gap") {
      if (frame.hasMore && messages.length && messages[0].id > request.floor) {
        this.#requestHistory("gap", messages[0].id, request.floor);
      }
    } else {
      this.hasEarlier = Boolean(frame.hasMore);
    }
    if (added.length) this.#emit("messages", { added, live: false });
    this.#emit("history", { hasEarlier: this.hasEarlier, loading: this.historyRequest !== null });
  }

  /**
   * Drop outbox entries the server has stored: its echo, or (when the socket died before the echo)
   * the message found in a catch-up or history page. Returns whether the outbox changed.
   */
  #acknowledge(messages) {
    let changed = false;
    for (const message of messages) {
      if (message?.clientMsgId && message.sender === this.username && this.outbox.delete(message.clientMsgId)) changed = true;
    }
    if (changed) this.#emit("outbox");
    return changed;
  }

  #onRead(user, messageId) {
    if (typeof user !== "string" || !Number.isSafeInteger(messageId)) return;
    if ((this.reads.get(user) ?? 0) >= messageId) return;
    this.reads.set(user, messageId);
    this.#emit("read", { user, messageId });
  }

  #onError(frame) {
    const { code, message, requestType, clientMsgId } = frame;
    if (frame.roomId !== undefined && frame.roomId !== this.roomId) return;
    if (clientMsgId && this.outbox.has(clientMsgId)) {
      const entry = this.outbox.get(clientMsgId);
      if (PERMANENT_MESSAGE_ERRORS.has(code)) {
        entry.status = "failed";
        entry.error = message;
      } // other errors (save_failed, unavailable) are transient: the entry stays pending and is resent
      this.#emit("outbox");
    }
    if (requestType === "join") {
      if (code === "forbidden" || code === "room_not_found") {
        this.#fatal(code, code === "forbidden" ? "You are not a member of this private chat." : "This room does not exist.");
        return;
      }
      this.#abandon(); // could not join for now (database unavailable…): try again with backoff
    }
    if (requestType === "history") this.historyRequest = null;
    if (code === "not_connected") {
      this.#abandon(); // the server no longer knows this connection (pruned): a new one fixes that
      return;
    }
    this.#emit("servererror", { code, message, requestType, clientMsgId });
  }

  #setMembers(members) {
    if (!Array.isArray(members)) return;
    this.members = members;
    for (const member of members) {
      if (Number.isSafeInteger(member.lastReadMessageId)) this.#onRead(member.username, member.lastReadMessageId);
    }
    this.#emit("members", { members });
  }

  // ------------------------------------------------------------------ actions

  /** Queue a message; it is sent now if joined, else after the next join. Returns its clientMsgId. */
  send(text) {
    const clientMsgId = newClientMsgId();
    const entry = { clientMsgId, text, status: "pending", error: null, createdAt: Date.now(), sentAt: 0 };
    this.outbox.set(clientMsgId, entry);
    this.#transmit(entry);
    this.#emit("outbox");
    return clientMsgId;
  }

  /** Try a failed message again, with the same clientMsgId. */
  retry(clientMsgId) {
    const entry = this.outbox.get(clientMsgId);
    if (!entry) return;
    entry.status = "pending";
    entry.error = null;
    this.#transmit(entry);
    this.#emit("outbox");
  }

  /** Drop a failed message from the outbox (the page puts its text back into the composer). */
  discard(clientMsgId) {
    const entry = this.outbox.get(clientMsgId);
    if (entry && this.outbox.delete(clientMsgId)) this.#emit("outbox");
    return entry;
  }

  /** Ask the server for the member list again (after adding someone, for instance). */
  refreshMembers() {
    this.#sendRaw({ type: "list", roomId: this.roomId });
  }

  /** Ask for the page of messages before the oldest one shown. False when there is nothing to do. */
  loadEarlier() {
    if (!this.joined || !this.hasEarlier || this.historyRequest) return false;
    this.#requestHistory("earlier", this.log.firstId, null);
    this.#emit("history", { hasEarlier: this.hasEarlier, loading: true });
    return true;
  }

  /** Tell the others the user is typing; rate-limited here to one frame per typingIntervalMs. */
  typing() {
    const now = Date.now();
    if (!this.joined || now - this.lastTypingSent < this.options.typingIntervalMs) return;
    this.lastTypingSent = now;
    this.#sendRaw({ type: "typing", roomId: this.roomId });
  }

  /** Mark everything shown as read (only when something from someone else is newer than the marker). */
  markRead() {
    const last = this.log.lastId;
    if (!this.joined || last === null || last <= this.lastReadSent) return;
    let fromOthers = false;
    for (let i = this.log.ids.length - 1; i >= 0 && this.log.ids[i] > this.lastReadSent; i--) {
      if (this.log.get(this.log.ids[i]).sender !== this.username) {
        fromOthers = true;
        break;
      }
    }
    if (!fromOthers) return;
    if (this.#sendRaw({ type: "read", roomId: this.roomId, messageId: last })) this.lastReadSent = last;
  }

  #requestHistory(purpose, before, floor) {
    const frame = { type: "history", roomId: this.roomId };
    if (before !== null && before !== undefined) frame.before = before;
    frame.limit = purpose === "gap" ? this.options.catchUpPageSize : this.options.historyPageSize;
    if (this.#sendRaw(frame)) this.historyRequest = { purpose, floor };
  }

  #transmit(entry) {
    if (!this.joined || entry.status !== "pending") return;
    if (this.#sendRaw({ type: "message", roomId: this.roomId, text: entry.text, clientMsgId: entry.clientMsgId })) {
      entry.sentAt = Date.now();
    }
  }

  #flushOutbox() {
    for (const entry of this.outbox.values()) this.#transmit(entry);
  }

  #resendStale() {
    const now = Date.now();
    for (const entry of this.outbox.values()) {
      if (entry.status === "pending" && now - entry.sentAt >= this.options.resendAfterMs) this.#transmit(entry);
    }
  }
}
