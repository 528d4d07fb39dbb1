"""One app, one connection: the sidebar's live unread counts, presence from any page, staying signed in
across tabs, and messages that survive an outage and a reload."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from chat_local.postgres import EmbeddedPostgres
from playwright.sync_api import Dialog, expect

from tests.e2e.conftest import OpenPage
from tests.e2e.ui import LIVE, Person, assert_accessible, post_as, stored_texts, unique, wait_until
from tests.helpers.clients import Api
from tests.helpers.stack import StackProcess

pytestmark = pytest.mark.e2e


def test_activity_elsewhere_shows_live_in_every_tab_and_reading_clears_it(
    open_page: OpenPage, api: Api, screenshots: Path
) -> None:
    """Words in room B show unread in all of Bob's tabs within a second, announced once; reading clears all."""
    alice, bob = api.register("alice"), api.register("bob")
    room_a, room_b = unique("Alpha"), unique("Beta")
    a_id, b_id = api.create_group(alice, room_a), api.create_group(alice, room_b)
    for room_id in (a_id, b_id):
        status, body = api.call("POST", f"/groups/{room_id}/members", {"username": bob.username}, alice.token)
        assert status == 201, body
    writer = Person.signed_in(open_page(), alice, goto=f"/?room={b_id}")
    writer.expect_joined(b_id)
    reader = Person.signed_in(open_page(), bob)
    reader.open_room(a_id)
    reader.same_page_marker()
    other_tab = Person(reader.page.context.new_page(), bob.username)
    other_tab.go_home()
    expect(reader.conversation_link(room_b)).to_be_visible()

    writer.send("Are the mock-ups ready?")
    expect(reader.conversation_link(f"{room_b}, 1 unread")).to_be_visible(timeout=LIVE)
    expect(other_tab.conversation_link(f"{room_b}, 1 unread")).to_be_visible(timeout=LIVE)
    preview = reader.conversation_row(b_id).locator(".preview")
    expect(preview).to_have_text(f"{alice.username}: Are the mock-ups ready?")
    expect(reader.conversation_link(f"{room_b}, 1 unread")).to_have_accessible_description(
        f"{alice.username}: Are the mock-ups ready?"
    )
    writer.send("I need them by noon")
    expect(reader.conversation_link(f"{room_b}, 2 unread")).to_be_visible(timeout=LIVE)
    # The most recently active conversation comes first.
    expect(reader.sidebar().locator("li[data-room-id]").first).to_have_attribute("data-room-id", str(b_id))
    # Announced politely, once for the room, not once per message.
    announcements = reader.page.locator("#announcer p")
    expect(announcements.filter(has_text=room_b)).to_have_count(1)
    expect(announcements.filter(has_text=room_b)).to_have_text(f"New message in {room_b} from {alice.username}")
    expect(reader.page).to_have_title(re.compile(r"^\(2\) "))
    assert_accessible(reader.page, "a conversation with unread activity elsewhere")
    reader.page.screenshot(path=screenshots / "sidebar-unread.png")

    reader.conversation_link(f"{room_b}, 2 unread").click()
    reader.expect_room(room_b)
    expect(reader.message("I need them by noon")).to_be_visible()
    expect(reader.conversation_link(room_b)).to_be_visible()  # no count any more
    expect(other_tab.conversation_link(room_b)).to_be_visible(timeout=LIVE)  # cleared in the other tab too
    # Switching conversations neither reloaded the page nor opened another WebSocket.
    assert reader.still_same_page()
    assert reader.sockets_opened() == 1
    assert other_tab.sockets_opened() == 1
    # New messages in the open room are read out politely.
    writer.send("Thanks!")
    expect(reader.message("Thanks!")).to_be_visible(timeout=LIVE)
    expect(announcements.last).to_have_text(f"{alice.username}: Thanks!")
    expect(reader.conversation_link(room_b)).to_be_visible()  # read as it arrived: not unread


def test_a_home_page_tab_is_enough_to_be_online_in_every_room(open_page: OpenPage, api: Api) -> None:
    """Bob has only the home page open: Alice sees him online in both their rooms; closing it shows him offline."""
    alice, bob = api.register("alice"), api.register("bob")
    rooms = [api.create_group(alice, unique("presence")) for _ in range(2)]
    for room_id in rooms:
        status, body = api.call("POST", f"/groups/{room_id}/members", {"username": bob.username}, alice.token)
        assert status == 201, body
    watcher = Person.signed_in(open_page(), alice)
    watcher.open_room(rooms[0])
    watcher.open_details()
    watcher.expect_online(bob.username, online=False)

    bob_page = open_page()
    Person.signed_in(bob_page, bob, goto="/")
    watcher.expect_online(bob.username, timeout=LIVE)
    watcher.conversation_row(rooms[1]).get_by_role("link").click()
    watcher.expect_joined(rooms[1])
    watcher.expect_online(bob.username)

    bob_page.close()
    watcher.expect_online(bob.username, online=False)
    watcher.conversation_row(rooms[0]).get_by_role("link").click()
    watcher.expect_joined(rooms[0])
    watcher.expect_online(bob.username, online=False)


