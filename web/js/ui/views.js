// The views that are not a conversation: home, people, public groups, a new group, the profile and
// message search. Each is the page's <main>.

import { ApiError } from "../api.js";
import { html, useEffect, useRef, useState } from "../lib.js";
import { routeHref } from "../state.js";
import { debounce, fullTime, plural, shortTime } from "../format.js";
import { plainText } from "../markup.js";
import { displayName } from "../session.js";
import { AppLink, Avatar, Field, useHeadingFocus } from "./common.js";

const PEOPLE_PAGE = 12;

function View({ app, id, title, children, intro }) {
  const heading = useHeadingFocus(app, id);
  useEffect(() => app.setViewTitle(id === "home" ? "" : title), [title]);
  return html`
    <main id="main" class=${`view view-${id}`} aria-labelledby="view-title">
      <h1 id="view-title" tabindex="-1" ref=${heading}>${title}</h1>
      ${intro ? html`<p class="muted intro">${intro}</p>` : null}
      ${children}
    </main>
  `;
}

export function HomeView({ app }) {
  const me = app.me;
  return html`
    <${View} app=${app} id="home" title=${`Hello, ${displayName(me)}`} intro="Pick a conversation on the left, or start a new one.">
      <div class="home-actions">
        <section class="card" aria-labelledby="home-people">
          <h2 id="home-people">Talk to someone</h2>
          <p class="muted">Find people by name and open a direct chat.</p>
          <${AppLink} app=${app} route=${{ view: "people" }} href=${routeHref({ view: "people" })} class="button secondary">Find people</${AppLink}>
        </section>
        <section class="card" aria-labelledby="home-groups">
          <h2 id="home-groups">Join a group</h2>
          <p class="muted">Public groups are open to everyone.</p>
          <${AppLink} app=${app} route=${{ view: "groups" }} href=${routeHref({ view: "groups" })} class="button secondary">Browse groups</${AppLink}>
        </section>
        <section class="card" aria-labelledby="home-new">
          <h2 id="home-new">Start a group</h2>
          <p class="muted">Public, or private for the people you add.</p>
          <${AppLink} app=${app} route=${{ view: "new-group" }} href=${routeHref({ view: "new-group" })} class="button primary">New group</${AppLink}>
        </section>
      </div>
    </${View}>
  `;
}

