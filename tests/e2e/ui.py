"""A person using the web UI in one browser context: small steps in the words of the page."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import AXE_URL_PATH
from tests.helpers.clients import Account, Api, ChatClient

PASSWORD = "correct horse battery"
# ms: what someone else does shows without a reload. Generous, as no test fails on a timing: on a loaded
# 2-core CI machine a cold container can take over a second (a 1 s bound flaked there); bench/ measures latency.
LIVE = 10_000


def unique(prefix: str) -> str:
    """A name no other test uses (the stack's database lives for the whole session)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


UNLABELLED_CONTROLS = """
() => [...document.querySelectorAll("input, textarea, select, button, a[href]")]
  .filter((el) => el.getClientRects().length > 0)   // rendered (visible or scrolled away)
  .filter((el) => {
    const name = el.getAttribute("aria-label") || [...(el.labels ?? [])].map((l) => l.textContent).join("")
      || (el.matches("button, a") ? el.textContent : "");
    return !name.trim();
  })
  .map((el) => el.outerHTML.slice(0, 120))
"""


def unlabelled_controls(page: Page) -> list[str]:
    """Rendered form controls, buttons and links that have no accessible name."""
    return list(page.evaluate(UNLABELLED_CONTROLS))


AXE_RUN = """
async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}
"""


def assert_accessible(page: Page, state: str) -> None:
    """axe-core finds no violation (WCAG 2.x A/AA and best practices) in the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url=AXE_URL_PATH)
    violations: list[dict[str, Any]] = page.evaluate(AXE_RUN)
    assert violations == [], f"axe-core violations in {state}:\n{json.dumps(violations, indent=2)}"


def seed_session(page: Page, account: Account) -> None:
    """The browser already holds the session the login form would have stored (before its first page loads).

    Seeded once per context: a later logout stays a logout, even across reloads and new tabs.
    """
    session = {"token": account.token, "user": {"id": account.user_id, "username": account.username}}
    page.context.add_init_script(
        "try { if (!localStorage.getItem('e2e.seeded')) { localStorage.setItem('e2e.seeded', '1');"
        f" localStorage.setItem('chat.session', {json.dumps(json.dumps(session))}); }} }} catch {{}}"
    )


def post_as(stack_ws_url: str, account: Account, room_id: int, *texts: str) -> list[dict[str, Any]]:
    """Messages written by someone outside the browser (over their own WebSocket); returns them, stored.

    A message answered ``not_connected`` is sent again on a new connection, as the page does (same
    clientMsgId, stored once): the backend can lose a connection whose ``$connect`` overlaps another
    user's ``$disconnect`` (see the report of the web-app branch).
    """
    client = ChatClient(stack_ws_url, account.token)
    stored: list[dict[str, Any]] = []
    try:
        for text in texts:
            client_msg_id = uuid.uuid4().hex

            def answer(frame: dict[str, Any], cid: str = client_msg_id) -> bool:
                return frame.get("type") == "error" or (
                    frame.get("type") == "message" and frame["message"].get("clientMsgId") == cid
                )

            for _attempt in range(3):
                client.send({"type": "message", "roomId": room_id, "text": text, "clientMsgId": client_msg_id})
                echo = client.wait_for(answer, what=f"the echo of {text!r}")
                if echo.get("code") != "not_connected":
                    break
                client.close()
                client = ChatClient(stack_ws_url, account.token)
            assert echo["type"] == "message", echo
            stored.append(echo["message"])
        return stored
    finally:
        client.close()


def act_as(stack_ws_url: str, account: Account, *steps: tuple[dict[str, Any], str]) -> list[dict[str, Any]]:
    """Send each frame over ``account``'s own WebSocket and wait for its answer of the given type (retrying on a
    new connection after ``not_connected``, as :func:`post_as` does); returns the answers."""
    client = ChatClient(stack_ws_url, account.token)
    answers: list[dict[str, Any]] = []
    try:
        for frame, reply in steps:

            def answer(candidate: dict[str, Any], expected: str = reply) -> bool:
                return candidate.get("type") in (expected, "error")

            for _attempt in range(3):
                client.send(frame)
                got = client.wait_for(answer, what=reply)
                if got.get("code") != "not_connected":
                    break
                client.close()
                client = ChatClient(stack_ws_url, account.token)
            assert got["type"] == reply, got
            answers.append(got)
        return answers
    finally:
        client.close()


def stored_texts(api: Api, account: Account, room_id: int) -> list[str]:
    """The texts of a room's newest messages as the server stores them (oldest first)."""
    status, body = api.call("GET", f"/groups/{room_id}/messages?limit=200", token=account.token)
    assert status == 200, body
    return [m["text"] for m in body["messages"]]


