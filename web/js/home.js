// The home page: log in / register, then the user's groups, direct chats, people and public groups.

import { Api, ApiError } from "./api.js";
import { loadConfig } from "./config.js";
import { byId, h, replace } from "./dom.js";
import { debounce, plural } from "./format.js";
import { clearSession, displayName, getSession, saveSession } from "./session.js";

/** Unread counts and lists are refreshed this often while the page is visible. */
const REFRESH_MS = 10_000;
const PEOPLE_PAGE = 8;
const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;

let api;
let refreshTimer = 0;
let peopleQuery = "";
let peopleOffset = null;

function chatUrl(roomId) {
  return `chat.html?room=${encodeURIComponent(roomId)}`;
}

// ------------------------------------------------------------------ forms and errors

/** Show an error next to a field (and mark it invalid for assistive tech); empty text clears it. */
function setFieldError(form, field, text) {
  const input = form.elements.namedItem(field);
  const slot = document.getElementById(`${input?.id}-error`);
  if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
  if (slot) slot.textContent = text ?? "";
  return Boolean(slot);
}

function clearErrors(form, formError) {
  for (const input of form.querySelectorAll("input")) setFieldError(form, input.name, "");
  formError.textContent = "";
}

/** Put a REST error where it belongs: field errors next to their fields, the rest above the button. */
function showApiError(form, formError, error, fieldMessages = {}) {
  if (error instanceof ApiError && error.fieldErrors.length) {
    const unplaced = [];
    for (const { field, message } of error.fieldErrors) {
      const name = String(field ?? "").split(".").pop();
      if (!setFieldError(form, name, fieldMessages[name] ?? message)) unplaced.push(message);
    }
    formError.textContent = unplaced.length ? unplaced.join(" ") : "Please correct the highlighted fields.";
  } else {
    formError.textContent = error.message || "Something went wrong. Try again.";
  }
  form.querySelector("[aria-invalid=true]")?.focus();
}

async function withBusy(form, action) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    return await action();
  } finally {
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

/** A 401 on a signed-in call means the token is gone: back to the login form. */
function handleAuthFailure(error) {
  if (error instanceof ApiError && error.status === 401) {
    clearSession();
    showAuth("Your session has expired. Log in again.");
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ signed out

function setupAuthForms() {
  const loginForm = byId("login-form");
  const loginError = byId("login-error");
  loginForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(loginForm, loginError);
    const username = loginForm.elements.username.value.trim();
    const password = loginForm.elements.password.value;
    let invalid = false;
    if (!username) invalid = setFieldError(loginForm, "username", "Enter your username.");
    if (!password) invalid = setFieldError(loginForm, "password", "Enter your password.") || invalid;
    if (invalid) return loginForm.querySelector("[aria-invalid=true]")?.focus();
    await withBusy(loginForm, async () => {
      try {
        signedIn(await api.login(username, password));
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          loginError.textContent = "Wrong username or password.";
          loginForm.elements.password.select();
        } else showApiError(loginForm, loginError, error);
      }
    });
  });

  const registerForm = byId("register-form");
  const registerError = byId("register-error");
  registerForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(registerForm, registerError);
    const fields = {
      username: registerForm.elements.username.value.trim(),
      password: registerForm.elements.password.value,
    };
    const nickname = registerForm.elements.nickname.value.trim();
    const email = registerForm.elements.email.value.trim();
    if (nickname) fields.nickname = nickname;
    if (email) fields.email = email;
    const problems = {};
    if (!USERNAME.test(fields.username)) problems.username = "Use 3–32 letters, digits, _ . or -.";
    if (fields.password.length < 8) problems.password = "Use at least 8 characters.";
    else if (fields.password.length > 128) problems.password = "Use at most 128 characters.";
    if (email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) problems.email = "Enter a valid email address.";
    if (Object.keys(problems).length) {
      for (const [field, text] of Object.entries(problems)) setFieldError(registerForm, field, text);
      registerForm.querySelector("[aria-invalid=true]")?.focus();
      return;
    }
    await withBusy(registerForm, async () => {
      try {
        signedIn(await api.register(fields));
      } catch (error) {
        if (error instanceof ApiError && error.status === 409) {
          setFieldError(registerForm, "username", "That username is taken. Try another one.");
          registerForm.elements.username.focus();
        } else showApiError(registerForm, registerError, error);
      }
    });
  });
}

