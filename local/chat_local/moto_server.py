"""moto's application (what ``python -m moto.server`` serves), without seven costs that are moto's, not AWS's.

Measured against moto 5.2 on 2 cores (bench/README.md, section 2), for the registry's room lookup (a Query
of a partition of 50 items, the key projected) in a table of 1,000 items: 11.6 ms of moto's CPU before,
3.5 ms after; its UpdateItem and GetItem lose about a third.

* **A Query reads the whole table.** ``Table.query`` on the table's own key lists every item of every
  partition, sorts them all and then keeps the one partition asked for, so a room lookup cost more as the
  registry grew (42 ms with 5,000 items), while DynamoDB reads the one partition. Here the table hands
  such a query its partition alone; the query then filters, sorts, pages and projects it as before.
  Index queries are untouched.
* **A projected Query copies every item whole, twice.** ``Table.query`` deep-copies each item it matched,
  then a projection turns each copy into plain JSON and back to pick the attributes asked for: about a
  third of moto's CPU in a room of 50 taking 15 messages a second (py-spy, ``bench/profile.py``), for a
  registry lookup that projects two key strings. A base-table Query with a projection keeps the matched
  items uncopied (the projection builds new ones; a filter only reads), and top-level string attributes
  are picked directly.
* **Every attribute value is serialized by walking the model.** The response serializer visits all ten
  members of each ``AttributeValue`` through its attribute pickers and aliases: most of a Query's cost.
  An ``AttributeValue`` of DynamoDB is written directly (its set members as they are, blobs in base64),
  which is what the walk produces; everything around it still goes through moto's serializer.
* **Every model instance is kept forever.** moto's ``BaseModel`` appends each instance it creates to its
  class's ``instances_tracked`` (for its dashboard, ``/moto-api/data.json``), so every item copy a Query,
  GetItem or UpdateItem makes and every message copy a ReceiveMessage makes stays in memory: 1,500 more
  items a second in a room of 50 taking 20 messages a second, and Python's full garbage collections of
  that growing heap paused the server for 70 ms at first and 280 ms after a minute, while every
  function waited for its DynamoDB answer (the stalls of seconds in the end-to-end runs). DynamoDB's and
  SQS's models are not tracked here; the tables and queues themselves hold what is stored.
* **Every request lists its handler's methods** (``method_names_from_class``: ``inspect.getmembers`` of
  the response class, about 0.1 ms, a tenth of a GetItem) to check the action exists; a class's methods do
  not change, so they are listed once per class.
* **Every request lists moto's package folder** (``list_of_moto_modules``, about 170 ``isdir`` calls) to
  find the service; the folder does not change while the server runs, so it is listed once.
* **Every request is a new connection and a new thread.** ``moto.server`` runs werkzeug's development
  server, which answers each request with ``Connection: close`` and starts a thread per connection; the
  SDK then opens a TCP connection for every DynamoDB call, which DynamoDB's clients keep alive. The same
  WSGI application is served here by waitress (HTTP/1.1 keep-alive, a fixed pool of threads): in a room of
  50 taking 30 messages a second, the functions and moto together use a fifth less CPU, and the room's
  p99 went from 447 ms to 110 ms.

The answers are the same for every item operation the layer uses
(``tests/unit/local/test_moto_server.py`` compares them with unpatched moto); requests, errors and
limits are moto's own.
"""

from __future__ import annotations

import argparse
import copy
import functools
import importlib
import inspect
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import waitress
from moto import backends
from moto.core import responses, utils
from moto.core.model_instances import model_data
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.models import table as table_module
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

#: Requests served at once: invocations call DynamoDB one request at a time, and an SQS event source
#: holds one long poll; more would only share the same interpreter.
THREADS = 32
#: Keep-alive connections held open (every container's SDK clients keep some; waitress's default is 100).
CONNECTION_LIMIT = 1000

_partition = threading.local()
"""The (table, hash key) of the base-table Query this thread is answering, if any, and whether it projects."""


def _partition_items(all_items: Callable[[Table], list[Any]]) -> Callable[[Table], list[Any]]:
    @functools.wraps(all_items)
    def wrapper(self: Table) -> list[Any]:
        wanted = getattr(_partition, "key", None)
        if wanted is not None and wanted[0] is self:
            # What the full listing would give after the query's own ``hash_key ==`` filter.
            return list(self.items.get(wanted[1], {}).values())
        return all_items(self)

    return wrapper


