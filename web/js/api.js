// The REST API client. Errors arrive as {statusCode, message, errors?: [{field, message}]}.

export class ApiError extends Error {
  constructor(status, message, fieldErrors = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    /** [{field, message}] from a 422 answer. */
    this.fieldErrors = fieldErrors;
  }
}

export class Api {
  /** @param {string} baseUrl e.g. http://127.0.0.1:8080/api  @param {() => string|null} getToken */
  constructor(baseUrl, getToken = () => null, onUnauthorized = () => {}) {
    this.baseUrl = baseUrl;
    this.getToken = getToken;
    /** Called when a signed-in request answers 401: the token expired or the account is gone. */
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const token = this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "Cannot reach the server. Check your connection and try again.");
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const message = (data && typeof data.message === "string" && data.message) || `Request failed (HTTP ${response.status})`;
      const fieldErrors = Array.isArray(data?.errors) ? data.errors : [];
      if (response.status === 401 && token) this.onUnauthorized();
      throw new ApiError(response.status, message, fieldErrors);
    }
    return data;
  }

  register(fields) {
    return this.request("POST", "/auth/register", fields);
  }
  login(username, password) {
    return this.request("POST", "/auth/login", { username, password });
  }
  profile() {
    return this.request("GET", "/profile");
  }
  updateProfile(changes) {
    return this.request("PATCH", "/profile", changes);
  }
  /** One page of groups ({groups, next}); `mine` for the caller's own only, `cursor` = the previous page's next. */
  groups({ mine = false, cursor = null, limit = 100 } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (mine) query.set("mine", "true");
    if (cursor) query.set("cursor", cursor);
    return this.request("GET", `/groups?${query}`);
  }
  createGroup(name, isPrivate) {
    return this.request("POST", "/groups", { name, private: isPrivate });
  }
  group(id) {
    return this.request("GET", `/groups/${encodeURIComponent(id)}`);
  }
  addMember(groupId, username) {
    return this.request("POST", `/groups/${encodeURIComponent(groupId)}/members`, { username });
  }
  removeMember(groupId, username) {
    return this.request("DELETE", `/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(username)}`);
  }
  /** One page of direct chats ({chats, next}), most recently active first. */
  directChats({ cursor = null, limit = 100 } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    return this.request("GET", `/direct?${query}`);
  }
  openDirect(username) {
    return this.request("POST", "/direct", { username });
  }
  searchPeople(q, { limit = 20, offset = 0 } = {}) {
    const query = new URLSearchParams({ q, limit: String(limit), offset: String(offset) });
    return this.request("GET", `/nicknames?${query}`);
  }
  /** One page of the sidebar ({conversations, next}), most recent activity first. */
  conversations({ cursor = null } = {}) {
    const query = new URLSearchParams();
    if (cursor) query.set("cursor", cursor);
    const suffix = query.size ? `?${query}` : "";
    return this.request("GET", `/conversations${suffix}`);
  }
  groupMembers(groupId, { cursor = null } = {}) {
    const query = new URLSearchParams();
    if (cursor) query.set("cursor", cursor);
    const suffix = query.size ? `?${query}` : "";
    return this.request("GET", `/groups/${encodeURIComponent(groupId)}/members${suffix}`);
  }
  /** {name?, description?} (owner only). */
  updateGroup(groupId, changes) {
    return this.request("PATCH", `/groups/${encodeURIComponent(groupId)}`, changes);
  }
  deleteGroup(groupId) {
    return this.request("DELETE", `/groups/${encodeURIComponent(groupId)}`);
  }
  transferGroup(groupId, username) {
    return this.request("POST", `/groups/${encodeURIComponent(groupId)}/owner`, { username });
  }
  /** {id, upload: {url, fields}}: a presigned S3 POST for one file. */
  createAttachment(roomId, { name, size, type }) {
    return this.request("POST", `/rooms/${encodeURIComponent(roomId)}/attachments`, { name, size, type });
  }
  /** {url, expiresAt}: a presigned GET, valid a few minutes. */
  attachment(id) {
    return this.request("GET", `/attachments/${encodeURIComponent(id)}`);
  }
  /** One page of message search results ({results: [{message, room}], next}); `before` = the previous page's next. */
  search(q, { roomId = null, before = null } = {}) {
    const query = new URLSearchParams({ q });
    if (roomId) query.set("roomId", String(roomId));
    if (before) query.set("before", before);
    return this.request("GET", `/search?${query}`);
  }
}

/** Post a file straight to S3 with a presigned POST ({url, fields}); rejects with an ApiError. */
export async function uploadToS3(upload, file) {
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields ?? {})) form.append(name, value);
  form.append("file", file);
  let response;
  try {
    response = await fetch(upload.url, { method: "POST", body: form });
  } catch {
    throw new ApiError(0, "The upload could not reach the storage service.");
  }
  if (!response.ok) throw new ApiError(response.status, `The upload was refused (HTTP ${response.status}).`);
}
