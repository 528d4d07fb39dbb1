"""The WebSocket client module (web/js/chat-client.js) in Chromium against a scripted socket.

The browser tests in test_chat_ui.py drive it against the real stack; these cover what the real server
cannot be made to do on cue: an echo lost with the socket, a catch-up larger than one page, a server
that keeps refusing connections (to watch the backoff).
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
  const { ChatClient } = await import("/js/chat-client.js");
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
  }
  const nextSocket = async (count) => {
    for (let i = 0; i < 200 && ScriptedSocket.made.length < count; i++) await new Promise((r) => pause(r, 5));
    if (ScriptedSocket.made.length < count) throw new Error(`no socket #${count}`);
    return ScriptedSocket.made[count - 1];
  };
  const message = (id, sender, text, clientMsgId = null) =>
    ({ id, roomId: 7, senderId: sender === "alice" ? 1 : 2, sender, text, ts: 1700000000000 + id, clientMsgId });
  const joined = (history, hasMore = false) =>
    ({ type: "joined", roomId: 7, room: { id: 7, name: "r", private: false, kind: "group" },
       members: [], history, hasMore });
  const client = (options = {}) =>
    new ChatClient({ wsUrl: "ws://chat.test/ws", token: "t0k", roomId: 7, username: "alice",
                     WebSocketImpl: ScriptedSocket, backoffBaseMs: 1, backoffMaxMs: 4, ...options });
  return { ScriptedSocket, nextSocket, message, joined, client };
})();
"""


@pytest.fixture(scope="module")
def page(browser: Browser, stack: StackProcess) -> Iterator[Page]:
    """One page on the stack's origin (so the module imports), with the scripted socket loaded."""
    context = browser.new_context(base_url=stack.url)
    page = context.new_page()
    page.goto("/config.json")
    page.evaluate(HARNESS)
    yield page
    context.close()


def run(page: Page, script: str) -> Any:
    """Run an async function body with the harness's helpers in scope; returns what it returns."""
    return page.evaluate(
        "async (body) => { const h = await window.harness; h.ScriptedSocket.made.length = 0;"
        " return await new Function('h', `return (async () => { ${body} })()`)(h); }",
        script,
    )


def test_a_message_whose_echo_was_lost_is_resent_with_the_same_id_and_kept_once(page: Page) -> None:
    """Socket dies before the echo: after rejoining with ``since``, the same clientMsgId goes out again, once."""
    result = run(
        page,
        """
        const c = h.client(); c.start();
        const first = await h.nextSocket(1); first.open();
        first.receive(h.joined([h.message(1, "bob", "hi")]));
        const id = c.send("hello");
        first.drop();
        const second = await h.nextSocket(2); second.open();
        const join = second.sent[0];
        second.receive(h.joined([]));                       // nothing new: the message was never stored
        const resent = second.sent.filter((f) => f.type === "message");
        second.receive({ type: "message", roomId: 7, message: h.message(2, "alice", "hello", id) });
        second.receive({ type: "message", roomId: 7, message: h.message(2, "alice", "hello", id) });
        c.stop({ leave: false });
        return { url: first.url, firstJoin: first.sent[0], join, resent, id, outbox: c.outbox.size,
                 texts: c.log.all().map((m) => m.text) };
        """,
    )
    assert result["url"] == "ws://chat.test/ws?token=t0k"
    assert result["firstJoin"] == {"type": "join", "roomId": 7}
    assert result["join"] == {"type": "join", "roomId": 7, "since": 1}
    assert result["resent"] == [{"type": "message", "roomId": 7, "text": "hello", "clientMsgId": result["id"]}]
    assert result["outbox"] == 0
    assert result["texts"] == ["hi", "hello"]


