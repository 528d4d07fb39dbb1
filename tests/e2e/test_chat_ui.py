"""The web UI in headless Chromium: two people, two browser contexts, the real local stack behind them."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, OpenPage
from tests.e2e.ui import Person, unique, unlabelled_controls
from tests.helpers.clients import Api, ChatClient, local_connections
from tests.helpers.stack import StackProcess

pytestmark = pytest.mark.e2e

LIVE = 1_000  # ms: a message must reach the other person within a second


def open_connections(stack: StackProcess) -> set[str]:
    """The ids of the stack's open connections: a page's is found by elimination (the one that is new)."""
    return {c["connectionId"] for c in local_connections(stack.url)}


def test_two_people_chat_live_in_a_group(open_page: OpenPage, screenshots: Path) -> None:
    """Both register, one creates a group, the other joins from home; messages and presence reach each other live."""
    alice = Person.register(open_page(), "alice", nickname="Alice")
    bob = Person.register(open_page(), "bob", nickname="Bob")
    group = unique("Design")
    alice.create_group(group)

    bob.go_home()
    expect(bob.page.locator("#public-groups > li", has_text=group)).to_be_visible()
    bob.join_from_home(group)

    for person in (alice, bob):
        person.expect_online(alice.username)
        person.expect_online(bob.username)
    expect(alice.page.locator("#room-title")).to_have_text(group)

    bob.send("Hi Alice, glad to be here")
    expect(alice.message("Hi Alice, glad to be here")).to_be_visible(timeout=LIVE)
    alice.send("Welcome, Bob!")
    expect(bob.message("Welcome, Bob!")).to_be_visible(timeout=LIVE)
    # Sender names and own messages set apart.
    expect(alice.page.locator("#messages .message:not(.mine) .sender")).to_have_text(["Bob"])
    expect(alice.page.locator("#messages .message.mine .text")).to_have_text(["Welcome, Bob!"])
    alice.page.screenshot(path=screenshots / "chat-desktop.png")

    bob.leave()
    expect(bob.group_row(group)).to_be_visible()  # still a member, back on the home page
    alice.expect_online(bob.username, online=False)
    alice.expect_online(alice.username)


def test_one_to_one_chat_from_the_people_list(open_page: OpenPage, api: Api) -> None:
    """Alice finds Bob in the people list and chats with him 1:1; he sees it unread, reads it, she sees Seen."""
    alice = Person.log_in(open_page(), api.register("alice"))
    bob = Person.log_in(open_page(), api.register("bob"))

    room_id = alice.open_chat_with(bob.username)
    expect(alice.page.locator("#room-title")).to_have_text(bob.username)
    expect(alice.page.locator("#room-subtitle")).to_contain_text("Direct message")
    alice.send("Lunch at noon?")
    expect(alice.message("Lunch at noon?")).to_be_visible()

    bob.go_home()
    row = bob.direct_row(alice.username)
    expect(row.locator(".badge")).to_have_attribute("data-unread", "1")
    row.get_by_role("link").click()
    bob.expect_connected()
    assert bob.room_id() == room_id  # the same room from either side
    expect(bob.message("Lunch at noon?")).to_be_visible()
    expect(alice.page.locator(".message.mine .status.seen")).to_have_text("Seen")

    bob.page.get_by_label("Message", exact=True).press_sequentially("Sure", delay=20)
    expect(alice.page.locator("#typing")).to_have_text(f"{bob.username} is typing…", timeout=3_000)
    bob.page.get_by_label("Message", exact=True).press("Enter")
    expect(alice.message("Sure")).to_be_visible(timeout=LIVE)
    expect(alice.page.locator("#typing")).to_have_text("")  # their message ends the indicator
    expect(alice.page.locator(".message.mine .status.seen")).to_have_count(1)


def test_reconnects_by_itself_and_shows_missed_messages_once(
    open_page: OpenPage, api: Api, stack: StackProcess
) -> None:
    """Server closes Alice's socket; Bob sends three while she is away; she reconnects, shows each once, in order."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("reconnect"))
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    bob.send("before the cut")
    alice = Person.signed_in(open_page(), alice_account)
    before = open_connections(stack)
    alice.open_room(room_id)
    expect(alice.message("before the cut")).to_be_visible()
    (alice_connection,) = open_connections(stack) - before
    alice.page.evaluate("window.samePage = true")  # gone if anything reloaded the page

    # Alice's network goes away for a while (new connections fail; the open one is untouched by the
    # emulation), and API Gateway closes her connection, as after its 2-hour limit.
    alice.page.context.set_offline(True)
    stack.management().delete_connection(ConnectionId=alice_connection)
    expect(alice.page.locator("#connection")).to_have_text(re.compile("Reconnecting|Disconnected"))
    bob.expect_online(alice.username, online=False)
    missed = ["missed one", "missed two", "missed three"]
    for text in missed:
        bob.send(text)
        expect(bob.message(text)).to_be_visible()
    assert alice.message_texts() == ["before the cut"]

    alice.page.context.set_offline(False)
    alice.expect_connected(timeout=15_000)
    for text in missed:
        expect(alice.message(text)).to_have_count(1)
    assert alice.message_texts() == ["before the cut", *missed]
    ids = alice.message_ids()
    assert ids == sorted(set(ids))
    assert alice.page.evaluate("window.samePage") is True  # the client reconnected, not a reload
    bob.expect_online(alice.username)


