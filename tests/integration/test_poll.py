"""The poll loop over sources, with the store on the local stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from local.localconfig import read_document
from local.stack import LocalStack
from stormwatch.channels.base import Cursor, Page
from stormwatch.config import Config, parse_config
from stormwatch.deadline import Deadline, TimeBudget
from stormwatch.errors import ChannelUnavailable, RateLimited
from stormwatch.listen.poll import PollReport, poll_channel
from stormwatch.listen.scoring import MentionScorer
from stormwatch.model import Mention, Sentiment
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.health import HealthLog
from stormwatch.persistence.mentions import MentionLedger
from stormwatch.persistence.table import Table
from stormwatch.persistence.warn_state import WarnStateStore

NOW = datetime(2026, 11, 22, 3, 30, tzinfo=UTC)


class Neutral:
    def analyze(self, items: Sequence[tuple[str, str]]) -> list[tuple[Sentiment, float]]:
        return [(Sentiment.NEUTRAL, 0.0) for _ in items]


class PagesFor:
    """A deadline that runs out after a fixed number of pages, like a Lambda's time."""

    def __init__(self, pages: int) -> None:
        self.left = pages + 1  # the loop also asks once before a source's first page

    def remaining(self) -> float:
        return 60.0 if self.left > 0 else 0.0

    def allows(self, seconds: float) -> bool:
        self.left -= 1
        return self.left > 0

    def expired(self) -> bool:
        return self.left <= 0


@dataclass
class ListSource:
    """A source over a fixed list: page N's cursor is {"next": N + 1}."""

    channel: str
    key: str
    mentions: list[Mention]
    page_size: int = 10
    fail_at_page: int | None = None
    error: Exception | None = None
    fetched: list[int] = field(default_factory=list)

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        number = cursor["next"] if cursor else 0
        while number * self.page_size < len(self.mentions):
            if self.fail_at_page is not None and number == self.fail_at_page and self.error:
                raise self.error
            self.fetched.append(number)
            chunk = self.mentions[number * self.page_size : (number + 1) * self.page_size]
            number += 1
            yield Page(chunk, {"next": number})


@pytest.fixture
def channel() -> str:
    return f"test{uuid.uuid4().hex[:6]}"


@pytest.fixture
def config() -> Config:
    document = read_document()
    document["channels"]["x"]["max_pages_per_run"] = 1000
    return parse_config(document)


@pytest.fixture
def store(stack: LocalStack) -> MentionLedger:
    return MentionLedger(Table(stack.client("dynamodb"), stack.outputs["TableName"]))


def _mentions(channel: str, count: int, text: str = "Nordwind Air again") -> list[Mention]:
    return [
        Mention(
            channel,
            f"{channel}-{n}",
            f"https://t/{n}",
            "a",
            text,
            NOW - timedelta(minutes=count - n),
        )
        for n in range(count)
    ]


def _total(store: MentionLedger, channel: str) -> int:
    buckets = BucketStore(store.table).read(
        "nordwind-air", NOW - timedelta(days=1), NOW + timedelta(hours=1)
    )
    return sum(counts.total for counts in buckets.get(channel, {}).values())


def _poll(
    channel: str,
    sources: list[ListSource],
    store: MentionLedger,
    config: Config,
    deadline: TimeBudget | None = None,
) -> PollReport:
    # The config names real channels; these tests borrow x's settings for a made-up channel.
    config.channels[channel] = config.channels["x"]  # type: ignore[index]
    return poll_channel(
        channel,
        sources,
        store,
        HealthLog(store.table),
        MentionScorer(config, Neutral()),
        config,
        deadline or Deadline(60),
        lambda: NOW,
    )


def test_a_storm_bigger_than_one_invocation_resumes_where_it_stopped(
    channel: str, store: MentionLedger, config: Config
) -> None:
    # Given 250 mentions in 25 pages and an invocation with time for 10 pages
    source = ListSource(channel, "search:nordwind-air", _mentions(channel, 250))
    first = _poll(channel, [source], store, config, PagesFor(10))
    # Then it stopped with work left, having committed what it read
    assert first.sources[0].outcome == "more"
    assert _total(store, channel) == first.stored == 100
    # When the next runs come / Then they continue the same chain and nothing is read twice
    second = _poll(channel, [source], store, config, PagesFor(10))
    third = _poll(channel, [source], store, config)
    assert (second.sources[0].outcome, third.sources[0].outcome) == ("more", "done")
    assert _total(store, channel) == 250
    assert source.fetched == list(range(25))


