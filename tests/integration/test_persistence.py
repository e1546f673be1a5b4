"""The persistence package against DynamoDB (moto, table from template.yaml): the commit loses
nothing and counts nothing twice; bucket items, a brand's state, the pollers' health and the
outbox read and write as the evaluator needs them, in as few requests as it counts on."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack import LocalStack
from stormwatch.errors import StoreConflict
from stormwatch.model import (
    ALL_CHANNELS,
    BucketCounts,
    BucketKey,
    Mention,
    ScoredMention,
    Sentiment,
)
from stormwatch.notify import EMAIL, Delivery
from stormwatch.persistence import keys
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.health import HealthLog
from stormwatch.persistence.mentions import (
    MAX_AUTHOR_BYTES,
    MAX_TEXT_BYTES,
    CommitResult,
    MentionLedger,
)
from stormwatch.persistence.outbox import Outbox
from stormwatch.persistence.table import MAX_TRANSACTION_ACTIONS, Table
from stormwatch.persistence.warn_state import BrandState, WarnStateStore
from tests.helpers import count_stream

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
def table(stack: LocalStack) -> Table:
    return Table(stack.client("dynamodb"), stack.outputs["TableName"])


@pytest.fixture
def store(table: Table) -> MentionLedger:
    return MentionLedger(table)


@pytest.fixture
def channel() -> str:
    return f"ch{uuid.uuid4().hex[:8]}"


def _commit(
    store: MentionLedger,
    channel: str,
    version: int,
    scored: list[ScoredMention],
    state: dict[str, Any] | None = None,
) -> CommitResult:
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


def _series(store: MentionLedger, brand: str, channel: str) -> dict[datetime, BucketCounts]:
    count_stream()
    buckets = BucketStore(store.table).read(brand, T0 - timedelta(hours=1), T0 + timedelta(days=1))
    return buckets.get(channel, {})


def _totals(store: MentionLedger, brand: str, channel: str) -> dict[str, int]:
    buckets = _series(store, brand, channel)
    totals = {"total": 0, "negative": 0, "neutral": 0, "positive": 0, "reach": 0, "engagement": 0}
    for counts in buckets.values():
        for name, value in counts.as_dict().items():
            totals[name] += value
    return totals


def test_a_page_is_stored_counted_and_the_cursor_moves(store: MentionLedger, channel: str) -> None:
    # Given three mentions in two buckets, about one brand
    page = [_scored(channel, 0), _scored(channel, 1, Sentiment.POSITIVE), _scored(channel, 7)]
    # When the page is committed
    result = _commit(store, channel, 0, page, {"watermark": "42"})
    # Then they are counted in their two buckets, and the cursor holds the state
    assert (result.stored, result.duplicates, result.version) == (3, 0, 1)
    assert _totals(store, "acme", channel) == {
        "total": 3,
        "negative": 2,
        "neutral": 0,
        "positive": 1,
        "reach": 30,
        "engagement": 6,
    }
    assert len(_series(store, "acme", channel)) == 2
    cursor = store.load_cursors(channel)["search:acme"]
    assert (cursor.state, cursor.version) == ({"watermark": "42"}, 1)


def test_a_retried_page_counts_nothing_twice(store: MentionLedger, channel: str) -> None:
    # Given a committed page
    page = [_scored(channel, 0) for _ in range(5)]
    _commit(store, channel, 0, page)
    # When the next page repeats two of them (a page boundary overlap) with three new ones
    again = page[3:] + [_scored(channel, 2) for _ in range(3)]
    result = _commit(store, channel, 1, again)
    # Then all five are written, and once the stream is counted only the new ones count
    assert (result.stored, result.duplicates) == (5, 0)
    assert _totals(store, "acme", channel)["total"] == 8


def test_a_commit_whose_answer_was_lost_can_be_repeated(store: MentionLedger, channel: str) -> None:
    # Given a commit that went through but whose caller never heard back
    page = [_scored(channel, 0) for _ in range(4)]
    _commit(store, channel, 0, page, {"w": 1})
    # When the caller repeats exactly the same commit
    result = _commit(store, channel, 0, page, {"w": 1})
    # Then it succeeds without a conflict and nothing is counted twice
    assert (result.stored, result.version) == (4, 1)
    assert _totals(store, "acme", channel)["total"] == 4


def test_a_run_that_lost_the_race_keeps_what_it_stored_counted_once(
    store: MentionLedger, channel: str
) -> None:
    # Given two runs that both read cursor version 0; the first commits
    _commit(store, channel, 0, [_scored(channel, 0)], {"run": "first"})
    # When the second commits different mentions against the same version
    late = [_scored(channel, 1), _scored(channel, 2)]
    with pytest.raises(StoreConflict):
        _commit(store, channel, 0, late, {"run": "second"})
    # Then its cursor was refused, but what it stored is stored and counted
    assert store.load_cursors(channel)["search:acme"].state == {"run": "first"}
    assert _totals(store, "acme", channel)["total"] == 3
    # And when the next run reads those mentions again from the first's cursor, they are
    # recognised, not counted again
    _commit(store, channel, 1, late, {"run": "third"})
    assert _totals(store, "acme", channel)["total"] == 3


def test_a_page_is_written_25_mentions_a_request_at_one_write_each(
    store: MentionLedger, channel: str
) -> None:
    # Given a page of 60 mentions of two brands in four buckets
    page = [_scored(channel, minute=(i % 4) * 5, brands=("acme", "zenith")) for i in range(60)]
    before = dict(store.table.stats.by_operation)
    # When it is committed
    result = _commit(store, channel, 0, page)
    # Then the mentions took three BatchWriteItems, and the cursor one update: no
    # transaction (which bills every item twice)
    made = {
        operation: count - before.get(operation, 0)
        for operation, count in store.table.stats.by_operation.items()
    }
    assert made == {"batch_write_item": 3, "update_item": 1}
    assert result.stored == 60
    # And once the stream is counted both brands count every mention once
    assert _totals(store, "acme", channel)["total"] == 60
    assert _totals(store, "zenith", channel)["total"] == 60


def _dying_at_the_cursor(store: MentionLedger, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The Lambda dies when it moves a cursor (after its writes); the real call back."""
    real = store.table.call

    def dying(operation: str, **request: Any) -> dict[str, Any]:
        if operation == "update_item":
            raise ConnectionError("killed")
        return real(operation, **request)

    monkeypatch.setattr(store.table, "call", dying)
    return real


