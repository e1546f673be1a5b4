"""Make moto's server fast enough for the demo without changing what it answers.

Connections are kept alive (HTTP/1.1) as AWS endpoints do; DynamoDB transactions and
queries cost what they touch, not the size of the table (moto answers a Query by
looking at every item of the table, and copies whole tables before a transaction); and
DynamoDB operations are isolated from each other, as in DynamoDB. moto serves each
request in a thread and does not isolate transactions: a cancelled transaction restores
its snapshot over another one that committed meanwhile. The fault-injection test found
that (overlapping poll runs lost bucket increments on the local stack only).

moto 5 takes a deep copy of every table a transaction touches before running it, so it
can roll back; with a few thousand items that is seconds per transaction, and the demo
commits hundreds. Here the snapshot is replaced by a journal of just the items the
transaction names: each is deep-copied (or noted as absent) before moto runs, and
restored on any failure. moto's own transaction code - conditions, cancellation
reasons, validation - runs unchanged; only what it restores from differs.
`tests/integration/test_motofix.py` checks that all-or-nothing still holds.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_inside = threading.local()
_state = {"installed": False}


class _SkipTableCopy:
    """Stands in for `copy` in moto's module: no table copy while our journal is active."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_inside, "active", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def install() -> None:
    if _state["installed"]:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    # Keep connections open as AWS does: werkzeug's HTTP/1.0 default costs a new TCP
    # connection (and a thread) for every request.
    MotoRequestHandler.protocol_version = "HTTP/1.1"

    original = DynamoDBBackend.transact_write_items
    setattr(models, "copy", _SkipTableCopy())  # noqa: B010 - swapping moto's module global

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        journal = _journal(self, transact_items)
        _inside.active = True
        try:
            original(self, transact_items)
        except BaseException:
            _restore(self, journal)
            raise
        finally:
            _inside.active = False

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _index_queries_by_partition()
    _isolate_operations(DynamoDBBackend)
    _state["installed"] = True


_ISOLATED = (
    "transact_write_items",
    "transact_get_items",
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "batch_write_item",
    "batch_get_item",
)
_dynamodb_lock = threading.RLock()


def _isolate_operations(backend_class: Any) -> None:
    """One DynamoDB operation at a time, each seeing and leaving a consistent table."""
    for name in _ISOLATED:
        operation = getattr(backend_class, name)

        def isolated(self: Any, *args: Any, __operation: Any = operation, **kwargs: Any) -> Any:
            with _dynamodb_lock:
                return __operation(self, *args, **kwargs)

        setattr(backend_class, name, isolated)


def _index_queries_by_partition() -> None:
    """A base-table Query reads its one partition instead of filtering the whole table.

    moto's query builds its candidates from `all_items()` and keeps those whose hash key
    matches; while a base-table query runs, `all_items()` returns that partition only,
    and only the items its sort-key condition admits, so the result is the same set,
    found without a scan.
    """
    from moto.dynamodb.models.table import Table

    real_query = Table.query
    real_all_items = Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto passes (range_comparison, range_values, ..., index_name) positionally after
        # hash_key, index_name 8th.
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        comparison = args[0] if args else kwargs.get("range_comparison")
        values = args[1] if len(args) > 1 else kwargs.get("range_objs")
        if index_name is None and hash_key is not None:
            _inside.partition = (self, hash_key, comparison, values)
        try:
            return real_query(self, hash_key, *args, **kwargs)
        finally:
            _inside.partition = None

    def all_items(self: Any) -> Any:
        hint = getattr(_inside, "partition", None)
        if hint is None or hint[0] is not self:
            return real_all_items(self)
        _, hash_key, comparison, values = hint
        partition = self.items.get(hash_key)
        if partition is None:
            return []
        if not self.has_range_key:
            return [partition]
        items = list(partition.values())
        if comparison:
            # moto applies the same comparison again to what this returns, after working
            # out every candidate's size; a partition holding a year of buckets made each
            # Query cost a tenth of a second.
            items = [item for item in items if item.range_key.compare(comparison, values)]
        return items

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


def _journal(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved: list[tuple[Any, ...]] = []
    seen: set[tuple[str, str]] = set()
    for entry in transact_items:
        if len(entry) != 1:
            continue  # moto itself rejects these before changing anything
        ((operation, body),) = entry.items()
        table = backend.tables.get(body.get("TableName"))
        if table is None:
            continue
        attributes = body.get("Item") if operation == "Put" else body.get("Key")
        if not attributes or table.hash_key_attr not in attributes:
            continue
        hash_key = DynamoType(attributes[table.hash_key_attr])
        range_key = (
            DynamoType(attributes[table.range_key_attr])
            if table.has_range_key and table.range_key_attr in attributes
            else None
        )
        identity = (
            table.name,
            repr((attributes.get(table.hash_key_attr), attributes.get(table.range_key_attr))),
        )
        if identity in seen:
            continue
        seen.add(identity)
        if range_key is not None:
            current = table.items.get(hash_key, {}).get(range_key)
        else:
            current = table.items.get(hash_key)
        saved.append((table, hash_key, range_key, copy.deepcopy(current)))
    return saved


def _restore(backend: Any, journal: list[tuple[Any, ...]]) -> None:
    del backend
    for table, hash_key, range_key, previous in reversed(journal):
        if range_key is not None:
            partition = table.items[hash_key]
            if previous is None:
                partition.pop(range_key, None)
                if not partition:
                    table.items.pop(hash_key, None)
            else:
                partition[range_key] = previous
        elif previous is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = previous
