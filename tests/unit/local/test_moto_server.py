"""chat_local.moto_server: moto's server without its whole-table Query, model walk, instance tracking."""

from __future__ import annotations

import gc
import http.client
import inspect
import json
import os
import socket
from typing import Any

import boto3
import pytest
from chat_local import dynamodb, moto_server
from chat_local.dynamodb import MotoDynamoDB
from chat_local.moto_server import UNTRACKED_SERVICES
from chat_local.processes import free_port
from moto import backends, mock_aws
from moto.core import responses
from moto.core.model_instances import model_data
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.models import table as table_module
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the patch replaces, put back after the test (other tests use moto in this process)."""
    for owner, name in (
        (Table, "query"),
        (Table, "all_items"),
        (Item, "project"),
        (table_module, "copy"),
        (BaseJSONSerializer, "_serialize_type_structure"),
        (backends, "list_of_moto_modules"),
        (responses, "method_names_from_class"),
        *((model, "instances_tracked") for service in UNTRACKED_SERVICES for model in model_data[service].values()),
    ):
        monkeypatch.setattr(owner, name, getattr(owner, name))


@pytest.fixture
def patched(restored: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The patch applied for one test; counts the full table listings made."""
    listings = {"all_items": 0}
    full_listing = Table.all_items

    def counted(self: Table) -> list[Any]:
        listings["all_items"] += 1
        return full_listing(self)

    monkeypatch.setattr(Table, "all_items", counted)
    moto_server.patch()
    return listings


def partition_query(client: Any, pk: str) -> Any:
    """A Query of one partition of the table ``exercise`` makes, on the table's own key."""
    return client.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": pk}})


def registry_query(client: Any, pk: str) -> Any:
    """The registry's room lookup: the keys projected, the expired filtered out."""
    return client.query(
        TableName="t",
        KeyConditionExpression="pk = :p",
        FilterExpression="exp > :one",
        ProjectionExpression="pk, sk",
        ExpressionAttributeValues={":p": {"S": pk}, ":one": {"N": "1"}},
    )


def index_query(client: Any) -> Any:
    """A Query of that table's ``by_user`` index."""
    return client.query(
        TableName="t",
        IndexName="by_user",
        KeyConditionExpression="#u = :u",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":u": {"N": "2"}},
    )


def exercise() -> list[Any]:
    """Every item operation the layer uses (and a few it does not), on partitions of several sizes."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "user", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_user",
                "KeySchema": [{"AttributeName": "user", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    rich: dict[str, Any] = {
        "pk": {"S": "room#1#0"},
        "sk": {"S": "conn-rich"},
        "user": {"N": "7"},
        "n": {"N": "1.50"},
        "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2"]},
        "bs": {"BS": [b"\x01"]},
        "m": {"M": {"x": {"L": [{"NULL": True}, {"BOOL": False}, {"S": "é😀\u2028"}, {"M": {}}, {"L": []}]}}},
        "e": {"S": ""},
    }
    client.put_item(TableName="t", Item=rich)
    for room in range(4):
        for i in range(room * 3):
            item = {"pk": {"S": f"room#{room}#0"}, "sk": {"S": f"conn{i:03d}"}, "user": {"N": str(i)}}
            client.put_item(TableName="t", Item={**item, "exp": {"N": str(i)}})
    key = {"pk": {"S": "room#1#0"}, "sk": {"S": "conn-rich"}}
    partition = {":p": {"S": "room#3#0"}}
    calls: list[Any] = [
        client.get_item(TableName="t", Key=key),
        client.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues=partition),
        partition_query(client, "room#1#0"),
        client.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues=partition,
            Limit=2,
            ProjectionExpression="sk",
            ReturnConsumedCapacity="TOTAL",
        ),
        client.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues=partition,
            ExclusiveStartKey={"pk": {"S": "room#3#0"}, "sk": {"S": "conn003"}},
            Select="COUNT",
        ),
        client.query(
            TableName="t",
            KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
            FilterExpression="exp > :one",
            ExpressionAttributeValues={**partition, ":c": {"S": "conn00"}, ":one": {"N": "1"}},
            ScanIndexForward=False,
        ),
        partition_query(client, "none"),
        registry_query(client, "room#3#0"),
        client.query(  # the attributes of every type, nested and absent ones: moto's own projection
            TableName="t",
            KeyConditionExpression="pk = :p",
            ProjectionExpression="#n, m.x, b, ss, e, absent",
            ExpressionAttributeNames={"#n": "n"},
            ExpressionAttributeValues={":p": {"S": "room#1#0"}},
        ),
        client.query(  # top-level strings only, the empty one and an absent one among them
            TableName="t",
            KeyConditionExpression="pk = :p",
            ProjectionExpression="sk, e, absent",
            ExpressionAttributeValues={":p": {"S": "room#1#0"}},
        ),
        index_query(client),
        client.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        ),
        client.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_OLD",
            ReturnConsumedCapacity="TOTAL",
        ),
        client.batch_get_item(RequestItems={"t": {"Keys": [key, {"pk": {"S": "q"}, "sk": {"S": "q"}}]}}),
        client.delete_item(
            TableName="t", Key={"pk": {"S": "room#3#0"}, "sk": {"S": "conn000"}}, ReturnValues="ALL_OLD"
        ),
        client.scan(TableName="t"),
    ]
    with pytest.raises(client.exceptions.ConditionalCheckFailedException) as failed:
        client.put_item(
            TableName="t",
            Item=key,
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    calls.append(failed.value.response)
    for call in calls:
        call.pop("ResponseMetadata", None)
    return calls


@pytest.mark.usefixtures("restored")
def test_item_operations_answer_exactly_as_unpatched_moto() -> None:
    """Get, Query (partition, paged, filtered, projected, index), Update, BatchGet, Delete, Scan, errors: as before."""
    with mock_aws():
        before = exercise()
    with mock_aws():
        moto_server.patch()
        after = exercise()
    assert before[0]["Item"]["m"]["M"]["x"]["L"][2] == {"S": "é😀\u2028"}  # the rich item made the round trip
    assert after == before


def test_a_query_on_the_table_key_reads_its_partition_only(patched: dict[str, int]) -> None:
    """A base-table Query no longer lists every item of the table; an index Query still does (unchanged)."""
    with mock_aws():
        exercise()
        client = boto3.client("dynamodb", region_name="us-east-1")
        patched["all_items"] = 0
        items = partition_query(client, "room#2#0")["Items"]
        assert [i["sk"]["S"] for i in items] == ["conn000", "conn001", "conn002", "conn003", "conn004", "conn005"]
        assert patched["all_items"] == 0
        index_query(client)
        assert patched["all_items"] == 1


def test_the_registry_s_room_lookup_copies_no_item(patched: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """A projected base-table Query answers its items without deep-copying them; an unprojected one still copies."""
    copies = {"items": 0}
    item_copy = Item.__deepcopy__

    def counted(self: Item, memo: dict[int, Any]) -> Item:
        copies["items"] += 1
        return item_copy(self, memo)

    monkeypatch.setattr(Item, "__deepcopy__", counted)
    with mock_aws():
        exercise()
        client = boto3.client("dynamodb", region_name="us-east-1")
        copies["items"] = 0
        items = registry_query(client, "room#3#0")["Items"]
        assert items == [{"pk": {"S": "room#3#0"}, "sk": {"S": f"conn{i:03d}"}} for i in range(2, 9)]
        assert copies["items"] == 0
        assert len(partition_query(client, "room#3#0")["Items"]) == 8
        assert copies["items"] == 8


@pytest.mark.usefixtures("patched")
def test_moto_s_package_folder_is_listed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding a request's service no longer lists moto's folder each time: the first listing is kept."""
    listed: list[str] = []
    real = os.listdir

    def listdir(path: str) -> list[str]:
        listed.append(path)
        return real(path)

    first = list(backends.list_of_moto_modules())
    monkeypatch.setattr(os, "listdir", listdir)
    assert list(backends.list_of_moto_modules()) == first
    assert "dynamodb" in first and "sqs" in first
    assert listed == []