export function PeopleView({ app }) {
  const [query, setQuery] = useState("");
  const [people, setPeople] = useState([]);
  const [next, setNext] = useState(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState("");
  const [opening, setOpening] = useState("");
  const run = useRef(null);
  const load = async (q, offset = 0) => {
    setError("");
    try {
      const page = await app.api.searchPeople(q, { limit: PEOPLE_PAGE, offset });
      const users = (page.users ?? []).filter((u) => u.username !== app.me.username);
      setPeople((list) => (offset ? [...list, ...users] : users));
      setNext(page.nextOffset ?? null);
      setLoaded(true);
    } catch (failure) {
      setError(failure.message);
    }
  };
  useEffect(() => {
    run.current = debounce((q) => load(q), 250);
    load("");
    return () => run.current.cancel();
  }, []);
  const message = async (username) => {
    setOpening(username);
    setError("");
    try {
      await app.openDirect(username);
    } catch (failure) {
      setOpening("");
      setError(failure instanceof ApiError && failure.status === 429 ? "You opened many new chats this hour; try again later." : failure.message);
    }
  };
  return html`
    <${View} app=${app} id="people" title="People" intro="Search by display name or username (capitals do not matter).">
      <form id="people-form" class="search" role="search" aria-label="People" novalidate onSubmit=${(event) => { event.preventDefault(); load(query.trim()); }}>
        <label for="people-search">Find people by name</label>
        <input id="people-search" type="search" autocomplete="off" placeholder="Search names and usernames" value=${query}
          onInput=${(event) => { setQuery(event.currentTarget.value); run.current?.(event.currentTarget.value.trim()); }} />
      </form>
      <p id="people-status" class="meta" role="status">${loaded ? (people.length ? plural(people.length, "person", "people") + (next !== null ? " shown" : "") : "Nobody found.") : ""}</p>
      <ul id="people" class="people-list">
        ${people.map((user) => html`<li key=${user.username} data-username=${user.username}>
          <${Avatar} user=${user} />
          <span class="person"><span class="person-name">${displayName(user)}</span> <span class="meta">@${user.username}</span></span>
          <button type="button" class="button secondary small" disabled=${opening === user.username} onClick=${() => message(user.username)}>
            Message <span class="sr-only">${displayName(user)}</span>
          </button>
        </li>`)}
      </ul>
      ${error ? html`<p id="people-error" class="form-error" role="alert">${error}</p>` : null}
      ${next !== null ? html`<button id="people-more" type="button" class="button secondary" onClick=${() => load(query.trim(), next)}>Show more people</button>` : null}
    </${View}>
  `;
}

export function GroupsView({ app }) {
  const [groups, setGroups] = useState([]);
  const [next, setNext] = useState(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState("");
  const load = async (cursor = null) => {
    try {
      const page = await app.api.groups({ cursor });
      setGroups((list) => (cursor ? [...list, ...page.groups] : page.groups));
      setNext(page.next ?? null);
      setLoaded(true);
    } catch (failure) {
      setError(failure.message);
    }
  };
  useEffect(() => {
    load();
  }, []);
  const visible = groups.filter((g) => g.kind !== "direct");
  return html`
    <${View} app=${app} id="groups" title="Groups" intro="Public groups, and the private ones you belong to. Joining a public group makes you a member.">
      ${loaded && !visible.length ? html`<p class="empty">No groups yet. Create the first one.</p>` : null}
      <ul id="public-groups" class="room-list">
        ${visible.map((group) => html`<li key=${group.id} data-name=${group.name}>
          <${Avatar} user=${{ username: group.name, nickname: group.name }} />
          <span class="room-text"><span class="room-name">${group.name}</span>
            <span class="meta">${group.private ? "Private" : "Public"} · ${plural(group.memberCount ?? 0, "member")}</span></span>
          <${AppLink} app=${app} route=${{ room: group.id }} href=${routeHref({ room: group.id })} class="button secondary small">
            ${group.isMember ? "Open" : "Join"} <span class="sr-only">${group.name}</span>
          </${AppLink}>
        </li>`)}
      </ul>
      ${error ? html`<p class="form-error" role="alert">${error}</p>` : null}
      ${next ? html`<button type="button" class="button secondary" onClick=${() => load(next)}>Show more groups</button>` : null}
    </${View}>
  `;
}

export function NewGroupView({ app }) {
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState("");
  const [busy, setBusy] = useState(false);
  const onSubmit = async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const name = form.elements.name.value.trim();
    if (!name) {
      setErrors({ name: "Give the group a name." });
      form.elements.name.focus();
      return;
    }
    setErrors({});
    setFormError("");
    setBusy(true);
    try {
      await app.createGroup(name, form.elements.private.checked);
    } catch (failure) {
      setBusy(false);
      if (failure instanceof ApiError && failure.status === 429) setFormError("You created many groups this hour; try again later.");
      else if (failure.fieldErrors?.length) setErrors({ name: failure.fieldErrors[0].message });
      else setFormError(failure.message);
    }
  };
  return html`
    <${View} app=${app} id="new-group" title="New group">
      <form id="create-form" class="card form narrow" novalidate onSubmit=${onSubmit} aria-busy=${busy ? "true" : undefined}>
        <${Field} id="group-name" label="Group name" error=${errors.name} inputProps=${{ name: "name", maxlength: 80, required: true }} />
        <div class="checkbox">
          <input id="group-private" name="private" type="checkbox" />
          <label for="group-private">Private (only people you add can see it)</label>
        </div>
        <p id="create-error" class="form-error" role="alert">${formError}</p>
        <button type="submit" class="button primary" disabled=${busy}>Create group</button>
      </form>
    </${View}>
  `;
}

export function ProfileView({ app }) {
  const me = app.me;
  const [values, setValues] = useState({ nickname: me.nickname ?? "", email: me.email ?? "" });
  const [errors, setErrors] = useState({});
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    // The profile as the server has it (another tab may have changed it).
    app.api.profile().then(
      (profile) => setValues({ nickname: profile.nickname ?? "", email: profile.email ?? "" }),
      () => {},
    );
  }, []);
  const onSubmit = async (event) => {
    event.preventDefault();
    setErrors({});
    setStatus("");
    const changes = { nickname: values.nickname.trim() || null, email: values.email.trim() || null };
    if (changes.nickname && changes.nickname.length > 40) return setErrors({ nickname: "At most 40 characters." });
    if (changes.email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(changes.email)) return setErrors({ email: "Enter a valid email address." });
    setBusy(true);
    try {
      await app.updateProfile(changes);
      setStatus("Saved.");
    } catch (failure) {
      const byField = {};
      for (const { field, message } of failure.fieldErrors ?? []) byField[String(field).split(".").pop()] = message;
      setErrors(Object.keys(byField).length ? byField : { form: failure.message });
    } finally {
      setBusy(false);
    }
  };
  const set = (name) => (event) => setValues({ ...values, [name]: event.currentTarget.value });
  return html`
    <${View} app=${app} id="profile" title="Your profile">
      <form id="profile-form" class="card form narrow" novalidate onSubmit=${onSubmit} aria-busy=${busy ? "true" : undefined}>
        <p class="profile-who"><${Avatar} user=${me} /> <span>Signed in as <strong>@${me.username}</strong></span></p>
        <${Field} id="profile-nickname" label="Display name" hint="What others see; leave it empty to show your username." error=${errors.nickname}
          inputProps=${{ name: "nickname", maxlength: 40, autocomplete: "nickname", value: values.nickname, onInput: set("nickname") }} />
        <${Field} id="profile-email" label="Email" optional error=${errors.email}
          inputProps=${{ name: "email", type: "email", autocomplete: "email", value: values.email, onInput: set("email") }} />
        <p class="form-error" role="alert">${errors.form ?? ""}</p>
        <p id="profile-status" class="meta" role="status">${status}</p>
        <button type="submit" class="button primary" disabled=${busy}>Save profile</button>
      </form>
    </${View}>
  `;
}

