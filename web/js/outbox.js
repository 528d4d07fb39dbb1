// Messages written but not yet acknowledged by the server, kept in localStorage so that they survive
// navigation, a reload and a browser restart. Every tab of the same user shares them: whichever tab is
// connected sends them, each under its clientMsgId, which the server stores once, so a message sent by
// two tabs (or again after a reload) is still delivered exactly once. An entry goes when the server's
// echo (or a history page holding it) shows it stored.

const PREFIX = "chat.outbox.";

/** A v4 UUID; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newClientMsgId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Entries: {clientMsgId, roomId, text, replyTo, attachments, createdAt, status: "pending"|"failed", error}.
 * Events: "change" {local} (local: made in this tab; false: read from another tab's write).
 */
export class Outbox extends EventTarget {
  /** @param {string} owner the user id the entries belong to  @param {Storage|null} storage */
  constructor(owner, storage = safeLocalStorage()) {
    super();
    this.key = PREFIX + owner;
    this.storage = storage;
    /** clientMsgId -> entry, oldest first */
    this.entries = new Map();
    this.#load();
    this.onStorage = (event) => {
      if (event.key !== this.key && event.key !== null) return;
      this.#load();
      this.#changed(false, false);
    };
    globalThis.addEventListener?.("storage", this.onStorage);
  }

  close() {
    globalThis.removeEventListener?.("storage", this.onStorage);
  }

  get size() {
    return this.entries.size;
  }

  /** Entries still to be sent (not failed). */
  get pendingCount() {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.status === "pending") count += 1;
    return count;
  }

  all() {
    return [...this.entries.values()];
  }

  forRoom(roomId) {
    return this.all().filter((entry) => entry.roomId === roomId);
  }

  get(clientMsgId) {
    return this.entries.get(clientMsgId);
  }

  add({ roomId, text, replyTo = null, attachments = [] }) {
    const entry = {
      clientMsgId: newClientMsgId(),
      roomId,
      text,
      replyTo,
      attachments,
      createdAt: Date.now(),
      status: "pending",
      error: null,
    };
    this.#reloadBeforeWrite();
    this.entries.set(entry.clientMsgId, entry);
    this.#changed();
    return entry;
  }

  update(clientMsgId, changes) {
    this.#reloadBeforeWrite();
    const entry = this.entries.get(clientMsgId);
    if (!entry) return null;
    const updated = { ...entry, ...changes };
    this.entries.set(clientMsgId, updated);
    this.#changed();
    return updated;
  }

  /** Remove an entry (acknowledged, or taken back by the user); returns it, or undefined. */
  remove(clientMsgId) {
    this.#reloadBeforeWrite();
    const entry = this.entries.get(clientMsgId);
    if (!entry) return undefined;
    this.entries.delete(clientMsgId);
    this.#changed();
    return entry;
  }

  /** Forget everything (logging out). */
  clear() {
    this.entries.clear();
    try {
      this.storage?.removeItem(this.key);
    } catch {
      // storage unavailable: nothing was kept
    }
    this.#changed(false);
  }

  #reloadBeforeWrite() {
    // Another tab may have written since: start from the stored list so neither tab undoes the other.
    if (this.storage) this.#load();
  }

  #load() {
    let stored = [];
    try {
      stored = JSON.parse(this.storage?.getItem(this.key) ?? "[]");
    } catch {
      stored = [];
    }
    const next = new Map();
    for (const entry of Array.isArray(stored) ? stored : []) {
      if (entry && typeof entry.clientMsgId === "string" && Number.isSafeInteger(entry.roomId) && typeof entry.text === "string") {
        next.set(entry.clientMsgId, entry);
      }
    }
    this.entries = next;
  }

  /** `local`: the change was made in this tab (not read from another tab's write). */
  #changed(save = true, local = true) {
    if (save) {
      try {
        this.storage?.setItem(this.key, JSON.stringify(this.all()));
      } catch {
        // full or unavailable: the entries stay in memory for this tab
      }
    }
    this.dispatchEvent(new CustomEvent("change", { detail: { local } }));
  }
}

export function safeLocalStorage() {
  try {
    const storage = globalThis.localStorage;
    return storage ?? null;
  } catch {
    return null;
  }
}
