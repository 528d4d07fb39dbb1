// The chat page (chat.html?room=ID) for a group or a 1:1 chat. All WebSocket work is in ChatClient;
// this module renders its state and turns user actions into its calls.

import { Api, ApiError } from "./api.js";
import { ChatClient, State } from "./chat-client.js";
import { loadConfig } from "./config.js";
import { byId, h, replace } from "./dom.js";
import { debounce, fullTime, plural, shortTime } from "./format.js";
import { clearSession, displayName, getSession } from "./session.js";

const MAX_TEXT = 4000;
const TYPING_SHOWN_MS = 5_000;
const NEAR_BOTTOM_PX = 80;

const STATE_TEXT = {
  [State.CONNECTING]: "Connecting…",
  [State.CONNECTED]: "Connected",
  [State.RECONNECTING]: "Reconnecting…",
  [State.DISCONNECTED]: "Disconnected",
};

const ui = {
  title: byId("room-title"),
  subtitle: byId("room-subtitle"),
  connection: byId("connection"),
  connectionText: byId("connection-text"),
  fatal: byId("fatal"),
  fatalText: byId("fatal-text"),
  scroller: byId("scroller"),
  loadEarlier: byId("load-earlier"),
  startOfChat: byId("start-of-chat"),
  messages: byId("messages"),
  pending: byId("pending"),
  empty: byId("empty"),
  typing: byId("typing"),
  error: byId("chat-error"),
  form: byId("composer-form"),
  composer: byId("composer"),
  send: byId("send"),
  members: byId("members"),
  memberCount: byId("member-count"),
  membersPanel: byId("members-panel"),
  addMemberForm: byId("add-member-form"),
  addMemberError: byId("add-member-error"),
  announcer: byId("announcer"),
};

let client;
let api;
let me;
/** message id -> its <li> */
const messageNodes = new Map();
/** username -> {nickname, ...} from the member list, to show display names */
let membersByName = new Map();
/** username -> timer hiding their typing indicator */
const typingUsers = new Map();
let seenNode = null;
let firstRender = true;

function nameOf(username) {
  if (username === me.username) return "You";
  return displayName(membersByName.get(username) ?? { username });
}

/**
 * The @username to show beside a display name, or null when the name shown is the username itself.
 * Nicknames need not be unique (and may look alike), so wherever a nickname stands for someone the
 * username beside it says who it is. Always text, never markup.
 */
function handleOf(user) {
  return user?.nickname && user.nickname !== user.username ? `@${user.username}` : null;
}

function nearBottom() {
  const s = ui.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
}

function scrollToBottom() {
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = !text;
}

// ------------------------------------------------------------------ messages

function messageNode(message) {
  const mine = message.sender === me.username;
  const handle = mine ? null : handleOf(membersByName.get(message.sender));
  return h(
    "li",
    { class: mine ? "message mine" : "message", "data-id": message.id, "data-sender": message.sender },
    h(
      "div",
      { class: "bubble" },
      h(
        "p",
        { class: "message-meta" },
        h("span", { class: "sender", title: `@${message.sender}` }, nameOf(message.sender)),
        handle ? h("span", { class: "handle", title: handle }, handle) : null,
        " ",
        h("time", { datetime: new Date(message.ts).toISOString(), title: fullTime(message.ts) }, shortTime(message.ts)),
      ),
      h("p", { class: "text" }, message.text),
    ),
  );
}

function renderAdded({ added, live }) {
  const stick = firstRender || nearBottom();
  const oldFirst = ui.messages.firstElementChild;
  const heightBefore = ui.scroller.scrollHeight;
  const topBefore = ui.scroller.scrollTop;
  for (const message of added) {
    const node = messageNode(message);
    const previous = client.log.previousId(message.id);
    const anchor = previous === null ? null : messageNodes.get(previous);
    if (anchor) anchor.after(node);
    else ui.messages.prepend(node);
    messageNodes.set(message.id, node);
    clearTyping(message.sender);
  }
  ui.empty.hidden = client.log.size > 0 || client.outbox.size > 0;
  if (stick) scrollToBottom();
  else if (oldFirst && added.length && added[added.length - 1].id < Number(oldFirst.dataset.id)) {
    // Earlier messages went in above: keep what the reader was looking at in place.
    ui.scroller.scrollTop = topBefore + (ui.scroller.scrollHeight - heightBefore);
  }
  firstRender = false;
  if (live) announce(added.filter((m) => m.sender !== me.username));
  updateSeen();
  maybeMarkRead();
}

function announce(messages) {
  for (const message of messages.slice(-3)) {
    const handle = handleOf(membersByName.get(message.sender));
    const who = handle ? `${nameOf(message.sender)} (${handle})` : nameOf(message.sender);
    ui.announcer.append(h("p", {}, `${who}: ${message.text}`));
  }
  while (ui.announcer.childElementCount > 5) ui.announcer.firstElementChild.remove();
}

