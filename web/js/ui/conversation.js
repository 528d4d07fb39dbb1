// The open conversation: its heading, the messages (grouped by sender, day separators, "New
// messages", "Jump to latest", earlier pages on scrolling up), what is still being sent, who is typing
// and the message box. Everything goes through the tab's one ChatConnection (app.conn).

import { State } from "../connection.js";
import { Component, html, useEffect, useLayoutEffect, useRef, useState } from "../lib.js";
import { plainText } from "../markup.js";
import { clockTime, dayKey, dayLabel, fileSize, fullTime } from "../format.js";
import { displayName, getDraft, setDraft } from "../session.js";
import { Avatar, Icon, Markup, useHeadingFocus } from "./common.js";

const MAX_TEXT = 4000;
const MAX_ATTACHMENTS = 10;
const GROUP_WITHIN_MS = 5 * 60_000;
const NEAR_BOTTOM_PX = 80;
const EARLIER_MARGIN_PX = 200; // earlier messages load when the top is this close

export const REACTIONS = [
  ["👍", "thumbs up"],
  ["👎", "thumbs down"],
  ["❤️", "heart"],
  ["😂", "laughing"],
  ["😮", "surprised"],
  ["😢", "sad"],
  ["🎉", "party"],
  ["🙏", "thank you"],
  ["👀", "eyes"],
  ["🔥", "fire"],
  ["✅", "check mark"],
  ["❌", "cross mark"],
];
const REACTION_NAMES = new Map(REACTIONS);

/** The room's title and the line under it. */
export function roomTitle(app, roomId) {
  const room = app.conn?.rooms.get(roomId);
  const conversation = app.conversations.get(roomId);
  const meta = room?.room ?? conversation ?? null;
  const me = app.me.username;
  if (!meta) return { title: conversation ? app.conversationName(conversation) : "Loading…", subtitle: "", kind: null, other: null };
  if (meta.kind === "direct") {
    const other = meta.other ?? conversation?.other ?? room?.members.find((m) => m.username !== me) ?? null;
    return { title: displayName(other) || "Direct message", subtitle: other ? `Direct message · @${other.username}` : "Direct message", kind: "direct", other };
  }
  const count = room?.members.length ?? 0;
  const more = room?.membersHasMore ? "+" : "";
  const members = count ? ` · ${count}${more} ${count === 1 && !more ? "member" : "members"}` : "";
  return { title: meta.name ?? conversation?.name ?? "", subtitle: `${meta.private ? "Private" : "Public"} group${members}`, kind: "group", other: null };
}

export function ConversationView({ app, roomId }) {
  const conn = app.conn;
  const room = conn.roomState(roomId);
  const gone = app.gone.get(roomId);
  const { title, subtitle } = roomTitle(app, roomId);
  const heading = useHeadingFocus(app, roomId);
  const [replyTo, setReplyTo] = useState(null);
  const composerRef = useRef(null);

  useEffect(() => app.setViewTitle(title), [title]);
  useEffect(() => {
    if (room.room?.kind === "group" && !app.roomInfo.has(roomId)) app.loadRoomInfo(roomId);
  }, [roomId, room.room?.kind]);

  if (gone || room.error) {
    return html`<${Unavailable} app=${app} room=${room} gone=${gone} heading=${heading} />`;
  }
  const error = app.roomError?.roomId === roomId ? app.roomError.text : "";
  const startReply = (message) => {
    setReplyTo({ id: message.id, sender: message.sender, text: plainText(message.text).slice(0, 200) });
    composerRef.current?.focus();
  };
  return html`
    <main id="main" class="conversation-view" aria-labelledby="room-title" data-room-id=${roomId} data-joined=${room.joined ? "true" : "false"}>
      <div class="conversation-header">
        <div class="room-heading">
          <h1 id="room-title" tabindex="-1" ref=${heading}>${title}</h1>
          <p id="room-subtitle" class="meta">${subtitle}</p>
        </div>
        <button type="button" class="button secondary small details-toggle" aria-expanded=${app.detailsOpen ? "true" : "false"} aria-controls="details"
          onClick=${() => { app.detailsOpen = !app.detailsOpen; app.changed(); }}>
          ${room.room?.kind === "direct" ? "Details" : "Members"}
        </button>
      </div>
      <${MessageList} app=${app} room=${room} onReply=${startReply} />
      <${Typing} app=${app} room=${room} />
      ${error
        ? html`<p id="chat-error" class="banner error compact" role="alert">${error}
            <button type="button" class="link-button" onClick=${() => { app.roomError = null; app.changed(); }}>Dismiss</button></p>`
        : null}
      <${Composer} app=${app} room=${room} replyTo=${replyTo} onCancelReply=${() => setReplyTo(null)} inputRef=${composerRef} />
    </main>
  `;
}

