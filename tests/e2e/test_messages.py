"""The message features in the browser: formatting, edit, delete, reactions, replies, mentions, attachments,
search (docs/protocol.md)."""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import OpenPage
from tests.e2e.ui import LIVE, Person, act_as, assert_accessible, post_as, unique
from tests.helpers.clients import Account, Api
from tests.helpers.stack import StackProcess

pytestmark = pytest.mark.e2e


NO_ELEMENTS = "img, script, svg, iframe, object, embed, b, i, u, style, link, form, input"


def test_formatting_is_rendered_from_text_and_never_interprets_html(
    open_page: OpenPage, api: Api, stack: StackProcess
) -> None:
    """*bold*, _italic_, `code`, fenced blocks and links render, and hostile HTML inside each stays text."""
    alice_account = api.register("alice")
    room_id = api.create_group(alice_account, unique("format"))
    bold = '*<img src=x onerror="window.__xss=1">*'
    italic = "_<script>window.__xss=2</script>_"
    code = '`<svg onload="window.__xss=3">`'
    fence = '```\n<iframe srcdoc="<script>parent.__xss=4</script>"></iframe>\n  indented\n```'
    link = 'https://example.com/"onmouseover="window.__xss=5 [x](javascript:window.__xss=6) javascript:window.__xss=7'
    plain = "2*3*4 and snake_case_name stay as they are"
    post_as(stack.ws_url, alice_account, room_id, bold, italic, code, fence, link, plain)
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    page = alice.page
    texts = page.locator("#messages .message .text")
    expect(texts).to_have_count(6)

    expect(texts.nth(0).locator("strong")).to_have_text('<img src=x onerror="window.__xss=1">')
    expect(texts.nth(1).locator("em")).to_have_text("<script>window.__xss=2</script>")
    expect(texts.nth(2).locator("code")).to_have_text('<svg onload="window.__xss=3">')
    expect(texts.nth(3).locator("pre code")).to_have_text(
        '<iframe srcdoc="<script>parent.__xss=4</script>"></iframe>\n  indented'
    )
    links = texts.nth(4).get_by_role("link")
    expect(links).to_have_count(1)  # only the https: one; javascript: is never a link
    expect(links).to_have_attribute("href", "https://example.com/")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    expect(texts.nth(4)).to_have_text(link)  # every character still shown, as text
    links.hover()
    expect(texts.nth(5)).to_have_text(plain)
    expect(texts.nth(5).locator("strong, em")).to_have_count(0)

    assert page.locator("#messages").locator(NO_ELEMENTS).count() == 0
    assert page.evaluate("window.__xss") is None
    expect(alice.conversation_row(room_id).locator(".preview")).to_have_text(f"You: {plain}")


def members(api: Api, owner: Account, room_id: int, *others: Account) -> None:
    for other in others:
        status, body = api.call("POST", f"/groups/{room_id}/members", {"username": other.username}, owner.token)
        assert status == 201, body


def test_edit_and_delete_own_messages_and_the_owner_deletes_any(open_page: OpenPage, api: Api) -> None:
    """Authors edit (edited, live and in history) and delete (tombstone) their messages; owners delete any."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("edits"))
    members(api, alice_account, room_id, bob_account)
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    bob.send("the meeting is at 3")
    bob.send("bring snacks")
    expect(alice.message("bring snacks")).to_be_visible()

    panel = bob.message_actions("the meeting is at 3")
    panel.get_by_role("button", name="Edit").click()
    editor = bob.page.get_by_label("Edit message")
    expect(editor).to_have_value("the meeting is at 3")
    editor.fill("the meeting is at *4*")
    editor.press("Enter")
    edited = alice.message_item("the meeting is at 4")
    expect(edited.locator(".edited")).to_have_text("(edited)", timeout=LIVE)
    expect(edited.locator(".text strong")).to_have_text("4")
    expect(bob.message_item("the meeting is at 4").locator(".edited")).to_have_text("(edited)")

    # Only the author edits; Alice, the owner, may still delete Bob's message.
    panel = alice.message_actions("bring snacks")
    expect(panel.get_by_role("button", name="Edit")).to_have_count(0)
    panel.get_by_role("button", name="Delete").click()
    panel.get_by_role("button", name="Delete", exact=True).click()
    expect(bob.page.locator("#messages .message.deleted .tombstone")).to_have_text(
        "This message was deleted.", timeout=LIVE
    )
    expect(bob.message("bring snacks")).to_have_count(0)

    panel = bob.message_actions("the meeting is at 4")
    panel.get_by_role("button", name="Delete").click()
    panel.get_by_role("button", name="Delete", exact=True).click()
    expect(alice.page.locator("#messages .message.deleted")).to_have_count(2, timeout=LIVE)

    alice.page.reload()  # the history says the same
    alice.expect_joined(room_id)
    expect(alice.page.locator("#messages .message.deleted .tombstone")).to_have_count(2)
    assert alice.message_texts() == ["This message was deleted.", "This message was deleted."]


def test_reactions_toggle_with_counts_and_who(open_page: OpenPage, api: Api, stack: StackProcess) -> None:
    """Bob reacts to Alice's message; she sees the count and who, adds hers, and takes it back."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("reactions"))
    members(api, alice_account, room_id, bob_account)
    post_as(stack.ws_url, alice_account, room_id, "we shipped!")
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)

    bob.message_actions("we shipped!").get_by_role("button", name="React with party").click()
    chip = alice.message_item("we shipped!").locator(".reaction")
    expect(chip).to_have_text("🎉 1", timeout=LIVE)
    expect(chip).to_have_attribute("aria-label", f"party: 1, by {bob.username}")
    expect(chip).to_have_attribute("aria-pressed", "false")
    assert_accessible(alice.page, "a message with reactions")

    chip.click()
    expect(chip).to_have_text("🎉 2")
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(chip).to_have_attribute(
        "aria-label", re.compile(f"^party: 2, by (you, {bob.username}|{bob.username}, you)$")
    )
    expect(bob.message_item("we shipped!").locator(".reaction")).to_have_text("🎉 2", timeout=LIVE)
    chip.click()
    expect(chip).to_have_text("🎉 1")
    expect(chip).to_have_attribute("aria-pressed", "false")


