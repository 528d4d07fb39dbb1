"""The DynamoDB connection registry: who is connected, as whom, and to which rooms.

One table, keyed ``pk`` + ``sk``, no secondary index (every read is a GetItem or a Query of one partition):

* the connection item (``pk`` = the connection id, ``sk = "#conn"``): user id, username, connected-at,
  last-seen, the rate-limit counters of the current window, the TTL, and which room partitions hold it
  (``subs``: ``"<room>:<shard>"`` tokens; ``views``: the rooms it looks at), so ``$disconnect`` deletes
  exactly its items without a database;
* a room's connections (``pk = "room#<id>#<shard>"``, ``sk`` = the connection id, with the user): written
  at ``$connect`` for every room of the user and kept current as memberships change. A room is spread over
  ``shards`` partitions (a power of two kept in PostgreSQL, see migration 0009), a connection in shard
  ``crc32(id) % shards``: a message to a small room is one Query of one partition; a large one is read shard
  by shard and is never one hot partition;
* a room's viewers (``pk = "view#<id>"``, ``sk`` = the connection id): the connections looking at the room
  (``join``), for typing and read receipts;
* one item per connected user (``pk = "user#<id>"``, ``sk = "#conns"``) holding the set of that user's
  connection ids: one read answers "which tabs does this user have open", and adding to or deleting from
  the set is atomic, which caps a user's open connections and tells exactly one closer it was the last;
* one bookkeeping item (``pk = "#prune"``) where the prune sweep keeps its place between runs, and one
  counter per second (``pk = "#budget"``) of the posts the fan-out workers share.

Items carry ``expires_at`` (the table's TTL attribute) a little past API Gateway's two-hour connection
limit. DynamoDB deletes expired items late, so every read ignores items whose TTL has passed. Errors of
DynamoDB itself (after the client's retries) surface as :class:`chatcore.errors.RegistryUnavailable`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from chatcore.errors import LimitExceeded, RegistryUnavailable
from chatcore.records import ConnectionRecord, NewConnection, RemovedConnection, RoomConnection, Usage
from chatcore.rules import RATE_WINDOW_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONNECTION_SK = "#conn"
USER_SK = "#conns"
TTL_ATTRIBUTE = "expires_at"
_PRUNE_KEY = {"pk": {"S": "#prune"}, "sk": {"S": "#cursor"}}
_BUDGET_PK = "#budget"
_BATCH_WRITE_ROUNDS = 8

# API Gateway closes every connection after 2 hours; items live 10 minutes past that.
DEFAULT_ITEM_TTL_SECONDS = 2 * 3600 + 600

P = ParamSpec("P")
T = TypeVar("T")


def table_definition(table_name: str) -> dict[str, Any]:
    """``CreateTable`` arguments for the registry table (the local stack and the tests; the CDK app
    declares the same keys from these constants)."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    }


def create_table(client: DynamoDBClient, table_name: str) -> None:
    """Create the registry table with its TTL enabled (local stack and tests)."""
    client.create_table(**table_definition(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1})
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def shard_of(connection_id: str, shards: int) -> int:
    """The shard of a room's ``shards`` that holds ``connection_id`` (stable across processes and versions)."""
    return zlib.crc32(connection_id.encode()) % shards


def _shard_pk(room_id: int, shard: int) -> str:
    return f"room#{room_id}#{shard}"


def _view_pk(room_id: int) -> str:
    return f"view#{room_id}"


def _token(room_id: int, shard: int) -> str:
    return f"{room_id}:{shard}"


def _candidate_tokens(connection_id: str, room_id: int, shards: int) -> list[str]:
    """Every token a subscription of ``connection_id`` to the room can have: its shard under each power of two
    up to ``shards`` (the count only grows, so it was written under one of them)."""
    tokens = []
    count = 1
    while count <= shards:
        tokens.append(_token(room_id, shard_of(connection_id, count)))
        count *= 2
    return sorted(set(tokens))


def _user_key(user_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"user#{user_id}"}, "sk": {"S": USER_SK}}