def test_a_crash_between_the_puts_and_the_cursor_is_repaired_by_reading_the_page_again(
    store: MentionLedger, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a page whose puts went through, and the Lambda died before its cursor moved
    page = [_scored(channel, minute=(i % 3) * 5) for i in range(30)]
    real = _dying_at_the_cursor(store, monkeypatch)
    with pytest.raises(ConnectionError):
        _commit(store, channel, 0, page)
    assert store.load_cursors(channel) == {}  # the cursor did not move
    # When the next run reads the same page again and commits it
    monkeypatch.setattr(store.table, "call", real)
    result = _commit(store, channel, 0, page)
    # Then each mention is written again, and counted once
    assert result.stored == 30
    assert _totals(store, "acme", channel)["total"] == 30


def test_mentions_stored_by_a_run_that_died_count_though_the_next_reads_another_page(
    store: MentionLedger, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run that stored a page and died before its cursor moved
    first_page = [_scored(channel, 0) for _ in range(4)]
    real = _dying_at_the_cursor(store, monkeypatch)
    with pytest.raises(ConnectionError):
        _commit(store, channel, 0, first_page)
    monkeypatch.setattr(store.table, "call", real)
    # When the next run, from the same cursor, is given a different page (newer posts: a
    # search that answers newest first) and commits it
    result = _commit(store, channel, 0, [_scored(channel, 1) for _ in range(3)])
    # Then its own three are stored, and the four the dead run stored are counted as well:
    # a stored mention is a counted one, whoever stored it
    assert result.stored == 3
    assert _totals(store, "acme", channel)["total"] == 7


def test_backoff_is_remembered_and_cleared_by_the_next_commit(
    store: MentionLedger, channel: str
) -> None:
    # Given a source told to wait
    store.set_backoff(channel, "search:acme", T0 + timedelta(minutes=15), "429 from x")
    assert store.load_cursors(channel)["search:acme"].backoff_until == T0 + timedelta(minutes=15)
    # When it later commits a page / Then the backoff is gone
    _commit(store, channel, 0, [_scored(channel, 0)])
    assert store.load_cursors(channel)["search:acme"].backoff_until is None


def test_poll_health_counts_consecutive_failures(table: Table, channel: str) -> None:
    # Given a channel whose poller failed twice
    log, monitor = HealthLog(table), WarnStateStore(table)
    log.record_poll(channel, T0, succeeded=False, error="x: 503", mentions=0)
    log.record_poll(channel, T0, succeeded=False, error="x: 503", mentions=0)
    # Then the monitor reads two failures and the error
    failing = monitor.monitor().health[channel]
    assert (failing.consecutive_failures, failing.last_error) == (2, "x: 503")
    assert failing.last_success_at is None
    # When it succeeds / Then the failures are forgotten, and its first success is kept
    log.record_poll(channel, T0 + timedelta(minutes=5), succeeded=True, error=None, mentions=4)
    log.record_poll(channel, T0 + timedelta(minutes=10), succeeded=True, error=None, mentions=0)
    healthy = monitor.monitor().health[channel]
    assert (healthy.consecutive_failures, healthy.last_error) == (0, None)
    assert healthy.first_success_at == T0 + timedelta(minutes=5)
    assert healthy.last_success_at == T0 + timedelta(minutes=10)


def test_a_refused_write_surfaces_and_keeps_the_cursor(
    store: MentionLedger, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given DynamoDB refusing a page's write
    real = store.table.call

    def refuse(operation: str, **request: Any) -> dict[str, Any]:
        if operation == "batch_write_item":
            error = {"Error": {"Code": "ValidationException", "Message": "Item size too large"}}
            raise ClientError(error, "BatchWriteItem")  # type: ignore[arg-type]
        return real(operation, **request)

    monkeypatch.setattr(store.table, "call", refuse)
    # When a page is committed / Then the error surfaces, and the cursor stays where it
    # was (the next run reads the page again)
    with pytest.raises(ClientError):
        _commit(store, channel, 0, [_scored(channel, 0)])
    assert store.load_cursors(channel) == {}


def _with(scored: ScoredMention, **changes: Any) -> ScoredMention:
    return dataclasses.replace(scored, mention=dataclasses.replace(scored.mention, **changes))


def test_oversized_fields_are_capped_and_their_neighbours_stored(
    store: MentionLedger, channel: str
) -> None:
    # Given a page whose middle entry has a 450 KB link, a 420 KB text and a 10 KB author
    # (an RSS entry as a hostile feed served it), between two ordinary mentions
    page = [
        _scored(channel, 0),
        _with(
            _scored(channel, 1),
            url="https://blog.example/" + "a" * 450_000,
            text="Nordwind " * 47_000,
            author="b" * 10_000,
        ),
        _scored(channel, 2),
    ]
    # When the page is committed
    result = _commit(store, channel, 0, page)
    # Then all three are stored and counted, each field within its cap, and the cursor moved
    assert (result.stored, result.skipped) == (3, 0)
    assert _totals(store, "acme", channel)["total"] == 3
    stored = {item.mention.id: item.mention for item in _recent(store, channel)}
    big = stored[page[1].mention.id]
    assert big.url == ""  # a link cut short would point somewhere else
    assert len(big.text.encode()) <= MAX_TEXT_BYTES
    assert big.text.startswith("Nordwind")
    assert len(big.author.encode()) <= MAX_AUTHOR_BYTES
    assert store.load_cursors(channel)["search:acme"].version == 1


def test_a_mention_that_cannot_be_keyed_is_skipped_and_its_neighbours_stored(
    store: MentionLedger, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a page with mentions without an id, with one too long for a key, with one that
    # is not valid Unicode, and one dated in the year 9999 (a hostile feed's pubDate)
    page = [
        _scored(channel, 0),
        _with(_scored(channel, 1), id=""),
        _with(_scored(channel, 2), id="9" * 2_000),
        _with(_scored(channel, 3), id="broken\ud800id"),  # a lone surrogate from JSON
        _with(_scored(channel, 4), created_at=datetime(9999, 12, 31, tzinfo=UTC)),
        _scored(channel, 5),
    ]
    # When the page is committed
    result = _commit(store, channel, 0, page)
    # Then the two good ones are stored, the four bad ones skipped with a one-line warning
    assert (result.stored, result.skipped) == (2, 4)
    assert _totals(store, "acme", channel)["total"] == 2
    assert "skipped a mention that cannot be stored" in caplog.text
    assert store.load_cursors(channel)["search:acme"].version == 1


def test_text_that_is_not_valid_unicode_is_stored_with_the_broken_part_replaced(
    store: MentionLedger, channel: str
) -> None:
    # Given a mention whose author, text and link hold lone surrogates (JSON's "\\ud800"
    # decodes to one, and no UTF-8 request can carry it), between two ordinary ones
    broken = _with(
        _scored(channel, 1),
        author="bad\ud800author",
        text="Nordwind \udfff Air",
        url="https://x.test/\ud800",
    )
    page = [_scored(channel, 0), broken, _scored(channel, 2)]
    # When the page is committed
    result = _commit(store, channel, 0, page)
    # Then all three are stored and counted, the broken characters replaced
    assert result.stored == 3
    stored = {item.mention.id: item.mention for item in _recent(store, channel)}
    assert stored[broken.mention.id].author == "bad?author"
    assert stored[broken.mention.id].text == "Nordwind ? Air"


def test_a_mention_naming_more_brands_than_a_transaction_holds_is_committed(
    store: MentionLedger, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a hostile post naming 150 brands, then an ordinary one in another bucket
    brands = tuple(f"brand{n:03d}" for n in range(150))
    page = [_scored(channel, 0, brands=brands), _scored(channel, 7)]
    # When the page is committed (in a thread: the bug was an endless loop)
    outcome: list[CommitResult] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_commit(store, channel, 0, page)), daemon=True
    )
    worker.start()
    worker.join(timeout=10)
    # Then it finishes, stores both, and counts the hostile one for as many brands as the
    # counter's transaction holds beside its position (the rest are named in a warning)
    assert not worker.is_alive(), "the commit never finished"
    assert outcome[0].stored == 2
    fits = MAX_TRANSACTION_ACTIONS - 1
    edges = (brands[0], brands[fits - 1], brands[fits], brands[-1])
    assert [_totals(store, b, channel)["total"] for b in edges] == [1, 1, 0, 0]
    assert "counted for its first 99 of 150 brands" in caplog.text


def _recent(store: MentionLedger, channel: str) -> list[ScoredMention]:
    return store.recent(channel, T0 - timedelta(hours=1), T0 + timedelta(hours=1))


def test_a_cursor_that_moves_alone_costs_one_conditional_update(
    store: MentionLedger, channel: str
) -> None:
    # Given a source whose page held no mention, only a new position
    before = store.table.stats.requests
    result = _commit(store, channel, 0, [], {"watermark": "7"})
    # Then the cursor moved with one request
    assert result.version == 1
    assert store.table.stats.requests == before + 1
    assert store.load_cursors(channel)["search:acme"].state == {"watermark": "7"}
    # and a run that read the old version is refused, while repeating the same move is not
    with pytest.raises(StoreConflict):
        _commit(store, channel, 0, [], {"watermark": "8"})
    assert _commit(store, channel, 0, [], {"watermark": "7"}).version == 1


def test_recent_mentions_come_back_newest_first_across_days(
    store: MentionLedger, channel: str
) -> None:
    # Given mentions before and after a UTC midnight
    late = [_scored(channel, minute) for minute in (-30, -10)]
    shifted = [
        ScoredMention(
            Mention(
                m.mention.channel,
                m.mention.id,
                m.mention.url,
                m.mention.author,
                m.mention.text,
                m.mention.created_at.replace(hour=23, day=21),
                reach=m.mention.reach,
            ),
            m.language,
            m.sentiment,
            m.sentiment_score,
            m.brands,
        )
        for m in late
    ]
    early = [_scored(channel, minute) for minute in (5, 20)]
    _commit(store, channel, 0, shifted + early)
    # When the last six hours are read
    found = store.recent(channel, T0 - timedelta(hours=6), T0 + timedelta(hours=1))
    # Then every one comes back as it was scored, the newest first
    moments = [item.mention.created_at for item in found]
    assert moments == sorted(moments, reverse=True)
    assert len(found) == 4
    assert all(item.sentiment is Sentiment.NEGATIVE and item.brands == ("acme",) for item in found)
    assert store.recent(channel, T0 - timedelta(hours=6), T0 + timedelta(hours=1), limit=1) == [
        found[0]
    ]


# --- bucket items ---------------------------------------------------------------------------


def test_channels_share_one_bucket_item_and_all_channels_is_their_sum(table: Table) -> None:
    # Given pages of two channels about one brand, in the same two buckets
    brand = f"brand-{uuid.uuid4().hex[:8]}"
    ledger = MentionLedger(table)
    _commit(ledger, "x", 0, [_scored("x", m, brands=(brand,)) for m in (0, 1, 6)])
    _commit(
        ledger,
        "mastodon",
        0,
        [_scored("mastodon", m, Sentiment.POSITIVE, brands=(brand,)) for m in (2, 7)],
    )
    # When the stream is counted and the brand's buckets are read
    count_stream()
    series = BucketStore(table).read(brand, T0, T0 + timedelta(hours=1))
    # Then each channel has its own counts and ALL adds them up, bucket by bucket
    assert {name: sorted(counts) for name, counts in series.items()} == {
        "x": [T0, T0 + timedelta(minutes=5)],
        "mastodon": [T0, T0 + timedelta(minutes=5)],
        ALL_CHANNELS: [T0, T0 + timedelta(minutes=5)],
    }
    assert series["x"][T0].as_dict() == {
        "total": 2,
        "negative": 2,
        "neutral": 0,
        "positive": 0,
        "reach": 20,
        "engagement": 4,
    }
    assert series[ALL_CHANNELS][T0].as_dict() == {
        "total": 3,
        "negative": 2,
        "neutral": 0,
        "positive": 1,
        "reach": 30,
        "engagement": 6,
    }
    # And the read range is [start, end)
    assert list(
        BucketStore(table).read(brand, T0 + timedelta(minutes=5), T0 + timedelta(minutes=10))["x"]
    ) == [T0 + timedelta(minutes=5)]


def test_imported_history_replaces_a_bucket_and_ignores_all_channels_keys(table: Table) -> None:
    # Given a bucket counted live, then a history import for the same bucket
    brand = f"brand-{uuid.uuid4().hex[:8]}"
    _commit(MentionLedger(table), "x", 0, [_scored("x", 0, brands=(brand,))])
    count_stream()
    history = {
        BucketKey(brand, "x", T0): BucketCounts(total=5, neutral=5),
        BucketKey(brand, "rss", T0): BucketCounts(total=1, positive=1),
        BucketKey(brand, ALL_CHANNELS, T0): BucketCounts(total=999),
    }
    # When it is imported
    written = BucketStore(table).import_history(history)
    # Then one item was written, the import's counts replace the live ones, and ALL is the sum
    assert written == 1
    series = BucketStore(table).read(brand, T0, T0 + timedelta(minutes=5))
    assert (series["x"][T0].total, series["rss"][T0].total) == (5, 1)
    assert series[ALL_CHANNELS][T0].total == 6


# --- a brand's alert state --------------------------------------------------------------------


def test_a_brand_is_read_with_one_query_and_written_with_one_conditional_put(table: Table) -> None:
    # Given a brand with buckets and a stored state
    brand = f"brand-{uuid.uuid4().hex[:8]}"
    _commit(MentionLedger(table), "x", 0, [_scored("x", m, brands=(brand,)) for m in (0, 30)])
    count_stream()
    states = WarnStateStore(table)
    detectors = {"x": {"level": 1.5, "history": list(range(300))}}
    version = states.save_brand(brand, BrandState(detectors, {"alert": None}, 0), [], T0)
    # When the brand is read from 10 minutes after its first bucket
    before = table.stats.requests
    view = states.load_brand(brand, T0 + timedelta(minutes=10))
    # Then one request brought the later bucket and the state as it was written
    assert table.stats.requests - before == 1
    assert list(view.buckets["x"]) == [T0 + timedelta(minutes=30)]
    assert (view.state.detectors, view.state.lifecycle, view.state.version) == (
        detectors,
        {"alert": None},
        version,
    )
    # And a write based on an older version is refused; the current one wins
    with pytest.raises(StoreConflict):
        states.save_brand(brand, BrandState({}, {"alert": "late"}, 0), [], T0)
    states.save_brand(brand, BrandState({}, {"alert": "next"}, version), [], T0)
    assert states.load_state(brand).lifecycle == {"alert": "next"}


def test_a_brand_never_stored_reads_as_version_0(table: Table) -> None:
    view = WarnStateStore(table).load_brand(f"brand-{uuid.uuid4().hex[:8]}", T0)
    assert (view.buckets, view.state) == ({}, BrandState())


# --- the alert outbox -------------------------------------------------------------------------


def _delivery(text: str) -> Delivery:
    return Delivery(EMAIL, severity=2, brand="acme", kind="started", alert_id="a", text=text)


def test_an_outbox_entry_is_written_once_claimed_by_one_run_and_marked_sent(
    table: Table,
) -> None:
    # Given a brand's state saved with one message, then the same minute saved again
    brand = f"brand-{uuid.uuid4().hex[:8]}"
    states, outbox = WarnStateStore(table), Outbox(table)
    now = datetime(2026, 11, 22, 3, 5, tzinfo=UTC)
    dispatch = f"{brand}-20261122-0305:started"
    version = states.save_brand(
        brand, BrandState({}, {"v": 1}, 0), [(dispatch, _delivery("1"))], now
    )
    states.save_brand(brand, BrandState({}, {"v": 2}, version), [(dispatch, _delivery("2"))], now)
    mine = [e for e in outbox.pending() if e.key == dispatch]
    assert [(e.delivery.text, e.attempts) for e in mine] == [("1", 0)]
    assert states.load_state(brand).lifecycle == {"v": 2}

    # When two runs try to claim it for sending at the same minute
    lease = timedelta(minutes=5)
    claims = [outbox.claim(dispatch, now, lease) for _ in range(2)]

    # Then only the first gets it; after a failed send it is free again at once
    assert claims == [True, False]
    outbox.mark(dispatch, sent=False, error="SNS throttled")
    assert [e.attempts for e in outbox.pending() if e.key == dispatch] == [1]
    assert outbox.claim(dispatch, now, lease)
    # and a claim whose run died expires with its lease
    assert not outbox.claim(dispatch, now + timedelta(minutes=4), lease)
    assert outbox.claim(dispatch, now + timedelta(minutes=5), lease)

    # When it is sent, it is pending no more and nobody can claim it
    outbox.mark(dispatch, sent=True)
    assert dispatch not in {e.key for e in outbox.pending()}
    assert not outbox.claim(dispatch, now + timedelta(hours=1), lease)


def test_an_outbox_message_given_up_is_failed_and_listed_with_its_error(table: Table) -> None:
    # Given a message added outside a state change (an SMS's email fallback), twice
    outbox = Outbox(table)
    now = datetime(2026, 11, 22, 3, 5, tzinfo=UTC)
    key = f"brand-{uuid.uuid4().hex[:8]}-20261122-0305:started:sms:+4915100000000"
    assert outbox.add(key, _delivery("page"), now)
    assert not outbox.add(key, _delivery("again"), now)
    # When SNS refuses it once, then for the last time
    outbox.mark(key, sent=False, error="AuthorizationError: sandbox")
    listed = {e.key: e for e in outbox.undelivered()}
    assert (listed[key].status, listed[key].attempts) == ("pending", 1)
    outbox.mark(key, sent=False, error="AuthorizationError: sandbox", give_up=True)
    # Then it is pending no more, and listed as failed with its error and tries
    assert key not in {e.key for e in outbox.pending()}
    given_up = {e.key: e for e in outbox.undelivered()}[key]
    assert (given_up.status, given_up.attempts, given_up.last_error) == (
        "failed",
        2,
        "AuthorizationError: sandbox",
    )
    assert given_up.delivery.text == "page"
    # and one given up without an error of its own keeps the last one it had
    outbox.mark(key, sent=False, give_up=True)
    kept = {e.key: e for e in outbox.undelivered()}[key]
    assert kept.last_error == "AuthorizationError: sandbox"


def test_a_refused_outbox_entry_is_pending_no_more_and_keeps_its_reason(table: Table) -> None:
    # Given a pending message, and one already sent
    states, outbox = WarnStateStore(table), Outbox(table)
    now = datetime(2026, 11, 22, 3, 5, tzinfo=UTC)
    brand = f"brand-{uuid.uuid4().hex[:8]}"
    refused, sent = f"{brand}:started:sms", f"{brand}:started:email"
    messages = [(refused, _delivery("1")), (sent, _delivery("2"))]
    states.save_brand(brand, BrandState({}, {}, 0), messages, now)
    outbox.mark(sent, sent=True)
    # When both are refused
    outbox.refuse(refused, "refused: not a contact's phone")
    outbox.refuse(sent, "refused: too late")
    # Then the pending one is refused with its reason; the sent one stays sent
    assert {refused, sent}.isdisjoint(e.key for e in outbox.pending())
    items = {key: table.read(keys.outbox(key)) or {} for key in (refused, sent)}
    assert items[refused]["status"]["S"] == "refused"
    assert items[refused]["last_error"]["S"] == "refused: not a contact's phone"
    assert items[sent]["status"]["S"] == "sent"


def test_the_blind_monitor_is_read_with_the_health_of_every_poller(table: Table) -> None:
    # Given a poller's health and a blind monitor state with a message
    states = WarnStateStore(table)
    HealthLog(table).record_poll("linkedin", T0, succeeded=True, error=None, mentions=1)
    before = states.monitor()
    version = states.save_blind(
        {"blind": {"rss": {"since": "x"}}},
        before.blind_version,
        [("blind:rss", _delivery("b"))],
        T0,
    )
    # When the monitor is read / Then both come back with one request
    requests = table.stats.requests
    view = states.monitor()
    assert table.stats.requests - requests == 1
    assert "linkedin" in view.health
    assert (view.blind, view.blind_version) == ({"blind": {"rss": {"since": "x"}}}, version)
    assert "blind:rss" in {e.key for e in Outbox(table).pending()}


def test_the_negatives_a_commit_reports_are_those_it_wrote_and_repeats_are_written_once(
    store: MentionLedger, channel: str
) -> None:
    # Given a page with a negative mention listed twice, and one positive
    negative = _scored(channel, 0, Sentiment.NEGATIVE)
    page = [negative, negative, _scored(channel, 2, Sentiment.POSITIVE)]
    # When it is committed
    result = _commit(store, channel, 0, page)
    # Then the repeat was written once, and one negative is reported (the poll's log line)
    assert (result.stored, result.duplicates, result.negative) == (2, 1, 1)
    assert _totals(store, "acme", channel)["negative"] == 1
