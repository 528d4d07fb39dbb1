// Beside the conversation: its members (online or not), and for a group what its owner can do (add
// with suggestions from people search, remove, hand over, rename, delete) and what a member can
// (leave). In a direct chat: the other person.

import { ApiError } from "../api.js";
import { html, useEffect, useRef, useState } from "../lib.js";
import { debounce } from "../format.js";
import { displayName } from "../session.js";
import { Avatar, Confirm, focusSoon } from "./common.js";
import { handleOf, roomTitle } from "./conversation.js";

export function DetailsPanel({ app, roomId }) {
  const room = app.conn.rooms.get(roomId);
  if (!room || room.error) return null;
  const info = app.roomInfo.get(roomId);
  const me = app.me.username;
  const isGroup = room.room?.kind === "group";
  const owner = info?.role === "owner";
  const roles = new Map((info?.members ?? []).map((m) => [m.username, m.role]));
  const online = (member) => (member.username === me ? true : (app.presence.get(member.username) ?? Boolean(member.online)));
  const members = [...room.members].sort(
    (a, b) => Number(online(b)) - Number(online(a)) || displayName(a).localeCompare(displayName(b)),
  );
  const onlineCount = room.members.filter(online).length;
  const { other } = roomTitle(app, roomId);
  return html`
    <aside id="details" class="details" aria-labelledby="details-title">
      <div class="details-header">
        <h2 id="details-title">
          ${isGroup ? "Members" : "Direct chat"} <span id="member-count" class="count">${room.members.length ? `(${onlineCount}/${room.members.length}${room.membersHasMore ? "+" : ""} online)` : ""}</span>
        </h2>
        <button type="button" class="icon-button close-details" aria-label="Close the member list" onClick=${() => { app.detailsOpen = false; app.changed(); }}>
          <span aria-hidden="true">✕</span>
        </button>
      </div>
      ${isGroup && (room.room?.description || info?.description) ? html`<p class="description">${room.room?.description ?? info?.description}</p>` : null}
      ${!isGroup && other ? html`<p class="meta">You and ${displayName(other)} (@${other.username}).</p>` : null}
      <ul id="members" class="member-list">
        ${members.map((member) => html`<${MemberRow} key=${member.username} app=${app} roomId=${roomId} member=${member}
          online=${online(member)} role=${roles.get(member.username)} canManage=${owner && isGroup && member.username !== me} />`)}
      </ul>
      ${room.membersHasMore ? html`<button type="button" class="button secondary small" onClick=${() => app.conn.moreMembers(roomId)}>Show more members</button>` : null}
      ${isGroup && owner ? html`<${AddMember} app=${app} roomId=${roomId} members=${room.members} />` : null}
      ${isGroup && owner ? html`<${GroupSettings} app=${app} roomId=${roomId} room=${room} info=${info} />` : null}
      ${isGroup && info && !owner ? html`<${LeaveGroup} app=${app} roomId=${roomId} name=${room.room?.name} />` : null}
    </aside>
  `;
}

function MemberRow({ app, roomId, member, online, role, canManage }) {
  const [confirm, setConfirm] = useState(null);
  const [error, setError] = useState("");
  const me = app.me.username === member.username;
  const name = displayName(me ? app.me : member);
  const act = async (action) => {
    setError("");
    try {
      if (action === "remove") await app.removeMember(roomId, member.username);
      else await app.transferGroup(roomId, member.username);
      setConfirm(null);
    } catch (failure) {
      setError(failure.message);
    }
  };
  const ask = (action) => () => setConfirm(action);
  const cancel = () => {
    const which = confirm; // the focus goes back to the button that asked
    setConfirm(null);
    requestAnimationFrame(() => document.querySelector(`#members li[data-username="${CSS.escape(member.username)}"] [data-action="${which}"]`)?.focus());
  };
  return html`
    <li data-username=${member.username} data-online=${online ? "true" : "false"}>
      <span class="member-main">
        <span class="avatar-wrap"><${Avatar} user=${me ? app.me : member} size="small" /><span class=${`presence-dot${online ? " online" : ""}`} aria-hidden="true"></span></span>
        <span class="member-text">
          <span class="member-line">
            <span class="member-name" title=${`@${member.username}`}>${name}</span>
            ${handleOf(me ? app.me : member) ? html`<span class="handle" title=${handleOf(me ? app.me : member)}>${handleOf(me ? app.me : member)}</span>` : null}
          </span>
          <span class="member-line meta">
            <span class="presence-label">${online ? "online" : "offline"}</span>
            ${me ? html`<span>· you</span>` : null}
            ${role === "owner" ? html`<span class="role">owner</span>` : null}
          </span>
        </span>
      </span>
      ${canManage && !confirm
        ? html`<span class="member-actions">
            <button type="button" class="link-button" data-action="remove" aria-label=${`Remove ${name}`} onClick=${ask("remove")}>Remove</button>
            ${role !== "owner" ? html`<button type="button" class="link-button" data-action="owner" aria-label=${`Make owner: ${name}`} onClick=${ask("owner")}>Make owner</button>` : null}
          </span>`
        : null}
      ${confirm
        ? html`<${Confirm} text=${confirm === "remove" ? `Remove ${name} from the group?` : `Hand the group over to ${name}? You stay a member.`}
            label=${confirm === "remove" ? "Remove" : "Hand over"} danger=${confirm === "remove"} onConfirm=${() => act(confirm)} onCancel=${cancel} />`
        : null}
      ${error ? html`<p class="field-error" role="alert">${error}</p>` : null}
    </li>
  `;
}

