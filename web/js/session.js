// The signed-in user for this tab: kept in sessionStorage (per tab, gone when the tab closes).

const KEY = "chat.session";

/** {token, user, expiresAt} or null when signed out or the token has expired. */
export function getSession() {
  let session;
  try {
    session = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
  } catch {
    session = null;
  }
  if (!session || typeof session.token !== "string" || !session.user) return null;
  if (typeof session.expiresAt === "number" && Date.now() >= session.expiresAt) {
    clearSession();
    return null;
  }
  return session;
}

/** Keep the answer of register/login: {token, expiresIn, user}. */
export function saveSession({ token, expiresIn, user }) {
  const expiresAt = typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : undefined;
  sessionStorage.setItem(KEY, JSON.stringify({ token, user, expiresAt }));
}

/** Update the stored user (after a profile change) without touching the token. */
export function updateSessionUser(user) {
  const session = getSession();
  if (session) sessionStorage.setItem(KEY, JSON.stringify({ ...session, user }));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

/** How to show a user: the nickname when there is one, else the username. */
export function displayName(user) {
  if (!user) return "";
  return user.nickname || user.username;
}