def test_a_message_written_offline_is_sent_once_when_back(open_page: OpenPage, api: Api, stack: StackProcess) -> None:
    """Written while the network is down, a message waits visibly, then goes out after the reconnect, once."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("offline"))
    alice, bob = Person.signed_in(open_page(), alice_account), Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    before = open_connections(stack)
    alice.open_room(room_id)
    (alice_connection,) = open_connections(stack) - before

    # The network goes: the connection vanishes without a close handshake and nothing gets through.
    alice.page.context.set_offline(True)
    status, _ = Api(stack.url).call("POST", f"/_local/connections/{quote(alice_connection, safe='')}/drop")
    assert status == 204
    expect(alice.page.locator("#connection")).to_have_text(re.compile("Reconnecting|Disconnected"))
    alice.send("written on the train")
    expect(alice.page.locator("#pending .message .status")).to_have_text("Waiting for connection…")
    alice.page.context.set_offline(False)

    alice.expect_connected()
    expect(bob.message("written on the train")).to_have_count(1)
    expect(alice.message("written on the train")).to_have_count(1)
    expect(alice.page.locator("#pending .message")).to_have_count(0)
    bob.page.wait_for_timeout(500)  # a duplicate would arrive right behind the first
    assert bob.message_texts() == ["written on the train"]


def test_markup_in_a_message_is_shown_as_text(open_page: OpenPage, api: Api) -> None:
    """A message that looks like HTML is displayed literally and runs nothing, for sender and receiver."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("xss"))
    alice, bob = Person.signed_in(open_page(), alice_account), Person.signed_in(open_page(), bob_account)
    alice.open_room(room_id)
    bob.open_room(room_id)
    payload = '<img src=x onerror="window.__xss=1">'

    bob.send(payload)

    for person in (alice, bob):
        expect(person.message(payload)).to_be_visible()
        assert person.page.locator("#messages img").count() == 0
        assert person.page.evaluate("window.__xss") is None
    alice.page.reload()  # history is rendered the same way
    alice.expect_connected()
    expect(alice.message(payload)).to_be_visible()
    assert alice.page.evaluate("window.__xss") is None


def test_two_people_with_one_nickname_are_told_apart_by_username(
    open_page: OpenPage, api: Api, stack: StackProcess, screenshots: Path
) -> None:
    """Two members nicknamed "Alex": each message header and member row shows (and titles) the @username."""
    carol_account, ann, max_ = api.register("carol"), api.register("ann"), api.register("max")
    for account in (ann, max_):
        status, body = api.call("PATCH", "/profile", {"nickname": "Alex"}, account.token)
        assert status == 200, body
    room_id = api.create_group(carol_account, unique("alexes"))
    for account, text in ((ann, "hi, Alex here"), (max_, "hi, Alex here too")):
        client = ChatClient(stack.ws_url, account.token)
        try:
            client.request({"type": "join", "roomId": room_id}, "joined")
            client.request({"type": "message", "roomId": room_id, "text": text}, "message")
        finally:
            client.close()

    carol = Person.signed_in(open_page(), carol_account)
    carol.open_room(room_id)

    for account, text in ((ann, "hi, Alex here"), (max_, "hi, Alex here too")):
        message = carol.page.locator(f"#messages .message[data-sender='{account.username}']")
        expect(message.locator(".text")).to_have_text(text)
        expect(message.locator(".sender")).to_have_text("Alex")
        expect(message.locator(".sender")).to_have_attribute("title", f"@{account.username}")
        expect(message.locator(".handle")).to_have_text(f"@{account.username}")
        member = carol.member(account.username)
        expect(member.locator(".member-name")).to_have_text("Alex")
        expect(member.locator(".member-name")).to_have_attribute("title", f"@{account.username}")
        expect(member.locator(".handle")).to_have_text(f"@{account.username}")
    handles = carol.page.locator("#messages .message .handle").all_inner_texts()
    assert handles == [f"@{ann.username}", f"@{max_.username}"]
    # Without a nickname the name shown is the username itself: no second copy of it.
    expect(carol.member(carol_account.username).locator(".handle")).to_have_count(0)
    carol.page.screenshot(path=str(screenshots / "same-nickname.png"))


