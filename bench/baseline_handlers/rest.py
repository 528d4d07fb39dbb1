"""Baseline REST handler (``GET /conversations``, ``GET /profile``), written as a plain HTTP API handler: a dict
of routes, ``json.dumps`` of the rows, the PostgreSQL connection at module scope.

The same requests as ``functions/rest`` for ``GET /conversations``: the caller's user row and the conversations
query (the statement that ``chatcore.postgres.rooms.conversations_page`` runs inside its PL/pgSQL function,
migration 0010), so PostgreSQL does the same work. The baseline keeps psycopg's default: from a query's fifth
run it is a prepared statement (which RDS Proxy would pin; ours caches the plan in the function instead).

What ours does beyond this: it verifies the bearer token (an HS256 JWT against the key set, with its expiry; here
the claims are decoded unverified), resolves the route with Powertools' ``APIGatewayHttpResolver`` with
validation on (typed query parameters, pydantic response models, an OpenAPI description of every route), pages
with a signed-free opaque cursor, maps errors to statuses in one place, and logs, traces and counts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import rds

db = rds.connect()

CONVERSATIONS = """
SELECT c.id, c.kind, c.name, c.private, c.description,
       o.id AS other_id, o.username AS other_username, o.nickname AS other_nickname,
       c.unread, last.id AS last_message_id, sender.username AS last_sender,
       left(last.content, 140) AS last_text, last.created_at AS last_at, c.mentions,
       coalesce(last.deleted_at IS NOT NULL, false) AS last_deleted
FROM (
    SELECT r.id, r.kind, r.name, r.private, r.description,
        (SELECT count(*) FROM (SELECT 1 FROM messages m
          WHERE m.room_id = r.id AND m.id > me.last_read_message_id AND m.user_id <> %(u)s AND m.deleted_at IS NULL
          LIMIT 100) unread_capped)::int AS unread,
        (SELECT count(*) FROM (SELECT 1 FROM message_mentions mm JOIN messages m ON m.id = mm.message_id
          WHERE mm.user_id = %(u)s AND mm.message_id > me.last_read_message_id AND m.room_id = r.id
            AND m.deleted_at IS NULL
          LIMIT 100) mentions_capped)::int AS mentions,
        (SELECT max(m.id) FROM messages m WHERE m.room_id = r.id) AS last_id
    FROM room_members me JOIN rooms r ON r.id = me.room_id
    WHERE me.user_id = %(u)s
) c
LEFT JOIN messages last ON last.id = c.last_id
LEFT JOIN users sender ON sender.id = last.user_id
LEFT JOIN room_members om ON c.kind = 'direct' AND om.room_id = c.id AND om.user_id <> %(u)s
LEFT JOIN users o ON o.id = om.user_id
ORDER BY coalesce(c.last_id, 0) DESC, c.id DESC
LIMIT %(n)s
"""


def claims(headers: dict[str, str]) -> dict[str, Any]:
    """The bearer token's payload, unverified."""
    payload = headers["authorization"].removeprefix("Bearer ").split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def respond(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def profile(user: tuple[Any, ...], event: dict[str, Any]) -> dict[str, Any]:
    return respond(200, {"id": user[0], "username": user[1], "nickname": user[2]})


def conversations(user: tuple[Any, ...], event: dict[str, Any]) -> dict[str, Any]:
    rows = db.execute(CONVERSATIONS, {"u": user[0], "n": 51}).fetchall()
    items = [
        {
            "id": row[0],
            "kind": row[1],
            "name": row[7] or row[6] if row[1] == "direct" else row[2],
            "private": row[3],
            "description": row[4],
            "other": {"id": row[5], "username": row[6], "nickname": row[7]} if row[5] is not None else None,
            "unread": row[8],
            "mentions": row[13],
            "lastMessage": {
                "id": row[9],
                "sender": row[10],
                "text": row[11],
                "ts": int(row[12].timestamp() * 1000),
                "deleted": row[14],
            }
            if row[9] is not None
            else None,
        }
        for row in rows[:50]
    ]
    return respond(200, {"conversations": items, "next": None})


ROUTES: dict[tuple[str, str], Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]] = {
    ("GET", "/conversations"): conversations,
    ("GET", "/profile"): profile,
}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    route = ROUTES.get((event["requestContext"]["http"]["method"], event["rawPath"]))
    if route is None:
        return respond(404, {"message": "Not found"})
    try:
        user_id = int(claims(event["headers"])["sub"])
    except (KeyError, IndexError, ValueError):
        return respond(401, {"message": "Unauthorized"})
    user = db.execute("SELECT id, username, nickname FROM users WHERE id = %s", (user_id,)).fetchone()
    if user is None:
        return respond(401, {"message": "Unauthorized"})
    return route(user, event)
