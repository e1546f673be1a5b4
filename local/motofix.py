"""Make moto's server fast enough for the demo without changing what it answers.

Requests are routed without listing moto's package directory each time; DynamoDB transactions and
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

One correction of what it answers: moto evaluates an S3 bucket policy's Deny without its
condition when the condition's operator is one it does not know (``Bool``), so the
template's TLS-only statement (Deny unless ``aws:SecureTransport``) would deny every
request. moto's plain HTTP stands in for S3's HTTPS endpoint, so a statement whose only
condition is ``aws:SecureTransport`` is applied as S3 applies it to a TLS request.
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

    _list_moto_modules_once()

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
    _parse_update_expressions_once()
    _isolate_operations(DynamoDBBackend)
    _bucket_policies_as_over_tls()
    _state["installed"] = True


def _bucket_policies_as_over_tls() -> None:
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def over_tls(statement: dict[str, Any]) -> dict[str, Any] | None:
        """The statement as S3 applies it to a TLS request: None when it does not apply."""
        condition = statement.get("Condition")
        if condition is None or list(condition) != ["Bool"]:
            return statement
        if list(condition["Bool"]) != ["aws:SecureTransport"]:
            return statement
        wanted = condition["Bool"]["aws:SecureTransport"]
        wanted = wanted if isinstance(wanted, list) else [wanted]
        if "true" not in [str(value).lower() for value in wanted]:
            return None
        return {key: value for key, value in statement.items() if key != "Condition"}

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode())
        statements = document["Statement"]
        statements = statements if isinstance(statements, list) else [statements]
        kept = [s for s in map(over_tls, statements) if s is not None]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(
            action, resource
        )

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def _list_moto_modules_once() -> None:
    """moto's server looks for each request's Host among its backends' folder names,
    listing its package directory and stat-ing every entry (about 200) per request; the
    folders do not change while it runs."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


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


# Table.query's keyword arguments; any other is a legacy KeyConditions filter.
_QUERY_KEYWORDS = {
    "index_name",
    "consistent_read",
    "filter_expression",
    "hash_key_conditions",
    "range_key_conditions",
}


def _index_queries_by_partition() -> None:
    """A base-table Query reads its one partition instead of filtering the whole table,
    and of that partition only the items its sort-key condition selects.

    moto's query builds its candidates from `all_items()`, keeps those whose hash key
    matches, and then, for every candidate, adds up the item's size (for the 1 MB page
    limit) before it checks the sort-key condition. While a base-table query runs,
    `all_items()` here returns that partition's items that meet the sort-key condition:
    moto checks them again and answers the same items, without sizing the thousands of
    buckets of a long history that a window of a few hours does not touch. (moto would
    otherwise also count a non-matching item towards the page size, which DynamoDB does
    not.)
    """
    from moto.dynamodb.models.table import Table

    real_query = Table.query
    real_all_items = Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto passes range_comparison, range_objs, ... index_name positionally after
        # hash_key (index_name is the 7th of them).
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is None and hash_key is not None:
            comparison = args[0] if args else kwargs.get("range_comparison")
            values = args[1] if len(args) > 1 else kwargs.get("range_objs")
            conditions = kwargs.get("range_key_conditions") or []
            plain = len(conditions) <= 1 and not set(kwargs) - _QUERY_KEYWORDS
            sort_key = (comparison, values) if comparison and plain else None
            _inside.partition = (self, hash_key, sort_key)
        try:
            return real_query(self, hash_key, *args, **kwargs)
        finally:
            _inside.partition = None

    def all_items(self: Any) -> Any:
        hint = getattr(_inside, "partition", None)
        if hint is None or hint[0] is not self:
            return real_all_items(self)
        partition = self.items.get(hint[1])
        if partition is None:
            return []
        if not self.has_range_key:
            return [partition]
        items = list(partition.values())
        if hint[2] is None:
            return items
        comparison, values = hint[2]
        return [item for item in items if item.range_key.compare(comparison, values)]

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


def _parse_update_expressions_once() -> None:
    """moto parses an UpdateExpression twice per update (to check the request, then to run
    it), and its validator walks the tree ten times asking at every node `isinstance` of
    abstract classes. The poll path sends the same few expressions over and over: each is
    parsed once here (sharing the tree is safe: the request check only reads it, and the
    validator works on a deep copy of its own), and the walks remember per node class what
    `isinstance` said. Same walks, same order, same answers.
    """
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
        DepthFirstTraverser,
        Node,
    )
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.validators import ActionCountValidator

    real_make = UpdateExpressionParser.make.__func__
    parsed: dict[str, Any] = {}
    lock = threading.Lock()

    def make(cls: Any, expression: str) -> Any:
        with lock:
            tree = parsed.get(expression)
        if tree is None:
            tree = real_make(cls, expression)  # raises for a bad expression: nothing cached
            with lock:
                parsed[expression] = tree
        return tree

    UpdateExpressionParser.make = classmethod(make)

    DepthFirstTraverser.traverse_node_recursively = _traverse_node_recursively
    Node.find_clauses = _find_clauses
    ActionCountValidator.verify_action_counts = _verify_action_counts  # type: ignore[method-assign]
    # The validator starts from a deep copy of the tree (it rewrites the copy as it goes);
    # copy.deepcopy spends most of that on bookkeeping a plain tree does not need.
    setattr(validators, "deepcopy", _SkipTreeCopy())  # noqa: B010 - swapping a module global