function renderPending() {
  const stick = nearBottom();
  const nodes = [];
  for (const entry of client.outbox.values()) {
    const failed = entry.status === "failed";
    const status = failed
      ? h(
          "p",
          { class: "status failed" },
          h("span", {}, `Not sent: ${entry.error ?? "error"}`),
          " ",
          h("button", { type: "button", class: "link-button", onclick: () => client.retry(entry.clientMsgId) }, "Retry"),
          " ",
          h("button", { type: "button", class: "link-button", onclick: () => editFailed(entry.clientMsgId) }, "Edit"),
        )
      : h("p", { class: "status" }, client.state === State.CONNECTED ? "Sending…" : "Waiting for connection…");
    nodes.push(
      h(
        "li",
        { class: `message mine pending${failed ? " failed" : ""}`, "data-client-msg-id": entry.clientMsgId },
        h("div", { class: "bubble" }, h("p", { class: "message-meta" }, h("span", { class: "sender" }, "You")), h("p", { class: "text" }, entry.text)),
        status,
      ),
    );
  }
  replace(ui.pending, nodes);
  ui.empty.hidden = client.log.size > 0 || client.outbox.size > 0;
  if (stick) scrollToBottom();
}

/** Put a failed message's text back into the composer so it can be changed and sent again. */
function editFailed(clientMsgId) {
  const entry = client.discard(clientMsgId);
  if (!entry) return;
  const current = ui.composer.value;
  ui.composer.value = current ? `${entry.text}\n${current}` : entry.text;
  autosize();
  ui.composer.focus();
}

/** In a 1:1 chat: "Seen" under my newest message the other person has read. */
function updateSeen() {
  if (client.room?.kind !== "direct") return;
  const other = client.members.find((m) => m.username !== me.username);
  const readUpTo = other ? (client.reads.get(other.username) ?? 0) : 0;
  let target = null;
  for (let i = client.log.ids.length - 1; i >= 0; i--) {
    const message = client.log.get(client.log.ids[i]);
    if (message.id <= readUpTo && message.sender === me.username) {
      target = messageNodes.get(message.id);
      break;
    }
  }
  if (seenNode?.parentElement === target) return;
  seenNode?.remove();
  seenNode = target ? h("p", { class: "status seen" }, "Seen") : null;
  if (target) target.append(seenNode);
}

// ------------------------------------------------------------------ read state

const markReadSoon = debounce(() => {
  if (document.visibilityState === "visible" && nearBottom()) client.markRead();
}, 300);

function maybeMarkRead() {
  if (client.state === State.CONNECTED) markReadSoon();
}

// ------------------------------------------------------------------ members, typing, header

function renderMembers() {
  membersByName = new Map(client.members.map((m) => [m.username, m]));
  const sorted = [...client.members].sort(
    (a, b) => Number(b.online) - Number(a.online) || displayName(a).localeCompare(displayName(b)),
  );
  replace(
    ui.members,
    sorted.map((member) =>
      h(
        "li",
        { "data-username": member.username, "data-online": member.online ? "true" : "false" },
        h("span", { class: "presence", "aria-hidden": "true" }),
        h("span", { class: "member-name", title: `@${member.username}` }, displayName(member)),
        handleOf(member) ? h("span", { class: "handle", title: handleOf(member) }, handleOf(member)) : null,
        member.username === me.username ? h("span", { class: "meta" }, " (you)") : null,
        h("span", { class: "presence-label" }, member.online ? "online" : "offline"),
      ),
    ),
  );
  const online = client.members.filter((m) => m.online).length;
  ui.memberCount.textContent = `(${online}/${client.members.length} online)`;
  renderHeader();
  updateSeen();
}

function renderHeader() {
  const room = client.room;
  if (!room) return;
  if (room.kind === "direct") {
    const other = client.members.find((m) => m.username !== me.username);
    ui.title.textContent = other ? displayName(other) : "Direct message";
    ui.subtitle.textContent = other ? `Direct message · @${other.username}` : "Direct message";
  } else {
    ui.title.textContent = room.name;
    ui.subtitle.textContent = `${room.private ? "Private" : "Public"} group · ${plural(client.members.length, "member")}`;
  }
  document.title = `${ui.title.textContent} · Chat`;
}

function showTyping(user) {
  clearTimeout(typingUsers.get(user));
  typingUsers.set(
    user,
    setTimeout(() => clearTyping(user), TYPING_SHOWN_MS),
  );
  renderTyping();
}

function clearTyping(user) {
  if (!typingUsers.has(user)) return;
  clearTimeout(typingUsers.get(user));
  typingUsers.delete(user);
  renderTyping();
}

function renderTyping() {
  const names = [...typingUsers.keys()].map(nameOf);
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = "Several people are typing…";
  ui.typing.textContent = text;
}

function renderState() {
  const state = client.state;
  ui.connection.dataset.state = state;
  let text = STATE_TEXT[state];
  if (state === State.DISCONNECTED && navigator.onLine === false) text = "Disconnected (offline)";
  ui.connectionText.textContent = text;
  document.body.dataset.connection = state;
  if (client.outbox.size) renderPending();
}

