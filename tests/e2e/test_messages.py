"""The message features in the browser: formatting, edit, delete, reactions, replies, mentions, attachments,
search (docs/protocol.md)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import OpenPage
from tests.e2e.ui import Person, post_as, unique
from tests.helpers.clients import Api
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
