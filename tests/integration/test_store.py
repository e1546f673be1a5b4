"""The commit against DynamoDB (moto, table from template.yaml): nothing lost, nothing twice."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import LocalStack
from stormwatch.errors import StoreConflict
from stormwatch.model import Mention, ScoredMention, Sentiment
from stormwatch.store import DynamoStore, alert_state_key

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
_numbers = itertools.count()


def _scored(
    channel: str,
    minute: int,
    sentiment: Sentiment = Sentiment.NEGATIVE,
    brands: tuple[str, ...] = ("acme",),
) -> ScoredMention:
    number = next(_numbers)
    mention = Mention(
        channel,
        f"id{number}",
        f"https://x.test/{number}",
        "someone",
        f"text {number}",
        T0 + timedelta(minutes=minute, seconds=number % 60),
        reach=10,
        engagement=2,
    )
    return ScoredMention(mention, "en", sentiment, -0.5, brands)


@pytest.fixture
def store(stack: LocalStack) -> DynamoStore:
    return DynamoStore(stack.client("dynamodb"), stack.outputs["TableName"])


@pytest.fixture
def channel() -> str:
    return f"ch{uuid.uuid4().hex[:8]}"


def _commit(
    store: DynamoStore,
    channel: str,
    version: int,
    scored: list[ScoredMention],
    state: dict[str, Any] | None = None,
):
    return store.commit_page(
        channel,
        "search:acme",
        version,
        state or {"n": version + 1},
        scored,
        bucket_minutes=5,
        mention_ttl_days=30,
        now=T0,
    )


def _totals(store: DynamoStore, brand: str, channel: str) -> dict[str, int]:
    buckets = store.read_buckets(brand, channel, T0 - timedelta(hours=1), T0 + timedelta(days=1))
    totals = {"total": 0, "negative": 0, "neutral": 0, "positive": 0, "reach": 0, "engagement": 0}
    for counts in buckets.values():
        for name, value in counts.as_dict().items():
            totals[name] += value
    return totals


def test_a_page_is_stored_counted_and_the_cursor_moves(store: DynamoStore, channel: str) -> None:
    # Given three mentions in two buckets, about one brand
    page = [_scored(channel, 0), _scored(channel, 1, Sentiment.POSITIVE), _scored(channel, 7)]
    # When the page is committed
    result = _commit(store, channel, 0, page, {"watermark": "42"})
    # Then they are counted per channel and for all channels, and the cursor holds the state
    assert (result.stored, result.duplicates, result.version) == (3, 0, 1)
    assert _totals(store, "acme", channel) == {
        "total": 3,
        "negative": 2,
        "neutral": 0,
        "positive": 1,
        "reach": 30,
        "engagement": 6,
    }
    assert len(store.read_buckets("acme", channel, T0, T0 + timedelta(hours=1))) == 2
    cursor = store.load_cursors(channel)["search:acme"]
    assert (cursor.state, cursor.version) == ({"watermark": "42"}, 1)


def test_a_retried_page_counts_nothing_twice(store: DynamoStore, channel: str) -> None:
    # Given a committed page
    page = [_scored(channel, 0) for _ in range(5)]
    _commit(store, channel, 0, page)
    # When the next page repeats two of them (a page boundary overlap) with three new ones
    again = page[3:] + [_scored(channel, 2) for _ in range(3)]
    result = _commit(store, channel, 1, again)
    # Then only the new ones are stored and counted
    assert (result.stored, result.duplicates) == (3, 2)
    assert _totals(store, "acme", channel)["total"] == 8


def test_a_commit_whose_answer_was_lost_can_be_repeated(store: DynamoStore, channel: str) -> None:
    # Given a commit that went through but whose caller never heard back
    page = [_scored(channel, 0) for _ in range(4)]
    _commit(store, channel, 0, page, {"w": 1})
    # When the caller repeats exactly the same commit
    result = _commit(store, channel, 0, page, {"w": 1})
    # Then it succeeds without a conflict and nothing is counted twice
    assert (result.stored, result.duplicates, result.version) == (0, 4, 1)
    assert _totals(store, "acme", channel)["total"] == 4


def test_a_run_that_lost_the_race_stores_nothing(store: DynamoStore, channel: str) -> None:
    # Given two runs that both read cursor version 0; the first commits
    _commit(store, channel, 0, [_scored(channel, 0)], {"run": "first"})
    # When the second commits different mentions against the same version
    late = [_scored(channel, 1), _scored(channel, 2)]
    with pytest.raises(StoreConflict):
        _commit(store, channel, 0, late, {"run": "second"})
    # Then none of its mentions were stored: they will be read again from the first's cursor
    assert _totals(store, "acme", channel)["total"] == 1
    assert store.load_cursors(channel)["search:acme"].state == {"run": "first"}


def test_a_page_larger_than_a_transaction_is_split_and_counted_once(
    store: DynamoStore, channel: str
) -> None:
    # Given 180 mentions of two brands in four buckets (more than 100 actions)
    page = [_scored(channel, minute=(i % 4) * 5, brands=("acme", "zenith")) for i in range(180)]
    # When it is committed
    result = _commit(store, channel, 0, page)
    # Then it took three transactions (100 actions - 16 bucket updates - 1 cursor = 83 mentions
    # each), and both brands count every mention once
    assert result.transactions == 3
    assert result.stored == 180
    assert _totals(store, "acme", channel)["total"] == 180
    assert _totals(store, "zenith", channel)["total"] == 180


def test_a_crash_between_chunks_is_repaired_by_reading_the_page_again(
    store: DynamoStore, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a big page whose second transaction fails (the Lambda dies there)
    page = [_scored(channel, minute=(i % 3) * 5) for i in range(150)]
    real = store._transact
    calls = {"n": 0}

    def dying(actions: list[dict[str, Any]]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("killed")
        real(actions)

    monkeypatch.setattr(store, "_transact", dying)
    with pytest.raises(ConnectionError):
        _commit(store, channel, 0, page)
    assert store.load_cursors(channel) == {}  # the cursor did not move
    # When the next run reads the same page again and commits it
    monkeypatch.setattr(store, "_transact", real)
    result = _commit(store, channel, 0, page)
    # Then what the first run stored is recognised, and every mention is counted once
    assert result.duplicates > 0
    assert result.stored + result.duplicates == 150
    assert _totals(store, "acme", channel)["total"] == 150


def test_backoff_is_remembered_and_cleared_by_the_next_commit(
    store: DynamoStore, channel: str
) -> None:
    # Given a source told to wait
    store.set_backoff(channel, "search:acme", T0 + timedelta(minutes=15), "429 from x")
    assert store.load_cursors(channel)["search:acme"].backoff_until == T0 + timedelta(minutes=15)
    # When it later commits a page / Then the backoff is gone
    _commit(store, channel, 0, [_scored(channel, 0)])
    assert store.load_cursors(channel)["search:acme"].backoff_until is None


def test_poll_health_counts_consecutive_failures(
    store: DynamoStore, channel: str, stack: LocalStack
) -> None:
    table = stack.outputs["TableName"]
    client = stack.client("dynamodb")

    def health() -> dict[str, Any]:
        key = {"pk": {"S": f"HEALTH#{channel}"}, "sk": {"S": "POLL"}}
        item: dict[str, Any] = client.get_item(TableName=table, Key=key)["Item"]
        return item

    store.record_poll(channel, T0, succeeded=False, error="x: 503", mentions=0)
    store.record_poll(channel, T0, succeeded=False, error="x: 503", mentions=0)
    assert health()["consecutive_failures"] == {"N": "2"}
    store.record_poll(channel, T0, succeeded=True, error=None, mentions=4)
    item = health()
    assert item["consecutive_failures"] == {"N": "0"}
    assert "last_error" not in item


def test_a_non_conditional_failure_is_not_mistaken_for_a_duplicate(
    store: DynamoStore, channel: str
) -> None:
    # Given a mention too large for DynamoDB (400 KB item limit)
    huge = _scored(channel, 0)
    huge = ScoredMention(
        Mention(channel, "huge", "", "", "x" * 420_000, huge.mention.created_at),
        "en",
        Sentiment.NEUTRAL,
        0.0,
        ("acme",),
    )
    # When it is committed / Then the error surfaces instead of being dropped as a "duplicate"
    with pytest.raises(ClientError):
        _commit(store, channel, 0, [huge])


# --- the alert outbox -------------------------------------------------------------------------


def test_an_outbox_entry_is_written_once_claimed_by_one_run_and_marked_sent(
    store: DynamoStore,
) -> None:
    # Given a lifecycle state saved with one notification, then the same minute saved again
    brand = f"brand-{uuid.uuid4().hex[:8]}"
    key = alert_state_key(brand)
    now = datetime(2026, 11, 22, 3, 5, tzinfo=UTC)
    dispatch = f"{brand}-20261122-0305:started"
    version = store.save_state_with_outbox(key, {"v": 1}, 0, [(dispatch, {"n": 1})], now)
    store.save_state_with_outbox(key, {"v": 2}, version, [(dispatch, {"n": 2})], now)
    mine = [e for e in store.pending_notifications() if e.key == dispatch]
    assert [(e.payload, e.attempts) for e in mine] == [({"n": 1}, 0)]

    # When two runs try to claim it for sending at the same minute
    lease = timedelta(minutes=5)
    claims = [store.claim_notification(dispatch, now, lease) for _ in range(2)]

    # Then only the first gets it; after a failed send it is free again at once
    assert claims == [True, False]
    store.mark_notification(dispatch, sent=False, error="SNS throttled")
    assert store.claim_notification(dispatch, now, lease)
    # and a claim whose run died expires with its lease
    assert not store.claim_notification(dispatch, now + timedelta(minutes=4), lease)
    assert store.claim_notification(dispatch, now + timedelta(minutes=5), lease)

    # When it is sent, it is pending no more and nobody can claim it
    store.mark_notification(dispatch, sent=True)
    assert dispatch not in {e.key for e in store.pending_notifications()}
    assert not store.claim_notification(dispatch, now + timedelta(hours=1), lease)