function Unavailable({ app, room, gone, heading }) {
  const unsent = app.outbox.forRoom(room.id);
  let text;
  if (gone?.reason === "removed") text = `You were removed from ${gone.name}. Its messages are no longer available to you.`;
  else if (gone?.reason === "left") text = `You left ${gone.name}.`;
  else if (gone?.reason === "deleted") text = `${gone.name} was deleted by its owner.`;
  else if (room.error === "forbidden") text = "You are not a member of this conversation, so you cannot read it.";
  else text = "This conversation does not exist (any more).";
  const headline = gone ? "No longer a member" : room.error === "forbidden" ? "Access denied" : "Not found";
  return html`
    <main id="main" class="conversation-view unavailable" aria-labelledby="room-title">
      <h1 id="room-title" tabindex="-1" ref=${heading}>${headline}</h1>
      <p id="fatal" class="banner error" role="alert">${text}</p>
      ${unsent.length
        ? html`<p>What you wrote here was not sent; copy it if you need it.</p>
            <ol id="pending" class="messages" aria-label="Messages not sent">
              ${unsent.map((entry) => html`<${PendingItem} key=${entry.clientMsgId} app=${app} entry=${{ ...entry, status: "failed", error: entry.error ?? "no longer possible here" }} waiting=${false} discardOnly />`)}
            </ol>`
        : null}
      <p><a href="./" onClick=${(event) => { event.preventDefault(); app.navigate({ view: "home" }); }}>Back to home</a></p>
    </main>
  `;
}

// ------------------------------------------------------------------ the messages

