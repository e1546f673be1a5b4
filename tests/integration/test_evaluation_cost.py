"""What an evaluation asks of DynamoDB, on the local stack: about one request per brand.

`bench.evaluate` measures it for 50 brands over an hour; this keeps a regression from
slipping in unnoticed. (The shared stack's tables serve; the evaluator gets its brands
from its own config.)
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bench.evaluate import counts_at, document, recorded_evaluator
from bench.recording import RecordingClient
from local.stack import LocalStack
from stormwatch.config import Config, parse_config
from stormwatch.model import BucketCounts, BucketKey, bucket_start
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.health import HealthLog
from stormwatch.persistence.table import Table

BRANDS = 4
T0 = bucket_start(datetime.now(UTC), 5) - timedelta(days=2)


@pytest.fixture(scope="module")
def config() -> Config:
    return parse_config(document(BRANDS), now=T0)


def _buckets(config: Config, start: datetime, end: datetime) -> dict[BucketKey, BucketCounts]:
    rng = random.Random(start.timestamp())
    found = {}
    moment = start
    while moment < end:
        for brand in config.brands:
            for channel, counts in counts_at(rng, moment, 1.0).items():
                found[BucketKey(brand.id, channel, moment)] = counts
        moment += timedelta(minutes=5)
    return found


def test_a_quiet_minute_costs_one_query_per_brand(stack: LocalStack, config: Config) -> None:
    # Given brands with four days of history, evaluated once (they learned it)
    setup = Table(stack.client("dynamodb"), stack.outputs["TableName"])
    BucketStore(setup).import_history(_buckets(config, T0 - timedelta(days=4), T0))
    recording = RecordingClient(stack.client("dynamodb"))
    evaluator = recorded_evaluator(stack, config, recording)
    health = HealthLog(setup)

    def minute(now: datetime) -> dict[str, int]:
        for channel in config.enabled_channels:
            health.record_poll(
                channel, now - timedelta(seconds=20), succeeded=True, error=None, mentions=1
            )
        recording.clear()
        report = evaluator.run(now)
        assert report.errors == []
        assert report.deferred == []
        counted: dict[str, int] = {}
        for operation, _ in recording.sent:
            counted[operation] = counted.get(operation, 0) + 1
        return counted

    first = minute(T0 + timedelta(minutes=1))
    assert first.get("put_item", 0) >= BRANDS  # each brand's state stored once learned
    # When the next minutes are quiet, new buckets arriving as usual
    costs = []
    for offset in range(2, 12):
        now = T0 + timedelta(minutes=offset)
        if now.minute % 5 == 0:
            BucketStore(setup).import_history(_buckets(config, now - timedelta(minutes=5), now))
        costs.append(minute(now))
    # Then each evaluation is one Query per brand, the monitor's and the outbox's, and no write
    for cost in costs:
        assert cost == {"query": BRANDS + 2}, cost
