"""The tab's connection module (web/js/connection.js) and its outbox in Chromium, against a scripted socket.

The browser tests in test_chat_ui.py and test_app.py drive them against the real stack; these cover what the
real server cannot be made to do on cue: an echo lost with the socket, a catch-up larger than one page, a
server that keeps refusing connections (to watch the backoff), a room whose live messages came while its
catch-up was pending.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.helpers.stack import StackProcess

pytestmark = pytest.mark.e2e

# A stand-in for the browser's WebSocket that the test script opens, feeds and closes by hand.
HARNESS = """
window.harness = (async () => {
  const { ChatConnection } = await import("/js/connection.js");
  const { Outbox } = await import("/js/outbox.js");
  const pause = window.setTimeout.bind(window); // the harness's own waits, unaffected if a test wraps setTimeout
  class ScriptedSocket {
    static made = [];
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 0;
      ScriptedSocket.made.push(this);
    }
    send(data) { this.sent.push(JSON.parse(data)); }
    close(code = 1000) { this.drop(code); }
    open() { this.readyState = 1; this.onopen?.(); }
    receive(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
    drop(code = 1006) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.onclose?.({ code, reason: "" });
    }
    frames(type) { return this.sent.filter((f) => f.type === type); }
  }
  const nextSocket = async (count) => {
    for (let i = 0; i < 200 && ScriptedSocket.made.length < count; i++) await new Promise((r) => pause(r, 5));
    if (ScriptedSocket.made.length < count) throw new Error(`no socket #${count}`);
    return ScriptedSocket.made[count - 1];
  };
  const message = (id, sender, text, clientMsgId = null, roomId = 7, rev = id) =>
    ({ id, roomId, senderId: sender === "alice" ? 1 : 2, sender, text, ts: 1700000000000 + id, clientMsgId, rev });
  const joined = (history, hasMore = false, roomId = 7) =>
    ({ type: "joined", roomId, room: { id: roomId, name: "r", private: false, kind: "group" },
       members: [], history, hasMore });
  const connection = (options = {}, outbox = new Outbox("test", null)) =>
    new ChatConnection({ wsUrl: "ws://chat.test/ws", token: "t0k", username: "alice", outbox,
                         WebSocketImpl: ScriptedSocket, backoffBaseMs: 1, backoffMaxMs: 4, ...options });
  return { ScriptedSocket, nextSocket, message, joined, connection, Outbox };
})();
"""


@pytest.fixture(scope="module")
def page(browser: Browser, stack: StackProcess) -> Iterator[Page]:
    """One page on the stack's origin (so the modules import), with the scripted socket loaded."""
    context = browser.new_context(base_url=stack.url)
    page = context.new_page()
    page.goto("/config.json")
    page.evaluate(HARNESS)
    yield page
    context.close()


def run(page: Page, script: str) -> Any:
    """Run an async function body with the harness's helpers in scope; returns what it returns."""
    return page.evaluate(
        "async (body) => { const h = await window.harness; h.ScriptedSocket.made.length = 0; localStorage.clear();"
        " return await new Function('h', `return (async () => { ${body} })()`)(h); }",
        script,
    )


def test_a_message_whose_echo_was_lost_is_resent_with_the_same_id_and_kept_once(page: Page) -> None:
    """A message whose echo died with the socket is resent with its clientMsgId and shown once."""
    result = run(
        page,
        """
        const c = h.connection(); c.start(); c.view(7);
        const first = await h.nextSocket(1); first.open();
        first.receive(h.joined([h.message(1, "bob", "hi")]));
        const id = c.send(7, "hello");
        const sentFirst = first.frames("message");
        first.drop();
        const second = await h.nextSocket(2); second.open();
        const join = second.frames("join")[0];
        second.receive(h.joined([]));                       // nothing new: the message was never stored
        const resent = second.frames("message");
        second.receive({ type: "message", roomId: 7, message: h.message(2, "alice", "hello", id) });
        second.receive({ type: "message", roomId: 7, message: h.message(2, "alice", "hello", id) });
        c.stop();
        return { url: first.url, firstJoin: first.sent[0], sentFirst, join, resent, id, outbox: c.outbox.size,
                 texts: c.roomState(7).log.all().map((m) => m.text) };
        """,
    )
    assert result["url"] == "ws://chat.test/ws?token=t0k"
    assert result["firstJoin"] == {"type": "join", "roomId": 7}
    assert result["sentFirst"] == [{"type": "message", "roomId": 7, "text": "hello", "clientMsgId": result["id"]}]
    assert result["join"] == {"type": "join", "roomId": 7, "since": 1, "sinceRev": 1}
    assert result["resent"] == result["sentFirst"]
    assert result["outbox"] == 0
    assert result["texts"] == ["hi", "hello"]