function MessageList({ app, room, onReply }) {
  const conn = app.conn;
  const me = app.me.username;
  const scroller = useRef(null);
  const sentinel = useRef(null);
  const earlierButton = useRef(null);
  const startRef = useRef(null);
  // True from the moment the Load earlier button takes focus until a page goes in or it loses focus: the
  // browser scrolls a focused element into view, and that scroll is not a reader asking for more.
  const focusedScroll = useRef(false);
  const snapshot = useRef(null);
  const rendered = useRef({ first: null, last: null, count: 0, initialised: false });
  const [atBottom, setAtBottom] = useState(true);
  const [newBelow, setNewBelow] = useState(0);
  const [highlight, setHighlight] = useState(null);
  const messages = room.log.all();
  const outbox = app.outbox.forRoom(room.id);
  // "New messages" goes where reading stopped, when that place is among the messages held (a marker
  // before the first one held would put it at the top of whatever page happens to be loaded).
  const marker = room.firstReadMarker !== null && room.firstReadMarker !== undefined && room.firstReadMarker >= (room.log.firstId ?? Infinity) ? room.firstReadMarker : null;
  const info = app.roomInfo.get(room.id);
  const owner = info?.role === "owner";
  const direct = room.room?.kind === "direct";

  // Before the DOM changes: where the reader is, to keep it there when earlier messages go in above.
  const element = scroller.current;
  if (element) {
    snapshot.current = {
      fromBottom: element.scrollHeight - element.scrollTop,
      nearBottom: element.scrollHeight - element.scrollTop - element.clientHeight < NEAR_BOTTOM_PX,
      earlierFocused: document.activeElement === earlierButton.current,
    };
  }

  const isNearBottom = () => {
    const s = scroller.current;
    return !s || s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  };
  app.atBottom = isNearBottom;

  const scrollToBottom = () => {
    const s = scroller.current;
    if (s) s.scrollTop = s.scrollHeight;
  };

  const jumpTo = async (messageId) => {
    if (!room.log.has(messageId)) {
      const found = await conn.find(room.id, messageId);
      if (!found) {
        app.roomError = { roomId: room.id, text: "That message is no longer available." };
        app.changed();
        return;
      }
    }
    requestAnimationFrame(() => {
      const node = document.getElementById(`message-${messageId}`);
      if (!node) return;
      node.scrollIntoView({ block: "center" });
      node.focus({ preventScroll: true });
      setHighlight(messageId);
      setTimeout(() => setHighlight((current) => (current === messageId ? null : current)), 2500);
    });
  };

  useLayoutEffect(() => {
    const s = scroller.current;
    if (!s) return;
    const state = rendered.current;
    const first = room.log.firstId;
    const last = room.log.lastId;
    if (!state.initialised && room.hasHistory) {
      state.initialised = true;
      const divider = s.querySelector(".new-divider");
      if (app.route.message && app.route.room === room.id) {
        jumpTo(app.route.message);
      } else if (divider) {
        s.scrollTop = Math.max(0, divider.offsetTop - 24);
      } else {
        scrollToBottom();
      }
    } else if (snapshot.current) {
      const before = snapshot.current;
      const prepended = state.first !== null && first !== null && first < state.first;
      const appended = state.last !== null && last !== null && last > state.last;
      if (prepended) focusedScroll.current = false;
      if (prepended && !appended) {
        s.scrollTop = s.scrollHeight - before.fromBottom; // the reader keeps seeing the same message
      } else if (before.nearBottom) {
        scrollToBottom();
      } else if (appended) {
        const mineOnly = messages.filter((m) => m.id > state.last).every((m) => m.sender === me);
        if (mineOnly) scrollToBottom();
        else setNewBelow((n) => n + messages.filter((m) => m.id > state.last && m.sender !== me).length);
      }
      if (before.earlierFocused && !earlierButton.current) startRef.current?.focus();
    }
    state.first = first;
    state.last = last;
    const bottom = isNearBottom();
    setAtBottom(bottom);
    if (bottom) {
      setNewBelow(0);
      app.markReadSoon();
    }
  });

  // Earlier messages load when the top is scrolled into view (the button stays, for keyboards; focusing it
  // scrolls it into view but leaves the loading to the keyboard user).
  useEffect(() => {
    const target = sentinel.current;
    if (!target || !("IntersectionObserver" in window)) return undefined;
    // An entry describes the frame it was computed in: the first one, computed while the list was still
    // empty, can be delivered after history arrived and the view went to the bottom. So the top is
    // checked again against the layout as it is now before asking for a page.
    const topInView = () => {
      const root = scroller.current;
      return !!root && target.getBoundingClientRect().bottom >= root.getBoundingClientRect().top - EARLIER_MARGIN_PX;
    };
    const observer = new IntersectionObserver(
      (entries) => {
        const asked = entries.some((entry) => entry.isIntersecting) && !focusedScroll.current;
        if (asked && rendered.current.initialised && topInView()) {
          conn.loadEarlier(room.id);
        }
      },
      { root: scroller.current, rootMargin: `${EARLIER_MARGIN_PX}px 0px 0px 0px` },
    );
    observer.observe(target);
    return () => observer.disconnect();
  }, [room.id, room.hasEarlier]);

  const onScroll = () => {
    const bottom = isNearBottom();
    if (bottom !== atBottom) setAtBottom(bottom);
    if (bottom) {
      setNewBelow(0);
      app.markReadSoon();
    }
  };

  // "Seen" under my newest message the other person has read (direct chats).
  let seenId = null;
  if (direct) {
    const other = room.members.find((m) => m.username !== me);
    const readUpTo = other ? (room.reads.get(other.username) ?? 0) : 0;
    for (let i = messages.length - 1; i >= 0; i--) {
      if (messages[i].id <= readUpTo && messages[i].sender === me) {
        seenId = messages[i].id;
        break;
      }
    }
  }

  const byName = new Map(room.members.map((m) => [m.username, m]));
  if (room.room?.other) byName.set(room.room.other.username, { ...room.room.other, ...byName.get(room.room.other.username) });
  const rows = [];
  let previous = null;
  let dividerPlaced = false;
  for (const message of messages) {
    const day = dayKey(message.ts);
    const newDay = !previous || dayKey(previous.ts) !== day;
    if (newDay) rows.push(html`<li key=${`day-${day}`} class="day-separator"><h2>${dayLabel(message.ts)}</h2></li>`);
    let divider = false;
    if (!dividerPlaced && marker !== null && message.id > marker && message.sender !== me) {
      dividerPlaced = true;
      divider = true;
      rows.push(html`<li key="new-divider" class="new-divider"><span>New messages</span></li>`);
    }
    const continued =
      !newDay && !divider && previous && previous.sender === message.sender && !previous.deleted && message.ts - previous.ts < GROUP_WITHIN_MS;
    rows.push(html`<${MessageItem}
      key=${message.id}
      message=${message}
      app=${app}
      roomId=${room.id}
      me=${me}
      continued=${continued}
      name=${message.sender === me ? "You" : displayName(byName.get(message.sender) ?? app.person(message.sender))}
      avatarName=${message.sender === me ? displayName(app.me) : null}
      handle=${message.sender === me ? null : handleOf(byName.get(message.sender) ?? app.person(message.sender))}
      canDelete=${message.sender === me || (owner && room.room?.kind === "group")}
      seen=${seenId === message.id}
      highlighted=${highlight === message.id}
      onReply=${onReply}
      onJump=${jumpTo}
    />`);
    previous = message;
  }

  const waiting = app.state !== State.CONNECTED;
  const empty = room.joined && !messages.length && !outbox.length;
  return html`
    <div class="scroller-wrap">
      <div id="scroller" class="scroller" ref=${scroller} tabindex="0" role="region" aria-label="Messages" onScroll=${onScroll}>
        <div class="earlier" ref=${sentinel}>
          ${room.hasEarlier
            ? html`<button id="load-earlier" ref=${earlierButton} type="button" class="button secondary small" aria-busy=${room.loadingEarlier ? "true" : undefined}
                onFocus=${() => { focusedScroll.current = true; }} onBlur=${() => { focusedScroll.current = false; }}
                onClick=${() => conn.loadEarlier(room.id)}>${room.loadingEarlier ? "Loading earlier messages…" : "Load earlier messages"}</button>`
            : room.joined || messages.length
              ? html`<p id="start-of-chat" class="meta" tabindex="-1" ref=${startRef}>This is the beginning of the conversation.</p>`
              : html`<p class="meta" aria-busy="true">Loading messages…</p>`}
        </div>
        <ol id="messages" class="messages">${rows}</ol>
        ${outbox.length
          ? html`<ol id="pending" class="messages" aria-label="Messages being sent">
              ${outbox.map((entry) => html`<${PendingItem} key=${entry.clientMsgId} app=${app} entry=${entry} waiting=${waiting} />`)}
            </ol>`
          : null}
        ${empty ? html`<p id="empty" class="empty">No messages yet. Say hello!</p>` : null}
      </div>
      ${!atBottom
        ? html`<button type="button" class="button primary small jump-latest" onClick=${() => {
            scrollToBottom();
            setNewBelow(0);
            document.getElementById("composer")?.focus();
          }}>${newBelow ? `Jump to latest (${newBelow} new)` : "Jump to latest"}</button>`
        : null}
    </div>
  `;
}

