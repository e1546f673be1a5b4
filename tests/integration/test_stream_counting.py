"""The counter of stored mentions (persistence.counting, the count-mentions flow) against
DynamoDB (moto, table from template.yaml): every insertion the stream hands over is added to
its buckets once, through retried batches, crashes between transactions and lost answers."""

from __future__ import annotations

import itertools
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import LocalStack
from stormwatch.errors import ConfigError
from stormwatch.listen.counting import count_batch, parse_batch
from stormwatch.model import Mention, ScoredMention, Sentiment
from stormwatch.persistence import keys
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.counting import (
    InsertedMention,
    StreamCounter,
    padded_sequence,
)
from stormwatch.persistence.table import Table

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
_sequence = itertools.count(10**21)


@pytest.fixture
def table(stack: LocalStack) -> Table:
    return Table(stack.client("dynamodb"), stack.outputs["TableName"])


@pytest.fixture
def brand() -> str:
    return f"brand-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def shard() -> str:
    return f"shardId-{uuid.uuid4().hex[:12]}"


def _inserted(brand: str, minute: int, channel: str = "x") -> InsertedMention:
    number = next(_sequence)
    created = T0 + timedelta(minutes=minute)
    mention = Mention(
        channel, f"id{number}", "https://x.test", "a", "t", created, reach=10, engagement=2
    )
    scored = ScoredMention(mention, "en", Sentiment.NEGATIVE, -0.5, (brand,))
    bucket = created.replace(minute=created.minute - created.minute % 5, second=0)
    return InsertedMention(padded_sequence(str(number)), scored, bucket)


def _total(table: Table, brand: str) -> int:
    series = BucketStore(table).read(brand, T0 - timedelta(hours=1), T0 + timedelta(days=2))
    return sum(counts.total for counts in series.get("x", {}).values())


def test_a_batch_is_added_to_its_buckets_and_a_retry_adds_nothing(
    table: Table, brand: str, shard: str
) -> None:
    # Given a batch of five insertions in two buckets
    batch = [_inserted(brand, minute) for minute in (0, 1, 2, 6, 7)]
    counter = StreamCounter(table)
    # When it is counted / Then one transaction added all five
    first = counter.count(shard, batch, T0)
    assert (first.counted, first.already_counted, first.transactions) == (5, 0, 1)
    assert _total(table, brand) == 5
    # When Lambda hands the same batch over again (the function's answer was lost)
    again = counter.count(shard, batch, T0)
    # Then nothing is added twice, and the shard's position is the batch's last record
    assert (again.counted, again.already_counted) == (0, 5)
    assert (first.by_channel, again.by_channel) == ({"x": [5, 5]}, {})
    assert _total(table, brand) == 5
    assert counter.position(shard) == batch[-1].sequence


