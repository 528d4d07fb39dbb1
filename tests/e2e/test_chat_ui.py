"""The web UI in headless Chromium: people in separate browser contexts, the real local stack behind them."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, OpenPage
from tests.e2e.ui import LIVE, Person, assert_accessible, post_as, unique, unlabelled_controls, wait_until
from tests.helpers.clients import Api
from tests.helpers.stack import StackProcess

pytestmark = pytest.mark.e2e


def open_connections(stack: StackProcess) -> set[str]:
    status, body = Api(stack.url).call("GET", "/_local/connections")
    assert status == 200, body
    return {c["connectionId"] for c in body}


def add_member(api: Api, owner_token: str, room_id: int, username: str) -> None:
    status, body = api.call("POST", f"/groups/{room_id}/members", {"username": username}, owner_token)
    assert status == 201, body


def test_two_people_chat_live_in_a_group(open_page: OpenPage, screenshots: Path) -> None:
    """Two people register, create and join a group, and chat live: presence, own messages apart, grouping."""
    alice = Person.register(open_page(), "alice", nickname="Alice")
    bob = Person.register(open_page(), "bob", nickname="Bob")
    group = unique("Design")
    alice.create_group(group)

    bob.join_from_groups(group)
    expect(bob.conversation_link(group)).to_have_attribute("aria-current", "page")  # a member now: in his sidebar
    for person in (alice, bob):
        person.open_details()
        person.expect_online(alice.username)
        person.expect_online(bob.username)
    expect(alice.conversation_link(group)).to_have_attribute("aria-current", "page")

    bob.send("Hi Alice, glad to be here")
    expect(alice.message("Hi Alice, glad to be here")).to_be_visible(timeout=LIVE)
    alice.send("Welcome, Bob!")
    expect(bob.message("Welcome, Bob!")).to_be_visible(timeout=LIVE)
    alice.send("The agenda is in the doc.")
    expect(bob.message("The agenda is in the doc.")).to_be_visible(timeout=LIVE)
    # Sender names, own messages set apart, and the second of two in a row grouped under the first.
    expect(alice.page.locator("#messages .message:not(.mine) .sender")).to_have_text(["Bob"])
    expect(alice.page.locator("#messages .message.mine .text")).to_have_text(
        ["Welcome, Bob!", "The agenda is in the doc."]
    )
    expect(bob.message_item("The agenda is in the doc.")).to_have_class(re.compile(r"\bcontinued\b"))
    expect(bob.message_item("Welcome, Bob!")).not_to_have_class(re.compile(r"\bcontinued\b"))
    expect(bob.message_item("Welcome, Bob!").locator(".avatar")).to_have_text("A")
    expect(bob.page.locator("#messages .day-separator").first).to_have_text("Today")
    assert_accessible(bob.page, "a group conversation with its members")
    alice.page.screenshot(path=screenshots / "chat-desktop.png")


def test_one_to_one_chat_from_the_people_list(open_page: OpenPage, api: Api) -> None:
    """A direct chat from Find people: unread for Bob live, Seen for Alice, his typing shown then ended."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    alice = Person.signed_in(open_page(), alice_account, goto="/")
    bob = Person.signed_in(open_page(), bob_account, goto="/")

    alice.sidebar().get_by_role("link", name="Find people").click()
    assert_accessible(alice.page, "the people search")
    room_id = alice.open_chat_with(bob.username)
    expect(alice.page.locator("#room-subtitle")).to_contain_text("Direct message")
    alice.send("Lunch at noon?")
    expect(alice.message("Lunch at noon?")).to_be_visible()

    expect(bob.conversation_link(f"{alice.username}, 1 unread")).to_be_visible(timeout=LIVE)
    bob.conversation_link(f"{alice.username}, 1 unread").click()
    bob.expect_room(alice.username)
    assert bob.room_id() == room_id  # the same room from either side
    expect(bob.message("Lunch at noon?")).to_be_visible()
    expect(alice.page.locator(".message.mine .status.seen")).to_have_text("Seen")
    assert_accessible(bob.page, "a direct chat")

    bob.composer().press_sequentially("Sure", delay=20)
    expect(alice.page.locator("#typing")).to_have_text(f"{bob.username} is typing…", timeout=3_000)
    bob.composer().press("Enter")
    expect(alice.message("Sure")).to_be_visible(timeout=LIVE)
    expect(alice.page.locator("#typing")).to_have_text("")  # their message ends the indicator
    expect(alice.page.locator(".message.mine .status.seen")).to_have_count(1)


