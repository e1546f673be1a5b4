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


def test_a_query_reads_exactly_the_sort_key_range_asked_for_page_by_page(
    stack: LocalStack,
) -> None:
    # Given a long partition (a fortnight of 5-minute buckets) and another one beside it
    client = stack.client("dynamodb")
    table = stack.outputs["TableName"]
    keys = [
        f"2026-11-{day:02d}T{minute // 60:02d}:{minute % 60:02d}"
        for day in range(1, 15)
        for minute in range(0, 1440, 5)
    ]
    for chunk in range(0, len(keys), 25):
        client.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": "MQ"}, "sk": {"S": key}, "n": {"N": "1"}}}}
                    for key in keys[chunk : chunk + 25]
                ]
            }
        )
    client.put_item(TableName=table, Item={"pk": {"S": "MQ2"}, "sk": {"S": keys[100]}})
    # When three hours of it are read in pages of ten, newest first, and a prefix by
    # begins_with
    window = {
        ":pk": {"S": "MQ"},
        ":from": {"S": "2026-11-07T22:00"},
        ":to": {"S": "2026-11-08T01:00"},
    }
    pages, start = [], None
    while True:
        answer = client.query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues=window,
            ScanIndexForward=False,
            Limit=10,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        pages.append([item["sk"]["S"] for item in answer["Items"]])
        start = answer.get("LastEvaluatedKey")
        if start is None:
            break
    prefix = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :day)",
        ExpressionAttributeValues={":pk": {"S": "MQ"}, ":day": {"S": "2026-11-14T23"}},
    )
    # Then they hold exactly the keys in range, in order, each once
    expected = sorted(
        (k for k in keys if "2026-11-07T22:00" <= k <= "2026-11-08T01:00"), reverse=True
    )
    assert len(expected) == 37
    assert [key for page in pages for key in page] == expected
    assert all(len(page) <= 10 for page in pages)
    assert [item["sk"]["S"] for item in prefix["Items"]] == [
        k for k in keys if k.startswith("2026-11-14T23")
    ]
    assert prefix["Count"] == prefix["ScannedCount"] == 12


def test_an_update_expression_sent_again_and_again_counts_as_dynamodb_does(
    stack: LocalStack,
) -> None:
    # Given the poll path's kind of counter update, sent for a new item and then again
    client = stack.client("dynamodb")
    table = stack.outputs["TableName"]
    key = {"pk": {"S": "MU"}, "sk": {"S": "bucket"}}

    def add(total: int, negative: int, minutes: int) -> dict[str, Any]:
        answer: dict[str, Any] = client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD #total :total, #negative :negative "
            "SET #minutes = if_not_exists(#minutes, :minutes)",
            ExpressionAttributeNames={
                "#total": "total",
                "#negative": "negative",
                "#minutes": "minutes",
            },
            ExpressionAttributeValues={
                ":total": {"N": str(total)},
                ":negative": {"N": str(negative)},
                ":minutes": {"N": str(minutes)},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return answer

    # When it is applied three times with different values
    add(3, 1, 5)
    add(4, 0, 15)
    after = add(10, 2, 60)
    # Then the counters hold the sums and the first value set stays
    assert after == {**key, "total": {"N": "17"}, "negative": {"N": "3"}, "minutes": {"N": "5"}}
    # And an expression with two ADD clauses, or an ADD to a string, is refused as DynamoDB does
    with pytest.raises(ClientError, match='The "ADD" section can only be used once'):
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD #total :one ADD #negative :one",
            ExpressionAttributeNames={"#total": "total", "#negative": "negative"},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    client.put_item(TableName=table, Item={**key, "total": {"S": "text"}})
    with pytest.raises(
        ClientError, match="An operand in the update expression has an incorrect data type"
    ):
        add(1, 1, 1)
