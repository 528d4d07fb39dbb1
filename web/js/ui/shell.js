// The page around the views: the top bar (connection status, "Retry now", profile, log out), the
// sidebar of conversations (a <nav> labelled "Conversations"), the view in <main>, the live region.

import { State } from "../connection.js";
import { html, useEffect, useRef, useState } from "../lib.js";
import { routeHref } from "../state.js";
import { shortTime } from "../format.js";
import { plainText } from "../markup.js";
import { displayName } from "../session.js";
import { AuthView } from "./auth.js";
import { AppLink, Avatar, Confirm, Icon, focusSoon } from "./common.js";
import { ConversationView } from "./conversation.js";
import { DetailsPanel } from "./details.js";
import { GroupsView, HomeView, NewGroupView, PeopleView, ProfileView, SearchView } from "./views.js";

const STATE_TEXT = {
  [State.CONNECTING]: "Connecting…",
  [State.CONNECTED]: "Connected",
  [State.RECONNECTING]: "Reconnecting…",
  [State.OFFLINE]: "Offline",
  [State.STOPPED]: "Disconnected",
};

export function Root({ app }) {
  if (app.bootError) {
    return html`<main id="main" class="boot-error"><h1>Chat</h1><p class="banner error" role="alert">${app.bootError}</p></main>`;
  }
  if (!app.config) return html`<main id="main" class="loading" aria-busy="true"><h1 class="sr-only">Chat</h1><p class="muted">Loading…</p></main>`;
  if (!app.signedIn) {
    return html`
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="topbar"><span class="brand"><span class="brand-mark" aria-hidden="true">◐</span> Chat</span></header>
      <${AuthView} app=${app} />
      <${Announcer} app=${app} />
    `;
  }
  const roomOpen = app.route.view === "room";
  const usable = roomOpen && !app.gone.has(app.route.room) && !app.conn?.rooms.get(app.route.room)?.error;
  const details = usable && app.detailsOpen;
  return html`
    <a class="skip-link" href=${usable ? "#composer" : "#main"}>${usable ? "Skip to the message box" : "Skip to content"}</a>
    <${Header} app=${app} />
    <div class=${`shell${app.sidebarOpen ? " sidebar-open" : ""}${details ? " with-details" : ""}`}>
      <${Sidebar} app=${app} />
      ${app.sidebarOpen ? html`<div class="backdrop" aria-hidden="true" onClick=${() => { app.sidebarOpen = false; app.changed(); }}></div>` : null}
      ${roomOpen ? html`<${ConversationView} key=${app.route.room} app=${app} roomId=${app.route.room} />` : html`<${MainView} app=${app} />`}
      ${details ? html`<${DetailsPanel} key=${app.route.room} app=${app} roomId=${app.route.room} />` : null}
    </div>
    <${Announcer} app=${app} />
  `;
}

function MainView({ app }) {
  const view = app.route.view;
  const View = { people: PeopleView, groups: GroupsView, "new-group": NewGroupView, profile: ProfileView, search: SearchView }[view] ?? HomeView;
  return html`<${View} key=${view} app=${app} />`;
}

function Header({ app }) {
  const me = app.me;
  const [confirming, setConfirming] = useState(false);
  const logoutButton = useRef(null);
  const pending = app.outbox?.pendingCount ?? 0;
  const logOut = () => {
    if (pending && !confirming) {
      setConfirming(true);
      return;
    }
    app.logOut();
  };
  return html`
    <header class="topbar">
      <button type="button" id="sidebar-toggle" class="icon-button sidebar-toggle" aria-expanded=${app.sidebarOpen ? "true" : "false"} aria-controls="sidebar"
        onClick=${() => { app.sidebarOpen = !app.sidebarOpen; app.changed(); }}>
        <span aria-hidden="true">☰</span><span class="sr-only">Conversations</span>
      </button>
      <${AppLink} app=${app} route=${{ view: "home" }} href="./" class="brand"><span class="brand-mark" aria-hidden="true">◐</span> Chat</${AppLink}>
      <${ConnectionStatus} app=${app} />
      <div class="account">
        <${AppLink} app=${app} route=${{ view: "profile" }} href=${routeHref({ view: "profile" })} class="profile-link"
          aria-current=${app.route.view === "profile" ? "page" : undefined}>
          <${Avatar} user=${me} size="small" />
          <span class="whoami"><span class="sr-only">Your profile: </span><span id="whoami" class="whoami-name">${displayName(me)}</span></span>
        </${AppLink}>
        ${confirming
          ? html`<${Confirm} text=${`${pending === 1 ? "1 message is" : `${pending} messages are`} not sent yet.`} label="Log out anyway"
              onConfirm=${() => app.logOut()} onCancel=${() => { setConfirming(false); focusSoon(logoutButton); }} />`
          : html`<button id="logout" ref=${logoutButton} type="button" class="button secondary small" onClick=${logOut}>Log out</button>`}
      </div>
    </header>
  `;
}