def test_reconnects_by_itself_and_shows_missed_messages_once(
    open_page: OpenPage, api: Api, stack: StackProcess
) -> None:
    """After a server-side close and an offline spell the page reconnects itself and shows missed messages once."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("reconnect"))
    add_member(api, alice_account.token, room_id, bob_account.username)
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    bob.send("before the cut")
    alice = Person.signed_in(open_page(), alice_account)
    before = open_connections(stack)
    alice.open_room(room_id)
    expect(alice.message("before the cut")).to_be_visible()
    (alice_connection,) = open_connections(stack) - before
    alice.same_page_marker()

    stack.management().delete_connection(ConnectionId=alice_connection)  # as API Gateway does after 2 hours
    wait_until(lambda: alice.sockets_opened() == 2, what="a second socket")
    alice.expect_connected()
    alice.expect_joined(room_id)

    alice.page.context.set_offline(True)
    expect(alice.page.locator("#connection")).to_have_text("Offline")
    bob.open_details()
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
    assert alice.still_same_page()  # the client reconnected, not a reload
    bob.expect_online(alice.username)


def test_a_message_written_offline_is_sent_once_when_back(open_page: OpenPage, api: Api, stack: StackProcess) -> None:
    """A message written offline waits visibly under Offline and is sent once when the network is back."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("offline"))
    add_member(api, alice_account.token, room_id, bob_account.username)
    alice, bob = Person.signed_in(open_page(), alice_account), Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    before = open_connections(stack)
    alice.open_room(room_id)
    (alice_connection,) = open_connections(stack) - before

    # The network goes: the connection vanishes without a close handshake and nothing gets through.
    status, _ = Api(stack.url).call("POST", f"/_local/connections/{quote(alice_connection, safe='')}/drop")
    assert status == 204
    alice.page.context.set_offline(True)
    expect(alice.page.locator("#connection")).to_have_text("Offline")
    alice.send("written on the train")
    expect(alice.page.locator("#pending .message .status")).to_have_text("Waiting for connection…")
    alice.page.context.set_offline(False)

    alice.expect_connected()
    expect(bob.message("written on the train")).to_have_count(1)
    expect(alice.message("written on the train")).to_have_count(1)
    expect(alice.page.locator("#pending .message")).to_have_count(0)
    post_as(stack.ws_url, alice_account, room_id, "marker")  # a duplicate would arrive before it
    expect(bob.message("marker")).to_be_visible()
    assert bob.message_texts() == ["written on the train", "marker"]