export function SearchView({ app }) {
  const q = app.route.q;
  const [results, setResults] = useState([]);
  const [next, setNext] = useState(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState("");
  const load = async (cursor = null) => {
    setError("");
    try {
      const page = await app.api.search(q, { before: cursor });
      setResults((list) => (cursor ? [...list, ...(page.results ?? [])] : (page.results ?? [])));
      setNext(page.next ?? null);
    } catch (failure) {
      setError(failure instanceof ApiError && failure.status === 404 ? "Search is not available on this server yet." : failure.message);
      setResults([]);
    }
    setLoaded(true);
  };
  useEffect(() => {
    setLoaded(false);
    if (q) load();
  }, [q]);
  return html`
    <${View} app=${app} id="search" title=${q ? `Search: ${q}` : "Search"}>
      <p id="search-status" class="meta" role="status">
        ${!q ? "Type words in the search box of the sidebar." : loaded ? (results.length ? plural(results.length, "result") + (next ? " so far" : "") : "No messages found.") : "Searching…"}
      </p>
      <ol id="search-results" class="search-results">
        ${results.map(({ message, room }) => html`<li key=${message.id}>
          <${AppLink} app=${app} route=${{ room: room.id, message: message.id }} href=${routeHref({ room: room.id, message: message.id })} class="search-result">
            <span class="result-room">${room.kind === "direct" ? "Direct chat" : room.name}</span>
            <span class="result-meta meta">${message.sender} · <time datetime=${new Date(message.ts).toISOString()} title=${fullTime(message.ts)}>${shortTime(message.ts)}</time></span>
            <span class="result-text">${plainText(message.text)}</span>
          </${AppLink}>
        </li>`)}
      </ol>
      ${error ? html`<p class="form-error" role="alert">${error}</p>` : null}
      ${next ? html`<button type="button" class="button secondary" onClick=${() => load(next)}>More results</button>` : null}
    </${View}>
  `;
}