def test_refresh_shows_history_and_no_duplicate_member(open_page: OpenPage, api: Api) -> None:
    """Reloading the chat page shows the history once and each member once, still online."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("refresh"))
    alice, bob = Person.signed_in(open_page(), alice_account), Person.signed_in(open_page(), bob_account)
    alice.open_room(room_id)
    bob.open_room(room_id)
    for text in ("one", "two", "three"):
        alice.send(text)
    expect(bob.message("three")).to_be_visible()

    bob.page.reload()
    bob.expect_connected()

    expect(bob.message("three")).to_be_visible()
    assert bob.message_texts() == ["one", "two", "three"]
    bob.expect_online(alice.username)
    bob.expect_online(bob.username)
    assert sorted(bob.member_usernames()) == sorted([alice.username, bob.username])
    alice.expect_online(bob.username)
    assert sorted(alice.member_usernames()) == sorted([alice.username, bob.username])


def test_unread_badge_counts_new_messages_and_clears_after_reading(
    open_page: OpenPage, api: Api, screenshots: Path
) -> None:
    """On Bob's home page a group's unread badge goes up with new messages and clears once he has read them."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    group = unique("unread")
    room_id = api.create_group(alice_account, group)
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    bob = Person.signed_in(open_page(fake_clock=True), bob_account)
    bob.open_room(room_id)  # joining a public group makes him a member
    bob.go_home()
    expect(bob.group_row(group)).to_be_visible()
    expect(bob.group_row(group).locator(".badge")).to_have_count(0)

    alice.send("are you around?")
    expect(alice.message("are you around?")).to_be_visible()
    bob.page.clock.fast_forward(11_000)  # the home page refreshes its lists every 10 s
    expect(bob.group_row(group).locator(".badge")).to_have_attribute("data-unread", "1")
    alice.send("hello?")
    expect(alice.message("hello?")).to_be_visible()
    bob.page.clock.fast_forward(11_000)
    expect(bob.group_row(group).locator(".badge")).to_have_attribute("data-unread", "2")
    expect(bob.page).to_have_title("(2) Chat")
    bob.page.screenshot(path=screenshots / "home-desktop.png", full_page=True)

    bob.group_row(group).get_by_role("link").click()
    bob.expect_connected()
    expect(bob.message("hello?")).to_be_visible()
    expect(bob.page.locator("#connection")).to_have_text("Connected")
    bob.page.get_by_role("link", name="Back to home").click()
    bob.expect_home()
    expect(bob.group_row(group)).to_be_visible()
    expect(bob.group_row(group).locator(".badge")).to_have_count(0)


def test_a_refused_message_keeps_its_text(open_page: OpenPage, api: Api) -> None:
    """The server refuses Bob's message (he was removed from the private group): the error shows, the text stays."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("private"), private=True)
    add = {"username": bob_account.username}
    status, body = api.call("POST", f"/groups/{room_id}/members", add, alice_account.token)
    assert status == 201, body
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    status, body = api.call("DELETE", f"/groups/{room_id}/members/{bob_account.username}", token=alice_account.token)
    assert status == 204, body

    bob.send("can I still post?")

    failed = bob.page.locator("#pending .message.failed")
    expect(failed.locator(".text")).to_have_text("can I still post?")
    expect(failed.locator(".status")).to_contain_text("Not sent")
    expect(bob.page.locator("#chat-error")).to_be_visible()
    failed.get_by_role("button", name="Edit").click()
    expect(bob.page.get_by_label("Message", exact=True)).to_have_value("can I still post?")
    expect(failed).to_have_count(0)


def test_the_owner_of_a_private_group_adds_someone_who_then_finds_it_at_home(open_page: OpenPage, api: Api) -> None:
    """Alice creates a private group from the home page and adds Bob by username; it appears among his groups."""
    bob_account = api.register("bob")
    bob = Person.signed_in(open_page(), bob_account)
    alice = Person.signed_in(open_page(), api.register("alice"))
    alice.go_home()
    group = unique("Secret")

    room_id = alice.create_group(group, private=True)
    expect(alice.page.locator("#room-subtitle")).to_contain_text("Private group")
    alice.page.get_by_label("Add someone by username").fill("no_such_user_x")
    alice.page.get_by_role("button", name="Add", exact=True).click()
    expect(alice.page.locator("#add-member-error")).not_to_be_empty()
    alice.page.get_by_label("Add someone by username").fill(bob.username)
    alice.page.get_by_role("button", name="Add", exact=True).click()
    expect(alice.member(bob.username)).to_have_attribute("data-online", "false")

    bob.go_home()
    bob.group_row(group).get_by_role("link").click()
    bob.expect_connected()
    assert bob.room_id() == room_id
    alice.expect_online(bob.username)


def test_a_private_group_of_others_cannot_be_opened(open_page: OpenPage, api: Api) -> None:
    """Opening someone else's private group shows why it cannot be read and offers the way home."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("secret"), private=True)
    bob = Person.signed_in(open_page(), bob_account)

    bob.page.goto(f"/chat.html?room={room_id}")

    expect(bob.page.locator("#fatal")).to_contain_text("not a member")
    expect(bob.page.locator("#connection")).to_have_text("Disconnected")
    expect(bob.page.get_by_label("Message", exact=True)).to_be_disabled()


