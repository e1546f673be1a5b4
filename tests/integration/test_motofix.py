"""The local stack's journaled rollback keeps DynamoDB transactions all-or-nothing."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import LocalStack


def _item(stack: LocalStack, pk: str, sk: str) -> dict[str, Any] | None:
    table = stack.outputs["TableName"]
    key = {"pk": {"S": pk}, "sk": {"S": sk}}
    answer = stack.client("dynamodb").get_item(TableName=table, Key=key)
    item: dict[str, Any] | None = answer.get("Item")
    return item


def test_a_cancelled_transaction_changes_nothing(stack: LocalStack) -> None:
    client = stack.client("dynamodb")
    table = stack.outputs["TableName"]
    # Given an existing counter and an existing item
    client.put_item(
        TableName=table, Item={"pk": {"S": "MF"}, "sk": {"S": "counter"}, "n": {"N": "5"}}
    )
    client.put_item(TableName=table, Item={"pk": {"S": "MF"}, "sk": {"S": "taken"}})
    # When a transaction adds to the counter, creates a new item, and then fails a condition
    with pytest.raises(ClientError) as caught:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "MF"}, "sk": {"S": "counter"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": "MF2"}, "sk": {"S": "new"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "MF"}, "sk": {"S": "taken"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    # Then it was cancelled with per-item reasons, and no part of it was applied
    reasons = [r["Code"] for r in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert _item(stack, "MF", "counter") == {
        "pk": {"S": "MF"},
        "sk": {"S": "counter"},
        "n": {"N": "5"},
    }
    assert _item(stack, "MF2", "new") is None


def test_a_successful_transaction_applies_everything(stack: LocalStack) -> None:
    client = stack.client("dynamodb")
    table = stack.outputs["TableName"]
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "MS"}, "sk": {"S": str(i)}}}}
            for i in range(100)
        ]
    )
    assert all(_item(stack, "MS", str(i)) for i in (0, 50, 99))


def test_concurrent_transactions_do_not_undo_each_other(stack: LocalStack) -> None:
    # Given many threads adding to one counter, half of them in transactions that fail
    import threading

    client = stack.client("dynamodb")
    table = stack.outputs["TableName"]
    key = {"pk": {"S": "MC"}, "sk": {"S": "counter"}}
    client.put_item(TableName=table, Item={**key, "n": {"N": "0"}})

    def add(fail: bool) -> None:
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": table,
                    "Key": key,
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ]
        if fail:
            actions.append(
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "MC"}, "sk": {"S": "absent"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            )
        for _ in range(20):
            with contextlib.suppress(ClientError):
                client.transact_write_items(TransactItems=actions)

    threads = [threading.Thread(target=add, args=(n % 2 == 1,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly the successful transactions' increments remain
    assert _item(stack, "MC", "counter") == {**key, "n": {"N": "80"}}


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("sk = :a", {":a": "b3"}, ["b3"]),
        ("sk < :a", {":a": "a3"}, ["a0", "a1", "a2"]),
        ("sk <= :a", {":a": "a2"}, ["a0", "a1", "a2"]),
        ("sk > :a", {":a": "b7"}, ["b8", "b9"]),
        ("sk >= :a", {":a": "b8"}, ["b8", "b9"]),
        ("sk BETWEEN :a AND :b", {":a": "a8", ":b": "b1"}, ["a8", "a9", "b0", "b1"]),
        ("begins_with(sk, :a)", {":a": "b"}, [f"b{n}" for n in range(10)]),
    ],
)
def test_a_query_finds_exactly_what_its_sort_key_condition_admits(
    stack: LocalStack, condition: str, values: dict[str, str], expected: list[str]
) -> None:
    # Given a partition of twenty items, and another partition beside it
    client = stack.client("dynamodb")
    table = stack.outputs["TableName"]
    for prefix in "ab":
        for n in range(10):
            for pk in ("MFQ", "MFQ-other"):
                client.put_item(
                    TableName=table, Item={"pk": {"S": pk}, "sk": {"S": f"{prefix}{n}"}}
                )
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": f"pk = :pk AND {condition}",
        "ExpressionAttributeValues": {
            ":pk": {"S": "MFQ"},
            **{name: {"S": value} for name, value in values.items()},
        },
    }
    # When it is read forwards in pages of three, and backwards
    forwards: list[str] = []
    for page in client.get_paginator("query").paginate(**request, PaginationConfig={"PageSize": 3}):
        forwards += [item["sk"]["S"] for item in page["Items"]]
    backwards = [
        item["sk"]["S"] for item in client.query(**request, ScanIndexForward=False)["Items"]
    ]
    # Then exactly the admitted items of that partition come back, in order
    assert forwards == expected
    assert backwards == list(reversed(expected))