function ConnectionStatus({ app }) {
  const state = app.state;
  const conn = app.conn;
  const [, tick] = useState(0);
  useEffect(() => {
    if (state !== State.RECONNECTING) return undefined;
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [state]);
  const waiting = state === State.RECONNECTING && conn?.nextAttemptAt ? Math.ceil((conn.nextAttemptAt - Date.now()) / 1000) : 0;
  const canRetry = state === State.RECONNECTING || state === State.OFFLINE;
  return html`
    <div class="connection" data-state=${state}>
      <p id="connection" role="status"><span class="dot" aria-hidden="true"></span><span id="connection-text">${STATE_TEXT[state] ?? state}</span></p>
      ${waiting > 1 ? html`<span class="meta retry-in" aria-hidden="true">in ${waiting} s</span>` : null}
      ${canRetry ? html`<button type="button" class="button secondary small" onClick=${() => conn?.retryNow()}>Retry now</button>` : null}
    </div>
  `;
}

/** The accessible name of a conversation's link: "Design, 3 unread, 1 mention". */
export function conversationLabel(name, conversation) {
  const parts = name ? [name] : [""];
  if (conversation.unread) parts.push(`${conversation.unread >= 100 ? "99+" : conversation.unread} unread`);
  if (conversation.mentions) parts.push(conversation.mentions === 1 ? "1 mention" : `${conversation.mentions} mentions`);
  return parts.join(", ");
}

function Sidebar({ app }) {
  const conversations = app.sortedConversations();
  const [query, setQuery] = useState(app.route.view === "search" ? app.route.q : "");
  const searchRef = useRef(null);
  const navRef = useRef(null);
  const wasOpen = useRef(app.sidebarOpen);
  // On a phone the sidebar is a drawer: opening it moves the focus in, Escape closes it and gives it back.
  useEffect(() => {
    if (app.sidebarOpen && !wasOpen.current) navRef.current?.querySelector("a[aria-current], a, button, input")?.focus();
    wasOpen.current = app.sidebarOpen;
  }, [app.sidebarOpen]);
  const onKeyDown = (event) => {
    if (event.key === "Escape" && app.sidebarOpen) {
      app.sidebarOpen = false;
      app.changed();
      document.getElementById("sidebar-toggle")?.focus();
    }
  };
  const onSearch = (event) => {
    event.preventDefault();
    const q = query.trim();
    if (q) app.navigate({ view: "search", q }, { focus: "heading" });
  };
  const close = () => {
    app.sidebarOpen = false;
  };
  return html`
    <nav id="sidebar" class="sidebar" aria-label="Conversations" ref=${navRef} onKeyDown=${onKeyDown}>
      <div class="sidebar-actions">
        <${AppLink} app=${app} route=${{ view: "new-group" }} href=${routeHref({ view: "new-group" })} class="button primary small" onNavigate=${close}
          aria-current=${app.route.view === "new-group" ? "page" : undefined}>New group</${AppLink}>
        <${AppLink} app=${app} route=${{ view: "people" }} href=${routeHref({ view: "people" })} class="button secondary small" onNavigate=${close}
          aria-current=${app.route.view === "people" ? "page" : undefined}>Find people</${AppLink}>
        <${AppLink} app=${app} route=${{ view: "groups" }} href=${routeHref({ view: "groups" })} class="button secondary small" onNavigate=${close}
          aria-current=${app.route.view === "groups" ? "page" : undefined}>Browse groups</${AppLink}>
      </div>
      <form class="search-form" role="search" aria-label="Messages" onSubmit=${onSearch}>
        <label for="message-search" class="sr-only">Search messages</label>
        <input id="message-search" ref=${searchRef} type="search" placeholder="Search messages" autocomplete="off" value=${query}
          onInput=${(event) => setQuery(event.currentTarget.value)} />
        <button type="submit" class="button secondary small">Search</button>
      </form>
      <h2 class="sidebar-title" id="conversations-title">Conversations</h2>
      ${!app.conversationsLoaded && !app.conversationsError ? html`<p class="meta sidebar-empty">Loading…</p>` : null}
      ${app.conversationsError && !app.conversationsLoaded ? html`<p class="form-error sidebar-empty" role="alert">${app.conversationsError}</p>` : null}
      ${app.conversationsLoaded && !conversations.length
        ? html`<p class="meta sidebar-empty">No conversations yet. Create a group, or find someone to talk to.</p>`
        : null}
      <ul id="conversations" class="conversation-list" aria-labelledby="conversations-title">
        ${conversations.map((conversation) => html`<${ConversationLink} key=${conversation.id} app=${app} conversation=${conversation} onNavigate=${close} />`)}
      </ul>
    </nav>
  `;
}

function ConversationLink({ app, conversation, onNavigate }) {
  const name = app.conversationName(conversation);
  const other = conversation.kind === "direct" ? conversation.other : null;
  const handle = other?.nickname && other.nickname !== other.username ? `@${other.username}` : null;
  const current = app.route.room === conversation.id;
  const last = conversation.lastMessage;
  const me = app.me.username;
  let preview = "No messages yet";
  if (last) {
    const who = last.sender === me ? "You" : conversation.kind === "direct" ? "" : senderLabel(app, conversation, last.sender);
    const text = last.deleted ? "Message deleted" : plainText(last.text) || "Attachment";
    preview = who ? `${who}: ${text}` : text;
  }
  const previewId = `preview-${conversation.id}`;
  const online = conversation.kind === "direct" && conversation.other ? app.presence.get(conversation.other.username) : undefined;
  const unreadText = conversationLabel("", conversation); // ", 3 unread, 1 mention" or ""
  // The link shows only the name and is named "Design, 3 unread" (the visible text first, as WCAG's
  // "label in name" asks); the preview describes it; the whole row is its click target.
  return html`
    <li data-room-id=${conversation.id} data-unread=${conversation.unread ?? 0}
      class=${`conversation-row${current ? " current" : ""}${conversation.unread ? " unread" : ""}`}>
      <span class="avatar-wrap">
        <${Avatar} user=${conversation.kind === "direct" ? conversation.other : { username: name, nickname: name }} />
        ${online !== undefined ? html`<span class=${`presence-dot${online ? " online" : ""}`} aria-hidden="true"></span>` : null}
      </span>
      <span class="conversation-text">
        <span class="conversation-top">
          <${AppLink} app=${app} route=${{ room: conversation.id }} href=${routeHref({ room: conversation.id })} focus="keep" onNavigate=${onNavigate}
            class="conversation-link" aria-current=${current ? "page" : undefined} aria-describedby=${previewId}
            aria-label=${`${name}${handle ? ` ${handle}` : ""}${unreadText}`}>
            <span class="conversation-name">${name}</span>${handle ? html` <span class="handle">${handle}</span>` : null}
          </${AppLink}>
          ${conversation.private && conversation.kind === "group" ? html`<span class="lock" title="Private"><${Icon} name="lock" /><span class="sr-only">private</span></span>` : null}
          ${last ? html`<time class="conversation-time" datetime=${new Date(last.ts).toISOString()}>${shortTime(last.ts)}</time>` : null}
        </span>
        <span class="conversation-bottom">
          <span class="preview" id=${previewId}>${preview}</span>
          ${conversation.mentions ? html`<span class="badge mention-badge" aria-hidden="true">@${conversation.mentions}</span>` : null}
          ${conversation.unread ? html`<span class="badge" data-unread=${conversation.unread} aria-hidden="true">${conversation.unread >= 100 ? "99+" : conversation.unread}</span>` : null}
        </span>
      </span>
    </li>
  `;
}

function senderLabel(app, conversation, username) {
  const member = app.conn?.rooms.get(conversation.id)?.members.find((m) => m.username === username);
  return displayName(member ?? app.person(username));
}

/** The polite live region: new messages in the open room, activity elsewhere once per room. */
function Announcer({ app }) {
  return html`
    <div id="announcer" class="sr-only" aria-live="polite" aria-relevant="additions">
      ${app.announcements.map((item) => html`<p key=${item.id}>${item.text}</p>`)}
    </div>
  `;
}
