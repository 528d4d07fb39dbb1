// The application's state and the actions on it. One instance per tab (window.chat, for the console).
// Views read it and call its methods; every change calls `changed()`, which re-renders the page once
// per burst of changes. All WebSocket work goes through the one ChatConnection of the tab.

import { Api, ApiError, uploadToS3 } from "./api.js";
import { ChatConnection, State } from "./connection.js";
import { loadConfig } from "./config.js";
import { plainText } from "./markup.js";
import { Outbox } from "./outbox.js";
import { clearLocalData, clearSession, displayName, getSession, onSessionChange, saveSession, updateSessionUser } from "./session.js";

const CONVERSATION_PAGES = 20;
const ANNOUNCEMENTS_KEPT = 6;

/** `?room=12&message=40`, `?view=people`, `?view=search&q=…`: the page's state in its URL. */
export function parseRoute(href) {
  const url = new URL(href);
  const number = (name) => {
    const value = Number(url.searchParams.get(name));
    return Number.isSafeInteger(value) && value > 0 ? value : null;
  };
  const room = number("room");
  const view = room ? "room" : (url.searchParams.get("view") ?? "home");
  return { view, room, message: number("message"), q: url.searchParams.get("q") ?? "" };
}

export function routeHref({ view = "home", room = null, message = null, q = "" } = {}) {
  const query = new URLSearchParams();
  if (room) query.set("room", String(room));
  else if (view && view !== "home") query.set("view", view);
  if (room && message) query.set("message", String(message));
  if (q) query.set("q", q);
  const search = query.toString();
  return search ? `./?${search}` : "./";
}

export class ChatApp {
  constructor() {
    this.version = 0;
    this.renderer = () => {};
    this.config = null;
    this.session = null;
    this.api = null;
    this.conn = null;
    this.outbox = null;
    this.route = parseRoute(location.href);
    this.bootError = null;
    /** A sentence for the login page: why the user is signed out. */
    this.notice = "";

    /** roomId -> {id, kind, name, private, description, other, unread, mentions, lastMessage} */
    this.conversations = new Map();
    this.conversationsLoaded = false;
    this.conversationsError = "";
    /** username -> online, from member lists and presence frames */
    this.presence = new Map();
    /** username -> {id, username, nickname}: everyone this tab has seen in a member list or a direct chat */
    this.people = new Map();
    /** roomId -> GET /groups/{id} (role, members with roles) for the details panel */
    this.roomInfo = new Map();
    /** roomId -> {reason, name}: rooms this tab was viewing when they went away */
    this.gone = new Map();
    /** [{id, text}] for the polite live region */
    this.announcements = [];
    this.announcementId = 0;
    /** Rooms whose activity was announced since they were last read (announced once each). */
    this.announced = new Set();
    /** "roomId:messageId" of the mentions already counted in the sidebar */
    this.mentionsCounted = new Set();
    /** {roomId, text} of the last error about an action in a room (edit, delete, react…) */
    this.roomError = null;
    this.sidebarOpen = false;
    this.detailsOpen = window.matchMedia?.("(min-width: 1100px)").matches ?? true;
    this.pendingFocus = null;

    this.refreshConversationsSoon = debounceAsync(() => this.loadConversations(), 400);
    this.stopWatchingSession = onSessionChange((session) => this.#sessionChangedElsewhere(session));
    window.addEventListener("popstate", () => this.#setRoute(parseRoute(location.href)));
    window.addEventListener("beforeunload", (event) => {
      if (this.outbox?.pendingCount) {
        event.preventDefault();
        event.returnValue = ""; // the browser shows its own "leave this page?" question
      }
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.changed();
    });
  }

  get me() {
    return this.session?.user ?? null;
  }

  get signedIn() {
    return Boolean(this.session);
  }

  get state() {
    return this.conn?.state ?? State.STOPPED;
  }

  /** Render again (once per burst). */
  changed() {
    this.version += 1;
    if (this.renderQueued) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      this.renderQueued = false;
      this.renderer();
    });
  }