def _translated(method: Callable[P, T]) -> Callable[P, T]:
    """DynamoDB's own failures, after the client's retries, as the domain's :class:`RegistryUnavailable`."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise RegistryUnavailable(f"DynamoDB request failed: {exc}") from exc

    return wrapper


class ConnectionRegistry:
    """Connections and room subscriptions in DynamoDB (implements :class:`chatcore.ports.Connections`)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        item_ttl_seconds: int = DEFAULT_ITEM_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._ttl = item_ttl_seconds
        self._clock = clock
        self._sleep = sleep

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _live(self, item: dict[str, Any]) -> bool:
        expires = item.get(TTL_ATTRIBUTE)
        return expires is None or int(expires["N"]) > self._clock()

    # ------------------------------------------------------------ connections

    @_translated
    def add_connection(
        self,
        connection_id: str,
        user_id: int,
        username: str,
        *,
        max_per_user: int | None = None,
        audience: Iterable[int] = (),
    ) -> NewConnection:
        """Register a new connection of ``user_id``; :class:`LimitExceeded` if the user has ``max_per_user`` open.

        ``audience``: the users told when this user comes online or goes offline, kept on the user's item
        so ``$disconnect`` needs no database (widened as memberships change: :meth:`add_to_audience`).
        Connections that vanished without a ``$disconnect`` (their item gone or expired) do not count against
        the cap: when it is hit they are dropped from the user's set and the connection is tried once more.
        """
        now_ms = self._now_ms()
        record = ConnectionRecord(
            connection_id=connection_id,
            user_id=user_id,
            username=username,
            connected_at=now_ms,
            last_seen=now_ms,
            expires_at=now_ms // 1000 + self._ttl,
        )
        contacts = sorted(set(audience) - {user_id})
        open_now = self._claim_slot(record, max_per_user, contacts)
        if open_now is None:
            self._evict_vanished(user_id)
            open_now = self._claim_slot(record, max_per_user, contacts)
            if open_now is None:
                raise LimitExceeded(f"at most {max_per_user} connections open at once", retry_after=None)
        item: dict[str, Any] = {
            "pk": {"S": connection_id},
            "sk": {"S": CONNECTION_SK},
            "user_id": {"N": str(user_id)},
            "username": {"S": username},
            "connected_at": {"N": str(record.connected_at)},
            "last_seen": {"N": str(record.last_seen)},
            TTL_ATTRIBUTE: {"N": str(record.expires_at)},
        }
        self._client.put_item(TableName=self._table, Item=item)
        return NewConnection(record, first_of_user=open_now == 1)

    def _claim_slot(self, record: ConnectionRecord, max_per_user: int | None, audience: list[int]) -> int | None:
        """Add the connection to its user's set (and ``audience`` to the users told of the user's presence),
        unless the set is full (None); how many are open now."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": _user_key(record.user_id),
            "UpdateExpression": f"ADD conns :c SET {TTL_ATTRIBUTE} = :exp, username = :name",
            "ExpressionAttributeValues": {
                ":c": {"SS": [record.connection_id]},
                ":exp": {"N": str(record.expires_at)},
                ":name": {"S": record.username},
            },
            "ReturnValues": "UPDATED_NEW",
        }
        if audience:
            request["UpdateExpression"] = f"ADD conns :c, audience :a SET {TTL_ATTRIBUTE} = :exp, username = :name"
            request["ExpressionAttributeValues"][":a"] = {"NS": [str(u) for u in audience]}
        if max_per_user is not None:
            request["ConditionExpression"] = "attribute_not_exists(conns) OR size(conns) < :max"
            request["ExpressionAttributeValues"][":max"] = {"N": str(max_per_user)}
        try:
            response = self._client.update_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return len(response["Attributes"]["conns"]["SS"])

    def _evict_vanished(self, user_id: int) -> None:
        """Drop from the user's set the connections whose item is gone or expired (lost without $disconnect)."""
        listed = self.user_connection_ids(user_id)
        live = {record.connection_id for record in self._connections(listed)}
        vanished = [connection_id for connection_id in listed if connection_id not in live]
        if vanished:
            self._client.update_item(
                TableName=self._table,
                Key=_user_key(user_id),
                UpdateExpression="DELETE conns :c",
                ExpressionAttributeValues={":c": {"SS": vanished}},
            )

    def _connections(self, connection_ids: list[str]) -> list[ConnectionRecord]:
        """The live connection items of ``connection_ids`` (BatchGetItem, 100 keys at a time)."""
        found: list[ConnectionRecord] = []
        for start in range(0, len(connection_ids), 100):
            keys = [{"pk": {"S": c}, "sk": {"S": CONNECTION_SK}} for c in connection_ids[start : start + 100]]
            projection = "pk, user_id, username, connected_at, last_seen, expires_at"
            found += [connection_record(item) for item in self._batch_get(keys, projection)]
        return [record for record in found if record.expires_at > self._clock()]

    @_translated
    def user_connection_ids(self, user_id: int) -> list[str]:
        """The ids of every connection ``user_id`` has open (every tab), from the user's one item."""
        item = self._client.get_item(TableName=self._table, Key=_user_key(user_id), ConsistentRead=True).get("Item")
        if item is None or "conns" not in item or not self._live(item):
            return []
        return sorted(item["conns"]["SS"])

    @_translated
    def add_to_audience(self, user_id: int, contacts: Iterable[int]) -> None:
        """Let ``contacts`` hear when ``user_id`` goes offline (a membership made them each other's contacts);
        nothing when ``user_id`` has no connection open."""
        others = sorted(set(contacts) - {user_id})
        if not others:
            return
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self._table,
                Key=_user_key(user_id),
                UpdateExpression="ADD audience :a",
                ConditionExpression="attribute_exists(conns)",
                ExpressionAttributeValues={":a": {"NS": [str(u) for u in others]}},
            )

    @_translated
    def users_connections(self, user_ids: Iterable[int]) -> dict[int, list[str]]:
        """The open connections of each of ``user_ids`` that has any (BatchGetItem, 100 users a call)."""
        wanted = sorted(set(user_ids))
        found: dict[int, list[str]] = {}
        for start in range(0, len(wanted), 100):
            keys = [_user_key(u) for u in wanted[start : start + 100]]
            for item in self._batch_get(keys, "pk, conns, expires_at"):
                if "conns" in item and self._live(item):
                    found[int(item["pk"]["S"].removeprefix("user#"))] = sorted(item["conns"]["SS"])
        return found

    def _batch_get(
        self, keys: list[dict[str, Any]], projection: str, names: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """BatchGetItem of up to 100 keys, resending what DynamoDB left unprocessed."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"Keys": keys, "ConsistentRead": True, "ProjectionExpression": projection}
        if names:
            request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {self._table: request}
        for round_number in range(1, _BATCH_WRITE_ROUNDS + 1):
            response = self._client.batch_get_item(RequestItems=pending)
            items += response["Responses"].get(self._table, [])
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return items
            self._sleep(0.05 * round_number)
        raise RegistryUnavailable("reads still unprocessed after every round")

    @_translated
    def count_frame(self, connection_id: str, kind: str) -> tuple[ConnectionRecord | None, Usage]:
        """Count one frame of ``kind`` against the connection's rate limits, refresh its last-seen time,
        and return its record with the window's usage so far.

        One conditional UpdateItem in the common case (two when a new rate window starts), so reading the
        connection record costs nothing extra. ``None`` when the connection is not registered.
        """
        now_ms = self._now_ms()
        window = now_ms // 1000 // RATE_WINDOW_SECONDS
        increments = {
            ":f": {"N": "1"},
            ":m": {"N": "1" if kind == "message" else "0"},
            ":t": {"N": "1" if kind == "typing" else "0"},
        }
        key = {"pk": {"S": connection_id}, "sk": {"S": CONNECTION_SK}}
        values = {":now": {"N": str(now_ms)}, ":w": {"N": str(window)}, **increments}
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET last_seen = :now ADD rl_f :f, rl_m :m, rl_t :t",
                ConditionExpression="attribute_exists(pk) AND rl_w = :w",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            # A new window (or no such connection): start counting afresh.
            try:
                response = self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET last_seen = :now, rl_w = :w, rl_f = :f, rl_m = :m, rl_t = :t",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                return None, Usage(0, 0, 0)
        item = response["Attributes"]
        usage = Usage(int(item["rl_f"]["N"]), int(item["rl_m"]["N"]), int(item["rl_t"]["N"]))
        if not self._live(item):
            return None, usage
        return connection_record(item), usage

    @_translated
    def touch(self, connection_id: str) -> bool:
        """Refresh the connection's last-seen time; False if the connection is not registered."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": connection_id}, "sk": {"S": CONNECTION_SK}},
                UpdateExpression="SET last_seen = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":now": {"N": str(self._now_ms())}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    @_translated
    def remove_connection(self, connection_id: str, *, min_age_seconds: float = 0) -> RemovedConnection:
        """Delete the connection with its room and viewer items; report what it was.

        ``min_age_seconds``: keep a connection registered less than that long ago (a post that found it gone
        may have met it still in ``$connect``, when API Gateway answers 410 too). One GetItem (the connection
        item lists its room partitions), one BatchWriteItem per 25 items, and one UpdateItem of the user's set.
        """
        nothing = RemovedConnection(user_id=None, username=None, room_ids=[], last_of_user=False, audience=())
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": connection_id}, "sk": {"S": CONNECTION_SK}},
            ConsistentRead=True,
            ProjectionExpression="user_id, username, connected_at, subs, #views",
            ExpressionAttributeNames={"#views": "views"},
        ).get("Item")
        if item is None:
            return nothing
        if min_age_seconds and int(item["connected_at"]["N"]) > self._now_ms() - min_age_seconds * 1000:
            return nothing
        user_id, username = int(item["user_id"]["N"]), item["username"]["S"]
        tokens = item.get("subs", {}).get("SS", [])
        viewed = [int(v) for v in item.get("views", {}).get("NS", [])]
        keys = [(_shard_pk(*_parse_token(t)), connection_id) for t in tokens]
        keys += [(_view_pk(room_id), connection_id) for room_id in viewed]
        keys.append((connection_id, CONNECTION_SK))
        self._delete_keys(keys)
        audience: tuple[int, ...] = ()
        # Atomic on the user's one item: of two tabs closing at once, exactly one sees the set empty.
        response = self._client.update_item(
            TableName=self._table,
            Key=_user_key(user_id),
            UpdateExpression="DELETE conns :c",
            ExpressionAttributeValues={":c": {"SS": [connection_id]}},
            ReturnValues="ALL_NEW",
        )
        remaining = response.get("Attributes", {})
        last_of_user = "conns" not in remaining
        if last_of_user and "audience" in remaining:
            audience = tuple(sorted(int(u) for u in remaining["audience"]["NS"]))
        if last_of_user:  # the empty set's item goes too, unless a new connection came in meanwhile
            with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
                self._client.delete_item(
                    TableName=self._table, Key=_user_key(user_id), ConditionExpression="attribute_not_exists(conns)"
                )
        room_ids = sorted({_parse_token(t)[0] for t in tokens})
        return RemovedConnection(
            user_id=user_id, username=username, room_ids=room_ids, last_of_user=last_of_user, audience=audience
        )

    @_translated
    def stale_connections(
        self, seen_before_ms: int, *, max_reads: int, start_key: dict[str, Any] | None = None
    ) -> tuple[list[ConnectionRecord], dict[str, Any] | None, int]:
        """Connections not seen since ``seen_before_ms`` among at most ``max_reads`` items of a Scan.

        Returns the connections found, the key to continue from (None at the end of the table) and how
        many items were read. The Scan's ``Limit`` bounds the items *read*, before the filter drops
        subscriptions, so a table that is mostly subscriptions costs no more per call than any other.
        """
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Limit": max(1, max_reads),
            "FilterExpression": "sk = :conn AND last_seen < :cutoff",
            "ExpressionAttributeValues": {":conn": {"S": CONNECTION_SK}, ":cutoff": {"N": str(seen_before_ms)}},
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        response = self._client.scan(**kwargs)
        records = [connection_record(item) for item in response.get("Items", [])]
        return records, response.get("LastEvaluatedKey"), int(response.get("ScannedCount", 0))

    @_translated
    def prune_cursor(self) -> dict[str, Any] | None:
        """Where the last prune run stopped (a Scan key), or None to start at the beginning."""
        item = self._client.get_item(TableName=self._table, Key=_PRUNE_KEY, ConsistentRead=True).get("Item")
        return json.loads(item["cursor"]["S"]) if item and "cursor" in item else None

    @_translated
    def save_prune_cursor(self, cursor: dict[str, Any] | None) -> None:
        if cursor is None:
            self._client.delete_item(TableName=self._table, Key=_PRUNE_KEY)
        else:
            self._client.put_item(TableName=self._table, Item={**_PRUNE_KEY, "cursor": {"S": json.dumps(cursor)}})

    # ------------------------------------------------------------ rooms

    def _room_item(
        self, room_id: int, shard: int, connection_id: str, user_id: int, username: str, expires: int
    ) -> Any:
        return {
            "PutRequest": {
                "Item": {
                    "pk": {"S": _shard_pk(room_id, shard)},
                    "sk": {"S": connection_id},
                    "user_id": {"N": str(user_id)},
                    "username": {"S": username},
                    TTL_ATTRIBUTE: {"N": str(expires)},
                }
            }
        }

    @_translated
    def subscribe(self, record: ConnectionRecord, room_id: int, shards: int = 1) -> None:
        """Subscribe one connection to one room (see :meth:`subscribe_rooms` for many)."""
        self.subscribe_rooms(record, {room_id: shards})

    @_translated
    def subscribe_rooms(self, record: ConnectionRecord, rooms: Mapping[int, int]) -> None:
        """Put the connection into each room's partitions (``rooms``: room id to its shard count), 25 rooms a
        BatchWriteItem, and list them on the connection item (one UpdateItem)."""
        if not rooms:
            return
        placed = {room_id: shard_of(record.connection_id, shards) for room_id, shards in rooms.items()}
        self._batch_write(
            [
                self._room_item(
                    room_id, shard, record.connection_id, record.user_id, record.username, record.expires_at
                )
                for room_id, shard in sorted(placed.items())
            ]
        )
        self._note_subscriptions(record.connection_id, [_token(r, s) for r, s in placed.items()])

    def _note_subscriptions(self, connection_id: str, tokens: list[str]) -> None:
        """List the room partitions on the connection item; if the connection was removed meanwhile, take its
        new room items back out (else every message to those rooms would post to a gone connection)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": connection_id}, "sk": {"S": CONNECTION_SK}},
                UpdateExpression="ADD subs :t",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":t": {"SS": sorted(tokens)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            self._delete_keys([(_shard_pk(*_parse_token(t)), connection_id) for t in tokens])

    @_translated
    def subscribe_user(self, user_id: int, username: str, room_id: int, shards: int = 1) -> list[str]:
        """Subscribe every open connection of ``user_id`` to ``room_id`` (a new membership); their ids."""
        connection_ids = self.user_connection_ids(user_id)
        expires = int(self._clock()) + self._ttl
        self._batch_write(
            [self._room_item(room_id, shard_of(c, shards), c, user_id, username, expires) for c in connection_ids]
        )
        for connection_id in connection_ids:
            self._note_subscriptions(connection_id, [_token(room_id, shard_of(connection_id, shards))])
        return connection_ids

    @_translated
    def unsubscribe_user(self, user_id: int, room_id: int) -> list[str]:
        """End every subscription of ``user_id``'s open connections to ``room_id`` (and their viewing); their ids."""
        connection_ids = self.user_connection_ids(user_id)
        self._unsubscribe(connection_ids, room_id)
        return connection_ids

    @_translated
    def unsubscribe(self, connection_id: str, room_id: int) -> bool:
        """Remove one subscription; False if the connection was not subscribed to the room."""
        return bool(self._unsubscribe([connection_id], room_id))

    def _unsubscribe(self, connection_ids: list[str], room_id: int) -> list[str]:
        """Take the connections out of the room's partitions and viewers; the ones that were in it."""
        keys = [{"pk": {"S": c}, "sk": {"S": CONNECTION_SK}} for c in connection_ids]
        records = self._batch_get(keys, "pk, subs, #views", names={"#views": "views"}) if keys else []
        prefix = f"{room_id}:"
        deletes: list[tuple[str, str]] = []
        found: list[str] = []
        for item in records:
            connection_id = item["pk"]["S"]
            tokens = [t for t in item.get("subs", {}).get("SS", []) if t.startswith(prefix)]
            viewing = str(room_id) in item.get("views", {}).get("NS", [])
            if not tokens and not viewing:
                continue
            found.append(connection_id)
            deletes += [(_shard_pk(*_parse_token(t)), connection_id) for t in tokens]
            if viewing:
                deletes.append((_view_pk(room_id), connection_id))
            update: dict[str, Any] = {
                "TableName": self._table,
                "Key": {"pk": {"S": connection_id}, "sk": {"S": CONNECTION_SK}},
                "UpdateExpression": "DELETE "
                + ", ".join(part for part, wanted in (("subs :t", tokens), ("#views :v", viewing)) if wanted),
                "ExpressionAttributeValues": {
                    **({":t": {"SS": tokens}} if tokens else {}),
                    **({":v": {"NS": [str(room_id)]}} if viewing else {}),
                },
            }
            if viewing:
                update["ExpressionAttributeNames"] = {"#views": "views"}
            self._client.update_item(**update)
        self._delete_keys(deletes)
        return sorted(found)

    @_translated
    def unsubscribe_room(self, room_id: int, shards: int = 1) -> list[str]:
        """End every subscription to ``room_id`` (the room is gone); the connections that had one. The
        connection items keep a stale token, which their removal ignores."""
        items = [
            (_shard_pk(room_id, shard), i["sk"]["S"])
            for shard in range(shards)
            for i in self._partition(_shard_pk(room_id, shard), "sk")
        ]
        viewers = [(_view_pk(room_id), i["sk"]["S"]) for i in self._partition(_view_pk(room_id), "sk")]
        self._delete_keys(items + viewers)
        return sorted({connection_id for _pk, connection_id in items})

    @_translated
    def view(self, connection_id: str, room_id: int, shards: int = 1) -> bool:
        """Mark the connection as looking at the room (``join``); False if it is not subscribed to it."""
        tokens = _candidate_tokens(connection_id, room_id, shards)
        condition = " OR ".join(f"contains(subs, :t{n})" for n in range(len(tokens)))
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": connection_id}, "sk": {"S": CONNECTION_SK}},
                UpdateExpression="ADD #views :v",
                ConditionExpression=f"attribute_exists(pk) AND ({condition})",
                ExpressionAttributeNames={"#views": "views"},
                ExpressionAttributeValues={
                    ":v": {"NS": [str(room_id)]},
                    **{f":t{n}": {"S": t} for n, t in enumerate(tokens)},
                },
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        record = response["Attributes"]
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": _view_pk(room_id)},
                "sk": {"S": connection_id},
                "user_id": record["user_id"],
                "username": record["username"],
                TTL_ATTRIBUTE: record[TTL_ATTRIBUTE],
            },
        )
        return True

    @_translated
    def unview(self, connection_id: str, room_id: int) -> bool:
        """The connection stops looking at the room (``leave``); False if it was not looking."""
        response = self._client.delete_item(
            TableName=self._table,
            Key={"pk": {"S": _view_pk(room_id)}, "sk": {"S": connection_id}},
            ReturnValues="ALL_OLD",
        )
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": connection_id}, "sk": {"S": CONNECTION_SK}},
                UpdateExpression="DELETE #views :v",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#views": "views"},
                ExpressionAttributeValues={":v": {"NS": [str(room_id)]}},
            )
        return "Attributes" in response

    @_translated
    def room_viewers(self, room_id: int) -> list[RoomConnection]:
        """Every live connection looking at ``room_id``, with its user: one Query of the room's viewer partition."""
        return [_room_connection(i) for i in self._partition(_view_pk(room_id), "sk, user_id, username")]

    @_translated
    def room_connections(self, room_id: int, shards: int = 1) -> list[RoomConnection]:
        """Every live connection subscribed to ``room_id``, with its user: one Query per shard."""
        return [
            _room_connection(item)
            for shard in range(shards)
            for item in self._partition(_shard_pk(room_id, shard), "sk, user_id, username")
        ]

    @_translated
    def room_connection_ids(self, room_id: int, shards: int = 1) -> list[str]:
        """The ids of every live connection subscribed to ``room_id``: all a message broadcast needs (one Query
        of one partition for a room of one shard; the key alone is read)."""
        return [item["sk"]["S"] for shard in range(shards) for item in self._partition(_shard_pk(room_id, shard), "sk")]

    @_translated
    def shard_connection_ids(self, room_id: int, shard: int) -> list[str]:
        """The live connections of one shard of the room (a fan-out worker's page)."""
        return [item["sk"]["S"] for item in self._partition(_shard_pk(room_id, shard), "sk")]

    @_translated
    def unsubscribe_shard(self, room_id: int, shard: int) -> list[str]:
        """Empty one shard of a deleted room (a fan-out worker's share of :meth:`unsubscribe_room`); its
        connections."""
        connection_ids = [item["sk"]["S"] for item in self._partition(_shard_pk(room_id, shard), "sk")]
        keys = [(_shard_pk(room_id, shard), c) for c in connection_ids]
        if shard == 0:  # one of the jobs takes the viewers too
            keys += [(_view_pk(room_id), i["sk"]["S"]) for i in self._partition(_view_pk(room_id), "sk")]
        self._delete_keys(keys)
        return connection_ids

    # ------------------------------------------------------------ the shared posting budget

    @_translated
    def reserve_posts(self, wanted: int, per_second: int) -> int:
        """Take up to ``wanted`` posts from this second's budget of ``per_second``, shared by every fan-out
        worker through one counter item per second; how many were granted (0: wait for the next second).

        One conditional UpdateItem when the budget has room for all, two or three when it has room for part.
        """
        second = int(self._clock())
        key = {"pk": {"S": _BUDGET_PK}, "sk": {"S": str(second)}}

        def take(count: int) -> bool:
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=f"ADD used :n SET {TTL_ATTRIBUTE} = :exp",
                    ConditionExpression="attribute_not_exists(used) OR used <= :room",
                    ExpressionAttributeValues={
                        ":n": {"N": str(count)},
                        ":room": {"N": str(per_second - count)},
                        ":exp": {"N": str(second + 120)},
                    },
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                return False
            return True

        wanted = min(wanted, per_second)
        if wanted <= 0 or take(wanted):
            return max(wanted, 0)
        item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item", {})
        left = per_second - int(item.get("used", {}).get("N", "0"))
        return left if left > 0 and take(left) else 0

    def _partition(self, pk: str, projection: str) -> Iterator[dict[str, Any]]:
        # Expired items are dropped by the query itself, so only the projected attributes travel back.
        return self._query(
            KeyConditionExpression="pk = :pk",
            FilterExpression=f"attribute_not_exists({TTL_ATTRIBUTE}) OR {TTL_ATTRIBUTE} > :now",
            ExpressionAttributeValues={":pk": {"S": pk}, ":now": {"N": str(int(self._clock()))}},
            ProjectionExpression=projection,
        )

    # ------------------------------------------------------------ plumbing

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self._table
        while True:
            response = self._client.query(**kwargs)
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _delete_keys(self, keys: list[tuple[str, str]]) -> None:
        self._batch_write([{"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}} for pk, sk in keys])

    def _batch_write(self, requests: list[Any]) -> None:
        """BatchWriteItem, 25 requests a call, resending what DynamoDB left unprocessed with a growing pause.

        :class:`RegistryUnavailable` if items are still unprocessed after every round: the caller learns
        the write is incomplete (for deletes, the items' TTL removes them later) instead of a silent give-up.
        """
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self._table: requests[start : start + 25]}
            for round_number in range(1, _BATCH_WRITE_ROUNDS + 1):
                response = self._client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                if round_number < _BATCH_WRITE_ROUNDS:
                    self._sleep(0.05 * round_number)
            else:
                left = sum(len(v) for v in pending.values())
                raise RegistryUnavailable(f"{left} items still unprocessed after {_BATCH_WRITE_ROUNDS} rounds")


def _parse_token(token: str) -> tuple[int, int]:
    room, _, shard = token.partition(":")
    return int(room), int(shard)


def _room_connection(item: dict[str, Any]) -> RoomConnection:
    return RoomConnection(
        connection_id=item["sk"]["S"], user_id=int(item["user_id"]["N"]), username=item["username"]["S"]
    )


def connection_record(item: dict[str, Any]) -> ConnectionRecord:
    """The connection item (DynamoDB's attribute-value form) as a record."""
    return ConnectionRecord(
        connection_id=item["pk"]["S"],
        user_id=int(item["user_id"]["N"]),
        username=item["username"]["S"],
        connected_at=int(item["connected_at"]["N"]),
        last_seen=int(item["last_seen"]["N"]),
        expires_at=int(item[TTL_ATTRIBUTE]["N"]),
    )
