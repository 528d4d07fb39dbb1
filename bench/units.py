"""What a message and a connect cost in DynamoDB capacity units, from the items the registry really stored.

DynamoDB bills on item size, not on calls (the "Item sizes and formats" and "Read/write capacity mode" pages
of its developer guide): a write costs one unit per started KB of the larger of the item's old and new size
(an UpdateItem included), a read one unit per started 4 KB of the items a Query reads (before any filter or
projection), half of that when eventually consistent, and every write to an item a global secondary index
projects writes the index too. moto answers ``ReturnConsumedCapacity`` with a constant, so the sizes here are
computed from the stored items by the guide's rules.

*Now* is the registry as it is: a room's connections are items of the ``room#<id>#<shard>`` partition, and
the connection item lists its room partitions. *Before* is the layout it replaced (commit 7ea5877's parent):
one subscription item per connection and room (``pk`` the connection, ``sk`` ``room#<id>``, ``room_key``,
the user, ``joined_at``, the expiry) projected into a ``by_room`` index, which the message handler queried.
Its sizes are computed from the same stored values in that shape.
"""

from __future__ import annotations

import math
import re
from typing import Any

GSI_PROJECTED = ("user_id", "username", "expires_at")
"""What the old ``by_room`` index projected besides the keys (``room_key``, ``pk``, ``sk``)."""


def value_size(value: dict[str, Any]) -> int:
    """The size DynamoDB counts for one attribute value (``{"S": ...}``, ``{"N": ...}``, sets, ...)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        digits = re.sub(r"[^0-9]", "", str(data)).strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data)
    if kind in ("SS", "NS", "BS"):
        member = kind[0]
        return sum(value_size({member: item}) for item in data)
    if kind == "BOOL" or kind == "NULL":
        return 1
    if kind == "L":
        return 3 + sum(value_size(item) + 1 for item in data)
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(item) + 1 for name, item in data.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    """An item's size: each attribute's name in UTF-8 bytes plus its value's size."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(*sizes: int) -> int:
    """Write units for one write of an item whose old and new sizes are ``sizes`` (one per started KB)."""
    return max(1, math.ceil(max(sizes) / 1024))


def query_read_units(items: list[dict[str, Any]], *, consistent: bool = False) -> float:
    """Read units of a Query that reads ``items`` (one per started 4 KB of their sum; half if eventual)."""
    blocks = max(1, math.ceil(sum(item_size(item) for item in items) / 4096))
    return blocks * (1.0 if consistent else 0.5)


def old_subscription(room_item: dict[str, Any], room_id: int, joined_at: str) -> dict[str, Any]:
    """The subscription item the old layout stored for the connection of ``room_item`` (a room partition item)."""
    return {
        "pk": room_item["sk"],
        "sk": {"S": f"room#{room_id}"},
        "room_key": {"S": f"ROOM#{room_id}"},
        "user_id": room_item["user_id"],
        "username": room_item["username"],
        "joined_at": {"N": joined_at},
        "expires_at": room_item["expires_at"],
    }


def old_index_item(subscription: dict[str, Any]) -> dict[str, Any]:
    """What the old ``by_room`` index held for a subscription: its keys, the table's keys, the projection."""
    keep = ("room_key", "pk", "sk", *GSI_PROJECTED)
    return {name: subscription[name] for name in keep if name in subscription}


def costs(
    connection_item: dict[str, Any], room_items: list[dict[str, Any]], room_id: int, rooms_of_user: int
) -> dict[str, dict[str, float]]:
    """Units for one message to the room (the sender's rate-limit UpdateItem and the room lookup) and for
    one ``$connect`` of a user in ``rooms_of_user`` rooms, now and in the old layout."""
    joined_at = connection_item.get("connected_at", {"N": "1764600000000"})["N"]
    subscriptions = [old_subscription(item, room_id, joined_at) for item in room_items]
    old_connection = {k: v for k, v in connection_item.items() if k not in ("subs", "views")}
    room_item = max(room_items, key=item_size)
    subscription = max(subscriptions, key=item_size)
    now_message_w = write_units(item_size(connection_item))
    before_message_w = write_units(item_size(old_connection))
    return {
        "message": {
            "now_wcu": now_message_w,
            "now_rcu": query_read_units(room_items),
            "before_wcu": before_message_w,
            "before_rcu": query_read_units([old_index_item(s) for s in subscriptions]),
        },
        "connect": {
            # The connection item, the user's connection set, a room item per room and the list of them.
            "now_wcu": 1 + 1 + rooms_of_user * write_units(item_size(room_item)) + now_message_w,
            # The connection item, the user's set, a subscription per room and its index entry.
            "before_wcu": 1 + 1 + rooms_of_user * 2 * write_units(item_size(subscription)),
        },
        "sizes": {
            "connection_item": item_size(connection_item),
            "room_item": item_size(room_item),
            "old_subscription": item_size(subscription),
            "old_index_item": item_size(old_index_item(subscription)),
            "room_items": len(room_items),
        },
    }