  async boot() {
    try {
      this.config = await loadConfig();
    } catch (error) {
      this.bootError = `The chat could not load its settings (${error.message}). Reload the page to try again.`;
      this.changed();
      return;
    }
    const session = getSession();
    if (session) this.#startSession(session);
    this.changed();
  }

  // ------------------------------------------------------------------ session

  async logIn(username, password) {
    const answer = await new Api(this.config.apiUrl).login(username, password);
    saveSession(answer);
    this.notice = "";
    this.#startSession(getSession());
  }

  async register(fields) {
    const answer = await new Api(this.config.apiUrl).register(fields);
    saveSession(answer);
    this.notice = "";
    this.#startSession(getSession());
  }

  /** Log out here, and (through the storage event) in every other tab. */
  logOut(notice = "You are logged out.") {
    clearSession();
    clearLocalData();
    this.#endSession(notice);
  }

  #startSession(session) {
    if (!session) return;
    this.#endSession("");
    this.session = session;
    this.api = new Api(this.config.apiUrl, () => this.session?.token ?? null, () => this.#unauthorized());
    this.outbox = new Outbox(String(session.user.id));
    this.outbox.addEventListener("change", () => this.changed());
    const conn = new ChatConnection({
      wsUrl: this.config.wsUrl,
      token: session.token,
      username: session.user.username,
      outbox: this.outbox,
      checkAuth: () => this.#checkAuth(),
    });
    this.conn = conn;
    window.chatConnection = conn;
    this.#listen(conn);
    if (typeof session.expiresAt === "number") {
      const left = session.expiresAt - Date.now();
      // setTimeout's delay is a 32-bit number: a longer session is checked again when it fires.
      this.expiryTimer = setTimeout(() => this.#expired(), Math.min(Math.max(left, 0), 2 ** 31 - 1));
    }
    conn.start();
    if (this.route.room) conn.view(this.route.room);
    this.loadConversations();
    this.api.profile().then(
      (profile) => this.#userUpdated(profile),
      () => {},
    );
    this.changed();
  }

  #endSession(notice) {
    clearTimeout(this.expiryTimer);
    this.conn?.stop();
    this.outbox?.close();
    this.conn = null;
    this.outbox = null;
    this.session = null;
    this.api = null;
    this.conversations = new Map();
    this.conversationsLoaded = false;
    this.presence = new Map();
    this.people = new Map();
    this.roomInfo = new Map();
    this.gone = new Map();
    this.announced = new Set();
    this.mentionsCounted = new Set();
    this.announcements = [];
    this.roomError = null;
    if (notice !== "") this.notice = notice;
    document.title = "Chat";
    this.changed();
  }

  #expired() {
    if (!this.session) return;
    if (typeof this.session.expiresAt === "number" && Date.now() < this.session.expiresAt) {
      this.expiryTimer = setTimeout(() => this.#expired(), Math.min(this.session.expiresAt - Date.now(), 2 ** 31 - 1));
      return;
    }
    this.logOut("Your session has expired. Log in again to continue.");
  }

