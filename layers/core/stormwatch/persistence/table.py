"""One DynamoDB table and what was asked of it: the plumbing every item module shares.

`Table.call` is the only place a request leaves for DynamoDB, so every request is counted
(for the handlers' metrics). `write_units` estimates what a write request costs from its
item sizes, the way DynamoDB bills them: moto reports fixed capacities, so the benchmarks
price the requests they recorded with it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

# DynamoDB's limits for one transaction.
MAX_TRANSACTION_ACTIONS = 100
WRITE_UNIT_BYTES = 1024
READ_OPERATIONS = frozenset({"query", "get_item", "batch_get_item"})


@dataclass(slots=True)
class TableStats:
    """What one user of the table asked of DynamoDB (metrics and benchmarks)."""

    requests: int = 0
    transactions: int = 0
    write_items: int = 0
    conflicts: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)


class Table:
    """A DynamoDB table: the client, its name and the counting of every request."""

    def __init__(self, client: DynamoDBClient | Any, name: str) -> None:
        self.client = client
        self.name = name
        self.stats = TableStats()
        # The evaluator reads brands in threads; the counts must add up.
        self._lock = threading.Lock()

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.stats.requests += 1
            self.stats.by_operation[operation] = self.stats.by_operation.get(operation, 0) + 1
        answer: dict[str, Any] = getattr(self.client, operation)(**request)
        return answer

    def transact(self, actions: list[dict[str, Any]]) -> None:
        """TransactWriteItems without a client token: callers make their actions safe to
        repeat (conditional puts, version fences), so a retry after a lost answer is
        recognised by its conditions rather than by DynamoDB's 10-minute token window."""
        with self._lock:
            self.stats.transactions += 1
            self.stats.write_items += len(actions)
        self.call("transact_write_items", TransactItems=actions)

    def query(self, **request: Any) -> Iterator[Item]:
        """Every item of a Query, page after page."""
        request = {"TableName": self.name, **request}
        while True:
            answer = self.call("query", **request)
            yield from answer.get("Items", [])
            if "LastEvaluatedKey" not in answer:
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def read(self, key: Item) -> Item | None:
        """The item at `key`, read strongly consistently. A Query on the whole key rather
        than GetItem: the functions' roles grant Query, and one read action is enough."""
        for item in self.query(
            KeyConditionExpression="pk = :pk AND sk = :sk",
            ExpressionAttributeValues={":pk": key["pk"], ":sk": key["sk"]},
            ConsistentRead=True,
        ):
            return item
        return None

    def put_new(self, item: Item) -> bool:
        """Put `item` unless an item with its key exists; False if one did (a re-run, or
        this very put whose answer was lost)."""
        from botocore.exceptions import ClientError

        try:
            self.call(
                "put_item",
                TableName=self.name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def move_state(
        self, key: Item, source: str, target: str, fields: Mapping[str, str | None] = {}
    ) -> bool:
        """Set the item's `state` from `source` to `target`, with the non-empty `fields`;
        False if its state was not `source` (another run moved it first)."""
        from botocore.exceptions import ClientError

        names = {"#state": "state"}
        values: dict[str, AttributeValue] = {":from": {"S": source}, ":to": {"S": target}}
        sets = ["#state = :to"]
        for name, value in fields.items():
            if value:
                names[f"#{name}"] = name
                values[f":{name}"] = {"S": value}
                sets.append(f"#{name} = :{name}")
        try:
            self.call(
                "update_item",
                TableName=self.name,
                Key=key,
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#state = :from",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True


def cancellation_reasons(error: Exception) -> list[str] | None:
    """Per-action reason codes of a cancelled transaction; None for any other error."""
    response = getattr(error, "response", {})
    if response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return [reason.get("Code", "None") for reason in response.get("CancellationReasons", [])]


def condition_failed(error: Exception) -> bool:
    """A single request's ConditionExpression did not hold."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code")
    return bool(code == "ConditionalCheckFailedException")


def item_size(item: Mapping[str, AttributeValue]) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values, in bytes."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: AttributeValue) -> int:
    ((kind, data),) = value.items()
    sizer = _SIZERS.get(kind)
    return int(sizer(data)) if sizer is not None else len(str(data))


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    return math.ceil(len(digits.split("e")[0].split("E")[0]) / 2) + 1


_SIZERS: dict[str, Callable[[Any], int]] = {
    "S": lambda raw: len(str(raw).encode()),
    "N": lambda raw: _number_size(str(raw)),
    "B": lambda raw: len(raw) if isinstance(raw, bytes | bytearray) else len(str(raw)),
    "BOOL": lambda raw: 1,
    "NULL": lambda raw: 1,
    "SS": lambda raw: sum(len(str(member).encode()) for member in raw),
    "NS": lambda raw: sum(_number_size(str(member)) for member in raw),
    "L": lambda raw: 3 + sum(1 + _value_size(member) for member in raw),
    "M": lambda raw: 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in raw.items()),
}


def _units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def write_units(operation: str, request: Mapping[str, Any]) -> float:
    """DynamoDB's write units for one request: 1 per started KB of each item written,
    twice that inside a transaction. For an update only the attributes it writes are
    known here (DynamoDB counts the whole item), so it is a lower bound of at least 1."""
    if operation == "put_item":
        return _units(item_size(request["Item"]))
    if operation in ("update_item", "delete_item"):
        return _units(item_size(request.get("Key", {})) + _update_size(request))
    if operation == "batch_write_item":
        return sum(
            _units(item_size(entry["PutRequest"]["Item"])) if "PutRequest" in entry else 1
            for entries in request["RequestItems"].values()
            for entry in entries
        )
    if operation == "transact_write_items":
        total = 0
        for action in request["TransactItems"]:
            if "Put" in action:
                total += _units(item_size(action["Put"]["Item"]))
            elif "Update" in action:
                total += _units(item_size(action["Update"]["Key"]) + _update_size(action["Update"]))
            else:
                total += 1
        return 2.0 * total
    return 0.0


def _update_size(request: Mapping[str, Any]) -> int:
    names = request.get("ExpressionAttributeNames", {})
    values = request.get("ExpressionAttributeValues", {})
    return sum(len(name.encode()) for name in names.values()) + sum(
        _value_size(value) for value in values.values()
    )