function senderName(room, username, me) {
  if (username === me) return "You";
  const member = room.members.find((m) => m.username === username);
  if (member) return displayName(member);
  if (room.room?.other?.username === username) return displayName(room.room.other);
  return username;
}

/**
 * The @username to show beside a display name, or null when the name shown is the username itself.
 * Nicknames need not be unique (and may look alike), so wherever a nickname stands for someone the
 * username beside it says who it is.
 */
export function handleOf(user) {
  return user?.nickname && user.nickname !== user.username ? `@${user.username}` : null;
}

/** One message; it renders again only when something it shows changed. */
class MessageItem extends Component {
  constructor(props) {
    super(props);
    this.state = { menu: false, editing: false, confirmDelete: false };
  }

  shouldComponentUpdate(next, nextState) {
    const p = this.props;
    return (
      next.message !== p.message ||
      next.continued !== p.continued ||
      next.name !== p.name ||
      next.handle !== p.handle ||
      next.avatarName !== p.avatarName ||
      next.seen !== p.seen ||
      next.highlighted !== p.highlighted ||
      next.canDelete !== p.canDelete ||
      nextState !== this.state
    );
  }

  render({ app, message, me, continued, name, handle, avatarName, canDelete, seen, highlighted, onReply, onJump, roomId }, state) {
    const mine = message.sender === me;
    const mentionsMe = (message.mentions ?? []).includes(me.toLowerCase());
    const classes = ["message", mine && "mine", continued && "continued", mentionsMe && "mentions-me", message.deleted && "deleted", highlighted && "highlight"]
      .filter(Boolean)
      .join(" ");
    const close = () => this.setState({ menu: false, confirmDelete: false });
    return html`
      <li id=${`message-${message.id}`} class=${classes} data-id=${message.id} data-sender=${message.sender} tabindex="-1">
        ${continued ? null : html`<${Avatar} user=${{ username: message.sender, nickname: avatarName ?? name }} />`}
        <div class="bubble">
          <p class=${continued ? "message-meta sr-only" : "message-meta"}>
            <span class="sender" title=${`@${message.sender}`}>${name}</span>
            ${handle ? html`<span class="handle" title=${handle}>${handle}</span>` : null}${" "}
            <time datetime=${new Date(message.ts).toISOString()} title=${fullTime(message.ts)}>${clockTime(message.ts)}</time>
          </p>
          ${message.replyTo ? html`<${ReplyQuote} app=${app} reply=${message.replyTo} onJump=${onJump} />` : null}
          ${message.deleted
            ? html`<p class="text tombstone">This message was deleted.</p>`
            : state.editing
              ? html`<${EditForm} app=${app} roomId=${roomId} message=${message} onDone=${() => this.setState({ editing: false })} />`
              : html`<div class="text"><${Markup} text=${message.text} mentions=${message.mentions} me=${me.toLowerCase()} /></div>`}
          ${message.editedAt && !message.deleted ? html`<span class="edited" title=${`Edited ${fullTime(message.editedAt)}`}>(edited)</span>` : null}
          ${!message.deleted && message.attachments?.length ? html`<${Attachments} app=${app} attachments=${message.attachments} />` : null}
          ${!message.deleted && message.reactions?.length ? html`<${Reactions} app=${app} roomId=${roomId} message=${message} me=${me} />` : null}
          ${seen ? html`<p class="status seen">Seen</p>` : null}
        </div>
        ${message.deleted || state.editing
          ? null
          : html`<${MessageActions}
              app=${app}
              roomId=${roomId}
              message=${message}
              name=${name}
              open=${state.menu}
              confirmDelete=${state.confirmDelete}
              canEdit=${mine}
              canDelete=${canDelete}
              onToggle=${() => this.setState({ menu: !state.menu, confirmDelete: false })}
              onClose=${close}
              onReply=${() => { close(); onReply(message); }}
              onEdit=${() => this.setState({ menu: false, editing: true })}
              onAskDelete=${() => this.setState({ confirmDelete: true })}
              onDelete=${() => { close(); app.conn.delete(roomId, message.id); }}
            />`}
      </li>
    `;
  }
}

