"""Managing conversations and oneself in the browser: leave, remove, rename, hand over, delete, profile."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import OpenPage
from tests.e2e.ui import LIVE, Person, assert_accessible, unique
from tests.helpers.clients import Account, Api

pytestmark = pytest.mark.e2e


def group_with(api: Api, owner: Account, *members: Account, private: bool = False) -> tuple[int, str]:
    name = unique("Team")
    room_id = api.create_group(owner, name, private=private)
    for member in members:
        status, body = api.call("POST", f"/groups/{room_id}/members", {"username": member.username}, owner.token)
        assert status == 201, body
    return room_id, name


def test_a_member_leaves_a_group_and_the_others_see_it(open_page: OpenPage, api: Api) -> None:
    """Bob leaves from the member list: the group leaves his sidebar, he is taken home, and Alice's list drops him."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id, name = group_with(api, alice_account, bob_account)
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    alice.open_details()
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    bob.open_details()
    alice.expect_online(bob.username)

    bob.page.get_by_role("button", name="Leave group").click()
    assert_accessible(bob.page, "the leave confirmation")
    bob.page.get_by_role("button", name="Leave", exact=True).click()

    expect(bob.page.get_by_role("heading", level=1)).to_have_text(f"Hello, {bob.username}")
    expect(bob.conversation_row(room_id)).to_have_count(0)
    expect(bob.page.locator("#announcer p").last).to_have_text(f"You left {name}.")
    expect(alice.member(bob.username)).to_have_count(0, timeout=LIVE)
    expect(alice.member(alice.username)).to_be_visible()


def test_the_owner_removes_a_member_whose_page_says_so(open_page: OpenPage, api: Api) -> None:
    """A removed member's page says so, the room leaves his sidebar and will not open for him again."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id, name = group_with(api, alice_account, bob_account)
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    alice.open_details()

    alice.member(bob.username).get_by_role("button", name=f"Remove {bob.username}").click()
    alice.member(bob.username).get_by_role("button", name="Remove", exact=True).click()

    expect(alice.member(bob.username)).to_have_count(0)
    expect(bob.page.locator("#fatal")).to_have_text(
        f"You were removed from {name}. Its messages are no longer available to you.", timeout=LIVE
    )
    expect(bob.composer()).to_have_count(0)
    expect(bob.conversation_row(room_id)).to_have_count(0)
    assert_accessible(bob.page, "the page of a removed member")
    bob.open_room_expecting_refusal(room_id)


def test_the_owner_renames_the_group_and_every_member_sees_it_live(open_page: OpenPage, api: Api) -> None:
    """Alice renames the group and gives it a description: Bob's title and sidebar follow without a reload."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id, name = group_with(api, alice_account, bob_account)
    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    bob.same_page_marker()
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    alice.open_details()
    new_name = unique("Renamed")

    alice.page.get_by_text("Group settings").click()
    alice.page.get_by_label("Group name").fill(new_name)
    alice.page.get_by_label("Description").fill("Where the roadmap is argued about")
    assert_accessible(alice.page, "the group settings")
    alice.page.get_by_role("button", name="Save", exact=True).click()

    expect(alice.page.locator("#room-title")).to_have_text(new_name)
    expect(bob.page.locator("#room-title")).to_have_text(new_name, timeout=LIVE)
    expect(bob.conversation_link(new_name)).to_be_visible()
    expect(bob.conversation_link(name)).to_have_count(0)
    bob.open_details()
    expect(bob.page.locator("#details .description")).to_have_text("Where the roadmap is argued about")
    assert bob.still_same_page()


def test_the_owner_hands_the_group_over_then_leaves_and_the_new_owner_deletes_it(open_page: OpenPage, api: Api) -> None:
    """Alice makes Bob the owner and leaves; Bob deletes the group, which goes from his sidebar."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id, _ = group_with(api, alice_account, bob_account)
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    alice.open_details()
    expect(alice.page.get_by_role("button", name="Leave group")).to_have_count(0)  # an owner cannot just leave

    alice.member(bob_account.username).get_by_role("button", name=f"Make owner: {bob_account.username}").click()
    alice.member(bob_account.username).get_by_role("button", name="Hand over").click()
    expect(alice.member(bob_account.username).locator(".role")).to_have_text("owner")
    alice.page.get_by_role("button", name="Leave group").click()
    alice.page.get_by_role("button", name="Leave", exact=True).click()
    expect(alice.conversation_row(room_id)).to_have_count(0)

    bob = Person.signed_in(open_page(), bob_account)
    bob.open_room(room_id)
    bob.open_details()
    bob.page.get_by_text("Group settings").click()
    bob.page.get_by_role("button", name="Delete group…").click()
    bob.page.get_by_role("button", name="Delete the group").click()
    expect(bob.page.get_by_role("heading", level=1)).to_have_text(f"Hello, {bob.username}")
    expect(bob.conversation_row(room_id)).to_have_count(0)


def test_a_new_nickname_shows_everywhere_without_a_reload(open_page: OpenPage, api: Api) -> None:
    """Alice changes her display name on the profile page: the top bar, her member row and her other tab follow."""
    alice_account, bob_account = api.register("alice"), api.register("bob")
    room_id, _ = group_with(api, alice_account, bob_account)
    alice = Person.signed_in(open_page(), alice_account)
    alice.open_room(room_id)
    alice.same_page_marker()
    other_tab = Person(alice.page.context.new_page(), alice.username)
    other_tab.open_room(room_id)
    other_tab.open_details()

    alice.page.get_by_role("link", name=f"Your profile: {alice.username}").click()
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("Your profile")
    assert_accessible(alice.page, "the profile page")
    alice.page.get_by_label("Display name").fill("Alice Liddell")
    alice.page.get_by_role("button", name="Save profile").click()
    expect(alice.page.locator("#profile-status")).to_have_text("Saved.")

    expect(alice.page.locator("#whoami")).to_have_text("Alice Liddell")
    expect(other_tab.page.locator("#whoami")).to_have_text("Alice Liddell", timeout=LIVE)
    expect(other_tab.member(alice.username).locator(".member-name")).to_have_text("Alice Liddell")
    expect(other_tab.member(alice.username).locator(".handle")).to_have_text(f"@{alice.username}")
    alice.page.go_back()
    alice.expect_joined(room_id)
    alice.open_details()
    expect(alice.member(alice.username).locator(".member-name")).to_have_text("Alice Liddell")
    assert alice.still_same_page()
