"""axe-core on the page states the other tests do not check, in the dark colour scheme, and the keyboard alone.

The other browser tests check their own states as they reach them (the sign-in page, the home page, group and
direct conversations, the member list with suggestions, group settings, the profile, access denied, a removed
member's page, the phone layout); this one walks the rest in dark mode, where every colour is different.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, OpenPage
from tests.e2e.ui import Person, assert_accessible, post_as, unique
from tests.helpers.clients import Api
from tests.helpers.stack import StackProcess

pytestmark = pytest.mark.e2e


def test_every_view_in_dark_mode_has_no_axe_violation(open_page: OpenPage, api: Api, stack: StackProcess) -> None:
    """Every view, a message's actions and editor, details and the phone drawer pass axe-core in dark mode."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    status, body = api.call("PATCH", "/profile", {"nickname": "Bob"}, bob_account.token)
    assert status == 200, body
    group = unique("Dark")
    room_id = api.create_group(alice_account, group)
    status, body = api.call(
        "POST", f"/groups/{room_id}/members", {"username": bob_account.username}, alice_account.token
    )
    assert status == 201, body
    post_as(
        stack.ws_url,
        bob_account,
        room_id,
        "Morning! *bold*, _italic_, `code` and https://example.com",
        "```\nmake test\n```",
        f"@{alice_account.username} can you look?",
    )

    page = open_page(dark=True)
    page.goto("/")
    expect(page.locator("#login-form")).to_be_visible()
    assert_accessible(page, "the sign-in page (dark)")
    alice = Person.log_in(page, alice_account, goto=None)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Hello"))
    assert_accessible(page, "the home page (dark)")

    for link, heading in (("New group", "New group"), ("Browse groups", "Groups"), ("Find people", "People")):
        alice.sidebar().get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        if link == "Find people":
            expect(page.locator("#people > li").first).to_be_visible()
        assert_accessible(page, f"the {heading} view (dark)")

    page.get_by_label("Search messages").fill("morning")
    page.get_by_label("Search messages").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search: morning")
    expect(page.locator("#search-status")).not_to_have_text("Searching…")
    assert_accessible(page, "the search results (dark)")

    page.get_by_role("link", name=re.compile("^Your profile")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")
    assert_accessible(page, "the profile page (dark)")

    alice.conversation_row(room_id).get_by_role("link").click()
    alice.expect_joined(room_id)
    expect(alice.page.locator("#messages .message")).to_have_count(3)
    alice.open_details()
    assert_accessible(page, "a conversation with formatting, a mention and its members (dark)")
    alice.send("On it")
    alice.message_actions("On it")
    assert_accessible(page, "a message's actions (dark)")
    alice.message_item("On it").get_by_role("button", name="Edit").click()
    expect(page.get_by_label("Edit message")).to_be_focused()
    assert_accessible(page, "a message being edited (dark)")
    page.keyboard.press("Escape")
    expect(page.get_by_label("Edit message")).to_have_count(0)

    phone = open_page(PHONE, dark=True)
    Person.signed_in(phone, alice_account, goto=f"/?room={room_id}")
    phone.get_by_role("button", name="Conversations").click()
    expect(phone.get_by_role("navigation", name="Conversations")).to_be_visible()
    assert_accessible(phone, "the phone drawer (dark)")


def test_the_keyboard_alone_reaches_a_conversation_writes_and_starts_a_reply(
    open_page: OpenPage, api: Api, stack: StackProcess
) -> None:
    """With the keyboard only: the sidebar, a conversation, the skip link, writing, a message's actions and a reply."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    group = unique("Keys")
    room_id = api.create_group(alice_account, group)
    status, body = api.call(
        "POST", f"/groups/{room_id}/members", {"username": bob_account.username}, alice_account.token
    )
    assert status == 201, body
    status, body = api.call("PATCH", "/profile", {"nickname": "Bob"}, bob_account.token)
    assert status == 200, body
    post_as(stack.ws_url, bob_account, room_id, "Anyone there?")
    alice = Person.signed_in(open_page(), alice_account, goto="/")
    page = alice.page
    expect(alice.conversation_link(f"{group}, 1 unread")).to_be_visible()

    # The sidebar's conversation link is reached with Tab and opened with Enter.
    link = alice.conversation_link(f"{group}, 1 unread")
    for _ in range(40):
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement"):
            break
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    alice.expect_joined(room_id)
    expect(link.or_(alice.conversation_link(group))).to_be_focused()  # focus stays in the sidebar

    # The skip link (the first stop of the page) leads to the message box.
    page.reload()
    alice.expect_joined(room_id)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the message box")).to_be_focused()
    page.keyboard.press("Enter")
    expect(alice.composer()).to_be_focused()
    page.keyboard.type("Here!")
    page.keyboard.press("Enter")
    expect(alice.message("Here!")).to_be_visible()

    # A message's actions: reply, then react, all from the keyboard.
    item = alice.message_item("Anyone there?")
    actions = item.get_by_role("button", name=re.compile("^Actions for the message"))
    actions.focus()
    page.keyboard.press("Enter")
    expect(item.get_by_role("button", name="React with thumbs up")).to_be_focused()
    page.keyboard.press("Escape")
    expect(actions).to_be_focused()
    page.keyboard.press("Enter")
    reply = item.get_by_role("button", name="Reply")
    for _ in range(20):
        page.keyboard.press("Tab")
        if reply.evaluate("el => el === document.activeElement"):
            break
    page.keyboard.press("Enter")
    expect(alice.composer()).to_be_focused()
    expect(page.locator("#replying")).to_contain_text("Replying to Bob")
    page.keyboard.press("Escape")
    expect(page.locator("#replying")).to_have_count(0)


def test_confirmations_take_the_focus_and_give_it_back(open_page: OpenPage, api: Api) -> None:
    """Asking to leave, remove or delete moves the focus to the confirming button; Escape or Cancel gives it back."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("confirm"))
    status, body = api.call(
        "POST", f"/groups/{room_id}/members", {"username": bob_account.username}, alice_account.token
    )
    assert status == 201, body
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    bob.open_details()
    leave = bob.page.get_by_role("button", name="Leave group")
    leave.focus()
    bob.page.keyboard.press("Enter")
    expect(bob.page.get_by_role("button", name="Leave", exact=True)).to_be_focused()
    bob.page.keyboard.press("Escape")
    expect(leave).to_be_focused()

    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    alice.open_details()
    remove = alice.member(bob_account.username).get_by_role("button", name=f"Remove {bob_account.username}")
    remove.focus()
    alice.page.keyboard.press("Enter")
    expect(alice.member(bob_account.username).get_by_role("button", name="Remove", exact=True)).to_be_focused()
    alice.page.keyboard.press("Tab")
    alice.page.keyboard.press("Enter")  # Cancel
    expect(remove).to_be_focused()