def _partition_query(query: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(query)

    @functools.wraps(query)
    def wrapper(self: Table, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        hash_key = arguments.get("hash_key")
        if arguments.get("index_name") or hash_key is None or not self.range_key_attr:
            return query(self, *args, **kwargs)
        _partition.key = (self, hash_key)
        _partition.projected = bool(arguments.get("projection_expressions"))
        try:
            return query(self, *args, **kwargs)
        finally:
            _partition.key = None
            _partition.projected = False

    return wrapper


class _QueryCopy:
    """The ``copy`` module as moto's table module sees it. ``Table.query`` deep-copies every item it
    matched before it filters and projects them; a projection then builds new items, and a filter only
    reads, so a base-table Query with a projection gets the list itself instead of copies."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(_partition, "projected", False) and isinstance(value, list):
            return list(value)
        return copy.deepcopy(value, memo)


def _top_level_project(project: Callable[[Item, list[list[str]]], Item]) -> Callable[[Item, list[list[str]]], Item]:
    @functools.wraps(project)
    def wrapper(self: Item, projection_expressions: list[list[str]]) -> Item:
        # moto round-trips the whole item through plain JSON to pick attributes; top-level string
        # attributes (the registry projects its keys) are picked directly, which gives the same item.
        names = [path[0] for path in projection_expressions if len(path) == 1 and "[" not in path[0]]
        if len(names) < len(projection_expressions) or any(
            name in self.attrs and self.attrs[name].type != "S" for name in names
        ):
            return project(self, projection_expressions)
        picked = {name: {"S": self.attrs[name].value} for name in dict.fromkeys(names) if name in self.attrs}
        return Item(self.hash_key, self.range_key, picked)

    return wrapper


#: The members of DynamoDB's ``AttributeValue`` shape, in the model's order.
_ATTRIBUTE_VALUE_MEMBERS = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")


def _attribute_value(value: dict[str, Any], base64: Callable[[Any], str]) -> dict[str, Any]:
    """What moto's serializer makes of one ``AttributeValue``: its members that are set, blobs in base64."""
    out: dict[str, Any] = {}
    for name in _ATTRIBUTE_VALUE_MEMBERS:
        member = value.get(name)
        if member is None:
            continue
        if name == "B":
            member = base64(member)
        elif name == "BS":
            member = [base64(b) for b in member]
        elif name == "M":
            member = {k: _attribute_value(v, base64) for k, v in member.items()}
        elif name == "L":
            member = [_attribute_value(v, base64) for v in member]
        elif name in ("SS", "NS"):
            member = [str(v) for v in member]
        elif name in ("S", "N"):
            member = str(member)
        out[name] = member
    return out


def _direct_attribute_values(structure: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(structure)
    def wrapper(self: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and isinstance(value, dict)
            and self.service_model.service_name == "dynamodb"
        ):
            self._default_serialize(serialized, _attribute_value(value, self._base64), shape, key)
            return
        structure(self, serialized, value, shape, key)

    return wrapper


class _Untracked(list[Any]):
    """An ``instances_tracked`` that keeps nothing: moto appends every model instance it ever creates."""

    def append(self, _instance: Any) -> None:
        return None


#: The services whose model instances moto would keep forever: every item a Query or an UpdateItem copies,
#: every message a ReceiveMessage copies (the only user is moto's dashboard, ``/moto-api/data.json``).
UNTRACKED_SERVICES = ("dynamodb", "sqs")


def patch() -> None:
    """Apply the changes to moto's code (once; the server calls it before it starts)."""
    if getattr(Table.query, "__wrapped__", None) is None:
        Table.all_items = _partition_items(Table.all_items)  # type: ignore[method-assign,assignment]
        Table.query = _partition_query(Table.query)  # type: ignore[method-assign]
        setattr(table_module, "copy", _QueryCopy)  # noqa: B010 - the module does not export the name
        Item.project = _top_level_project(Item.project)  # type: ignore[method-assign,assignment]
        BaseJSONSerializer._serialize_type_structure = _direct_attribute_values(  # type: ignore[method-assign]
            BaseJSONSerializer._serialize_type_structure
        )
    for service in UNTRACKED_SERVICES:
        importlib.import_module(f"moto.{service}.models")  # its models register as their module is imported
        for model in model_data[service].values():
            if not isinstance(model.instances_tracked, _Untracked):  # type: ignore[attr-defined]
                model.instances_tracked = _Untracked()  # type: ignore[attr-defined]
    # moto.core.responses imported it by name: the cached one goes there.
    if getattr(responses.method_names_from_class, "cache_info", None) is None:  # type: ignore[attr-defined]
        responses.method_names_from_class = functools.cache(utils.method_names_from_class)  # type: ignore[attr-defined]
    if getattr(backends.list_of_moto_modules, "cache_info", None) is None:
        listed: Callable[[], Iterable[str]] = backends.list_of_moto_modules
        backends.list_of_moto_modules = functools.cache(lambda: tuple(listed()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chat_local.moto_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # what moto's own server sets (URLs it returns use it)
    patch()
    server = waitress.create_server(
        DomainDispatcherApplication(create_backend_app),
        host=args.host,
        port=args.port,
        threads=THREADS,
        connection_limit=CONNECTION_LIMIT,
    )
    server.run()


if __name__ == "__main__":
    main()