function ReplyQuote({ app, reply, onJump }) {
  const text = reply.deleted ? "Deleted message" : plainText(reply.text ?? "");
  const sender = reply.sender === app.me.username ? "You" : displayName(app.person(reply.sender));
  return html`
    <button type="button" class="reply-quote" onClick=${() => onJump(reply.id)}>
      <span class="sr-only">Reply to </span><span class="reply-sender">${sender}</span><span class="sr-only">:</span>
      <span class=${reply.deleted ? "reply-text deleted" : "reply-text"}>${text}</span>
      <span class="sr-only"> (go to the original)</span>
    </button>
  `;
}

function MessageActions({ app, message, name, open, confirmDelete, canEdit, canDelete, onToggle, onClose, onReply, onEdit, onAskDelete, onDelete, roomId }) {
  const panel = useRef(null);
  const toggle = useRef(null);
  useEffect(() => {
    if (!open) return undefined;
    panel.current?.querySelector("button")?.focus();
    const onDocument = (event) => {
      if (!panel.current?.contains(event.target) && !toggle.current?.contains(event.target)) onClose();
    };
    document.addEventListener("pointerdown", onDocument);
    return () => document.removeEventListener("pointerdown", onDocument);
  }, [open, confirmDelete]);
  const onKeyDown = (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      onClose();
      toggle.current?.focus();
    }
  };
  const panelId = `actions-${message.id}`;
  const mine = new Set((message.reactions ?? []).filter((r) => r.users?.includes(app.me.username)).map((r) => r.emoji));
  return html`
    <div class="message-actions" onKeyDown=${onKeyDown}>
      <button type="button" ref=${toggle} class="icon-button actions-toggle" aria-expanded=${open ? "true" : "false"} aria-controls=${open ? panelId : undefined}
        aria-label=${`Actions for the message from ${name} at ${clockTime(message.ts)}`} onClick=${onToggle}>
        <span aria-hidden="true">⋯</span>
      </button>
      ${open
        ? html`<div id=${panelId} class="actions-panel" ref=${panel} role="group" aria-label="Message actions">
            ${confirmDelete
              ? html`<p class="confirm-text">Delete this message for everyone?</p>
                  <div class="actions-row">
                    <button type="button" class="button danger small" onClick=${onDelete}>Delete</button>
                    <button type="button" class="button secondary small" onClick=${onClose}>Cancel</button>
                  </div>`
              : html`<div class="reaction-picker" role="group" aria-label="React">
                    ${REACTIONS.map(
                      ([emoji, label]) => html`<button type="button" class="reaction-choice" aria-pressed=${mine.has(emoji) ? "true" : "false"}
                        aria-label=${`React with ${label}`} title=${label}
                        onClick=${() => { app.conn.react(roomId, message.id, emoji); onClose(); }}>${emoji}</button>`,
                    )}
                  </div>
                  <div class="actions-row">
                    <button type="button" class="button secondary small" onClick=${onReply}>Reply</button>
                    ${canEdit ? html`<button type="button" class="button secondary small" onClick=${onEdit}>Edit</button>` : null}
                    ${canDelete ? html`<button type="button" class="button secondary small danger-text" onClick=${onAskDelete}>Delete</button>` : null}
                  </div>`}
          </div>`
        : null}
    </div>
  `;
}

