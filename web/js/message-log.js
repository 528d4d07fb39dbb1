// The messages of one room, kept ordered by id with no duplicates, however pages, catch-ups and
// live messages arrive (a reconnect can deliver a message both live and in the catch-up). Edits,
// deletions and reactions replace a message in place (`update`, `patch`), never with an older state
// (each change has a higher `rev`); `version` changes with every change, so a view can tell cheaply
// whether it has to render again.

export class MessageLog {
  constructor() {
    /** @type {Map<number, object>} */
    this.byId = new Map();
    /** ids in ascending order */
    this.ids = [];
    this.version = 0;
  }

  get size() {
    return this.ids.length;
  }

  /** The oldest and newest ids, or null when empty. */
  get firstId() {
    return this.ids.length ? this.ids[0] : null;
  }
  get lastId() {
    return this.ids.length ? this.ids[this.ids.length - 1] : null;
  }

  has(id) {
    return this.byId.has(id);
  }

  get(id) {
    return this.byId.get(id);
  }

  /** Every message, oldest first. */
  all() {
    return this.ids.map((id) => this.byId.get(id));
  }

  /** The newest message, or null. */
  last() {
    return this.ids.length ? this.byId.get(this.ids[this.ids.length - 1]) : null;
  }

  /** The id after which a message with this id sits (null when it goes first). */
  previousId(id) {
    const index = this.#indexOf(id);
    return index > 0 ? this.ids[index - 1] : null;
  }

  /**
   * Merge messages in; returns those that were new, oldest first. Messages without a numeric id
   * are ignored (they cannot be placed or deduplicated). A message already held is replaced when the
   * incoming copy is newer (edited later, or deleted since), so a late page never undoes an edit.
   */
  merge(messages) {
    const added = [];
    for (const message of messages) {
      if (!message || !Number.isSafeInteger(message.id)) continue;
      const held = this.byId.get(message.id);
      if (held) {
        if (isNewer(message, held)) this.#replace(message);
        continue;
      }
      this.byId.set(message.id, message);
      this.ids.splice(this.#insertionPoint(message.id), 0, message.id);
      added.push(message);
    }
    if (added.length) this.version += 1;
    added.sort((a, b) => a.id - b.id);
    return added;
  }

  /** Replace a held message (an edit, a deletion) unless what is held is newer; false when nothing changed. */
  update(message) {
    const held = message ? this.byId.get(message.id) : undefined;
    if (!held || !isNewer(message, held)) return false;
    this.#replace(message);
    return true;
  }

  /**
   * Change one held message with `change(message) => newMessage`, when `rev` (the change's revision) is
   * newer than the message's; false when nothing changed.
   */
  patch(id, change, rev = null) {
    const held = this.byId.get(id);
    if (!held || (rev !== null && Number.isSafeInteger(held.rev) && held.rev >= rev)) return false;
    this.#replace(change(held));
    return true;
  }

  /** The highest revision among the messages held (0 when none carries one). */
  get maxRev() {
    let max = 0;
    for (const message of this.byId.values()) if (Number.isSafeInteger(message.rev) && message.rev > max) max = message.rev;
    return max;
  }

  #replace(message) {
    this.byId.set(message.id, message);
    this.version += 1;
  }

  #insertionPoint(id) {
    let low = 0;
    let high = this.ids.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.ids[mid] < id) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #indexOf(id) {
    const index = this.#insertionPoint(id);
    return this.ids[index] === id ? index : -1;
  }
}

/**
 * Whether `incoming` carries a later state of the same message than `held`: by revision (every change
 * takes a higher one), or, for copies without one, a deletion beats all and a later edit beats an earlier.
 */
function isNewer(incoming, held) {
  if (Number.isSafeInteger(incoming.rev) && Number.isSafeInteger(held.rev)) return incoming.rev > held.rev;
  if (incoming.deleted && !held.deleted) return true;
  if (held.deleted) return false;
  return (incoming.editedAt ?? 0) > (held.editedAt ?? 0);
}