function signedIn(answer) {
  saveSession(answer);
  for (const form of [byId("login-form"), byId("register-form")]) form.reset();
  showDashboard();
}

function showAuth(message = "") {
  stopRefreshing();
  byId("dashboard").hidden = true;
  byId("account").hidden = true;
  byId("auth").hidden = false;
  const banner = byId("page-error");
  banner.textContent = message;
  banner.hidden = !message;
  document.title = "Chat";
}

// ------------------------------------------------------------------ signed in

function showDashboard() {
  const session = getSession();
  if (!session) return showAuth();
  byId("auth").hidden = true;
  byId("page-error").hidden = true;
  byId("whoami").textContent = displayName(session.user);
  byId("account").hidden = false;
  byId("dashboard").hidden = false;
  refreshLists();
  searchPeople("");
  startRefreshing();
}

function badge(unread) {
  if (!unread) return null;
  return h("span", { class: "badge", "data-unread": unread }, String(unread > 99 ? "99+" : unread), h("span", { class: "sr-only" }, " unread"));
}

function groupRow(group) {
  const meta = [group.private ? "Private" : "Public", plural(group.memberCount ?? 0, "member")].join(" · ");
  return h(
    "li",
    { "data-room-id": group.id, "data-name": group.name },
    h(
      "a",
      { class: "room-link", href: chatUrl(group.id) },
      h("span", { class: "avatar", "aria-hidden": "true" }, initial(group.name)),
      h("span", { class: "room-text" }, h("span", { class: "room-name" }, group.name), h("span", { class: "meta" }, meta)),
      badge(group.unread),
    ),
  );
}

function publicGroupRow(group) {
  return h(
    "li",
    { "data-room-id": group.id, "data-name": group.name, class: "row" },
    h("span", { class: "avatar", "aria-hidden": "true" }, initial(group.name)),
    h("span", { class: "room-text" }, h("span", { class: "room-name" }, group.name), h("span", { class: "meta" }, plural(group.memberCount ?? 0, "member"))),
    h("a", { class: "button secondary small", href: chatUrl(group.id), "aria-label": `Join ${group.name}` }, "Join"),
  );
}

function directRow(chat) {
  const name = displayName(chat.other);
  return h(
    "li",
    { "data-room-id": chat.id, "data-username": chat.other?.username ?? "" },
    h(
      "a",
      { class: "room-link", href: chatUrl(chat.id) },
      h("span", { class: "avatar person", "aria-hidden": "true" }, initial(name)),
      h(
        "span",
        { class: "room-text" },
        h("span", { class: "room-name" }, name),
        chat.other?.nickname ? h("span", { class: "meta" }, `@${chat.other.username}`) : null,
      ),
      badge(chat.unread),
    ),
  );
}

function initial(name) {
  return (Array.from(String(name ?? "").trim())[0] ?? "?").toUpperCase();
}

/** Every item of a paged list, following `next` for at most `maxPages` pages. */
async function allPages(fetchPage, key, maxPages = 5) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const body = await fetchPage(cursor);
    items.push(...body[key]);
    cursor = body.next;
    if (!cursor) break;
  }
  return items;
}

async function refreshLists() {
  const [myGroups, publicGroups, direct] = await Promise.allSettled([
    allPages((cursor) => api.groups({ mine: true, cursor }), "groups"),
    api.groups(), // the first page of public groups, by name
    allPages((cursor) => api.directChats({ cursor }), "chats"),
  ]);
  for (const result of [myGroups, publicGroups, direct]) {
    if (result.status === "rejected" && handleAuthFailure(result.reason)) return;
  }
  let unread = 0;
  if (myGroups.status === "fulfilled" && publicGroups.status === "fulfilled") {
    const mine = myGroups.value;
    const others = publicGroups.value.groups.filter((g) => !g.isMember && !g.private);
    unread += mine.reduce((sum, g) => sum + (g.unread ?? 0), 0);
    replace(byId("my-groups"), mine.map(groupRow));
    byId("my-groups-empty").hidden = mine.length > 0;
    replace(byId("public-groups"), others.map(publicGroupRow));
    byId("public-empty").hidden = others.length > 0;
  }
  if (direct.status === "fulfilled") {
    const chats = direct.value; // most recently active first, as the API lists them
    unread += chats.reduce((sum, c) => sum + (c.unread ?? 0), 0);
    replace(byId("direct-chats"), chats.map(directRow));
    byId("direct-empty").hidden = chats.length > 0;
    byId("direct-error").textContent = "";
  } else {
    byId("direct-error").textContent = unavailable(direct.reason, "Direct messages");
  }
  document.title = unread ? `(${unread}) Chat` : "Chat";
  byId("dashboard").dataset.loaded = "true"; // lets tests (and styles) tell a loaded page from a loading one
}

