"""The poll loop over sources, with the store on the local stack."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from local.localconfig import read_document
from local.stack import LocalStack
from stormwatch.channels import rss
from stormwatch.channels.base import Cursor, Page
from stormwatch.config import Config, parse_config
from stormwatch.deadline import Deadline
from stormwatch.errors import ChannelError, ChannelUnavailable, RateLimited
from stormwatch.listen.poll import PollBudget, PollReport, poll_channel
from stormwatch.listen.scoring import MentionScorer
from stormwatch.model import Mention, Sentiment
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.health import HealthLog
from stormwatch.persistence.mentions import MentionLedger
from stormwatch.persistence.table import Table
from stormwatch.persistence.warn_state import WarnStateStore
from tests.helpers import context_for, count_stream, example_config

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

    @contextmanager
    def capped(self, seconds: float) -> Iterator[None]:
        yield


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
    count_stream()
    buckets = BucketStore(store.table).read(
        "nordwind-air", NOW - timedelta(days=1), NOW + timedelta(hours=1)
    )
    return sum(counts.total for counts in buckets.get(channel, {}).values())


def _poll(
    channel: str,
    sources: list[ListSource],
    store: MentionLedger,
    config: Config,
    deadline: PollBudget | None = None,
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
    # and health is kept per source: the channel is not failing while one source works,
    # each failing source has its own count and error, and the channel names them
    health = WarnStateStore(store.table).monitor().health[channel]
    assert health.consecutive_failures == 0
    assert health.failing_sources == ("tag:a", "tag:b")
    assert health.sources["tag:a"][0] == health.sources["tag:b"][0] == 1
    assert "timed out" in health.sources["tag:a"][1]


def test_a_channel_fails_only_when_every_source_it_tried_fails(
    channel: str, store: MentionLedger, config: Config
) -> None:
    # Given two sources that both fail, twice
    sources = [
        ListSource(
            channel,
            key,
            _mentions(channel, 3),
            fail_at_page=0,
            error=ChannelUnavailable(channel, "503"),
        )
        for key in ("tag:a", "tag:b")
    ]
    _poll(channel, sources, store, config)
    _poll(channel, sources, store, config)
    # Then the channel counts two failing polls (what "monitoring blind" reads)
    health = WarnStateStore(store.table).monitor().health[channel]
    assert health.consecutive_failures == 2
    # When one of them recovers / Then the channel is healthy again, the other still failing
    sources[0].error = None
    _poll(channel, sources, store, config)
    health = WarnStateStore(store.table).monitor().health[channel]
    assert (health.consecutive_failures, health.failing_sources) == (0, ("tag:b",))
    assert health.sources["tag:b"][0] == 3


@dataclass
class TokenChain:
    """A newest-first chain source whose saved page token went stale: every request that
    carries it is refused the same way, one that resumes below the floor works."""

    channel: str
    key: str = "search:nordwind-air"
    seen: list[Cursor | None] = field(default_factory=list)

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        self.seen.append(cursor)
        chain = (cursor or {}).get("chain") or {}
        if chain.get("token"):
            raise ChannelError(self.channel, "GET /search -> 400: invalid request")
        mention = Mention(self.channel, "below-floor", "", "a", "Nordwind Air delays", NOW)
        yield Page([mention], {"watermark": chain.get("top", "0"), "recent": []})


def test_a_cursor_that_failed_twice_the_same_way_loses_its_page_token(
    channel: str, store: MentionLedger, config: Config
) -> None:
    # Given a chain in progress whose page token the channel now refuses, in a shape the
    # adapter does not recognise as an expired token
    chain = {
        "watermark": "10",
        "recent": [],
        "chain": {"top": "90", "token": "dead", "floor": "50", "floor_ids": []},
    }
    store.commit_page(
        channel, "search:nordwind-air", 0, chain, (), bucket_minutes=5, mention_ttl_days=1, now=NOW
    )
    source = TokenChain(channel)
    # When it fails twice in the same way
    first = _poll(channel, [source], store, config)  # type: ignore[list-item]
    second = _poll(channel, [source], store, config)  # type: ignore[list-item]
    assert [first.sources[0].outcome, second.sources[0].outcome] == ["failed", "failed"]
    # Then the next run resumes the chain without the token (below its floor) and reads on
    third = _poll(channel, [source], store, config)  # type: ignore[list-item]
    assert third.sources[0].outcome == "done"
    assert source.seen[2] is not None
    assert source.seen[2]["chain"]["token"] is None
    assert source.seen[2]["chain"]["floor"] == "50"
    assert _total(store, channel) == 1
    assert WarnStateStore(store.table).monitor().health[channel].failing_sources == ()


# --- a slow feed and a hostile entry, over HTTP --------------------------------------------

_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Reiseblog</title><link>https://blog.example/</link>
<description>travel</description>
<item><title>Nordwind Air cancels flights again</title><link>https://blog.example/a</link>
<guid>https://blog.example/a</guid><pubDate>{date}</pubDate></item>
<item><title>Nordwind Air strands travellers in Palma</title><link>{huge}</link>
<pubDate>{date}</pubDate></item>
<item><title>Nordwind Air refunds: how long it takes</title><link>https://blog.example/c</link>
<guid>https://blog.example/c</guid><pubDate>{date}</pubDate></item>
</channel></rss>"""


