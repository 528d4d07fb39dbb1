// Formatting helpers shared by the views.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const dateFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const yearDayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

/** "14:05". */
export function clockTime(ts) {
  return timeFormat.format(new Date(ts));
}

/** "14:05" today, "Mon" within a week, else "3 Feb": for the sidebar. */
export function shortTime(ts) {
  const date = new Date(ts);
  const now = new Date();
  if (date.toDateString() === now.toDateString()) return timeFormat.format(date);
  if (now - date < 6 * 86_400_000) return weekdayFormat.format(date);
  return dateFormat.format(date);
}

export function fullTime(ts) {
  return fullFormat.format(new Date(ts));
}

/** The local calendar day of a timestamp, as a comparable key. */
export function dayKey(ts) {
  const date = new Date(ts);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

/** "Today", "Yesterday", "Monday 3 February" (with the year when it is not this year). */
export function dayLabel(ts) {
  const date = new Date(ts);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (date.toDateString() === today.toDateString()) return "Today";
  if (date.toDateString() === yesterday.toDateString()) return "Yesterday";
  return (date.getFullYear() === today.getFullYear() ? dayFormat : yearDayFormat).format(date);
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** "1.2 MB". */
export function fileSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Run fn at most once per `ms`, at the end of a burst. */
export function debounce(fn, ms) {
  let timer = 0;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

/** Up to two initials for an avatar: "Ada Lovelace" -> "AL", "bob_smith" -> "BS". */
export function initials(name) {
  const words = String(name).split(/[\s_.\-]+/u).filter(Boolean);
  const letters = (words.length > 1 ? [words[0], words[words.length - 1]] : [String(name)])
    .map((word) => [...word][0] ?? "")
    .join("");
  return letters.toUpperCase().slice(0, 2) || "?";
}

/** A stable hue (one of a fixed set with good contrast on white text) for someone's avatar. */
export function avatarTone(username) {
  let hash = 0;
  for (const char of String(username)) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return hash % 8;
}