  #unauthorized() {
    if (this.session) this.logOut("Your session has expired. Log in again to continue.");
  }

  async #checkAuth() {
    try {
      await this.api.profile();
      return true;
    } catch (error) {
      return error instanceof ApiError && error.status === 401 ? false : null;
    }
  }

  #sessionChangedElsewhere(session) {
    if (!session) {
      if (this.session) this.#endSession("You logged out in another tab.");
      return;
    }
    if (!this.session || this.session.token !== session.token) {
      this.#startSession(session);
      return;
    }
    this.session = session; // the profile changed in another tab
    this.changed();
  }

  #userUpdated(user) {
    if (!user || !this.session || user.username !== this.session.user.username) return;
    const merged = { ...this.session.user, ...user };
    updateSessionUser(merged);
    this.session = { ...this.session, user: merged };
    this.changed();
  }

  async updateProfile(changes) {
    const profile = await this.api.updateProfile(changes);
    this.#userUpdated(profile);
    return profile;
  }

  // ------------------------------------------------------------------ routes

  navigate(route, { replace = false, focus = "heading" } = {}) {
    const href = routeHref(route);
    if (replace) history.replaceState(null, "", href);
    else history.pushState(null, "", href);
    this.pendingFocus = focus;
    this.#setRoute(parseRoute(location.href));
  }

  openRoom(roomId, options = {}) {
    this.navigate({ room: roomId, message: options.message ?? null }, options);
  }

  #setRoute(route) {
    const previous = this.route;
    this.route = route;
    this.sidebarOpen = false;
    if (this.roomError?.roomId !== route.room) this.roomError = null;
    if (previous.room && previous.room !== route.room && this.gone.has(previous.room)) {
      this.gone.delete(previous.room);
      this.conn?.forget(previous.room);
    }
    this.conn?.view(route.room ?? null);
    if (route.room) this.announced.delete(route.room);
    this.changed();
  }

  // ------------------------------------------------------------------ conversations

  /** The sidebar, most recent activity first. */
  sortedConversations() {
    return [...this.conversations.values()].sort(
      (a, b) => (b.lastMessage?.ts ?? b.createdTs ?? 0) - (a.lastMessage?.ts ?? a.createdTs ?? 0) || b.id - a.id,
    );
  }

  conversationName(conversation) {
    if (!conversation) return "";
    if (conversation.kind === "direct") return displayName(conversation.other) || "Direct message";
    return conversation.name ?? "";
  }

  async loadConversations() {
    if (!this.api) return;
    const api = this.api;
    try {
      const found = [];
      let cursor = null;
      for (let page = 0; page < CONVERSATION_PAGES; page++) {
        const answer = await api.conversations({ cursor });
        found.push(...(answer.conversations ?? []));
        cursor = answer.next;
        if (!cursor) break;
      }
      if (api !== this.api) return; // logged out meanwhile
      const next = new Map();
      for (const item of found) {
        if (item.other) this.#remember(item.other);
        const held = this.conversations.get(item.id);
        const conversation = { ...item, createdTs: held?.createdTs ?? 0 };
        // An answer computed before this tab's latest read marker reached the server is stale on that point.
        const marker = this.conn?.lastReadSent.get(item.id) ?? 0;
        if (conversation.lastMessage && marker >= conversation.lastMessage.id) {
          conversation.unread = 0;
          conversation.mentions = 0;
        }
        next.set(item.id, conversation);
      }
      this.conversations = next;
      this.conversationsLoaded = true;
      this.conversationsError = "";
      // Reading the open room now clears what the server still counts as unread.
      if (this.route.room && next.get(this.route.room)?.unread) this.markReadSoon();
    } catch (error) {
      if (api !== this.api) return;
      this.conversationsError = error.message;
    }
    this.#updateTitle();
    this.changed();
  }

  /** The tab's title: "(3) Design · Chat", the unread total first. */
  setViewTitle(title) {
    this.viewTitle = title;
    this.#updateTitle();
  }

  #updateTitle() {
    let unread = 0;
    for (const conversation of this.conversations.values()) unread += conversation.unread ?? 0;
    const view = this.session && this.viewTitle ? `${this.viewTitle} · Chat` : "Chat";
    document.title = unread ? `(${unread}) ${view}` : view;
  }

  /** Whether the person is looking at this room's newest messages right now. */
  isReading(roomId) {
    return (
      this.route.room === roomId &&
      document.visibilityState === "visible" &&
      this.conn?.rooms.get(roomId)?.joined === true &&
      (this.atBottom?.() ?? true)
    );
  }

  #listen(conn) {
    conn.addEventListener("state", () => this.changed());
    conn.addEventListener("open", ({ detail }) => {
      if (detail.reconnect) this.refreshConversationsSoon();
      this.changed();
    });
    conn.addEventListener("room", () => this.changed());
    conn.addEventListener("joined", ({ detail }) => {
      // Joining a public group makes the user a member: it belongs in the sidebar from now on.
      if (!this.conversations.has(detail.roomId) && this.conversationsLoaded) this.refreshConversationsSoon();
    });
    conn.addEventListener("members", ({ detail }) => {
      for (const member of detail.members) {
        this.presence.set(member.username, Boolean(member.online));
        this.#remember(member);
      }
    });
    conn.addEventListener("presence", ({ detail }) => {
      if (typeof detail.user === "string") this.presence.set(detail.user, Boolean(detail.online));
      this.changed();
    });
    conn.addEventListener("message", ({ detail }) => this.#onMessage(detail));
    conn.addEventListener("changed", ({ detail }) => this.#onMessageChanged(detail));
    conn.addEventListener("mention", ({ detail }) => this.#onMention(detail));
    conn.addEventListener("read", ({ detail }) => this.#onRead(detail));
    conn.addEventListener("room_added", ({ detail }) => {
      const room = detail.room ?? { id: detail.roomId };
      if (!this.conversations.has(room.id)) {
        this.conversations.set(room.id, { ...room, unread: 0, mentions: 0, lastMessage: null, createdTs: Date.now() });
      }
      this.refreshConversationsSoon();
      this.changed();
    });
    conn.addEventListener("room_updated", ({ detail }) => {
      const held = this.conversations.get(detail.roomId);
      if (held && detail.room) this.conversations.set(detail.roomId, { ...held, ...detail.room });
      const info = this.roomInfo.get(detail.roomId);
      if (info && detail.room) this.roomInfo.set(detail.roomId, { ...info, ...detail.room });
      this.changed();
    });
    conn.addEventListener("room_removed", ({ detail }) => {
      const held = this.conversations.get(detail.roomId);
      this.conversations.delete(detail.roomId);
      this.roomInfo.delete(detail.roomId);
      this.announced.delete(detail.roomId);
      if (this.route.room === detail.roomId) {
        const name = this.conversationName(held) || conn.rooms.get(detail.roomId)?.room?.name || "this conversation";
        this.gone.set(detail.roomId, { reason: detail.reason ?? "removed", name });
        const sentence = {
          removed: `You were removed from ${name}.`,
          left: `You left ${name}.`,
          deleted: `${name} was deleted by its owner.`,
        }[detail.reason] ?? `You are no longer a member of ${name}.`;
        this.announce(sentence);
      } else {
        conn.forget(detail.roomId);
      }
      this.#updateTitle();
      this.changed();
    });
    conn.addEventListener("member_joined", ({ detail }) => this.#membershipChanged(detail.roomId));
    conn.addEventListener("member_left", ({ detail }) => this.#membershipChanged(detail.roomId));
    conn.addEventListener("user_updated", ({ detail }) => this.#userUpdated(detail.user));
    conn.addEventListener("roomerror", () => this.changed());
    conn.addEventListener("servererror", ({ detail }) => {
      if (detail.clientMsgId || !detail.roomId) return; // shown beside the message, or not about a room
      if (["edit", "delete", "react", "read", "typing", "history"].includes(detail.requestType) || detail.requestType === undefined) {
        this.roomError = { roomId: detail.roomId, text: detail.message || "That did not work." };
        this.changed();
      }
    });
    conn.addEventListener("fatal", ({ detail }) => this.logOut(detail.message));
  }

  #membershipChanged(roomId) {
    if (this.roomInfo.has(roomId)) this.loadRoomInfo(roomId);
  }

  #onMessage({ roomId, message, live }) {
    if (!live) return;
    const conversation = this.conversations.get(roomId);
    if (!conversation) {
      this.refreshConversationsSoon(); // a room this tab has not heard of yet
      return;
    }
    const mine = message.sender === this.me?.username;
    if (!conversation.lastMessage || conversation.lastMessage.id <= message.id) {
      conversation.lastMessage = {
        id: message.id,
        sender: message.sender,
        text: plainText(message.text).slice(0, 200),
        ts: message.ts,
        deleted: Boolean(message.deleted),
      };
    }
    if (!mine) {
      const mentioned = (message.mentions ?? []).includes(this.me.username.toLowerCase());
      if (this.isReading(roomId)) {
        this.announce(`${this.#senderName(roomId, message.sender)}: ${plainText(message.text) || "sent an attachment"}`);
        this.markReadSoon();
      } else {
        conversation.unread = (conversation.unread ?? 0) + 1;
        if (mentioned) this.#countMention(roomId, conversation, message);
        this.#announceElsewhere(roomId, conversation, message, mentioned);
      }
    }
    this.#updateTitle();
    this.changed();
  }

  /** A `mention` frame: the message (or an edit of it) names the user; counted once per message. */
  #onMention({ roomId, message }) {
    const conversation = this.conversations.get(roomId);
    if (!message || !conversation || message.sender === this.me?.username || this.isReading(roomId)) return;
    if (this.#countMention(roomId, conversation, message)) this.#announceElsewhere(roomId, conversation, message, true);
    this.changed();
  }

  #countMention(roomId, conversation, message) {
    const key = `${roomId}:${message.id}`;
    if (this.mentionsCounted.has(key)) return false; // the `message` and the `mention` frame of one message
    this.mentionsCounted.add(key);
    conversation.mentions = (conversation.mentions ?? 0) + 1;
    return true;
  }

  /** Activity in a room not being read is announced once, until the room is read. */
  #announceElsewhere(roomId, conversation, message, mentioned) {
    if (this.announced.has(roomId)) return;
    this.announced.add(roomId);
    const name = this.conversationName(conversation);
    const who = this.#senderName(roomId, message.sender);
    this.announce(mentioned ? `${who} mentioned you in ${name}` : `New message in ${name} from ${who}`);
  }

  #onMessageChanged({ roomId, message }) {
    const conversation = this.conversations.get(roomId);
    if (message && conversation?.lastMessage?.id === message.id) {
      conversation.lastMessage = {
        ...conversation.lastMessage,
        text: message.deleted ? "" : plainText(message.text).slice(0, 200),
        deleted: Boolean(message.deleted),
      };
    }
    this.changed();
  }

  #onRead({ roomId, user, messageId }) {
    if (user !== this.me?.username) return;
    const conversation = this.conversations.get(roomId);
    this.announced.delete(roomId);
    if (!conversation) return;
    if (!conversation.lastMessage || messageId >= conversation.lastMessage.id) {
      conversation.unread = 0;
      conversation.mentions = 0;
    } else {
      this.refreshConversationsSoon();
    }
    this.#updateTitle();
    this.changed();
  }

  #remember(user) {
    if (user && typeof user.username === "string") {
      this.people.set(user.username, { id: user.id, username: user.username, nickname: user.nickname ?? null });
    }
  }

  /** What this tab knows of someone: {username, nickname}, at least the username. */
  person(username) {
    return this.people.get(username) ?? { username, nickname: null };
  }

  /** "Alex (@alex_2)": the nickname, and the username beside it when they differ (nicknames need not be unique). */
  #senderName(roomId, username) {
    const conversation = this.conversations.get(roomId);
    const user =
      this.conn?.rooms.get(roomId)?.members.find((m) => m.username === username) ??
      (conversation?.other?.username === username ? conversation.other : this.person(username));
    const name = displayName(user);
    return name === username ? name : `${name} (@${username})`;
  }

  /** Say something through the polite live region. */
  announce(text) {
    this.announcementId += 1;
    this.announcements = [...this.announcements, { id: this.announcementId, text }].slice(-ANNOUNCEMENTS_KEPT);
    this.changed();
  }

  markReadSoon() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      const roomId = this.route.room;
      if (roomId && this.isReading(roomId)) this.conn?.markRead(roomId);
    }, 150);
  }

  // ------------------------------------------------------------------ rooms and groups

  async loadRoomInfo(roomId) {
    if (!this.api) return null;
    try {
      const info = await this.api.group(roomId);
      this.roomInfo.set(roomId, info);
      this.changed();
      return info;
    } catch (error) {
      if (error.status === 403 || error.status === 404) this.roomInfo.delete(roomId);
      this.changed();
      return null;
    }
  }

  async createGroup(name, isPrivate) {
    const group = await this.api.createGroup(name, isPrivate);
    this.conversations.set(group.id, { id: group.id, kind: "group", name: group.name, private: group.private, unread: 0, mentions: 0, lastMessage: null, createdTs: Date.now() });
    this.openRoom(group.id);
    this.refreshConversationsSoon();
    return group;
  }

  async openDirect(username) {
    const direct = await this.api.openDirect(username);
    if (!this.conversations.has(direct.id)) {
      this.conversations.set(direct.id, { id: direct.id, kind: "direct", private: true, other: direct.other, unread: 0, mentions: 0, lastMessage: null, createdTs: Date.now() });
    }
    this.openRoom(direct.id);
    this.refreshConversationsSoon();
    return direct;
  }

  async renameGroup(roomId, changes) {
    const updated = await this.api.updateGroup(roomId, changes);
    const held = this.conversations.get(roomId);
    if (held) this.conversations.set(roomId, { ...held, ...changes });
    const room = this.conn?.rooms.get(roomId);
    if (room?.room) room.room = { ...room.room, ...changes };
    await this.loadRoomInfo(roomId);
    return updated;
  }

  async addMember(roomId, username) {
    const member = await this.api.addMember(roomId, username);
    this.conn?.refreshMembers(roomId);
    await this.loadRoomInfo(roomId);
    return member;
  }

  async removeMember(roomId, username) {
    await this.api.removeMember(roomId, username);
    this.conn?.refreshMembers(roomId);
    await this.loadRoomInfo(roomId);
  }

  async transferGroup(roomId, username) {
    await this.api.transferGroup(roomId, username);
    await this.loadRoomInfo(roomId);
  }

  /** Leave a group: it goes from the sidebar and the page goes home. */
  async leaveGroup(roomId) {
    const name = this.conversationName(this.conversations.get(roomId));
    await this.api.removeMember(roomId, this.me.username);
    this.conversations.delete(roomId);
    this.roomInfo.delete(roomId);
    this.conn?.forget(roomId);
    this.navigate({ view: "home" });
    this.announce(`You left ${name || "the group"}.`);
    this.#updateTitle();
  }

  async deleteGroup(roomId) {
    const name = this.conversationName(this.conversations.get(roomId));
    await this.api.deleteGroup(roomId);
    this.conversations.delete(roomId);
    this.roomInfo.delete(roomId);
    this.conn?.forget(roomId);
    this.navigate({ view: "home" });
    this.announce(`${name || "The group"} was deleted.`);
    this.#updateTitle();
  }

  // ------------------------------------------------------------------ messages

  /** Upload one file for a message in `roomId`; resolves to the attachment's id. */
  async upload(roomId, file) {
    const answer = await this.api.createAttachment(roomId, { name: file.name, size: file.size, type: file.type || "application/octet-stream" });
    // docs/protocol.md nests the presigned POST as `upload: {url, fields}`; the API answers it flat.
    await uploadToS3(answer.upload ?? { url: answer.url, fields: answer.fields }, file);
    return answer.id;
  }
}

function debounceAsync(fn, ms) {
  let timer = 0;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}