def test_a_message_stored_before_the_socket_died_is_not_sent_again(page: Page) -> None:
    """The catch-up after a reconnect holds the unacknowledged message: it counts as delivered, no resend."""
    result = run(
        page,
        """
        const c = h.client(); c.start();
        const first = await h.nextSocket(1); first.open();
        first.receive(h.joined([]));
        const id = c.send("stored, echo lost");
        first.drop();
        const second = await h.nextSocket(2); second.open();
        second.receive(h.joined([h.message(5, "alice", "stored, echo lost", id), h.message(6, "bob", "reply")]));
        c.stop({ leave: false });
        return { join: second.sent[0], sentAgain: second.sent.filter((f) => f.type === "message").length,
                 outbox: c.outbox.size, ids: c.log.ids };
        """,
    )
    assert result["join"] == {"type": "join", "roomId": 7}  # nothing was stored locally before: a plain join
    assert result["sentAgain"] == 0
    assert result["outbox"] == 0
    assert result["ids"] == [5, 6]


def test_a_long_absence_is_filled_backwards_until_it_meets_what_was_there(page: Page) -> None:
    """A catch-up page with ``hasMore`` is completed with ``history`` pages down to the last id seen, in order."""
    result = run(
        page,
        """
        const c = h.client({ catchUpPageSize: 3 }); c.start();
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
        c.stop({ leave: false });
        return { join: second.sent[0], gap1, gap2, frames, ids: c.log.ids, hasEarlier: c.hasEarlier };
        """,
    )
    assert result["join"] == {"type": "join", "roomId": 7, "since": 2}
    assert result["gap1"] == {"type": "history", "roomId": 7, "before": 7, "limit": 3}
    assert result["gap2"] == {"type": "history", "roomId": 7, "before": 4, "limit": 3}
    assert result["frames"] == 3  # reached what it had: no third history request
    assert result["ids"] == list(range(1, 10))
    assert result["hasEarlier"] is False  # from the first join, not from the gap pages


def test_reconnect_delays_back_off_exponentially_with_jitter_and_reset_after_a_join(page: Page) -> None:
    """Refused connections are retried after growing, jittered delays (capped); a successful join resets them."""
    result = run(
        page,
        """
        const delays = [];
        const realSetTimeout = window.setTimeout;
        window.setTimeout = (fn, ms, ...args) => { delays.push(ms); return realSetTimeout(fn, 0, ...args); };
        try {
          const c = h.client({ backoffBaseMs: 500, backoffMaxMs: 8000 }); c.start();
          for (let n = 1; n <= 7; n++) (await h.nextSocket(n)).drop();   // refused before opening
          const good = await h.nextSocket(8); good.open(); good.receive(h.joined([]));
          const state = c.state;
          good.drop();
          await h.nextSocket(9);
          c.stop({ leave: false });
          return { delays: delays.filter((d) => d >= 1), state };
        } finally {
          window.setTimeout = realSetTimeout;
        }
        """,
    )
    delays = result["delays"]
    ceilings = [500, 1000, 2000, 4000, 8000, 8000, 8000, 500]
    assert len(delays) >= len(ceilings), delays
    for delay, ceiling in zip(delays, ceilings, strict=False):
        assert ceiling / 2 <= delay <= ceiling, (delays, ceilings)
    assert len(set(delays[:5])) == 5  # jittered, not a fixed schedule
    assert result["state"] == "connected"


def test_pings_keep_the_connection_and_a_missing_pong_replaces_it(page: Page) -> None:
    """A ``ping`` goes out every interval; answered, the socket stays; unanswered, a new socket replaces it."""
    result = run(
        page,
        """
        const c = h.client({ pingIntervalMs: 40, pongTimeoutMs: 60 }); c.start();
        const first = await h.nextSocket(1); first.open(); first.receive(h.joined([]));
        const answered = [];
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 45));
          answered.push(first.sent.filter((f) => f.type === "ping").length);
          first.receive({ type: "pong", ts: Date.now() });
        }
        const socketsWhileAnswered = h.ScriptedSocket.made.length;
        const second = await h.nextSocket(2);   // pings no longer answered: replaced
        c.stop({ leave: false });
        return { answered, socketsWhileAnswered, firstClosed: first.readyState === 3,
                 rejoin: second.url === first.url };
        """,
    )
    assert result["answered"][-1] >= 3
    assert result["socketsWhileAnswered"] == 1
    assert result["firstClosed"] is True
    assert result["rejoin"] is True