def test_a_reply_quotes_the_original_and_leads_to_it_loading_history(
    open_page: OpenPage, api: Api, stack: StackProcess
) -> None:
    """A reply quotes its original (or says it was deleted); the quote scrolls to it, loading history."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("replies"))
    members(api, alice_account, room_id, bob_account)
    old = post_as(stack.ws_url, alice_account, room_id, "the original question", "a doomed message")
    for start in range(0, 80, 40):
        post_as(stack.ws_url, alice_account, room_id, *[f"filler {n:02d}" for n in range(start, start + 40)])
    act_as(
        stack.ws_url,
        alice_account,
        *(
            (
                {"type": "message", "roomId": room_id, "text": text, "replyTo": target["id"], "clientMsgId": text},
                "message",
            )
            for target, text in ((old[0], "answering the original"), (old[1], "answering the doomed one"))
        ),
        ({"type": "delete", "roomId": room_id, "messageId": old[1]["id"]}, "message_deleted"),
    )
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    expect(bob.message("the original question")).to_have_count(0)  # far above the first page

    doomed = bob.message_item("answering the doomed one").locator(".reply-quote")
    expect(doomed.locator(".reply-text")).to_have_text("Deleted message")
    quote = bob.message_item("answering the original").locator(".reply-quote")
    expect(quote.locator(".reply-text")).to_have_text("the original question")
    quote.click()
    original = bob.message_item("the original question")
    expect(original).to_be_in_viewport()
    expect(original).to_be_focused()

    bob.message_actions("the original question").get_by_role("button", name="Reply").click()
    expect(bob.page.locator("#replying")).to_contain_text("the original question")
    expect(bob.composer()).to_be_focused()
    bob.composer().fill("me too")
    bob.composer().press("Enter")
    mine = bob.message_item("me too")
    expect(mine.locator(".reply-quote .reply-text")).to_have_text("the original question")
    expect(bob.page.locator("#replying")).to_have_count(0)


def test_a_mention_is_highlighted_and_counted_apart_in_the_sidebar(
    open_page: OpenPage, api: Api, stack: StackProcess
) -> None:
    """An @mention counts apart from unread in the sidebar, is announced, and is highlighted in the room."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    here, there = api.create_group(alice_account, unique("here")), api.create_group(alice_account, unique("there"))
    members(api, alice_account, here, bob_account)
    members(api, alice_account, there, bob_account)
    status, body = api.call("GET", f"/groups/{there}", token=bob_account.token)
    assert status == 200, body
    name = body["name"]
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(here)

    post_as(stack.ws_url, alice_account, there, "lunch, anyone?", f"@{bob.username.upper()} can you review this?")
    expect(bob.conversation_link(f"{name}, 2 unread, 1 mention")).to_be_visible(timeout=LIVE)
    expect(bob.conversation_row(there).locator(".mention-badge")).to_have_text("@1")
    expect(bob.page.locator("#announcer p").filter(has_text=name)).to_have_text(
        [f"New message in {name} from {alice_account.username}"]
    )  # once per room: the mention came second
    bob.conversation_link(f"{name}, 2 unread, 1 mention").click()
    bob.expect_joined(there)
    item = bob.message_item(f"@{bob.username.upper()} can you review this?")
    expect(item).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(item.locator(".mention.me")).to_have_text(f"@{bob.username.upper()}")
    expect(bob.message_item("lunch, anyone?")).not_to_have_class(re.compile(r"\bmentions-me\b"))
    expect(bob.conversation_link(name)).to_be_visible()  # read: neither count any more


