// Signed out: log in or create an account. A deep link (?room=…) stays in the address bar, so the
// conversation opens as soon as the login succeeds.

import { ApiError } from "../api.js";
import { html, useState } from "../lib.js";
import { Field } from "./common.js";

const USERNAME = /^[A-Za-z0-9_.-]{3,32}$/;

function useForm() {
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState("");
  const [busy, setBusy] = useState(false);
  return { errors, setErrors, formError, setFormError, busy, setBusy };
}

/** Put a REST error where it belongs: field errors next to their fields, the rest above the button. */
function apiProblems(error, fields) {
  const problems = {};
  const unplaced = [];
  if (error instanceof ApiError && error.fieldErrors.length) {
    for (const { field, message } of error.fieldErrors) {
      const name = String(field ?? "").split(".").pop();
      const text = String(message).replace(/^Value error, /, "");
      if (fields.includes(name)) problems[name] ??= text.charAt(0).toUpperCase() + text.slice(1);
      else unplaced.push(text);
    }
    return { problems, formError: unplaced.length ? unplaced.join(" ") : "Please correct the highlighted fields." };
  }
  return { problems, formError: error.message || "Something went wrong. Try again." };
}

function focusFirstInvalid(form) {
  requestAnimationFrame(() => form.querySelector("[aria-invalid=true]")?.focus());
}

function LoginForm({ app }) {
  const form = useForm();
  const onSubmit = async (event) => {
    event.preventDefault();
    const element = event.currentTarget;
    const username = element.elements.username.value.trim();
    const password = element.elements.password.value;
    const problems = {};
    if (!username) problems.username = "Enter your username.";
    if (!password) problems.password = "Enter your password.";
    form.setErrors(problems);
    form.setFormError("");
    if (Object.keys(problems).length) return focusFirstInvalid(element);
    form.setBusy(true);
    try {
      await app.logIn(username, password);
    } catch (error) {
      form.setBusy(false);
      if (error instanceof ApiError && error.status === 401) {
        form.setFormError("Wrong username or password.");
        element.elements.password.select();
      } else if (error instanceof ApiError && error.status === 429) {
        form.setFormError("Too many attempts. Wait a few minutes and try again.");
      } else {
        const { problems: fromApi, formError } = apiProblems(error, ["username", "password"]);
        form.setErrors(fromApi);
        form.setFormError(formError);
        focusFirstInvalid(element);
      }
    }
  };
  const input = (name, extra) => ({ name, required: true, ...extra });
  return html`
    <form id="login-form" class="card form" novalidate aria-labelledby="login-title" aria-busy=${form.busy ? "true" : undefined} onSubmit=${onSubmit}>
      <h2 id="login-title">Log in</h2>
      <${Field} id="login-username" label="Username" error=${form.errors.username}
        inputProps=${input("username", { autocomplete: "username", autocapitalize: "none", spellcheck: "false" })} />
      <${Field} id="login-password" label="Password" error=${form.errors.password}
        inputProps=${input("password", { type: "password", autocomplete: "current-password" })} />
      <p id="login-error" class="form-error" role="alert">${form.formError}</p>
      <button type="submit" class="button primary" disabled=${form.busy}>Log in</button>
    </form>
  `;
}

function RegisterForm({ app }) {
  const form = useForm();
  const onSubmit = async (event) => {
    event.preventDefault();
    const element = event.currentTarget;
    const fields = { username: element.elements.username.value.trim(), password: element.elements.password.value };
    const nickname = element.elements.nickname.value.trim();
    const email = element.elements.email.value.trim();
    if (nickname) fields.nickname = nickname;
    if (email) fields.email = email;
    const problems = {};
    if (!USERNAME.test(fields.username)) problems.username = "Use 3–32 letters, digits, _ . or -.";
    if (fields.password.length < 10) problems.password = "Use at least 10 characters.";
    else if (fields.password.length > 128) problems.password = "Use at most 128 characters.";
    else if (new Set(fields.password).size < 5) problems.password = "Use at least 5 different characters.";
    if (email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) problems.email = "Enter a valid email address.";
    form.setErrors(problems);
    form.setFormError("");
    if (Object.keys(problems).length) return focusFirstInvalid(element);
    form.setBusy(true);
    try {
      await app.register(fields);
    } catch (error) {
      form.setBusy(false);
      if (error instanceof ApiError && error.status === 409) {
        form.setErrors({ username: "That username is taken. Try another one." });
      } else {
        const { problems: fromApi, formError } = apiProblems(error, ["username", "password", "nickname", "email"]);
        form.setErrors(fromApi);
        form.setFormError(formError);
      }
      focusFirstInvalid(element);
    }
  };
  return html`
    <form id="register-form" class="card form" novalidate aria-labelledby="register-title" aria-busy=${form.busy ? "true" : undefined} onSubmit=${onSubmit}>
      <h2 id="register-title">Create an account</h2>
      <${Field} id="register-username" label="Username" error=${form.errors.username}
        hint=${html`3–32 letters, digits, <code>_</code> <code>.</code> or <code>-</code>`}
        inputProps=${{ name: "username", required: true, autocomplete: "username", autocapitalize: "none", spellcheck: "false" }} />
      <${Field} id="register-nickname" label="Display name" optional error=${form.errors.nickname}
        inputProps=${{ name: "nickname", autocomplete: "nickname", maxlength: 40 }} />
      <${Field} id="register-email" label="Email" optional error=${form.errors.email}
        inputProps=${{ name: "email", type: "email", autocomplete: "email" }} />
      <${Field} id="register-password" label="Password" error=${form.errors.password} hint="At least 10 characters, not a common password"
        inputProps=${{ name: "password", type: "password", required: true, autocomplete: "new-password" }} />
      <p id="register-error" class="form-error" role="alert">${form.formError}</p>
      <button type="submit" class="button primary" disabled=${form.busy}>Create account</button>
    </form>
  `;
}

export function AuthView({ app }) {
  const deepLink = app.route.view !== "home";
  return html`
    <main id="main" class="auth" tabindex="-1" aria-labelledby="auth-title">
      ${app.notice ? html`<p class="banner info" role="status">${app.notice}</p>` : null}
      <div class="auth-intro">
        <h1 id="auth-title">Talk with your people, in real time.</h1>
        <p class="muted">
          ${deepLink ? "Log in to open the conversation you were sent." : "Log in, or create an account in a few seconds."}
          You stay signed in on this browser until you log out, for at most 12 hours.
        </p>
      </div>
      <div class="auth-grid">
        <${LoginForm} app=${app} />
        <${RegisterForm} app=${app} />
      </div>
    </main>
  `;
}
