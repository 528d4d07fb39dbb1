"""A person using the web UI in one browser context: small steps in the words of the page."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

from playwright.sync_api import Locator, Page, expect

from tests.helpers.clients import Account

PASSWORD = "correct horse battery"


def unique(prefix: str) -> str:
    """A username no other test uses (the stack's database lives for the whole session)."""
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


@dataclass
class Person:
    page: Page
    username: str
    password: str = PASSWORD

    # ------------------------------------------------------------ signing in

    @classmethod
    def register(cls, page: Page, prefix: str, nickname: str | None = None) -> Person:
        """Create an account through the home page's form; ends on the signed-in home page."""
        person = cls(page, unique(prefix))
        page.goto("/")
        form = page.locator("#register-form")
        form.get_by_label("Username").fill(person.username)
        if nickname:
            form.get_by_label("Display name").fill(nickname)
        form.get_by_label("Password").fill(person.password)
        form.get_by_role("button", name="Create account").click()
        person.expect_home()
        return person

    @classmethod
    def log_in(cls, page: Page, account: Account) -> Person:
        """Log in through the home page's form with an account made through the API."""
        person = cls(page, account.username, account.password)
        page.goto("/")
        form = page.locator("#login-form")
        form.get_by_label("Username").fill(account.username)
        form.get_by_label("Password").fill(account.password)
        form.get_by_role("button", name="Log in").click()
        person.expect_home()
        return person

    @classmethod
    def signed_in(cls, page: Page, account: Account) -> Person:
        """Already signed in, for tests about something else: the tab holds the session the login form
        would have stored (it is in place before the first page of the context loads)."""
        session = {"token": account.token, "user": {"id": account.user_id, "username": account.username}}
        page.context.add_init_script(
            "try { if (!sessionStorage.getItem('chat.session'))"
            f" sessionStorage.setItem('chat.session', {json.dumps(json.dumps(session))}); }} catch {{}}"
        )
        return cls(page, account.username, account.password)

    # ------------------------------------------------------------ home page

    def expect_home(self) -> None:
        expect(self.page.locator("#dashboard[data-loaded=true]")).to_be_visible()

    def go_home(self) -> None:
        self.page.goto("/")
        self.expect_home()

    def group_row(self, name: str) -> Locator:
        return self.page.locator(f"#my-groups > li[data-name='{name}']")

    def direct_row(self, username: str) -> Locator:
        return self.page.locator(f"#direct-chats > li[data-username='{username}']")

    def create_group(self, name: str, *, private: bool = False) -> int:
        """Create a group from the home page; ends in its chat, connected. Returns its id."""
        form = self.page.locator("#create-form")
        form.get_by_label("Group name").fill(name)
        if private:
            form.get_by_label(re.compile("^Private")).check()
        form.get_by_role("button", name="Create group").click()
        self.expect_connected()
        return self.room_id()

    def join_from_home(self, name: str) -> int:
        """Join a public group from the home page's list; ends in its chat, connected."""
        self.page.locator("#public-groups").get_by_role("link", name=f"Join {name}").click()
        self.expect_connected()
        return self.room_id()

    def open_chat_with(self, username: str) -> int:
        """Find someone in the people list and open the 1:1 chat with them."""
        self.page.get_by_label("Find people by name").fill(username)
        row = self.page.locator(f"#people > li[data-username='{username}']")
        row.get_by_role("button", name=re.compile("^Message")).click()
        self.expect_connected()
        return self.room_id()

    # ------------------------------------------------------------ chat page

    def open_room(self, room_id: int) -> None:
        self.page.goto(f"/chat.html?room={room_id}")
        self.expect_connected()

    def room_id(self) -> int:
        match = re.search(r"[?&]room=(\d+)", self.page.url)
        assert match, self.page.url
        return int(match.group(1))

    def expect_connected(self, timeout: float = 10_000) -> None:
        expect(self.page.locator("#connection")).to_have_text("Connected", timeout=timeout)

    def send(self, text: str) -> None:
        """Type a message and press Enter."""
        self.page.get_by_label("Message", exact=True).fill(text)
        self.page.get_by_label("Message", exact=True).press("Enter")

    def message(self, text: str) -> Locator:
        """A delivered message (not one still being sent) with exactly this text."""
        return self.page.locator("#messages .message .text").filter(has_text=re.compile(f"^{re.escape(text)}$"))

    def message_texts(self) -> list[str]:
        return self.page.locator("#messages .message .text").all_inner_texts()

    def message_ids(self) -> list[int]:
        return [int(i) for i in self.page.locator("#messages .message").evaluate_all("ns => ns.map(n => n.dataset.id)")]

    def member(self, username: str) -> Locator:
        return self.page.locator(f"#members > li[data-username='{username}']")

    def expect_online(self, username: str, online: bool = True, timeout: float = 10_000) -> None:
        expect(self.member(username)).to_have_attribute("data-online", "true" if online else "false", timeout=timeout)

    def member_usernames(self) -> list[str]:
        names: list[str] = self.page.locator("#members > li").evaluate_all("ns => ns.map(n => n.dataset.username)")
        return names

    def leave(self) -> None:
        """The Leave button: back on the home page."""
        self.page.get_by_role("button", name="Leave").click()
        self.page.wait_for_url(re.compile(r"/(index\.html)?$"))
        self.expect_home()