def png(width: int, height: int) -> bytes:
    """A small valid PNG: a blue square."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((44, 98, 144)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_attachments_upload_to_storage_and_show_inline_or_as_links(
    open_page: OpenPage, api: Api, tmp_path: Path
) -> None:
    """Files upload straight to storage; a picture shows inline and opens in a tab; other files download."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("files"))
    members(api, alice_account, room_id, bob_account)
    picture, notes = tmp_path / "sketch.png", tmp_path / "notes.txt"
    picture.write_bytes(png(16, 16))
    notes.write_text("the plan, in words\n", encoding="utf-8")
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)

    alice.page.locator("#attach").set_input_files([picture, notes])
    uploads = alice.page.locator(".uploads .upload")
    expect(uploads).to_have_count(2)
    expect(uploads.filter(has_text="sketch.png")).to_contain_text("ready")
    expect(uploads.filter(has_text="notes.txt")).to_contain_text("ready")
    alice.composer().fill("the sketch and the notes")
    alice.composer().press("Enter")

    item = bob.message_item("the sketch and the notes")
    image = item.get_by_role("img", name="sketch.png")
    expect(image).to_be_visible(timeout=5_000)
    assert image.evaluate("img => img.naturalWidth") == 16
    link = item.get_by_role("link", name=re.compile("notes.txt"))
    expect(link).to_contain_text("notes.txt (19 B)")
    with bob.page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "notes.txt"
    assert Path(download.value.path()).read_text(encoding="utf-8") == "the plan, in words\n"
    expect(image).to_be_visible()  # the page stayed as it was
    with bob.page.context.expect_page() as opened:
        item.get_by_role("link", name="Open sketch.png (79 B)").click()
    expect(opened.value.locator("img")).to_be_visible()  # a picture opens in a tab of its own
    assert_accessible(bob.page, "a message with attachments")


def test_search_opens_a_result_in_its_conversation(open_page: OpenPage, api: Api, stack: StackProcess) -> None:
    """Search finds only readable messages; a result opens in its conversation, loading history to reach it."""
    alice_account, bob_account, eve_account = api.register("alice"), api.register("bob"), api.register("eve")
    room_id = api.create_group(alice_account, unique("search"))
    members(api, alice_account, room_id, bob_account)
    secret = api.create_group(eve_account, unique("secret"), private=True)
    word = f"zebra{uuid.uuid4().hex[:6]}"
    post_as(stack.ws_url, alice_account, room_id, f"the {word} roadmap is ready")
    post_as(stack.ws_url, eve_account, secret, f"eve's private {word}")
    for start in range(0, 80, 40):
        post_as(stack.ws_url, alice_account, room_id, *[f"later {n:02d}" for n in range(start, start + 40)])
    bob = Person.signed_in(open_page(), bob_account, goto="/")

    bob.page.get_by_label("Search messages").fill(word)
    bob.page.get_by_label("Search messages").press("Enter")
    results = bob.page.locator("#search-results li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(f"the {word} roadmap is ready")
    assert_accessible(bob.page, "search results")
    results.first.get_by_role("link").click()
    bob.expect_joined(room_id)
    found = bob.message_item(f"the {word} roadmap is ready")
    expect(found).to_be_in_viewport()
    expect(found).to_be_focused()


def test_edits_deletions_and_reactions_made_while_away_show_after_the_reconnect(
    open_page: OpenPage, api: Api, stack: StackProcess
) -> None:
    """Edits, deletions and reactions made while Bob was offline show after his reconnect, without a reload."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id = api.create_group(alice_account, unique("away"))
    members(api, alice_account, room_id, bob_account)
    kept, doomed, liked = post_as(stack.ws_url, alice_account, room_id, "typo hree", "never mind", "we did it")
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    bob.same_page_marker()
    expect(bob.message("we did it")).to_be_visible()

    bob.page.context.set_offline(True)
    expect(bob.page.locator("#connection")).to_have_text("Offline")
    act_as(
        stack.ws_url,
        alice_account,
        ({"type": "edit", "roomId": room_id, "messageId": kept["id"], "text": "typo three"}, "message_edited"),
        ({"type": "delete", "roomId": room_id, "messageId": doomed["id"]}, "message_deleted"),
        ({"type": "react", "roomId": room_id, "messageId": liked["id"], "emoji": "🔥"}, "reaction"),
    )
    assert bob.message_texts() == ["typo hree", "never mind", "we did it"]

    bob.page.context.set_offline(False)
    bob.expect_connected(timeout=15_000)
    expect(bob.message("typo three")).to_be_visible()
    expect(bob.message_item("typo three").locator(".edited")).to_have_text("(edited)")
    expect(bob.page.locator("#messages .message.deleted .tombstone")).to_have_text("This message was deleted.")
    expect(bob.message_item("we did it").locator(".reaction")).to_have_text("🔥 1")
    assert bob.message_texts() == ["typo three", "This message was deleted.", "we did it"]
    assert bob.still_same_page()
