// The signed-in user, shared by every tab of this browser: kept in localStorage until logout or until
// the token expires (the server's `expiresIn`, 12 hours by default). Another tab's login or logout
// arrives as a `storage` event; `onSessionChange` passes it on, so logging out in one tab logs out all.
// Why localStorage (and what it means against XSS): SECURITY.md, "Where the token lives".

import { safeLocalStorage } from "./outbox.js";

const KEY = "chat.session";

function storage() {
  return safeLocalStorage();
}

/** {token, user, expiresAt} or null when signed out or the token has expired. */
export function getSession() {
  let session;
  try {
    session = JSON.parse(storage()?.getItem(KEY) ?? "null");
  } catch {
    session = null;
  }
  if (!session || typeof session.token !== "string" || !session.user || typeof session.user.username !== "string") return null;
  if (typeof session.expiresAt === "number" && Date.now() >= session.expiresAt) {
    clearSession();
    return null;
  }
  return session;
}

/** Keep the answer of register/login: {token, expiresIn, user}. */
export function saveSession({ token, expiresIn, user }) {
  const expiresAt = typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : undefined;
  storage()?.setItem(KEY, JSON.stringify({ token, user, expiresAt }));
}

/** Update the stored user (after a profile change) without touching the token. */
export function updateSessionUser(user) {
  const session = getSession();
  if (session) storage()?.setItem(KEY, JSON.stringify({ ...session, user: { ...session.user, ...user } }));
}

export function clearSession() {
  storage()?.removeItem(KEY);
}

/** Call `listener(session|null)` when another tab logs in, logs out or changes the profile. */
export function onSessionChange(listener) {
  const handler = (event) => {
    if (event.key === KEY || event.key === null) listener(getSession());
  };
  window.addEventListener("storage", handler);
  return () => window.removeEventListener("storage", handler);
}

/** How to show a user: the nickname when there is one, else the username. */
export function displayName(user) {
  if (!user) return "";
  return user.nickname || user.username;
}

// ------------------------------------------------------------------ drafts

const DRAFT_PREFIX = "chat.draft.";

/** The text left in a conversation's message box (kept across navigation, reloads and restarts). */
export function getDraft(userId, roomId) {
  try {
    return storage()?.getItem(`${DRAFT_PREFIX}${userId}.${roomId}`) ?? "";
  } catch {
    return "";
  }
}

export function setDraft(userId, roomId, text) {
  try {
    const key = `${DRAFT_PREFIX}${userId}.${roomId}`;
    if (text) storage()?.setItem(key, text);
    else storage()?.removeItem(key);
  } catch {
    // full or unavailable: the draft lives as long as the page
  }
}

/** Forget this browser's drafts and unsent messages of every account (logging out). */
export function clearLocalData() {
  const store = storage();
  if (!store) return;
  for (let i = store.length - 1; i >= 0; i--) {
    const key = store.key(i);
    if (key?.startsWith(DRAFT_PREFIX) || key?.startsWith("chat.outbox.")) store.removeItem(key);
  }
}