@pytest.mark.usefixtures("patched")
def test_a_handler_s_methods_are_listed_once_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checking a request's action no longer lists its handler class's methods each time (inspect.getmembers)."""
    listed: list[object] = []
    real = inspect.getmembers

    def getmembers(target: object, predicate: Any = None) -> Any:
        listed.append(target)
        return real(target, predicate)

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.list_tables()
        monkeypatch.setattr(inspect, "getmembers", getmembers)
        for _ in range(3):
            assert client.list_tables()["TableNames"] == []
    assert listed == []


def test_items_and_messages_served_are_not_kept(patched: dict[str, int]) -> None:
    """moto no longer keeps every item copy it answers with (memory and garbage collections grew per request)."""
    with mock_aws():
        exercise()
        dynamodb, sqs = boto3.client("dynamodb", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]

        def live_items() -> int:
            gc.collect()
            return sum(1 for o in gc.get_objects() if isinstance(o, Item))

        before = live_items()
        for _ in range(50):
            partition_query(dynamodb, "room#3#0")
            sqs.send_message(QueueUrl=queue, MessageBody="job")
            for message in sqs.receive_message(QueueUrl=queue).get("Messages", []):
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        assert live_items() == before
        assert all(len(model.instances_tracked) == 0 for model in model_data["sqs"].values())  # type: ignore[attr-defined]


def test_the_server_keeps_connections_alive() -> None:
    """Two DynamoDB calls go over one TCP connection (moto's own server closed it after every answer)."""
    server = MotoDynamoDB()
    endpoint = server.start()
    try:
        connection = http.client.HTTPConnection(endpoint.removeprefix("http://"), timeout=10)
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20261202/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        }
        answers = []
        sockets = []
        for _ in range(2):
            connection.request("POST", "/", body=b"{}", headers=headers)
            response = connection.getresponse()
            answers.append((response.status, json.loads(response.read()), response.getheader("Connection")))
            sockets.append(connection.sock)
        assert answers == [(200, {"TableNames": []}, None)] * 2
        assert sockets[0] is not None and sockets[1] is sockets[0]
        connection.close()
    finally:
        server.stop()


def test_a_port_another_process_listens_on_is_not_taken_for_moto() -> None:
    """The start waits for moto's HTTP answer: a socket that only listens there fails the start, not later calls."""
    squatter = socket.create_server(("127.0.0.1", 0))
    try:
        server = MotoDynamoDB(port=squatter.getsockname()[1])
        with pytest.raises(RuntimeError, match=r"moto server exited during start .*Address already in use"):
            server.start(timeout=20)
    finally:
        squatter.close()


def test_a_picked_port_taken_before_moto_binds_it_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """free_port can only say a port was free: when another process takes it first, moto starts on another."""
    squatter = socket.create_server(("127.0.0.1", 0))
    taken = squatter.getsockname()[1]
    picks = iter([taken])
    monkeypatch.setattr(dynamodb, "free_port", lambda: next(picks, None) or free_port())
    server = MotoDynamoDB()
    try:
        endpoint = server.start(timeout=20)
        assert server.port != taken
        client = boto3.client(
            "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
        )
        assert client.list_tables()["TableNames"] == []
    finally:
        server.stop()
        squatter.close()