class _SkipTreeCopy:
    """Stands in for `deepcopy` in moto's validators module: an expression tree (nodes
    whose children are nodes or strings) is cloned node by node, with each clone's parent
    the parent's clone, as deepcopy would have it; anything else goes to deepcopy."""

    def __call__(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

        if isinstance(value, Node) and value.parent is None:
            return _clone_tree(value, None, Node)
        return copy.deepcopy(value, memo)


def _clone_tree(node: Any, parent: Any, node_class: type) -> Any:
    clone = object.__new__(type(node))
    clone.__dict__.update(node.__dict__)
    clone.parent = parent
    if node.children is not None:
        clone.children = [
            _clone_tree(child, clone, node_class)
            if isinstance(child, node_class)
            else child
            if isinstance(child, str)
            else copy.deepcopy(child)
            for child in node.children
        ]
    return clone


# Node types are ABCs, and moto asks `isinstance` of them at every node of every walk
# (about 3,000 times per update); the answer depends on the node's class only.
_is_node: dict[type, bool] = {}
_has_clauses: dict[type, bool] = {}


def _traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
    """moto's DepthFirstTraverser.traverse_node_recursively, with its `isinstance`
    answers remembered per class."""
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    kind = type(node)
    is_node = _is_node.get(kind)
    if is_node is None:
        is_node = _is_node[kind] = issubclass(kind, Node)
    if not is_node:
        return node
    parent_node = node.parent
    if node.children is not None:
        for index, child_node in enumerate(node.children):
            self.pre_processing_of_child(node, index)
            self.traverse_node_recursively(child_node, index)
    processed: dict[type, bool] | None = self.__dict__.get("_motofix_processed")
    if processed is None:
        processed = self.__dict__["_motofix_processed"] = {}
    wanted = processed.get(kind)
    if wanted is None:
        wanted = processed[kind] = issubclass(kind, self.nodes_to_be_processed())
    if wanted:
        node = self.process(node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
    return node


def _find_clauses(self: Any, clause_types: Any) -> list[Any]:
    """moto's Node.find_clauses, with its `isinstance` answers remembered per class."""
    clauses: list[Any] = []
    for child in self.children or []:
        kind = type(child)
        if kind in clause_types:
            clauses.append(child)
            continue
        if _descends(kind):
            clauses.extend(child.find_clauses(clause_types))
    return clauses


def _descends(kind: type) -> bool:
    """Whether find_clauses looks inside a child of this class."""
    descend = _has_clauses.get(kind)
    if descend is None:
        from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
            Expression,
            UpdateExpressionFunction,
        )

        descend = _has_clauses[kind] = issubclass(kind, (Expression, UpdateExpressionFunction))
    return descend


def _verify_action_counts(self: Any, node: Any) -> Any:
    """moto's ActionCountValidator.verify_action_counts (at most one ADD, one REMOVE and
    one SET clause under `node`, checked in that order), counting each subtree once:
    moto runs it at every node of the tree and searches the node's whole subtree three
    times each time."""
    from moto.dynamodb.exceptions import TooManyClauses
    from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
        UpdateExpressionAddClause,
        UpdateExpressionRemoveClause,
        UpdateExpressionSetClause,
    )

    memo: dict[tuple[int, type], int] = self.__dict__.setdefault("_motofix_counts", {})
    for clause, name in (
        (UpdateExpressionAddClause, "ADD"),
        (UpdateExpressionRemoveClause, "REMOVE"),
        (UpdateExpressionSetClause, "SET"),
    ):
        if _clause_count(node, clause, memo) > 1:
            raise TooManyClauses(name)
    return node


def _clause_count(node: Any, clause: type, memo: dict[tuple[int, type], int]) -> int:
    """len(node.find_clauses([clause])), remembered per node for one validation (the tree
    is not changed while it is checked)."""
    key = (id(node), clause)
    count = memo.get(key)
    if count is None:
        count = 0
        for child in node.children or []:
            kind = type(child)
            if kind is clause:
                count += 1
                continue
            if _descends(kind):
                count += _clause_count(child, clause, memo)
        memo[key] = count
    return count


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
