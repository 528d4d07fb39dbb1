"""The README's pictures, from a scripted conversation.

``UPDATE_SCREENSHOTS=1 uv run pytest tests/e2e/test_screenshots.py`` writes them to docs/screenshots/ (commit
them); otherwise the same pictures go to tests/output/screenshots/readme/, so every run still makes them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, REPO, SCREENSHOTS, OpenPage
from tests.e2e.ui import PASSWORD, Person, assert_accessible
from tests.helpers.clients import Account, Api, ChatClient
from tests.helpers.stack import StackProcess

pytestmark = pytest.mark.e2e

UPDATE = bool(os.environ.get("UPDATE_SCREENSHOTS"))
OUTPUT = REPO / "docs" / "screenshots" if UPDATE else SCREENSHOTS / "readme"

PEOPLE = {
    "ada": "Ada Lovelace",
    "grace": "Grace Hopper",
    "margaret": "Margaret Hamilton",
    "linus": "Linus",
    "ken": "Ken Thompson",
}


def emoji_font_installed() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    fonts = subprocess.run([fc_list], capture_output=True, text=True, check=False).stdout
    return "emoji" in fonts.lower()


def person(api: Api, username: str) -> Account:
    """An account with a fixed name (the e2e database is new for each run), its display name set."""
    status, body = api.call("POST", "/auth/register", {"username": username, "password": PASSWORD})
    if status == 409:  # the same run made it already (the test ran twice)
        status, body = api.call("POST", "/auth/login", {"username": username, "password": PASSWORD})
        assert status == 200, body
    else:
        assert status == 201, body
    account = Account(username, PASSWORD, body["token"], body["user"]["id"])
    status, body = api.call("PATCH", "/profile", {"nickname": PEOPLE[username]}, account.token)
    assert status == 200, body
    return account


class Script:
    """Everyone's WebSocket, to write the conversation the pictures show."""

    def __init__(self, stack: StackProcess, accounts: dict[str, Account]) -> None:
        self.clients = {name: ChatClient(stack.ws_url, account.token) for name, account in accounts.items()}
        self.count = 0

    def say(self, who: str, room_id: int, text: str, **extra: Any) -> dict[str, Any]:
        self.count += 1
        client_msg_id = f"readme-{self.count}-{os.getpid()}"
        client = self.clients[who]
        client.send({"type": "message", "roomId": room_id, "text": text, "clientMsgId": client_msg_id, **extra})
        frame = client.wait_for(
            lambda f: (
                f.get("type") == "error"
                or (f.get("type") == "message" and f["message"].get("clientMsgId") == client_msg_id)
            ),
            what=f"the echo of {text!r}",
        )
        assert frame["type"] == "message", frame
        message: dict[str, Any] = frame["message"]
        return message

    def react(self, who: str, room_id: int, message: dict[str, Any], emoji: str) -> None:
        client = self.clients[who]
        client.send({"type": "react", "roomId": room_id, "messageId": message["id"], "emoji": emoji})
        client.wait_for(
            lambda f: f.get("type") in ("reaction", "error") and f.get("messageId", message["id"]) == message["id"]
        )

    def edit(self, who: str, room_id: int, message: dict[str, Any], text: str) -> None:
        client = self.clients[who]
        client.send({"type": "edit", "roomId": room_id, "messageId": message["id"], "text": text})
        client.wait_for(lambda f: f.get("type") in ("message_edited", "error"))

    def read(self, who: str, room_id: int, message: dict[str, Any]) -> None:
        """``who`` has read ``room_id`` up to ``message`` (as their page would say)."""
        self.clients[who].send({"type": "read", "roomId": room_id, "messageId": message["id"]})

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


def group(api: Api, owner: Account, name: str, *members: Account) -> int:
    room_id = api.create_group(owner, name)
    for member in members:
        status, body = api.call("POST", f"/groups/{room_id}/members", {"username": member.username}, owner.token)
        assert status == 201, body
    return room_id


def direct(api: Api, a: Account, b: Account) -> int:
    status, body = api.call("POST", "/direct", {"username": b.username}, a.token)
    assert status == 200, body
    return int(body["id"])


def shoot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover effects in the picture
    page.screenshot(path=OUTPUT / name)