def test_markup_in_a_message_is_shown_as_text(open_page: OpenPage, api: Api) -> None:
    """A message that looks like HTML is displayed literally and runs nothing, for sender and receiver."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("xss"))
    add_member(api, alice_account.token, room_id, bob_account.username)
    alice, bob = Person.signed_in(open_page(), alice_account), Person.signed_in(open_page(), bob_account)
    alice.open_room(room_id)
    bob.open_room(room_id)
    payload = '<img src=x onerror="window.__xss=1">'

    bob.send(payload)

    for person in (alice, bob):
        expect(person.message(payload)).to_be_visible()
        assert person.page.locator("#messages img").count() == 0
        assert person.page.evaluate("window.__xss") is None
    expect(alice.conversation_row(room_id).locator(".preview")).to_have_text(f"{bob.username}: {payload}")
    alice.page.reload()  # history is rendered the same way
    alice.expect_joined(room_id)
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
        add_member(api, carol_account.token, room_id, account.username)
        post_as(stack.ws_url, account, room_id, text)

    carol = Person.signed_in(open_page(), carol_account)
    carol.open_room(room_id)
    carol.open_details()

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
    """Reloading a conversation shows the history once and each member once, still online."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("refresh"))
    add_member(api, alice_account.token, room_id, bob_account.username)
    alice, bob = Person.signed_in(open_page(), alice_account), Person.signed_in(open_page(), bob_account)
    alice.open_room(room_id)
    bob.open_room(room_id)
    for text in ("one", "two", "three"):
        alice.send(text)
    for text in ("one", "two", "three"):  # frames are handled concurrently: any may arrive last
        expect(bob.message(text)).to_be_visible()

    bob.page.reload()
    bob.expect_joined(room_id)

    for text in ("one", "two", "three"):
        expect(bob.message(text)).to_be_visible()
    # Each once, in the server's order (by id): concurrent frames may have stored "three" before "two".
    status, page = api.call("GET", f"/groups/{room_id}/messages", token=bob_account.token)
    assert status == 200
    stored = [m["text"] for m in page["messages"]]
    assert sorted(stored) == ["one", "three", "two"]
    assert bob.message_texts() == stored
    bob.open_details()
    bob.expect_online(alice.username)
    bob.expect_online(bob.username)
    assert sorted(bob.member_usernames()) == sorted([alice.username, bob.username])
    alice.open_details()
    alice.expect_online(bob.username)
    assert sorted(alice.member_usernames()) == sorted([alice.username, bob.username])