def test_a_message_stored_before_the_socket_died_is_acknowledged_by_the_catch_up(page: Page) -> None:
    """The catch-up after a reconnect holds the unacknowledged message: it leaves the outbox and shows once."""
    result = run(
        page,
        """
        const c = h.connection(); c.start(); c.view(7);
        const first = await h.nextSocket(1); first.open();
        first.receive(h.joined([]));
        const id = c.send(7, "stored, echo lost");
        first.drop();
        const second = await h.nextSocket(2); second.open();
        second.receive(h.joined([h.message(5, "alice", "stored, echo lost", id), h.message(6, "bob", "reply")]));
        const outbox = c.outbox.size;
        c.stop();
        return { join: second.frames("join")[0], outbox, ids: c.roomState(7).log.ids };
        """,
    )
    assert result["join"] == {"type": "join", "roomId": 7}  # nothing was held before: a plain join
    assert result["outbox"] == 0
    assert result["ids"] == [5, 6]


def test_a_long_absence_is_filled_backwards_until_it_meets_what_was_there(page: Page) -> None:
    """A catch-up page with ``hasMore`` is completed with ``history`` pages down to the last id seen, in order."""
    result = run(
        page,
        """
        const c = h.connection({ catchUpPageSize: 3 }); c.start(); c.view(7);
        const first = await h.nextSocket(1); first.open();
        first.receive(h.joined([h.message(1, "bob", "m1"), h.message(2, "bob", "m2")]));
        first.drop();
        const second = await h.nextSocket(2); second.open();
        const newest = [h.message(7, "bob", "m7"), h.message(8, "bob", "m8"), h.message(9, "bob", "m9")];
        second.receive(h.joined(newest, true));
        const gap1 = second.sent.at(-1);
        second.receive({ type: "history", roomId: 7, hasMore: true,
                         messages: [h.message(4, "bob", "m4"), h.message(5, "bob", "m5"), h.message(6, "bob", "m6")] });
        const gap2 = second.sent.at(-1);
        second.receive({ type: "history", roomId: 7, hasMore: true,
                         messages: [h.message(1, "bob", "m1"), h.message(2, "bob", "m2"), h.message(3, "bob", "m3")] });
        const frames = second.sent.length;
        const room = c.roomState(7);
        c.stop();
        return { join: second.sent[0], gap1, gap2, frames, ids: room.log.ids, hasEarlier: room.hasEarlier,
                 synced: room.synced };
        """,
    )
    assert result["join"] == {"type": "join", "roomId": 7, "since": 2, "sinceRev": 2}
    assert result["gap1"] == {"type": "history", "roomId": 7, "before": 7, "limit": 3}
    assert result["gap2"] == {"type": "history", "roomId": 7, "before": 4, "limit": 3}
    assert result["frames"] == 3  # reached what it had: no third history request
    assert result["ids"] == list(range(1, 10))
    assert result["hasEarlier"] is False  # from the first join, not from the gap pages
    assert result["synced"] is True


def test_live_messages_after_a_reconnect_do_not_hide_what_was_missed(page: Page) -> None:
    """Live messages heard after a reconnect do not move a room's catch-up point past what was missed."""
    result = run(
        page,
        """
        const c = h.connection(); c.start(); c.view(7);
        const first = await h.nextSocket(1); first.open();
        first.receive(h.joined([h.message(1, "bob", "m1"), h.message(2, "bob", "m2")]));
        c.view(8);                                           // looks elsewhere; room 7 stays heard (app-wide)
        first.receive({ type: "message", roomId: 7, message: h.message(3, "bob", "m3") });
        first.drop();                                        // m4 is sent while no socket is open
        const second = await h.nextSocket(2); second.open();
        second.receive({ type: "message", roomId: 7, message: h.message(5, "bob", "m5") });
        c.view(7);
        const join = second.frames("join").at(-1);
        second.receive(h.joined([h.message(4, "bob", "m4"), h.message(5, "bob", "m5")]));
        const room = c.roomState(7);
        c.stop();
        return { leave: first.frames("leave"), join, ids: room.log.ids };
        """,
    )
    assert result["leave"] == [{"type": "leave", "roomId": 7}]
    # From where it was when m3 arrived live moments ago (an earlier message could still have been on its way).
    assert result["join"] == {"type": "join", "roomId": 7, "since": 2, "sinceRev": 3}
    assert result["ids"] == [1, 2, 3, 4, 5]