function EditForm({ app, roomId, message, onDone }) {
  const [text, setText] = useState(message.text);
  const [error, setError] = useState("");
  const ref = useRef(null);
  useEffect(() => {
    const area = ref.current;
    if (!area) return;
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }, []);
  const save = () => {
    const value = text.trim();
    if (!value) return setError("A message cannot be empty; delete it instead.");
    if (value.length > MAX_TEXT) return setError(`At most ${MAX_TEXT} characters.`);
    if (value !== message.text && !app.conn.edit(roomId, message.id, value)) return setError("Not connected; try again in a moment.");
    onDone();
    requestAnimationFrame(() => document.getElementById(`message-${message.id}`)?.focus());
  };
  const id = `edit-${message.id}`;
  return html`
    <form class="edit-form" onSubmit=${(event) => { event.preventDefault(); save(); }}>
      <label for=${id} class="sr-only">Edit message</label>
      <textarea id=${id} ref=${ref} rows="2" value=${text} aria-describedby=${`${id}-hint ${id}-error`} aria-invalid=${error ? "true" : undefined}
        onInput=${(event) => setText(event.currentTarget.value)}
        onKeyDown=${(event) => {
          if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            save();
          } else if (event.key === "Escape") {
            event.preventDefault();
            onDone();
          }
        }}></textarea>
      <p id=${`${id}-hint`} class="sr-only">Enter saves, Escape cancels.</p>
      <p id=${`${id}-error`} class="field-error">${error}</p>
      <div class="actions-row">
        <button type="submit" class="button primary small">Save</button>
        <button type="button" class="button secondary small" onClick=${onDone}>Cancel</button>
      </div>
    </form>
  `;
}

function Reactions({ app, roomId, message, me }) {
  return html`
    <ul class="reactions" aria-label="Reactions">
      ${message.reactions.map((reaction) => {
        const mine = (reaction.users ?? []).includes(me);
        const others = (reaction.users ?? []).map((u) => (u === me ? "you" : u));
        const more = reaction.count > others.length ? ` and ${reaction.count - others.length} more` : "";
        const who = `${others.join(", ")}${more}`;
        const label = `${REACTION_NAMES.get(reaction.emoji) ?? reaction.emoji}: ${reaction.count}, by ${who}`;
        return html`<li key=${reaction.emoji}>
          <button type="button" class=${mine ? "reaction mine" : "reaction"} aria-pressed=${mine ? "true" : "false"} aria-label=${label} title=${who}
            onClick=${() => app.conn.react(roomId, message.id, reaction.emoji)}>
            <span aria-hidden="true">${reaction.emoji}</span> <span aria-hidden="true">${reaction.count}</span>
          </button>
        </li>`;
      })}
    </ul>
  `;
}

function Attachments({ app, attachments }) {
  return html`<ul class="attachments">${attachments.map((a) => html`<li key=${a.id}><${Attachment} app=${app} attachment=${a} /></li>`)}</ul>`;
}

