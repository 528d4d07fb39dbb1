// Small pieces the views share: avatars, formatted text, form fields, links inside the app.

import { html, useEffect, useRef } from "../lib.js";
import { parseMarkup } from "../markup.js";
import { avatarTone, initials } from "../format.js";
import { displayName } from "../session.js";

/** Initials in a coloured circle; decorative (the name is always written beside it). */
export function Avatar({ user, size = "" }) {
  const name = displayName(user) || "?";
  return html`<span class=${`avatar tone-${avatarTone(user?.username ?? name)} ${size}`} aria-hidden="true">${initials(name)}</span>`;
}

const ICONS = {
  attach: "M16.5 6.5 8.9 14.1a2 2 0 0 0 2.8 2.8l7.6-7.6a4 4 0 0 0-5.7-5.7L5.9 11.3a6 6 0 0 0 8.5 8.5l6.1-6.1",
  lock: "M7 11V8a5 5 0 0 1 10 0v3M5 11h14v10H5z",
  file: "M14 3H6v18h12V7zM14 3v4h4",
};

/** A small line icon; decorative (the control it sits in has its own name). */
export function Icon({ name }) {
  return html`<svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false"
    fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d=${ICONS[name]} /></svg>`;
}

/** A message's text with its formatting; every piece of text is a text node. */
export function Markup({ text, mentions, me }) {
  return renderNodes(parseMarkup(text ?? "", mentions), me);
}

function renderNodes(nodes, me) {
  return nodes.map((node) => {
    switch (node.type) {
      case "text":
        return node.text;
      case "strong":
        return html`<strong>${renderNodes(node.children, me)}</strong>`;
      case "em":
        return html`<em>${renderNodes(node.children, me)}</em>`;
      case "code":
        return html`<code>${node.text}</code>`;
      case "pre":
        return html`<pre class="code-block"><code>${node.text}</code></pre>`;
      case "link":
        return html`<a href=${node.href} target="_blank" rel="noopener noreferrer">${node.text}</a>`;
      case "mention":
        return html`<span class=${node.username === me ? "mention me" : "mention"}>${node.text}</span>`;
      default:
        return "";
    }
  });
}

/** A link to a place in the app that does not reload the page (new tab and the like still work). */
export function AppLink({ app, route, href, children, onNavigate, focus = "heading", ...props }) {
  const onClick = (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    onNavigate?.();
    app.navigate(route, { focus });
  };
  return html`<a href=${href} onClick=${onClick} ...${props}>${children}</a>`;
}

/** A labelled input with its error tied to it (aria-describedby, aria-invalid). */
export function Field({ id, label, error, hint, optional = false, children, inputProps = {} }) {
  const describedBy = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  return html`
    <div class="field">
      <label for=${id}>${label}${optional ? html` <span class="optional">(optional)</span>` : null}</label>
      ${children ??
      html`<input id=${id} aria-describedby=${describedBy} aria-invalid=${error ? "true" : undefined} ...${inputProps} />`}
      ${hint ? html`<p id=${`${id}-hint`} class="hint">${hint}</p>` : null}
      <p id=${`${id}-error`} class="field-error">${error ?? ""}</p>
    </div>
  `;
}

/** Field errors of a 422 answer by field name, and the sentence for the rest. */
export function fieldErrors(error, messages = {}) {
  const byField = {};
  for (const { field, message } of error?.fieldErrors ?? []) {
    byField[field] ??= messages[field]?.(message) ?? message;
  }
  return byField;
}

/** Move focus to the element once it is shown (for headings after navigation, dialogs, editors). */
export function useFocus(active = true, deps = []) {
  const ref = useRef(null);
  useEffect(() => {
    if (active) ref.current?.focus({ preventScroll: false });
  }, [active, ...deps]);
  return ref;
}

/** Focus the view's heading after a navigation that asked for it. */
export function useHeadingFocus(app, key) {
  const ref = useRef(null);
  useEffect(() => {
    if (app.pendingFocus === "heading" && ref.current) {
      app.pendingFocus = null;
      ref.current.focus({ preventScroll: true });
    } else if (app.pendingFocus === "keep") {
      app.pendingFocus = null;
    }
  }, [key]);
  return ref;
}

/**
 * An inline confirmation: the question, the action (focused at once) and Cancel; Escape cancels. The
 * caller gives the focus back to what opened it (see `focusSoon`).
 */
export function Confirm({ text, label, onConfirm, onCancel, danger = true }) {
  const ref = useFocus(true);
  return html`
    <span class="confirm-inline" role="group" aria-label="Confirm"
      onKeyDown=${(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          onCancel();
        }
      }}>
      <span>${text}</span>
      <button type="button" ref=${ref} class=${danger ? "button danger small" : "button primary small"} onClick=${onConfirm}>${label}</button>
      <button type="button" class="button secondary small" onClick=${onCancel}>Cancel</button>
    </span>
  `;
}

/** Focus what `ref` points at once the page has rendered (the opener of a closed confirmation). */
export function focusSoon(ref) {
  requestAnimationFrame(() => ref.current?.focus());
}