class _Feeds(BaseHTTPRequestHandler):
    """`/slow` drips a byte every 0.1 s for 8 s; `/good` is a feed with two ordinary entries
    and one whose link is 450 KB."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/slow":
            self._drip()
            return
        date = (NOW - timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        huge = "https://blog.example/b?" + "x" * 450_000
        body = _FEED.format(date=date, huge=huge).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", "80")
        self.end_headers()
        try:
            for _ in range(80):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def feeds() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feeds)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_slow_feed_and_a_hostile_entry_block_neither_their_neighbours_nor_the_channel(
    store: MentionLedger, feeds: str
) -> None:
    # Given two feeds: one drips its answer for 8 s, one has a 450 KB link among two
    # ordinary entries; and a poll with 7 s left (3 of them kept back for the end)
    config = example_config(
        lambda channel: feeds,
        "rss",
        feeds=[
            {"name": "slow", "url": "https://s/slow"},
            {"name": "good", "url": "https://s/good"},
        ],
        timeout_seconds=15,
    )
    deadline = Deadline(7.0)
    context = context_for(config, "rss", dict, deadline=deadline, now=lambda: NOW)
    began = time.monotonic()
    # When the rss channel is polled
    report = poll_channel(
        "rss",
        rss.mention_sources(context),
        store,
        HealthLog(store.table),
        MentionScorer(config, Neutral()),
        config,
        deadline,
        lambda: NOW,
    )
    # Then the slow feed got its share of the time and no more, the other feed its turn,
    # and every entry of it was stored (the huge link dropped, not the entry)
    assert time.monotonic() - began < 3.0
    slow, good = report.sources
    assert (slow.key, slow.outcome, good.key) == ("feed:slow", "failed", "feed:good")
    assert good.outcome in ("done", "more")  # (its one page read; "more" if time looked short)
    assert "timed out" in (report.sources[0].error or "")
    assert report.stored == 3
    stored = store.recent("rss", NOW - timedelta(hours=1), NOW + timedelta(minutes=1))
    assert sorted(m.mention.url for m in stored) == [
        "",
        "https://blog.example/a",
        "https://blog.example/c",
    ]
    # and the channel is not failing: only the slow feed is, on its own record
    health = WarnStateStore(store.table).monitor().health["rss"]
    assert (health.consecutive_failures, health.failing_sources) == (0, ("feed:slow",))
    assert health.sources["feed:slow"][0] == 1


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