def test_a_new_tab_stays_signed_in_and_logging_out_signs_out_every_tab(open_page: OpenPage, api: Api) -> None:
    """Deep links survive the login, a new tab is signed in on its conversation, and logout signs out every tab."""
    alice = api.register("alice")
    group = unique("Bookmarks")
    room_id = api.create_group(alice, group)

    # Signed out, a link to the conversation asks for the login, then opens the conversation.
    first = open_page()
    first.goto(f"/?room={room_id}")
    expect(first.locator("#login-form")).to_be_visible()
    assert_accessible(first, "the sign-in page")
    person = Person.log_in(first, alice, goto=None)
    person.expect_room(group)
    assert person.room_id() == room_id

    second = Person(first.context.new_page(), alice.username)
    second.open_room(room_id)
    second.expect_room(group)

    person.page.get_by_role("button", name="Log out").click()
    expect(person.page.locator("#login-form")).to_be_visible()
    expect(second.page.locator("#login-form")).to_be_visible()
    expect(second.page.locator(".banner.info")).to_have_text("You logged out in another tab.")
    assert second.page.evaluate("localStorage.getItem('chat.session')") is None
    second.page.reload()
    expect(second.page.locator("#login-form")).to_be_visible()  # and it stays that way


def test_a_message_typed_during_an_outage_survives_a_reload_and_is_delivered_once(
    open_page: OpenPage, api: Api, stack: StackProcess, pg_server: EmbeddedPostgres
) -> None:
    """Typed while the server is down, kept through a warned reload and Retry now, delivered once when it is back."""
    alice, bob = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice, unique("outage"))
    status, body = api.call("POST", f"/groups/{room_id}/members", {"username": bob.username}, alice.token)
    assert status == 201, body
    person = Person.signed_in(open_page(), alice)
    person.open_room(room_id)
    pending = person.page.locator("#pending .message")
    dialogs: list[str] = []

    def answer(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    person.page.on("dialog", answer)
    pg_server.stop()
    try:
        person.send("written during the outage")
        expect(pending.locator(".text")).to_have_text("written during the outage")
        person.page.reload()  # leaving with an unsent message asks first
        assert dialogs == ["beforeunload"]
        # The page still loads (the site is up), the server is not: the message is still there, waiting.
        expect(person.page.locator("#connection")).to_have_text("Reconnecting…")
        expect(pending.locator(".text")).to_have_text("written during the outage")
        expect(pending.locator(".status")).to_have_text("Waiting for connection…")
        attempts = person.sockets_opened()
        person.page.get_by_role("button", name="Retry now").click()  # ends the wait, fails again
        wait_until(lambda: person.sockets_opened() > attempts, what="an attempt right after Retry now")
    finally:
        pg_server.start()
    person.page.get_by_role("button", name="Retry now").click()
    person.expect_connected()
    expect(person.message("written during the outage")).to_have_count(1)
    expect(pending).to_have_count(0)
    post_as(stack.ws_url, bob, room_id, "marker after the outage")  # anything sent twice would come before it
    expect(person.message("marker after the outage")).to_be_visible()
    assert person.message_texts() == ["written during the outage", "marker after the outage"]
    assert stored_texts(api, alice, room_id) == ["written during the outage", "marker after the outage"]
    assert person.page.evaluate("localStorage.getItem('chat.outbox.' + window.chat.me.id)") == "[]"


def test_a_draft_and_an_unsent_message_survive_navigation_and_a_browser_restart(
    open_page: OpenPage, api: Api, stack: StackProcess
) -> None:
    """A draft survives navigation; it and a message written offline survive a browser restart; sent once."""
    alice = api.register("alice")
    room_id = api.create_group(alice, unique("restart"))
    other_id = api.create_group(alice, unique("elsewhere"))
    person = Person.signed_in(open_page(), alice)
    person.open_room(room_id)
    person.composer().fill("half a thought")
    person.conversation_row(other_id).get_by_role("link").click()
    person.expect_joined(other_id)
    expect(person.composer()).to_have_value("")
    person.conversation_row(room_id).get_by_role("link").click()
    person.expect_joined(room_id)
    expect(person.composer()).to_have_value("half a thought")

    person.page.context.set_offline(True)
    expect(person.page.locator("#connection")).to_have_text("Offline")
    person.composer().fill("sent from the train")
    person.composer().press("Enter")
    person.composer().fill("the rest of the thought")
    expect(person.page.locator("#pending .message .text")).to_have_text("sent from the train")
    draft_key = f"chat.draft.{alice.user_id}.{room_id}"
    wait_until(
        lambda: person.page.evaluate("(key) => localStorage.getItem(key)", draft_key) == "the rest of the thought",
        what="the draft kept",
    )
    kept = person.page.context.storage_state()
    person.page.context.close()  # the browser is closed while offline

    again = Person(open_page(storage_state=kept), alice.username)
    again.open_room(room_id)  # signed in without a login
    expect(again.message("sent from the train")).to_have_count(1)
    expect(again.composer()).to_have_value("the rest of the thought")
    post_as(stack.ws_url, alice, room_id, "marker")
    expect(again.message("marker")).to_be_visible()
    assert stored_texts(api, alice, room_id) == ["sent from the train", "marker"]