def wait_until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Person:
    page: Page
    username: str
    password: str = PASSWORD

    # ------------------------------------------------------------ signing in

    @classmethod
    def register(cls, page: Page, prefix: str, nickname: str | None = None) -> Person:
        """Create an account through the sign-in page's form; ends signed in and connected."""
        person = cls(page, unique(prefix))
        page.goto("/")
        form = page.locator("#register-form")
        form.get_by_label("Username").fill(person.username)
        if nickname:
            form.get_by_label("Display name").fill(nickname)
        form.get_by_label("Password").fill(person.password)
        form.get_by_role("button", name="Create account").click()
        person.expect_connected()
        return person

    @classmethod
    def log_in(cls, page: Page, account: Account, *, goto: str | None = "/") -> Person:
        """Log in through the form with an account made through the API (on ``goto``, or where the page is)."""
        person = cls(page, account.username, account.password)
        if goto is not None:
            page.goto(goto)
        form = page.locator("#login-form")
        form.get_by_label("Username").fill(account.username)
        form.get_by_label("Password").fill(account.password)
        form.get_by_role("button", name="Log in").click()
        person.expect_connected()
        return person

    @classmethod
    def signed_in(cls, page: Page, account: Account, *, goto: str | None = None) -> Person:
        """Already signed in, for tests about something else (see :func:`seed_session`)."""
        seed_session(page, account)
        person = cls(page, account.username, account.password)
        if goto is not None:
            page.goto(goto)
            person.expect_connected()
        return person

    # ------------------------------------------------------------ the page around

    def expect_connected(self, timeout: float = 10_000) -> None:
        expect(self.page.locator("#connection")).to_have_text("Connected", timeout=timeout)

    def sidebar(self) -> Locator:
        return self.page.get_by_role("navigation", name="Conversations")

    def conversation_link(self, name: str | re.Pattern[str]) -> Locator:
        """The sidebar's link to a conversation by its accessible name ("Design", "Design, 3 unread")."""
        exact = name if isinstance(name, re.Pattern) else re.compile(f"^{re.escape(name)}$")
        return self.sidebar().get_by_role("link", name=exact)

    def conversation_row(self, room_id: int) -> Locator:
        return self.sidebar().locator(f"li[data-room-id='{room_id}']")

    def go_home(self) -> None:
        self.page.goto("/")
        self.expect_connected()

    def create_group(self, name: str, *, private: bool = False) -> int:
        """Create a group with the sidebar's "New group"; ends in its conversation. Returns its id."""
        self.sidebar().get_by_role("link", name="New group").click()
        form = self.page.locator("#create-form")
        form.get_by_label("Group name").fill(name)
        if private:
            form.get_by_label(re.compile("^Private")).check()
        form.get_by_role("button", name="Create group").click()
        self.expect_room(name)
        return self.room_id()

    def join_from_groups(self, name: str) -> int:
        """Join a public group from the sidebar's "Browse groups"; ends in its conversation."""
        self.sidebar().get_by_role("link", name="Browse groups").click()
        self.page.locator("#public-groups").get_by_role("link", name=f"Join {name}").click()
        self.expect_room(name)
        return self.room_id()

    def open_chat_with(self, username: str, display: str | None = None) -> int:
        """Find someone with the sidebar's "Find people" and open the 1:1 chat with them."""
        self.sidebar().get_by_role("link", name="Find people").click()
        self.page.get_by_label("Find people by name").fill(username)
        row = self.page.locator(f"#people > li[data-username='{username}']")
        row.get_by_role("button", name=re.compile("^Message")).click()
        self.expect_room(display or username)
        return self.room_id()

    # ------------------------------------------------------------ the conversation

    def open_room(self, room_id: int) -> None:
        """Open a conversation by its address (a bookmark, a link); ends with its history shown."""
        self.page.goto(f"/?room={room_id}")
        self.expect_connected()
        self.expect_joined(room_id)

    def open_room_expecting_refusal(self, room_id: int) -> None:
        """Open a conversation by its address and be told it cannot be read."""
        self.page.goto(f"/?room={room_id}")
        expect(self.page.locator("#fatal")).to_contain_text("not a member")

    def expect_joined(self, room_id: int) -> None:
        expect(self.page.locator(f"main[data-room-id='{room_id}'][data-joined='true']")).to_be_attached()

    def expect_room(self, title: str) -> None:
        expect(self.page.locator("#room-title")).to_have_text(title)
        expect(self.page.locator("main[data-joined='true']")).to_be_attached()

    def room_id(self) -> int:
        match = re.search(r"[?&]room=(\d+)", self.page.url)
        assert match, self.page.url
        return int(match.group(1))

    def composer(self) -> Locator:
        return self.page.get_by_label("Message", exact=True)

    def send(self, text: str) -> None:
        """Type a message and press Enter."""
        self.composer().fill(text)
        self.composer().press("Enter")

    def message(self, text: str) -> Locator:
        """A delivered message (not one still being sent) with exactly this text."""
        return self.page.locator("#messages .message .text").filter(has_text=re.compile(f"^{re.escape(text)}$"))

    def message_item(self, text: str) -> Locator:
        """The list item of a delivered message with exactly this text."""
        exact = self.page.locator(".text").filter(has_text=re.compile(f"^{re.escape(text)}$"))
        return self.page.locator("#messages .message").filter(has=exact)

    def message_texts(self) -> list[str]:
        return self.page.locator("#messages .message .text").all_inner_texts()

    def message_ids(self) -> list[int]:
        return [int(i) for i in self.page.locator("#messages .message").evaluate_all("ns => ns.map(n => n.dataset.id)")]

    def open_details(self) -> None:
        """Show the member list beside the conversation (folded away on narrower screens)."""
        toggle = self.page.locator(".details-toggle")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        expect(self.page.locator("#details")).to_be_visible()

    def member(self, username: str) -> Locator:
        return self.page.locator(f"#members > li[data-username='{username}']")

    def expect_online(self, username: str, online: bool = True, timeout: float = 10_000) -> None:
        expect(self.member(username)).to_have_attribute("data-online", "true" if online else "false", timeout=timeout)

    def member_usernames(self) -> list[str]:
        names: list[str] = self.page.locator("#members > li").evaluate_all("ns => ns.map(n => n.dataset.username)")
        return names

    def message_actions(self, text: str) -> Locator:
        """Open the actions of a delivered message; returns the panel."""
        item = self.message_item(text)
        item.hover()
        item.get_by_role("button", name=re.compile("^Actions for the message")).click()
        panel = item.get_by_role("group", name="Message actions")
        expect(panel).to_be_visible()
        return panel

    def same_page_marker(self) -> None:
        """Mark the document: :meth:`still_same_page` tells a reload (or a new page) from in-page navigation."""
        self.page.evaluate("window.__samePage = true")

    def still_same_page(self) -> bool:
        return bool(self.page.evaluate("window.__samePage === true"))

    def sockets_opened(self) -> int:
        """How many WebSockets this page's connection has opened so far."""
        return int(self.page.evaluate("window.chatConnection.connections"))