def test_a_message_overtaken_by_a_later_one_is_caught_up_after_a_drop(page: Page) -> None:
    """m3 arrives live before m2 (frames are handled concurrently), the socket drops: the catch-up fetches m2."""
    result = run(
        page,
        """
        const c = h.connection(); c.start(); c.view(7);
        const first = await h.nextSocket(1); first.open();
        first.receive(h.joined([h.message(1, "bob", "m1")]));
        first.receive({ type: "message", roomId: 7, message: h.message(3, "bob", "m3") });
        first.drop();                                        // m2 was posted to the dying socket
        const second = await h.nextSocket(2); second.open();
        const join = second.frames("join").at(-1);
        second.receive(h.joined([h.message(2, "bob", "m2"), h.message(3, "bob", "m3")]));
        const room = c.roomState(7);
        c.stop();
        return { join, ids: room.log.ids };
        """,
    )
    assert result["join"]["since"] == 1
    assert result["ids"] == [1, 2, 3]


def test_the_catch_up_point_moves_back_only_for_messages_heard_in_the_reorder_window(page: Page) -> None:
    """A live message older than the window no longer holds the catch-up point back; a recent one does."""
    result = page.evaluate(
        """async () => {
          const { catchUpFrom, REORDER_WINDOW_MS } = await import("/js/connection.js");
          const now = 1_000_000;
          const room = { syncedUpTo: 9, recentLive: [{ id: 5, at: now - REORDER_WINDOW_MS - 1, before: 4 },
                                                     { id: 8, at: now - 10, before: 7 }] };
          const recent = catchUpFrom(room, now);
          const later = catchUpFrom(room, now + REORDER_WINDOW_MS + 1);
          const never = catchUpFrom({ syncedUpTo: null, recentLive: [{ id: 3, at: now, before: 2 }] }, now);
          return { recent, later, never, kept: room.recentLive.length };
        }"""
    )
    assert result == {"recent": 7, "later": 9, "never": None, "kept": 0}


def test_changes_made_while_away_come_back_with_the_catch_up_and_never_undo_newer_ones(page: Page) -> None:
    """Rejoining asks for changes since a revision, applies them, never goes back to an older copy."""
    result = run(
        page,
        """
        const c = h.connection(); c.start(); c.view(7);
        const first = await h.nextSocket(1); first.open();
        first.receive(h.joined([h.message(1, "bob", "one"), h.message(2, "bob", "two")]));
        const thumbs = [{ emoji: "👍", count: 1, users: ["bob"] }];
        first.receive({ type: "reaction", roomId: 7, messageId: 1, rev: 5, reactions: thumbs });
        first.receive({ type: "reaction", roomId: 7, messageId: 1, rev: 4, reactions: [] });  // late, older: ignored
        first.drop();
        const second = await h.nextSocket(2); second.open();
        const join = second.frames("join")[0];
        second.receive({ ...h.joined([h.message(3, "bob", "three", null, 7, 8)]), changes: [
          { ...h.message(2, "bob", "two, edited", null, 7, 6), editedAt: 1700000009000 },
          { ...h.message(1, "bob", "", null, 7, 7), deleted: true },
        ], changesHasMore: false });
        const room = c.roomState(7);
        const afterCatchUp = room.log.all().map((m) => [m.id, m.text, Boolean(m.deleted)]);
        second.receive({ type: "message_edited", roomId: 7, message: { ...h.message(2, "bob", "stale", null, 7, 3) } });
        const stillEdited = room.log.get(2).text;
        second.drop();
        const third = await h.nextSocket(3); third.open();
        const rejoin = third.frames("join")[0];
        third.receive({ ...h.joined([]), changes: [], changesHasMore: true });
        const afresh = third.frames("join").slice(1);
        third.receive(h.joined([h.message(3, "bob", "three", null, 7, 8)]));
        const ids = room.log.ids;
        c.stop();
        return { join, afterCatchUp, stillEdited, rejoin, afresh, ids };
        """,
    )
    assert result["join"] == {"type": "join", "roomId": 7, "since": 2, "sinceRev": 5}
    assert result["afterCatchUp"] == [[1, "", True], [2, "two, edited", False], [3, "three", False]]
    assert result["stillEdited"] == "two, edited"
    assert result["rejoin"] == {"type": "join", "roomId": 7, "since": 3, "sinceRev": 8}
    assert result["afresh"] == [{"type": "join", "roomId": 7}]
    assert result["ids"] == [3]