def test_earlier_messages_load_on_request(open_page: OpenPage, api: Api, stack: StackProcess) -> None:
    """A long conversation opens on its latest page; "Load earlier messages" brings the rest, in order, once."""
    alice_account = api.register("alice")
    room_id = api.create_group(alice_account, unique("history"))
    texts = [f"message {n:02d}" for n in range(1, 61)]
    for chunk in (texts[:30], texts[30:]):  # two connections: each stays under the per-connection message limit
        writer = ChatClient(stack.ws_url, alice_account.token)
        try:
            writer.request({"type": "join", "roomId": room_id}, "joined")
            for text in chunk:
                writer.request({"type": "message", "roomId": room_id, "text": text}, "message")
        finally:
            writer.close()
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    expect(alice.message("message 60")).to_be_visible()
    assert alice.message_texts() == texts[10:]

    alice.page.get_by_role("button", name="Load earlier messages").click()

    expect(alice.message("message 01")).to_be_attached()
    assert alice.message_texts() == texts
    expect(alice.page.get_by_text("This is the beginning of the conversation.")).to_be_visible()
    expect(alice.page.get_by_role("button", name="Load earlier messages")).to_be_hidden()


def test_forms_show_errors_next_to_them(open_page: OpenPage, api: Api) -> None:
    """Registration and login problems are explained beside the form; a good login gets through; all is labelled."""
    taken = api.register("taken")
    page = open_page()
    page.goto("/")
    expect(page.locator("#login-form")).to_be_visible()
    assert unlabelled_controls(page) == []
    register = page.locator("#register-form")
    register.get_by_label("Username").fill(taken.username)
    register.get_by_label("Password").fill("short")
    register.get_by_role("button", name="Create account").click()
    expect(page.locator("#register-password-error")).to_have_text("Use at least 8 characters.")
    register.get_by_label("Password").fill("long enough password")
    register.get_by_role("button", name="Create account").click()
    expect(page.locator("#register-username-error")).to_contain_text("taken")
    expect(register.get_by_label("Username")).to_have_attribute("aria-invalid", "true")

    login = page.locator("#login-form")
    login.get_by_label("Username").fill(taken.username)
    login.get_by_label("Password").fill("not the password")
    login.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    login.get_by_label("Password").fill(taken.password)
    login.get_by_role("button", name="Log in").click()
    expect(page.locator("#whoami")).to_have_text(taken.username)
    expect(page.locator("#dashboard[data-loaded=true]")).to_be_visible()
    assert unlabelled_controls(page) == []

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#login-form")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_phone_width_layout(open_page: OpenPage, api: Api, screenshots: Path) -> None:
    """At 375 px nothing scrolls sideways; the members list folds away and opens; screenshots for the README."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    group = unique("Phone")
    room_id = api.create_group(alice_account, group)
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    bob.send("Looks good on a phone too")
    page = open_page(PHONE)
    alice = Person.log_in(page, alice_account)
    expect(alice.group_row(group)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=screenshots / "home-phone.png")

    alice.open_room(room_id)
    alice.send("Thanks, reading it on mine")
    expect(alice.message("Looks good on a phone too")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(alice.member(bob.username)).to_be_hidden()  # folded away on a phone
    page.screenshot(path=screenshots / "chat-phone.png")
    assert unlabelled_controls(page) == []
    page.get_by_text(re.compile("^Members")).click()
    alice.expect_online(bob.username)
    expect(alice.member(bob.username)).to_be_visible()