def test_a_message_refused_by_the_server_keeps_its_text(open_page: OpenPage, api: Api, stack: StackProcess) -> None:
    """A message the server refuses (Bob was removed meanwhile) stays on the page as Not sent, with its text."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("private"), private=True)
    add_member(api, alice_account.token, room_id, bob_account.username)
    bob = Person.signed_in(open_page(), bob_account)
    before = open_connections(stack)
    bob.open_room(room_id)
    (bob_connection,) = open_connections(stack) - before
    status, _ = Api(stack.url).call("POST", f"/_local/connections/{quote(bob_connection, safe='')}/drop")
    assert status == 204
    bob.page.context.set_offline(True)
    bob.send("can I still post?")
    status, body = api.call("DELETE", f"/groups/{room_id}/members/{bob_account.username}", token=alice_account.token)
    assert status == 204, body

    bob.page.context.set_offline(False)

    failed = bob.page.locator("#pending .message.failed")
    expect(failed.locator(".text")).to_have_text("can I still post?")
    expect(failed.locator(".status")).to_contain_text("Not sent")
    expect(bob.page.locator("#fatal")).to_contain_text("not a member")
    expect(bob.conversation_row(room_id)).to_have_count(0)


def test_the_owner_of_a_private_group_adds_someone_who_sees_it_appear(open_page: OpenPage, api: Api) -> None:
    """The owner adds Bob from case-insensitive suggestions; the private group appears live in his sidebar."""
    bob_account = api.register("bob")
    status, body = api.call("PATCH", "/profile", {"nickname": "Bobby Tables"}, bob_account.token)
    assert status == 200, body
    bob = Person.signed_in(open_page(), bob_account, goto="/")
    alice = Person.signed_in(open_page(), api.register("alice"), goto="/")
    group = unique("Secret")

    room_id = alice.create_group(group, private=True)
    expect(alice.page.locator("#room-subtitle")).to_contain_text("Private group")
    alice.open_details()
    add = alice.page.get_by_label("Add someone by name or username")
    add.fill("no_such_user_x")
    alice.page.get_by_role("button", name="Add", exact=True).click()
    expect(alice.page.locator("#add-member-error")).to_have_text("Nobody is called no_such_user_x.")
    add.fill("BOBBY T")  # people search ignores capitals
    suggestion = alice.page.get_by_role("button", name=f"Add Bobby Tables @{bob.username}")
    assert_accessible(alice.page, "the member list with suggestions")
    suggestion.click()
    alice.expect_online(bob.username)
    expect(alice.page.locator("#add-member-status")).to_have_text(f"Added {bob.username}.")

    expect(bob.conversation_link(group)).to_be_visible(timeout=LIVE)
    bob.conversation_link(group).click()
    bob.expect_room(group)
    assert bob.room_id() == room_id


def test_a_private_group_of_others_cannot_be_opened(open_page: OpenPage, api: Api) -> None:
    """Opening someone else's private group says why it cannot be read and offers the way home."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("secret"), private=True)
    bob = Person.signed_in(open_page(), bob_account)

    bob.page.goto(f"/?room={room_id}")

    expect(bob.page.locator("#fatal")).to_contain_text("not a member")
    expect(bob.page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(bob.composer()).to_have_count(0)
    assert_accessible(bob.page, "the access-denied page")
    bob.page.get_by_role("link", name="Back to home").click()
    expect(bob.page.get_by_role("heading", level=1)).to_have_text(re.compile("^Hello"))


def test_earlier_messages_load_by_keyboard_and_by_scrolling_up(
    open_page: OpenPage, api: Api, stack: StackProcess
) -> None:
    """History loads by Enter on the button (not by its focus; focus kept) and by scrolling up; Jump to latest works."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("history"))
    add_member(api, alice_account.token, room_id, bob_account.username)
    texts = [f"message {n:03d}" for n in range(1, 121)]
    for start in range(0, 120, 40):  # three connections: each stays under the per-connection message limit
        post_as(stack.ws_url, alice_account, room_id, *texts[start : start + 40])
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    expect(bob.message("message 120")).to_be_in_viewport()
    assert bob.message_texts() == texts[70:]

    earlier = bob.page.get_by_role("button", name="Load earlier messages")
    earlier.focus()  # scrolls the top into view, which alone must not load a page: one Enter, one page
    bob.page.keyboard.press("Enter")
    expect(bob.message("message 021")).to_be_attached()
    assert bob.message_texts() == texts[20:]
    expect(earlier).to_be_focused()  # focus stays where the keyboard user left it
    expect(bob.message("message 071")).to_be_attached()

    bob.page.locator("#scroller").evaluate("s => { s.scrollTop = 0; }")
    expect(bob.message("message 001")).to_be_attached()
    assert bob.message_texts() == texts
    expect(bob.page.get_by_text("This is the beginning of the conversation.")).to_be_visible()
    expect(earlier).to_have_count(0)

    jump = bob.page.get_by_role("button", name=re.compile("^Jump to latest"))
    bob.page.locator("#scroller").evaluate("s => { s.scrollTop = 0; }")
    expect(jump).to_be_visible()
    post_as(stack.ws_url, alice_account, room_id, "while you were up there")
    expect(jump).to_have_text("Jump to latest (1 new)")
    jump.click()
    expect(bob.message("while you were up there")).to_be_in_viewport()
    expect(jump).to_have_count(0)
    expect(bob.composer()).to_be_focused()


def test_a_new_messages_divider_marks_where_reading_stopped(open_page: OpenPage, api: Api, stack: StackProcess) -> None:
    """Bob read up to a point; opening the conversation later shows "New messages" right before what came after."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("divider"))
    add_member(api, alice_account.token, room_id, bob_account.username)
    post_as(stack.ws_url, alice_account, room_id, "read one", "read two")
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    expect(bob.conversation_row(room_id)).to_have_attribute("data-unread", "0")  # read as shown
    bob.go_home()
    post_as(stack.ws_url, alice_account, room_id, "new one", "new two")
    expect(bob.conversation_row(room_id)).to_have_attribute("data-unread", "2")

    bob.conversation_row(room_id).get_by_role("link").click()
    bob.expect_joined(room_id)
    rows = bob.page.locator("#messages > li")
    texts = rows.evaluate_all(
        "ns => ns.map(n => n.classList.contains('new-divider') ? '--'"
        " : (n.querySelector('.text')?.textContent ?? null))"
    )
    assert [t for t in texts if t is not None] == ["read one", "read two", "--", "new one", "new two"]
    expect(bob.page.locator(".new-divider")).to_have_text("New messages")


def test_links_in_messages_are_clickable_and_safe(open_page: OpenPage, api: Api, stack: StackProcess) -> None:
    """http, https and mailto links open safely (noopener noreferrer, new tab); javascript: and data: stay text."""
    alice_account = api.register("alice")
    room_id = api.create_group(alice_account, unique("links"))
    text = "see https://example.com/a_(b). or mailto:team@example.com, not javascript:alert(1) nor data:text/html,x"
    post_as(stack.ws_url, alice_account, room_id, text)
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)

    links = alice.message(text).get_by_role("link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_attribute("href", "https://example.com/a_(b)")
    expect(links.nth(0)).to_have_text("https://example.com/a_(b)")
    expect(links.nth(1)).to_have_attribute("href", "mailto:team@example.com")
    for index in range(2):
        expect(links.nth(index)).to_have_attribute("rel", "noopener noreferrer")
        expect(links.nth(index)).to_have_attribute("target", "_blank")
    expect(alice.message(text)).to_have_text(text)  # the text itself is unchanged


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
    expect(page.locator("#register-password-error")).to_have_text("Use at least 10 characters.")
    expect(register.get_by_label("Password")).to_be_focused()
    register.get_by_label("Password").fill("long enough password")
    register.get_by_role("button", name="Create account").click()
    expect(page.locator("#register-username-error")).to_contain_text("taken")
    expect(register.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "the sign-in page with form errors")

    login = page.locator("#login-form")
    login.get_by_label("Username").fill(taken.username)
    login.get_by_label("Password").fill("not the password")
    login.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    login.get_by_label("Password").fill(taken.password)
    login.get_by_role("button", name="Log in").click()
    expect(page.locator("#whoami")).to_have_text(taken.username)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello, {taken.username}")
    assert unlabelled_controls(page) == []
    assert_accessible(page, "the home page")

    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#login-form")).to_be_visible()
    assert page.evaluate("localStorage.getItem('chat.session')") is None


def test_phone_width_layout(open_page: OpenPage, api: Api, stack: StackProcess, screenshots: Path) -> None:
    """At 375 px nothing scrolls sideways; the sidebar and the member list fold away and open from buttons."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    group = unique("Phone")
    room_id = api.create_group(alice_account, group)
    add_member(api, alice_account.token, room_id, bob_account.username)
    post_as(stack.ws_url, bob_account, room_id, "Looks good on a phone too")
    page = open_page(PHONE)
    alice = Person.log_in(page, alice_account)
    expect(alice.sidebar()).to_be_hidden()  # folded away on a phone
    toggle = page.get_by_role("button", name="Conversations")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(alice.conversation_link(f"{group}, 1 unread")).to_be_visible()
    expect(alice.sidebar().get_by_role("link", name="New group")).to_be_focused()  # the focus goes into the drawer
    page.keyboard.press("Escape")
    expect(alice.sidebar()).to_be_hidden()
    expect(toggle).to_be_focused()
    toggle.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page, "the phone layout with the sidebar open")

    alice.conversation_link(f"{group}, 1 unread").click()
    alice.expect_room(group)
    expect(alice.sidebar()).to_be_hidden()  # and it folds away again once a conversation is chosen
    alice.send("Thanks, reading it on mine")
    expect(alice.message("Looks good on a phone too")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(alice.member(bob_account.username)).to_be_hidden()  # folded away on a phone
    assert unlabelled_controls(page) == []
    assert_accessible(page, "a conversation at phone width")
    alice.open_details()
    alice.expect_online(bob_account.username, online=False)
    expect(alice.member(bob_account.username)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page, "the member list at phone width")