def test_a_batch_with_more_buckets_than_a_transaction_holds_is_split_and_counted_once(
    table: Table, brand: str, shard: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 150 insertions, each in a bucket of its own (150 bucket items)
    batch = [_inserted(brand, minute * 5) for minute in range(150)]
    counter = StreamCounter(table)
    real = table.transact
    calls: list[int] = []

    def dying_after_the_first(actions: list[dict[str, Any]]) -> None:
        calls.append(len(actions))
        if len(calls) == 2:
            raise ConnectionError("killed")
        real(actions)

    # When the counter dies between its two transactions
    monkeypatch.setattr(table, "transact", dying_after_the_first)
    with pytest.raises(ConnectionError):
        counter.count(shard, batch, T0)
    # Then the first held 99 buckets and the position, and those 99 are counted
    assert calls[0] == 100
    assert _total(table, brand) == 99
    # When the batch is handed over again
    monkeypatch.setattr(table, "transact", real)
    result = counter.count(shard, batch, T0)
    # Then only the rest is added: every insertion counted once
    assert (result.counted, result.already_counted) == (51, 99)
    assert _total(table, brand) == 150


def test_a_transaction_whose_answer_was_lost_is_not_added_again(
    table: Table, brand: str, shard: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a transaction DynamoDB applied but whose answer never came back
    batch = [_inserted(brand, minute) for minute in range(3)]
    counter = StreamCounter(table)
    real = table.transact

    def applied_then_lost(actions: list[dict[str, Any]]) -> None:
        real(actions)
        error = {"Error": {"Code": "InternalServerError", "Message": "injected"}}
        raise ClientError(error, "TransactWriteItems")  # type: ignore[arg-type]

    monkeypatch.setattr(table, "transact", applied_then_lost)
    with pytest.raises(ClientError):
        counter.count(shard, batch, T0)
    # When Lambda retries the batch
    monkeypatch.setattr(table, "transact", real)
    result = counter.count(shard, batch, T0)
    # Then the position shows it counted: nothing is added twice
    assert (result.counted, result.already_counted) == (0, 3)
    assert _total(table, brand) == 3


def test_a_later_batch_is_counted_after_an_earlier_one_and_shards_keep_their_own_position(
    table: Table, brand: str, shard: str
) -> None:
    # Given two batches of a shard, and a batch of another shard
    counter = StreamCounter(table)
    early, late = [_inserted(brand, 0)], [_inserted(brand, 1), _inserted(brand, 2)]
    other = [_inserted(brand, 3)]
    # When they are counted in stream order
    counter.count(shard, early, T0)
    counter.count(shard, late, T0)
    counter.count(f"{shard}-child", other, T0)
    # Then all four are added, and each shard has its own position
    assert _total(table, brand) == 4
    assert counter.position(shard) == late[-1].sequence
    assert counter.position(f"{shard}-child") == other[-1].sequence


def test_a_refusal_other_than_the_position_surfaces(
    table: Table, brand: str, shard: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB refusing the transaction for a reason that is not a condition
    def refuse(actions: list[dict[str, Any]]) -> None:
        error = {"Error": {"Code": "ValidationException", "Message": "bad"}}
        raise ClientError(error, "TransactWriteItems")  # type: ignore[arg-type]

    monkeypatch.setattr(table, "transact", refuse)
    # When a batch is counted / Then the error surfaces (Lambda retries the batch)
    with pytest.raises(ClientError):
        StreamCounter(table).count(shard, [_inserted(brand, 0)], T0)


def _record(sequence: str, item: dict[str, Any], event: str = "INSERT") -> dict[str, Any]:
    return {
        "eventName": event,
        "dynamodb": {
            "Keys": {"pk": item["pk"], "sk": item["sk"]},
            "NewImage": item,
            "SequenceNumber": sequence,
        },
    }


def _stored_image(brand: str, minute: int) -> dict[str, Any]:
    created = T0 + timedelta(minutes=minute)
    return {
        **keys.mention("x", created, f"m{minute}"),
        "channel": {"S": "x"},
        "id": {"S": f"m{minute}"},
        "url": {"S": ""},
        "author": {"S": "a"},
        "text": {"S": "t"},
        "sentiment": {"S": "negative"},
        "brands": {"SS": [brand]},
        "reach": {"N": "1"},
        "engagement": {"N": "0"},
        "created_at": {"S": created.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "bucket": {"S": T0.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }


def test_an_unreadable_mention_is_logged_and_its_neighbours_counted(
    table: Table, brand: str, shard: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a batch with a mention insertion missing its bucket, between two good ones,
    # and a record that is no mention's insertion at all
    broken = _stored_image(brand, 1)
    del broken["bucket"]
    bucket_update = {"pk": {"S": keys.brand_partition(brand)}, "sk": {"S": "BUCKET#x"}}
    event = {
        "shardId": shard,
        "Records": [
            _record("1000000000000000000001", _stored_image(brand, 0)),
            _record("1000000000000000000002", broken),
            _record("1000000000000000000003", bucket_update, "MODIFY"),
            _record("1000000000000000000004", _stored_image(brand, 2)),
        ],
    }
    # When it is counted
    with caplog.at_level(logging.ERROR):
        report = count_batch(event, StreamCounter(table), lambda: T0)
    # Then the two good ones are counted, the broken one is logged, not raised (raising
    # would hold the shard back for good), and the other record is ignored
    assert (report.counted, report.unreadable, report.ignored) == (2, 1, 1)
    # ...and the run's log line says per channel exactly what was counted, and how much
    # of it was negative
    assert report.summary()["by_channel"] == {"x": {"counted": 2, "negative": 2}}
    assert _total(table, brand) == 2
    assert "a stored mention could not be counted" in caplog.text


def test_an_event_without_its_shard_is_refused_with_what_to_configure() -> None:
    # Given an event from a mapping without a tumbling window (no shardId)
    with pytest.raises(ConfigError, match="TumblingWindowInSeconds"):
        parse_batch({"Records": []})