/** An image shows inline (fetched through a short-lived presigned URL); any other file is a download link. */
function Attachment({ app, attachment }) {
  const image = /^image\/(png|jpe?g|gif|webp|avif)$/i.test(attachment.type ?? "");
  const [src, setSrc] = useState(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (!image) return undefined;
    let cancelled = false;
    let objectUrl = null;
    (async () => {
      try {
        const { url } = await app.api.attachment(attachment.id);
        if (!/^https?:\/\//i.test(url)) throw new Error("unexpected address");
        const response = await fetch(url);
        if (!response.ok) throw new Error(String(response.status));
        objectUrl = URL.createObjectURL(await response.blob());
        if (!cancelled) setSrc(objectUrl);
      } catch {
        if (!cancelled) setFailed(true);
      }
    })();
    return () => {
      cancelled = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [attachment.id]);
  const download = async (event) => {
    event.preventDefault();
    try {
      const { url, inline } = await app.api.attachment(attachment.id);
      if (!/^https?:\/\//i.test(url)) throw new Error("unexpected address");
      // Pictures open in a new tab; any other file is served as a download, which leaves the page as it is.
      if (inline) window.open(url, "_blank", "noopener,noreferrer");
      else location.assign(url);
    } catch (error) {
      app.roomError = { roomId: app.route.room, text: `The file could not be opened: ${error.message}` };
      app.changed();
    }
  };
  const label = `${attachment.name} (${fileSize(attachment.size)})`;
  if (image && src && !failed) {
    return html`<a class="attachment image" href=${`#attachment-${attachment.id}`} onClick=${download} aria-label=${`Open ${label}`}>
      <img src=${src} alt=${attachment.name} loading="lazy" />
    </a>`;
  }
  return html`<a class="attachment file" href=${`#attachment-${attachment.id}`} onClick=${download}>
    <${Icon} name="file" /> <span class="sr-only">Download </span>${label}
  </a>`;
}

function PendingItem({ app, entry, waiting, discardOnly = false }) {
  const failed = entry.status === "failed";
  const edit = () => {
    const removed = app.conn.discard(entry.clientMsgId);
    if (!removed) return;
    const composer = document.getElementById("composer");
    if (composer) {
      composer.value = composer.value ? `${removed.text}\n${composer.value}` : removed.text;
      composer.dispatchEvent(new Event("input", { bubbles: true }));
      composer.focus();
    }
  };
  return html`
    <li class=${`message mine pending${failed ? " failed" : ""}`} data-client-msg-id=${entry.clientMsgId}>
      <div class="bubble">
        <p class="message-meta"><span class="sender">You</span></p>
        <div class="text">${entry.text}</div>
        ${entry.attachments?.length ? html`<p class="meta">${entry.attachments.length === 1 ? "1 attachment" : `${entry.attachments.length} attachments`}</p>` : null}
        ${failed
          ? html`<p class="status failed">
              <span>Not sent: ${entry.error ?? "error"}</span>${" "}
              ${discardOnly
                ? html`<button type="button" class="link-button" onClick=${() => app.conn.discard(entry.clientMsgId)}>Discard</button>`
                : html`<button type="button" class="link-button" onClick=${() => app.conn.retry(entry.clientMsgId)}>Retry</button>${" "}
                    <button type="button" class="link-button" onClick=${edit}>Edit</button>`}
            </p>`
          : html`<p class="status">${waiting ? "Waiting for connection…" : "Sending…"}</p>`}
      </div>
    </li>
  `;
}

function Typing({ app, room }) {
  const [, tick] = useState(0);
  const now = Date.now();
  const names = [...room.typing.entries()].filter(([, until]) => until > now).map(([user]) => senderName(room, user, app.me.username));
  useEffect(() => {
    if (!room.typing.size) return undefined;
    const next = Math.min(...room.typing.values()) - Date.now();
    const timer = setTimeout(() => {
      for (const [user, until] of room.typing) if (until <= Date.now()) room.typing.delete(user);
      tick((n) => n + 1);
    }, Math.max(50, next));
    return () => clearTimeout(timer);
  });
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = "Several people are typing…";
  return html`<p id="typing" class="typing" aria-live="polite">${text}</p>`;
}

// ------------------------------------------------------------------ the message box

function Composer({ app, room, replyTo, onCancelReply, inputRef }) {
  const userId = app.me.id;
  const [text, setText] = useState(() => getDraft(userId, room.id));
  const [error, setError] = useState("");
  const [uploads, setUploads] = useState([]);
  const saveTimer = useRef(0);
  const fileInput = useRef(null);

  useLayoutEffect(() => {
    const area = inputRef.current;
    if (!area) return;
    area.style.height = "auto";
    area.style.height = `${Math.min(area.scrollHeight, 200)}px`;
  }, [text]);
  const latest = useRef(text);
  // The draft is written a moment after typing stops, and at once when the view goes or the page is hidden.
  useEffect(() => {
    const flush = () => {
      if (!saveTimer.current) return;
      clearTimeout(saveTimer.current);
      saveTimer.current = 0;
      setDraft(userId, room.id, latest.current);
    };
    window.addEventListener("pagehide", flush);
    return () => {
      window.removeEventListener("pagehide", flush);
      flush();
    };
  }, []);

  const update = (value) => {
    setText(value);
    latest.current = value;
    if (error) setError("");
    clearTimeout(saveTimer.current);
    saveTimer.current = setTimeout(() => {
      saveTimer.current = 0;
      setDraft(userId, room.id, value);
    }, 250);
  };

  const busyUploads = uploads.some((u) => u.status === "uploading");
  const send = () => {
    const value = text.trim();
    const ready = uploads.filter((u) => u.status === "done");
    if (!value && !ready.length) return;
    if (value.length > MAX_TEXT) {
      setError(`Messages can be at most ${MAX_TEXT} characters (this one has ${value.length}).`);
      return;
    }
    if (busyUploads) {
      setError("Wait for the uploads to finish.");
      return;
    }
    app.conn.send(room.id, value || ready.map((u) => u.name).join(", "), {
      replyTo: replyTo?.id ?? null,
      attachments: ready.map((u) => u.id),
    });
    clearTimeout(saveTimer.current);
    saveTimer.current = 0;
    latest.current = "";
    setDraft(userId, room.id, "");
    setText("");
    setUploads([]);
    onCancelReply();
    inputRef.current?.focus();
  };

  const onFiles = (event) => {
    const files = [...event.currentTarget.files];
    event.currentTarget.value = "";
    const room_id = room.id;
    const room_slots = MAX_ATTACHMENTS - uploads.length;
    if (files.length > room_slots) setError(`At most ${MAX_ATTACHMENTS} files per message.`);
    for (const file of files.slice(0, Math.max(0, room_slots))) {
      const key = `${Date.now()}-${Math.random()}`;
      setUploads((list) => [...list, { key, name: file.name, size: file.size, status: "uploading", id: null, error: "" }]);
      app.upload(room_id, file).then(
        (id) => setUploads((list) => list.map((u) => (u.key === key ? { ...u, status: "done", id } : u))),
        (failure) => setUploads((list) => list.map((u) => (u.key === key ? { ...u, status: "failed", error: failure.message } : u))),
      );
    }
  };

  const disabled = Boolean(room.error);
  return html`
    <form id="composer-form" class="composer" novalidate onSubmit=${(event) => { event.preventDefault(); send(); }}>
      ${replyTo
        ? html`<div class="replying" id="replying">
            <p><span class="meta">Replying to</span> <strong>${senderName(room, replyTo.sender, app.me.username)}</strong>: <span class="reply-text">${replyTo.text || "attachment"}</span></p>
            <button type="button" class="link-button" onClick=${() => { onCancelReply(); inputRef.current?.focus(); }}>Cancel reply</button>
          </div>`
        : null}
      ${uploads.length
        ? html`<ul class="uploads" aria-label="Files to send">
            ${uploads.map(
              (u) => html`<li key=${u.key} class=${`upload ${u.status}`}>
                <span>${u.name}</span> <span class="meta">${fileSize(u.size)} · ${u.status === "uploading" ? "uploading…" : u.status === "done" ? "ready" : `failed: ${u.error}`}</span>
                <button type="button" class="link-button" aria-label=${`Remove ${u.name}`} onClick=${() => setUploads((list) => list.filter((x) => x.key !== u.key))}>Remove</button>
              </li>`,
            )}
          </ul>`
        : null}
      <p id="composer-error" class="field-error" role="alert">${error}</p>
      <div class="composer-row">
        <span class="attach">
          <input id="attach" ref=${fileInput} type="file" multiple class="visually-hidden-input" disabled=${disabled} onChange=${onFiles} />
          <label for="attach" class="button secondary icon-label" title="Attach files"><${Icon} name="attach" /><span class="sr-only">Attach files</span></label>
        </span>
        <label for="composer" class="sr-only">Message</label>
        <textarea id="composer" ref=${inputRef} name="text" rows="1" placeholder="Write a message…" autocomplete="off" disabled=${disabled}
          aria-describedby=${replyTo ? "composer-hint replying composer-error" : "composer-hint composer-error"} aria-invalid=${error ? "true" : undefined} value=${text}
          onInput=${(event) => {
            update(event.currentTarget.value);
            app.conn.typing(room.id);
          }}
          onKeyDown=${(event) => {
            if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
              event.preventDefault();
              send();
            } else if (event.key === "Escape" && replyTo) {
              onCancelReply();
            }
          }}></textarea>
        <button id="send" type="submit" class="button primary" disabled=${disabled}>Send</button>
      </div>
      <p id="composer-hint" class="sr-only">Enter sends, Shift+Enter starts a new line. *bold*, _italic_ and \`code\` are formatted.</p>
    </form>
  `;
}
