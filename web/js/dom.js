// Tiny DOM builder. User text only ever becomes a Text node or an attribute value set through
// setAttribute/properties: no innerHTML anywhere, so markup in a message stays text.

/**
 * Create an element: h("li", { class: "msg", dataset: { id: 3 } }, "text", childNode).
 * Strings and numbers in children become Text nodes; null/undefined/false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

/** Append children (nodes, strings, arrays of them) to a node; strings become Text nodes. */
export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Remove every child of a node. */
export function clear(node) {
  node.replaceChildren();
  return node;
}

/** Replace a node's children with the given ones. */
export function replace(node, ...children) {
  clear(node);
  return append(node, children);
}

/** document.getElementById that fails loudly when the page markup and the script disagree. */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node;
}