def test_reconnect_delays_back_off_with_jitter_up_to_a_cap_and_retry_now_ends_the_wait(page: Page) -> None:
    """Retries back off with jitter to a 10 s cap; Retry now tries at once; a working connection resets them."""
    result = run(
        page,
        """
        const delays = [];
        const timers = [];
        const realSetTimeout = window.setTimeout;
        window.setTimeout = (fn, ms, ...args) => {
          if (ms >= 100) { delays.push(ms); timers.push(fn); return 0; }   // reconnect waits: run by hand below
          return realSetTimeout(fn, ms, ...args);
        };
        try {
          const c = h.connection({ backoffBaseMs: 500, backoffMaxMs: 10000, stableAfterMs: 60000 }); c.start();
          for (let n = 1; n <= 7; n++) { (await h.nextSocket(n)).drop(); timers.shift()(); }  // refused before opening
          const waiting = delays.slice();
          (await h.nextSocket(8)).drop();                   // refused again: now waiting the longest
          const beforeRetry = h.ScriptedSocket.made.length;
          c.retryNow();
          const afterRetry = h.ScriptedSocket.made.length;
          (await h.nextSocket(9)).drop();                    // and the next wait starts from the bottom
          const afterRetryDelay = delays.at(-1);
          timers.shift(); timers.shift()();
          const good = await h.nextSocket(10); good.open(); good.receive({ type: "pong", ts: 1 });
          const state = c.state;
          good.drop();
          const resetDelay = delays.at(-1);
          c.stop();
          return { waiting, beforeRetry, afterRetry, afterRetryDelay, resetDelay, state };
        } finally {
          window.setTimeout = realSetTimeout;
        }
        """,
    )
    delays = result["waiting"]
    ceilings = [500, 1000, 2000, 4000, 8000, 10000, 10000]
    assert len(delays) == len(ceilings), delays
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling, (delays, ceilings)
    assert len(set(delays[:5])) == 5  # jittered, not a fixed schedule
    assert result["afterRetry"] == result["beforeRetry"] + 1  # a socket at once, no waiting
    assert 250 <= result["afterRetryDelay"] <= 500
    assert 250 <= result["resetDelay"] <= 500
    assert result["state"] == "connected"


def test_pings_keep_the_connection_and_a_missing_pong_replaces_it(page: Page) -> None:
    """A ``ping`` goes out every interval; answered, the socket stays; unanswered, a new socket replaces it."""
    result = run(
        page,
        """
        const c = h.connection({ pingIntervalMs: 40, pongTimeoutMs: 60 }); c.start();
        const first = await h.nextSocket(1); first.open();
        const answered = [];
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 45));
          answered.push(first.frames("ping").length);
          first.receive({ type: "pong", ts: Date.now() });
        }
        const socketsWhileAnswered = h.ScriptedSocket.made.length;
        const second = await h.nextSocket(2);   // pings no longer answered: replaced
        c.stop();
        return { answered, socketsWhileAnswered, firstClosed: first.readyState === 3,
                 sameUrl: second.url === first.url };
        """,
    )
    assert result["answered"][-1] >= 3
    assert result["socketsWhileAnswered"] == 1
    assert result["firstClosed"] is True
    assert result["sameUrl"] is True


def test_the_outbox_survives_a_reload_and_another_tab_does_not_send_a_new_entry_at_once(page: Page) -> None:
    """The outbox survives a reload and is sent on open; another tab leaves a fresh entry to its writer."""
    result = run(
        page,
        """
        const writer = new h.Outbox("u1");
        const entry = writer.add({ roomId: 7, text: "kept" });
        const reloaded = new h.Outbox("u1");                       // what the page finds after a reload
        const c = h.connection({}, reloaded); c.start();
        const socket = await h.nextSocket(1); socket.open();
        const sentOnOpen = socket.frames("message").map((f) => f.clientMsgId);
        // Another tab writes: this tab hears of it (the storage event) but does not send it at once.
        const other = new h.Outbox("u1");
        const fresh = other.add({ roomId: 7, text: "from the other tab" });
        window.dispatchEvent(new StorageEvent("storage", { key: "chat.outbox.u1" }));
        const seen = reloaded.get(fresh.clientMsgId)?.text ?? null;
        const sentAfter = socket.frames("message").length;
        socket.receive({ type: "message", roomId: 7, message: h.message(9, "alice", "kept", entry.clientMsgId) });
        const stored = JSON.parse(localStorage.getItem("chat.outbox.u1")).map((e) => e.text);
        c.stop();
        return { id: entry.clientMsgId, sentOnOpen, seen, sentAfter, stored };
        """,
    )
    assert result["sentOnOpen"] == [result["id"]]
    assert result["seen"] == "from the other tab"
    assert result["sentAfter"] == 1
    assert result["stored"] == ["from the other tab"]