def test_a_rate_limited_source_backs_off_and_keeps_its_cursor(
    channel: str, store: MentionLedger, config: Config
) -> None:
    # Given a source that is throttled on its third page
    until = NOW + timedelta(minutes=15)
    source = ListSource(
        channel,
        "search:nordwind-air",
        _mentions(channel, 50),
        fail_at_page=2,
        error=RateLimited(channel, until),
    )
    report = _poll(channel, [source], store, config)
    # Then the two pages before it are committed and the source waits until the reset
    assert report.sources[0].outcome == "rate-limited"
    assert _total(store, channel) == 20
    assert store.load_cursors(channel)["search:nordwind-air"].backoff_until == until
    # When the next run comes before the reset / Then the source is not called at all
    source.error = None
    again = _poll(channel, [source], store, config)
    assert again.sources[0].outcome == "backing-off"
    assert source.fetched == [0, 1]


def test_one_source_failing_does_not_stop_the_others(
    channel: str, store: MentionLedger, config: Config, stack: LocalStack
) -> None:
    # Given three sources: one times out, one has a bug, one works
    failing = ListSource(
        channel,
        "tag:a",
        _mentions(channel, 5),
        fail_at_page=0,
        error=ChannelUnavailable(channel, "GET /tags timed out"),
    )
    buggy = ListSource(
        channel, "tag:b", _mentions(channel, 5), fail_at_page=0, error=KeyError("data")
    )
    working = ListSource(
        channel,
        "search:c",
        [Mention(channel, f"ok{n}", "", "a", "Nordwind Air", NOW) for n in range(7)],
    )
    report = _poll(channel, [failing, buggy, working], store, config)
    # Then the working one was read, and the failures are reported with what went wrong
    assert [s.outcome for s in report.sources] == ["failed", "failed", "done"]
    assert _total(store, channel) == 7
    assert "timed out" in report.errors[0]
    assert "KeyError" in report.errors[1]
    health = WarnStateStore(store.table).monitor().health[channel]
    assert health.consecutive_failures == 1
    assert "timed out" in (health.last_error or "")


def test_mentions_about_no_brand_or_too_old_are_read_but_not_stored(
    channel: str, store: MentionLedger, config: Config
) -> None:
    # Given weather chatter, a mention older than max_mention_age_hours, and a real mention
    old = NOW - timedelta(hours=config.max_mention_age_hours + 1)
    source = ListSource(
        channel,
        "search:nordwind-air",
        [
            Mention(channel, "w", "", "a", "Kalter Nordwind heute an der Ostsee", NOW),
            Mention(channel, "o", "", "a", "Nordwind Air in 2019", old),
            Mention(channel, "r", "", "a", "Nordwind Air lost my bag", NOW),
        ],
    )
    report = _poll(channel, [source], store, config)
    assert (report.tally.read, report.tally.unmatched, report.tally.too_old) == (3, 1, 1)
    assert report.stored == 1


def test_pages_with_nothing_to_store_move_the_cursor_with_one_write(
    channel: str, store: MentionLedger, config: Config
) -> None:
    # Given four pages of weather chatter (nothing about a brand): each moves the cursor
    chatter = [Mention(channel, f"w{n}", "", "a", "kalter Nordwind heute", NOW) for n in range(40)]
    source = ListSource(channel, "search:weather", chatter)
    before = store.table.stats.by_operation.copy()
    # When the channel is polled
    report = _poll(channel, [source], store, config)
    # Then every page was read, and the cursor moved once, to after the last page
    assert report.sources[0].pages == 4
    assert store.load_cursors(channel)["search:weather"].state == {"next": 4}
    after = store.table.stats.by_operation
    # (one update for the cursor, one for the channel's health)
    assert after.get("update_item", 0) - before.get("update_item", 0) == 2
    assert after.get("transact_write_items", 0) == before.get("transact_write_items", 0)


def test_a_failure_after_empty_pages_keeps_how_far_they_read(
    channel: str, store: MentionLedger, config: Config
) -> None:
    # Given a source whose third page fails after two pages of chatter
    chatter = [Mention(channel, f"w{n}", "", "a", "kalter Nordwind heute", NOW) for n in range(40)]
    source = ListSource(
        channel, "search:weather", chatter, fail_at_page=2, error=ChannelUnavailable(channel, "503")
    )
    # When the channel is polled
    report = _poll(channel, [source], store, config)
    # Then the failure is reported and the next run starts after the two pages read
    assert report.sources[0].outcome == "failed"
    assert store.load_cursors(channel)["search:weather"].state == {"next": 2}