function AddMember({ app, roomId, members }) {
  const [value, setValue] = useState("");
  const [suggestions, setSuggestions] = useState([]);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const search = useRef(null);
  const inputRef = useRef(null);
  const present = new Set(members.map((m) => m.username.toLowerCase()));

  useEffect(() => {
    search.current = debounce(async (q) => {
      if (!q) return setSuggestions([]);
      try {
        const answer = await app.api.searchPeople(q, { limit: 8 });
        setSuggestions(answer.users ?? []);
      } catch {
        setSuggestions([]);
      }
    }, 200);
    return () => search.current.cancel();
  }, []);

  const add = async (username) => {
    setError("");
    setStatus("");
    try {
      await app.addMember(roomId, username);
      setValue("");
      setSuggestions([]);
      setStatus(`Added ${username}.`);
      inputRef.current?.focus();
    } catch (failure) {
      setError(failure instanceof ApiError && failure.status === 404 ? `Nobody is called ${username}.` : failure instanceof ApiError && failure.status === 409 ? `${username} is already a member.` : failure.message);
    }
  };
  const onSubmit = (event) => {
    event.preventDefault();
    const typed = value.trim().replace(/^@/, "");
    if (!typed) return setError("Type a name or a username.");
    // People search is case-insensitive; the API wants the username exactly as it was registered.
    const match = suggestions.find((u) => u.username.toLowerCase() === typed.toLowerCase());
    add(match ? match.username : typed);
  };
  const shown = suggestions.filter((u) => !present.has(u.username.toLowerCase()));
  return html`
    <form id="add-member-form" class="form add-member" novalidate onSubmit=${onSubmit}>
      <label for="add-member-username">Add someone by name or username</label>
      <div class="input-row">
        <input id="add-member-username" ref=${inputRef} name="username" autocomplete="off" autocapitalize="none" spellcheck="false"
          aria-describedby="add-member-error add-member-status" aria-invalid=${error ? "true" : undefined} value=${value}
          onInput=${(event) => { setValue(event.currentTarget.value); setError(""); search.current?.(event.currentTarget.value.trim().replace(/^@/, "")); }} />
        <button type="submit" class="button secondary small">Add</button>
      </div>
      ${shown.length
        ? html`<ul class="suggestions" aria-label="Suggestions">
            ${shown.map((u) => html`<li key=${u.username}>
              <button type="button" class="suggestion" onClick=${() => add(u.username)}>
                <span class="sr-only">Add </span>${displayName(u)} <span class="meta">@${u.username}</span>
              </button>
            </li>`)}
          </ul>`
        : null}
      <p id="add-member-error" class="field-error" role="alert">${error}</p>
      <p id="add-member-status" class="meta" role="status">${status}</p>
    </form>
  `;
}

function GroupSettings({ app, roomId, room, info }) {
  const [name, setName] = useState(room.room?.name ?? info?.name ?? "");
  const [description, setDescription] = useState(room.room?.description ?? info?.description ?? "");
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const [confirmDelete, setConfirmDelete] = useState(false);
  const deleteOpener = useRef(null);
  const save = async (event) => {
    event.preventDefault();
    setError("");
    setStatus("");
    const changes = {};
    if (name.trim() !== (room.room?.name ?? "")) changes.name = name.trim();
    if (description.trim() !== (room.room?.description ?? info?.description ?? "")) changes.description = description.trim();
    if (!Object.keys(changes).length) return setStatus("Nothing to change.");
    if (changes.name === "") return setError("A group needs a name.");
    try {
      await app.renameGroup(roomId, changes);
      setStatus("Saved.");
    } catch (failure) {
      setError(failure.fieldErrors?.[0]?.message ?? failure.message);
    }
  };
  return html`
    <details class="group-settings">
      <summary>Group settings</summary>
      <form class="form" novalidate onSubmit=${save}>
        <div class="field">
          <label for="group-rename">Group name</label>
          <input id="group-rename" maxlength="80" value=${name} aria-describedby="group-settings-error" onInput=${(event) => setName(event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="group-description">Description <span class="optional">(optional)</span></label>
          <textarea id="group-description" rows="2" maxlength="500" value=${description} onInput=${(event) => setDescription(event.currentTarget.value)}></textarea>
        </div>
        <p id="group-settings-error" class="field-error" role="alert">${error}</p>
        <p class="meta" role="status">${status}</p>
        <button type="submit" class="button primary small">Save</button>
      </form>
      <div class="danger-zone">
        ${confirmDelete
          ? html`<${Confirm} text="Delete the group and all of its messages for everyone?" label="Delete the group"
              onConfirm=${() => app.deleteGroup(roomId).catch((failure) => setError(failure.message))}
              onCancel=${() => { setConfirmDelete(false); focusSoon(deleteOpener); }} />`
          : html`<button type="button" ref=${deleteOpener} class="button secondary small danger-text" onClick=${() => setConfirmDelete(true)}>Delete group…</button>`}
      </div>
    </details>
  `;
}

function LeaveGroup({ app, roomId, name }) {
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState("");
  const leave = async () => {
    try {
      await app.leaveGroup(roomId);
    } catch (failure) {
      setError(failure.message);
    }
  };
  const opener = useRef(null);
  return html`
    <div class="leave">
      ${confirm
        ? html`<${Confirm} text=${`Leave ${name}? You can join a public group again later; a private one needs its owner to add you.`}
            label="Leave" onConfirm=${leave} onCancel=${() => { setConfirm(false); focusSoon(opener); }} />`
        : html`<button type="button" ref=${opener} class="button secondary small" onClick=${() => setConfirm(true)}>Leave group</button>`}
      ${error ? html`<p class="field-error" role="alert">${error}</p>` : null}
    </div>
  `;
}
