// Message text to a small tree of formatting nodes. The text is never interpreted as HTML: this only
// finds *bold*, _italic_, `code`, ``` fenced blocks ```, links and @mentions, and every piece of text
// stays a string that the view puts into a text node. Links are only ever http:, https: or mailto:.
//
// Nodes: {type: "text", text} | {type: "strong"|"em", children} | {type: "code"|"pre", text}
//      | {type: "link", href, text} | {type: "mention", username, text}

const FENCE = /```(?:[\w+#.-]*\n)?([\s\S]*?)```/g;

// One alternation, earliest match wins; the order breaks ties (a code span beats everything in it).
const INLINE = new RegExp(
  [
    "`(?<code>[^`\\n]+)`",
    "(?<url>\\b(?:https?:\\/\\/|mailto:)[^\\s<>\"'`]+)",
    "(?<![\\p{L}\\p{N}_@.\\-])@(?<mention>[A-Za-z0-9_.\\-]{3,32})",
    // The closing mark ends a word: "2*3*4" and snake_case_names stay as they are, "_a_b_" is "a_b".
    "(?<![\\p{L}\\p{N}*\\\\])\\*(?=[^\\s*])(?<strong>[^\\n]{0,2000}?[^\\s*])\\*(?![\\p{L}\\p{N}*])",
    "(?<![\\p{L}\\p{N}_\\\\])_(?=[^\\s_])(?<em>[^\\n]{0,2000}?[^\\s_])_(?![\\p{L}\\p{N}_])",
  ].join("|"),
  "gu",
);

const MAX_DEPTH = 3;
const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

/** Parse a message's text. `mentions`: the usernames (lower case) the server found in it. */
export function parseMarkup(text, mentions = []) {
  const known = new Set((mentions ?? []).map((m) => String(m).toLowerCase()));
  const nodes = [];
  let index = 0;
  for (const match of String(text).matchAll(FENCE)) {
    if (match.index > index) nodes.push(...parseInline(text.slice(index, match.index), known, 0));
    nodes.push({ type: "pre", text: match[1].replace(/^\n/, "").replace(/\n$/, "") });
    index = match.index + match[0].length;
  }
  if (index < text.length) nodes.push(...parseInline(text.slice(index), known, 0));
  return nodes;
}

function parseInline(text, known, depth) {
  const nodes = [];
  let index = 0;
  const pushText = (value) => {
    if (!value) return;
    const last = nodes[nodes.length - 1];
    if (last?.type === "text") last.text += value;
    else nodes.push({ type: "text", text: value });
  };
  INLINE.lastIndex = 0;
  const pattern = new RegExp(INLINE.source, INLINE.flags);
  let match;
  while ((match = pattern.exec(text)) !== null) {
    const groups = match.groups;
    let consumed = match[0];
    let node = null;
    if (groups.code !== undefined) {
      node = { type: "code", text: groups.code };
    } else if (groups.url !== undefined) {
      const raw = trimUrl(groups.url);
      consumed = raw;
      const href = safeHref(raw);
      node = href ? { type: "link", href, text: raw } : null;
    } else if (groups.mention !== undefined) {
      const name = trimMention(groups.mention, known);
      if (name) {
        consumed = `@${name}`;
        node = { type: "mention", username: name.toLowerCase(), text: consumed };
      }
    } else if (depth < MAX_DEPTH) {
      const type = groups.strong !== undefined ? "strong" : "em";
      node = { type, children: parseInline(groups.strong ?? groups.em, known, depth + 1) };
    }
    pushText(text.slice(index, match.index));
    if (node) nodes.push(node);
    else pushText(consumed);
    index = match.index + consumed.length;
    pattern.lastIndex = index;
  }
  pushText(text.slice(index));
  return nodes;
}

/** Leave sentence punctuation (and an unbalanced closing bracket) out of a link. */
function trimUrl(url) {
  let end = url.length;
  for (;;) {
    const last = url[end - 1];
    if (".,:;!?*_~".includes(last)) {
      end -= 1;
    } else if (last === ")" || last === "]") {
      const open = last === ")" ? "(" : "[";
      const body = url.slice(0, end);
      if (body.split(open).length - 1 < body.split(last).length - 1) end -= 1;
      else break;
    } else {
      break;
    }
  }
  return url.slice(0, end);
}

/** The href of a link, or null when it is not an http(s) URL with a host or a mailto: address. */
export function safeHref(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (!LINK_PROTOCOLS.has(url.protocol)) return null;
  if (url.protocol !== "mailto:" && !url.hostname) return null;
  if (url.protocol === "mailto:" && !/^[^\s@]+@[^\s@]+$/.test(decodeURIComponent(url.pathname))) return null;
  return url.href;
}

/** The mentioned username (as written), when the server says it is one; trailing dots are punctuation. */
function trimMention(name, known) {
  let candidate = name;
  while (candidate.length >= 3) {
    if (known.has(candidate.toLowerCase())) return candidate;
    if (!/[.\-]$/.test(candidate)) break;
    candidate = candidate.slice(0, -1);
  }
  return null;
}

/** The text of a message without formatting marks, on one line: for previews, quotes and announcements. */
export function plainText(text) {
  const flatten = (nodes) => nodes.map((node) => (node.children ? flatten(node.children) : node.text)).join("");
  return flatten(parseMarkup(String(text ?? "")))
    .replace(/\s+/g, " ")
    .trim();
}