function renderHistoryControls({ hasEarlier, loading }) {
  // The button disappears once everything is loaded: keep keyboard focus in the conversation.
  if (!hasEarlier && document.activeElement === ui.loadEarlier) ui.scroller.focus();
  ui.loadEarlier.hidden = !hasEarlier;
  ui.loadEarlier.disabled = Boolean(loading);
  ui.loadEarlier.textContent = loading ? "Loading…" : "Load earlier messages";
  ui.startOfChat.hidden = hasEarlier || client.log.size === 0;
}

function fatal(message) {
  ui.fatalText.textContent = message;
  ui.fatal.hidden = false;
  ui.composer.disabled = true;
  ui.send.disabled = true;
  renderState();
}

// ------------------------------------------------------------------ composer

function autosize() {
  ui.composer.style.height = "auto";
  ui.composer.style.height = `${Math.min(ui.composer.scrollHeight, 160)}px`;
}

function submit() {
  const text = ui.composer.value.trim();
  if (!text) return;
  if (text.length > MAX_TEXT) {
    showError(`Your message is ${text.length} characters long; the limit is ${MAX_TEXT}. Shorten it and send again.`);
    return;
  }
  showError("");
  client.send(text);
  ui.composer.value = "";
  autosize();
  scrollToBottom();
}

function setupComposer() {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
    ui.composer.focus();
  });
  ui.composer.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  ui.composer.addEventListener("input", () => {
    autosize();
    if (ui.composer.value.trim()) client.typing();
  });
}

// ------------------------------------------------------------------ owner tools (private groups)

async function setupOwnerTools() {
  if (client.room?.kind !== "group" || !client.room.private) return;
  let group;
  try {
    group = await api.group(client.roomId);
  } catch {
    return; // not available (older server) or no access: the page works without it
  }
  const mine = group.members?.find((m) => m.username === me.username);
  if ((group.role ?? mine?.role) !== "owner") return;
  ui.addMemberForm.hidden = false;
  ui.addMemberForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = ui.addMemberForm.elements.username;
    const username = input.value.trim();
    if (!username) {
      ui.addMemberError.textContent = "Enter a username.";
      return input.focus();
    }
    try {
      await api.addMember(client.roomId, username);
      ui.addMemberError.textContent = "";
      input.value = "";
      client.refreshMembers();
    } catch (error) {
      ui.addMemberError.textContent =
        error instanceof ApiError && error.status === 404 ? `No user called ${username}.` : error.message;
    }
  });
}

// ------------------------------------------------------------------ start

async function leave(destination) {
  // What is on screen counts as read, even when the reader leaves before the debounce fires.
  if (document.visibilityState === "visible" && nearBottom()) client.markRead();
  await client.stop({ leave: true });
  location.assign(destination);
}

async function main() {
  const session = getSession();
  const roomId = Number(new URLSearchParams(location.search).get("room"));
  if (!session) {
    location.replace("./");
    return;
  }
  me = session.user;
  if (!Number.isSafeInteger(roomId) || roomId < 1) {
    ui.title.textContent = "Chat not found";
    ui.fatalText.textContent = "This link does not point to a chat.";
    ui.fatal.hidden = false;
    ui.composer.disabled = ui.send.disabled = true;
    return;
  }
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    ui.fatalText.textContent = `The chat is not configured: ${error.message}`;
    ui.fatal.hidden = false;
    return;
  }
  api = new Api(config.apiUrl, () => getSession()?.token ?? null);
  client = new ChatClient({
    wsUrl: config.wsUrl,
    token: session.token,
    roomId,
    username: me.username,
    checkAuth: async () => {
      try {
        await api.profile();
        return true;
      } catch (error) {
        return error instanceof ApiError && error.status === 401 ? false : null;
      }
    },
  });
  // For debugging in the console and for the browser tests.
  window.chatClient = client;

  client.addEventListener("state", renderState);
  client.addEventListener("joined", ({ detail }) => {
    renderHeader();
    ui.empty.hidden = client.log.size > 0 || client.outbox.size > 0;
    if (!detail.catchUp) setupOwnerTools();
    showError("");
  });
  client.addEventListener("messages", ({ detail }) => renderAdded(detail));
  client.addEventListener("outbox", renderPending);
  client.addEventListener("members", renderMembers);
  client.addEventListener("history", ({ detail }) => renderHistoryControls(detail));
  client.addEventListener("typing", ({ detail }) => showTyping(detail.user));
  client.addEventListener("read", updateSeen);
  client.addEventListener("servererror", ({ detail }) => showError(detail.message || "The server could not do that."));
  client.addEventListener("fatal", ({ detail }) => {
    if (detail.code === "unauthorized") clearSession();
    fatal(detail.message);
  });

  ui.loadEarlier.addEventListener("click", () => client.loadEarlier());
  ui.scroller.addEventListener("scroll", () => nearBottom() && maybeMarkRead(), { passive: true });
  document.addEventListener("visibilitychange", maybeMarkRead);
  byId("leave").addEventListener("click", () => leave("./"));
  byId("home-link").addEventListener("click", (event) => {
    event.preventDefault();
    leave("./");
  });
  if (window.matchMedia("(max-width: 760px)").matches) ui.membersPanel.open = false;

  setupComposer();
  renderState();
  client.start();
  ui.composer.focus();
}

main();