function unavailable(error, what) {
  if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return `${what} are not available on this server yet.`;
  return error?.message || `Could not load ${what.toLowerCase()}.`;
}

function startRefreshing() {
  stopRefreshing();
  refreshTimer = setInterval(() => {
    if (document.visibilityState === "visible") refreshLists();
  }, REFRESH_MS);
}

function stopRefreshing() {
  clearInterval(refreshTimer);
  refreshTimer = 0;
}

// ------------------------------------------------------------------ people

async function searchPeople(query, { more = false } = {}) {
  const list = byId("people");
  const error = byId("people-error");
  const offset = more ? (peopleOffset ?? 0) : 0;
  peopleQuery = query;
  let page;
  try {
    page = await api.searchPeople(query, { limit: PEOPLE_PAGE, offset });
  } catch (failure) {
    if (handleAuthFailure(failure)) return;
    error.textContent = unavailable(failure, "People search");
    return;
  }
  if (query !== peopleQuery) return; // a newer search has started
  error.textContent = "";
  const me = getSession()?.user?.username;
  const people = (page?.users ?? []).filter((u) => u.username !== me);
  const rows = people.map(personRow);
  if (more) list.append(...rows);
  else replace(list, rows);
  peopleOffset = page?.nextOffset ?? null;
  byId("people-more").hidden = peopleOffset === null;
  byId("people-empty").hidden = list.children.length > 0;
}

function personRow(user) {
  const name = displayName(user);
  return h(
    "li",
    { class: "row", "data-username": user.username },
    h("span", { class: "avatar person", "aria-hidden": "true" }, initial(name)),
    h("span", { class: "room-text" }, h("span", { class: "room-name" }, name), h("span", { class: "meta" }, `@${user.username}`)),
    h("button", { type: "button", class: "button secondary small", "aria-label": `Message ${name}`, onclick: (event) => openDirect(user, event.currentTarget) }, "Message"),
  );
}

async function openDirect(user, button) {
  button.disabled = true;
  try {
    const chat = await api.openDirect(user.username);
    location.assign(chatUrl(chat.id));
  } catch (error) {
    button.disabled = false;
    if (handleAuthFailure(error)) return;
    byId("people-error").textContent = error.message || "Could not open the conversation.";
  }
}

function setupDashboard() {
  byId("logout").addEventListener("click", () => {
    clearSession();
    showAuth();
    byId("login-username").focus();
  });

  const search = byId("people-search");
  const runSearch = debounce(() => searchPeople(search.value.trim()), 250);
  search.addEventListener("input", runSearch);
  byId("people-form").addEventListener("submit", (event) => {
    event.preventDefault();
    searchPeople(search.value.trim());
  });
  byId("people-more").addEventListener("click", () => searchPeople(peopleQuery, { more: true }));

  const createForm = byId("create-form");
  const createError = byId("create-error");
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(createForm, createError);
    const name = createForm.elements.name.value.trim();
    if (!name) {
      setFieldError(createForm, "name", "Give the group a name.");
      return createForm.elements.name.focus();
    }
    await withBusy(createForm, async () => {
      try {
        const group = await api.createGroup(name, createForm.elements.private.checked);
        createForm.reset();
        location.assign(chatUrl(group.id));
      } catch (error) {
        if (!handleAuthFailure(error)) showApiError(createForm, createError, error);
      }
    });
  });

  // Back from a chat (bfcache) or back to the tab: counts may have changed.
  const refreshIfSignedIn = () => {
    if (getSession() && !byId("dashboard").hidden && document.visibilityState === "visible") refreshLists();
  };
  document.addEventListener("visibilitychange", refreshIfSignedIn);
  window.addEventListener("pageshow", (event) => event.persisted && refreshIfSignedIn());
}

async function main() {
  setupAuthForms();
  setupDashboard();
  try {
    const config = await loadConfig();
    api = new Api(config.apiUrl, () => getSession()?.token ?? null);
  } catch (error) {
    const banner = byId("page-error");
    banner.textContent = `The chat is not configured: ${error.message}`;
    banner.hidden = false;
    return;
  }
  if (getSession()) showDashboard();
  else showAuth();
}

main();
