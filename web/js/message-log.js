// The messages of one room, kept ordered by id with no duplicates, however pages, catch-ups and
// live messages arrive (a reconnect can deliver a message both live and in the catch-up).

export class MessageLog {
  constructor() {
    /** @type {Map<number, object>} */
    this.byId = new Map();
    /** ids in ascending order */
    this.ids = [];
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

  /** The id after which a message with this id sits (null when it goes first). */
  previousId(id) {
    const index = this.#indexOf(id);
    return index > 0 ? this.ids[index - 1] : null;
  }

  /**
   * Merge messages in; returns those that were new, oldest first. Messages without a numeric id
   * are ignored (they cannot be placed or deduplicated).
   */
  merge(messages) {
    const added = [];
    for (const message of messages) {
      if (!message || !Number.isSafeInteger(message.id) || this.byId.has(message.id)) continue;
      this.byId.set(message.id, message);
      this.ids.splice(this.#insertionPoint(message.id), 0, message.id);
      added.push(message);
    }
    added.sort((a, b) => a.id - b.id);
    return added;
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