def test_the_readme_pictures(open_page: OpenPage, api: Api, stack: StackProcess) -> None:
    """The README's pictures: a group, a direct chat, dark mode and a phone, each with no axe-core violation."""
    if UPDATE and not emoji_font_installed():
        pytest.fail("The pictures show emoji: install an emoji font first (apt-get install -y fonts-noto-color-emoji)")
    accounts = {name: person(api, name) for name in PEOPLE}
    ada, grace, margaret, linus, ken = (accounts[n] for n in PEOPLE)
    design = group(api, ada, "Design review", grace, margaret, linus)
    launch = group(api, margaret, "Launch plan", ada, grace)
    random_ = group(api, grace, "Random", ada, linus, ken)
    book = group(api, ken, "Book club", ada)
    with_grace, with_linus = direct(api, ada, grace), direct(api, ada, linus)

    script = Script(stack, accounts)
    try:
        script.say("ken", book, "Next month: *The Mythical Man-Month*. Who is in?")
        script.read("ada", book, script.say("ada", book, "Count me in."))
        script.say("linus", with_linus, "The patch is in.")
        script.read("ada", with_linus, script.say("ada", with_linus, "Thanks, merging it tonight."))
        script.say("grace", design, "Morning! The new sidebar is on staging: https://staging.example.com/chat")
        sidebar = script.say("grace", design, "Unread counts, previews, and it folds away on a phone.")
        bolder = script.say("margaret", design, "Looks great. Can we make the *unread* badge a little bolder?")
        script.say("ada", design, "Sure, one line:", replyTo=bolder["id"])
        script.say("ada", design, "```\n.badge { font-weight: 800; }\n```")
        ship = script.say("linus", design, "Ship it")
        script.edit("linus", design, ship, "Ship it 🚀")
        for who, emoji in (("ada", "👍"), ("margaret", "👍"), ("linus", "🎉")):
            script.react(who, design, sidebar, emoji)
        script.react("grace", design, ship, "🔥")
        script.say("grace", with_grace, "Do you have a minute after lunch?")
        script.read("ada", with_grace, script.say("ada", with_grace, "Yes, 14:00 works."))

        page = open_page(DESKTOP)
        ada_ui = Person.signed_in(page, ada, goto=f"/?room={design}")
        ada_ui.expect_joined(design)
        ada_ui.open_details()
        # Activity elsewhere while Ada reads the design review: the sidebar counts it.
        script.say("margaret", launch, "The launch checklist is ready for review.")
        script.say("margaret", launch, "@ada _two_ items left for you: the docs and the status page.")
        script.say("grace", random_, "Cake in the kitchen 🎂")
        script.say("grace", with_grace, "Also: the release notes need your eyes.")
        script.say("margaret", design, "Agreed, and the dark mode contrast is lovely.")
        expect(ada_ui.conversation_link("Launch plan, 2 unread, 1 mention")).to_be_visible()
        expect(ada_ui.conversation_link("Random, 1 unread")).to_be_visible()
        expect(ada_ui.message("Agreed, and the dark mode contrast is lovely.")).to_be_visible()
        expect(ada_ui.conversation_row(design)).to_have_attribute("data-unread", "0")  # read as it came
        shoot(page, "desktop-group.png")

        ada_ui.conversation_row(with_grace).get_by_role("link").click()
        ada_ui.expect_joined(with_grace)
        expect(ada_ui.message("Also: the release notes need your eyes.")).to_be_visible()
        script.say("ada", with_grace, "On it, after the design review.")
        expect(ada_ui.message("On it, after the design review.")).to_be_visible()
        expect(ada_ui.conversation_row(with_grace)).to_have_attribute("data-unread", "0")
        shoot(page, "desktop-direct.png")

        dark = open_page(DESKTOP, dark=True)
        ada_dark = Person.signed_in(dark, ada, goto=f"/?room={design}")
        ada_dark.expect_joined(design)
        ada_dark.open_details()
        expect(ada_dark.message("Agreed, and the dark mode contrast is lovely.")).to_be_visible()
        assert_accessible(dark, "the README's dark picture")
        shoot(dark, "desktop-dark.png")

        phone = open_page(PHONE)
        ada_phone = Person.signed_in(phone, ada, goto=f"/?room={design}")
        ada_phone.expect_joined(design)
        expect(ada_phone.message("Agreed, and the dark mode contrast is lovely.")).to_be_in_viewport()
        shoot(phone, "phone-group.png")
        phone.get_by_role("button", name="Conversations").click()
        expect(ada_phone.conversation_link("Launch plan, 2 unread, 1 mention")).to_be_visible()
        shoot(phone, "phone-sidebar.png")
    finally:
        script.close()
    for name in ("desktop-group.png", "desktop-direct.png", "desktop-dark.png", "phone-group.png", "phone-sidebar.png"):
        assert (OUTPUT / name).stat().st_size > 10_000, name


def test_the_readme_shows_the_committed_pictures() -> None:
    """Every picture the README shows is committed under docs/screenshots/ (so it renders on GitHub)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"docs/screenshots/([\w.-]+\.png)", readme))
    assert len(shown) >= 4, shown
    missing = [name for name in sorted(shown) if not (REPO / "docs" / "screenshots" / name).is_file()]
    assert missing == []
