"""The RSS/Atom adapter against the fake feeds: conditional GET, the seen-set cursor, paging,
Google Alerts links, and everything that is not a feed."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from local.fakechannels import rss as fake
from local.fakechannels.world import World
from local.scenario import Post, Scenario, build_scenario
from stormwatch.channels import rss
from stormwatch.channels.http import HttpClient
from stormwatch.config import Config
from stormwatch.errors import (
    AuthFailed,
    ChannelUnavailable,
    ConfigError,
    MalformedResponse,
    RateLimited,
)
from stormwatch.text import clean_text
from tests.conftest import ContextFactory
from tests.helpers import context_for, read_pages, source_of

ALERTS = "feed:google-alerts-nordwind-air"
BLOG = "feed:reiseblog-aggregator"


@pytest.fixture(scope="module")
def small_scenario() -> Scenario:
    """rss alone at a third of the demo's volume: enough posts for several pages per source."""
    return build_scenario(volume=0.3, seed=11, channels=("rss",))


def _posts(scenario: Scenario, kind: str) -> dict[str, Post]:
    return {
        fake.mention_id(post): post for post in scenario.channel_posts("rss") if post.kind == kind
    }


# --- sources and normalisation -----------------------------------------------------------


def test_one_source_per_feed_keyed_by_the_slug_of_its_name(
    channel_context: ContextFactory,
) -> None:
    # Given the example config's two feeds
    # When the sources are listed
    keys = [source.key for source in rss.mention_sources(channel_context("rss"))]

    # Then each is keyed by its name
    assert keys == [ALERTS, BLOG]


def test_two_feeds_whose_names_give_one_key_are_a_config_error(
    channel_context: ContextFactory,
) -> None:
    # Given two feeds named alike
    feeds = [
        {"name": "Blog: Reisen", "url": "https://a.example/feed"},
        {"name": "blog reisen", "url": "https://b.example/feed"},
    ]

    # When the sources are built / Then the second feed's name is the error's key
    with pytest.raises(ConfigError, match=r"channels\.rss\.feeds\[1\]\.name"):
        rss.mention_sources(channel_context("rss", feeds=feeds))


def test_google_alerts_entries_point_to_the_article_with_its_domain_and_no_markup(
    channel_context: ContextFactory, small_scenario: Scenario, now: datetime, start: datetime
) -> None:
    # Given the alert feed shows every alert of the scenario
    alerts = _posts(small_scenario, "alert")

    # When its source reads from the start
    mentions, _ = read_pages(source_of(channel_context("rss"), ALERTS), None, start)

    # Then each alert is a mention of the unwrapped target, oldest first, text without <b>
    assert alerts
    assert [m.id for m in mentions] == sorted(alerts, key=lambda mid: alerts[mid].created_at)
    for mention in mentions:
        post = alerts[mention.id]
        assert mention.url == fake.alert_target(post)
        assert mention.author == mention.url.split("/")[2].removeprefix("www.")
        assert clean_text(post.text) in mention.text
        assert "<b>" not in mention.text
        assert mention.created_at == post.created_at
        assert (mention.language, mention.reach, mention.engagement) == (None, 0, 0)


def test_blog_items_keep_their_author_and_the_language_the_feed_declares(
    channel_context: ContextFactory, small_scenario: Scenario, now: datetime, start: datetime
) -> None:
    # Given the blog aggregator's RSS items carry dc:creator and dc:language
    articles = _posts(small_scenario, "article")

    # When its source reads from the start
    mentions, _ = read_pages(source_of(channel_context("rss"), BLOG), None, start)

    # Then author, link and language come from the item
    assert articles
    assert {m.id for m in mentions} == set(articles)
    for mention in mentions:
        post = articles[mention.id]
        assert mention.url == fake.article_link(post)
        assert mention.author == post.author_name
        assert mention.language == post.lang
        # (the text is the item's title, a headline that may be cut, and its description)
        assert clean_text(post.text) in mention.text


# --- cursor: conditional GET, seen ids, pages ------------------------------------------------


def test_an_unchanged_feed_is_asked_conditionally_and_answers_304_with_nothing_new(
    channel_context: ContextFactory, world: World, now: datetime, start: datetime
) -> None:
    # Given a first poll that read the whole feed
    source = source_of(channel_context("rss"), ALERTS)
    _, cursor = read_pages(source, None, start)
    assert cursor is not None

    # When the next poll comes before anything new
    pages = list(source.pages(cursor, start))

    # Then it sent the validators, got 304, and the cursor stays as it was
    last = world.exchanges_of("rss")[-1]
    assert last.headers.get("If-None-Match") == cursor["etag"]
    assert last.headers.get("If-Modified-Since") == cursor["last_modified"]
    assert last.status == 304
    assert [(p.mentions, p.cursor) for p in pages] == [([], cursor)]


def test_a_new_entry_is_the_only_one_read_by_the_next_poll(
    channel_context: ContextFactory, small_scenario: Scenario, start: datetime
) -> None:
    alerts = sorted(_posts(small_scenario, "alert").values(), key=lambda post: post.created_at)
    with time_machine.travel(alerts[-1].created_at - timedelta(seconds=1), tick=False) as clock:
        # Given a poll just before the newest alert appeared
        source = source_of(channel_context("rss"), ALERTS)
        before, cursor = read_pages(source, None, start)

        # When the next poll comes after it
        clock.move_to(alerts[-1].created_at + timedelta(minutes=1))
        after, _ = read_pages(source, cursor, start)

    # Then that poll reads the new alert alone
    assert [m.id for m in before] == [fake.mention_id(p) for p in alerts[:-1]]
    assert [m.id for m in after] == [fake.mention_id(alerts[-1])]


def test_new_entries_come_in_pages_and_only_the_last_page_keeps_the_validators(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    now: datetime,
    start: datetime,
) -> None:
    # Given pages of one entry
    context = channel_context("rss", page_size=1)
    source = source_of(context, BLOG)

    # When a poll reads the blog's articles
    pages = list(source.pages(None, start))

    # Then each page adds its own entry to the seen set; the validators wait for the last
    articles = len(_posts(small_scenario, "article"))
    assert articles >= 3
    assert [len(page.mentions) for page in pages] == [1] * articles
    assert [len(page.cursor["seen"]) for page in pages] == list(range(1, articles + 1))
    assert ["etag" in page.cursor for page in pages] == [False] * (articles - 1) + [True]
    assert [m.id for p in pages for m in p.mentions] == sorted(
        _posts(small_scenario, "article"),
        key=lambda mid: _posts(small_scenario, "article")[mid].created_at,
    )


def test_a_run_cut_short_fetches_again_in_full_and_reads_only_what_it_had_not_committed(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    now: datetime,
    start: datetime,
) -> None:
    # Given a run that committed only the first page of one entry
    source = source_of(channel_context("rss", page_size=1), BLOG)
    first = next(iter(source.pages(None, start)))

    # When the next run resumes from that cursor
    rest, cursor = read_pages(source, first.cursor, start)

    # Then it asked without validators (so no 304) and read the two others, once
    assert "If-None-Match" not in world.exchanges_of("rss")[-1].headers
    ids = [m.id for m in first.mentions] + [m.id for m in rest]
    assert rest
    assert sorted(ids) == sorted(_posts(small_scenario, "article"))
    assert cursor is not None
    assert "etag" in cursor


def test_the_first_poll_starts_at_start_and_never_reads_the_older_entries_later(
    channel_context: ContextFactory, small_scenario: Scenario, now: datetime
) -> None:
    # Given the first poll of the alert feed starts after its oldest alert
    alerts = sorted(_posts(small_scenario, "alert").values(), key=lambda post: post.created_at)
    source = source_of(channel_context("rss"), ALERTS)
    later_start = alerts[0].created_at + timedelta(seconds=1)

    # When it polls twice (the second time without the 304 shortcut)
    first, cursor = read_pages(source, None, later_start)
    assert cursor is not None
    second, _ = read_pages(source, {"seen": cursor["seen"]}, later_start)

    # Then the older alert was never read, the rest once
    assert [m.id for m in first] == [fake.mention_id(post) for post in alerts[1:]]
    assert second == []


# --- limits, auth, time ---------------------------------------------------------------------


def test_a_429_raises_rate_limited_until_retry_after_and_keeps_the_cursor(
    channel_context: ContextFactory, world: World, now: datetime, start: datetime
) -> None:
    # Given the feed server answers the next request with 429 and Retry-After: 120
    world.faults.arm("status:429", channel="rss")
    source = source_of(channel_context("rss"), ALERTS)

    # When the source polls / Then it yields nothing and may retry in two minutes
    with pytest.raises(RateLimited) as stopped:
        next(iter(source.pages({"seen": []}, start)))
    assert stopped.value.retry_at == now + timedelta(seconds=120)


def test_a_spent_request_budget_stops_the_source_until_the_next_minute(
    channel_context: ContextFactory, world: World, now: datetime, start: datetime
) -> None:
    # Given the feed host allows one request per minute and it was used
    fake.set_request_budget(world, 1)
    source = source_of(channel_context("rss"), ALERTS)
    read_pages(source, None, start)

    # When the source polls again / Then it has to wait for the next minute
    with pytest.raises(RateLimited) as stopped:
        read_pages(source, None, start)
    next_minute = now.replace(second=0) + timedelta(minutes=1)
    assert stopped.value.retry_at == next_minute


def test_a_refused_feed_is_an_auth_failure_that_does_not_reveal_the_feed_url(
    channel_context: ContextFactory, world: World, now: datetime, start: datetime
) -> None:
    # Given the Google Alerts feed answers 401 (its URL is all it takes to read it)
    world.faults.arm("status:401", channel="rss")

    # When its source polls
    with pytest.raises(AuthFailed) as refused:
        next(iter(source_of(channel_context("rss"), ALERTS).pages(None, start)))

    # Then the error names the source, not the URL
    assert ALERTS in str(refused.value)
    assert fake.ALERTS_PATH not in str(refused.value)


def test_a_feed_that_does_not_answer_in_time_is_unavailable(
    local_config: Config, world: World, now: datetime, start: datetime
) -> None:
    # Given the feed takes a second and the client waits a fifth of one
    context = context_for(local_config, "rss", dict, http=HttpClient("rss", timeout=0.2, retries=0))
    world.faults.arm("slow:1", channel="rss")

    # When its source polls / Then it gives up as unavailable
    with pytest.raises(ChannelUnavailable, match="timed out"):
        next(iter(source_of(context, BLOG).pages(None, start)))


# --- what is not a feed ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arm", "error", "says"),
    [
        (lambda w: fake.arm_fault(w, "html_page"), MalformedResponse, "not an RSS or Atom feed"),
        (lambda w: fake.arm_fault(w, "broken_xml"), MalformedResponse, "cut off"),
        (lambda w: w.faults.arm("bad_json", channel="rss"), MalformedResponse, "not an RSS"),
        (lambda w: w.faults.arm("truncated", channel="rss"), MalformedResponse, "not an RSS"),
        (lambda w: w.faults.arm("empty", channel="rss"), MalformedResponse, "not an RSS"),
        (lambda w: w.faults.arm("html", channel="rss", times=2), ChannelUnavailable, "502"),
    ],
    ids=["html-200", "cut-off-xml", "json", "truncated-json", "empty", "html-502"],
)
def test_an_answer_that_is_not_a_feed_is_an_error_not_an_empty_feed(
    arm: Callable[[World], None],
    error: type[Exception],
    says: str,
    channel_context: ContextFactory,
    world: World,
    now: datetime,
    start: datetime,
) -> None:
    # Given the next answer is not a (whole) feed
    arm(world)

    # When the alert source polls / Then it fails, typed, with no page
    with pytest.raises(error, match=says):
        next(iter(source_of(channel_context("rss"), ALERTS).pages(None, start)))


def test_an_entry_without_id_or_link_is_logged_and_read_once_it_is_whole(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    now: datetime,
    start: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the newest alert comes once without id and link
    fake.arm_fault(world, "entry_without_id")
    alerts = sorted(_posts(small_scenario, "alert").values(), key=lambda post: post.created_at)
    source = source_of(channel_context("rss"), ALERTS)
    caplog.set_level(logging.WARNING, logger="stormwatch.channels.rss")

    # When the source polls, and again once the feed is whole
    first, cursor = read_pages(source, None, start)
    second, _ = read_pages(source, cursor, start)

    # Then the others came first, the broken one was logged, and later read
    assert [m.id for m in first] == [fake.mention_id(post) for post in alerts[:-1]]
    assert [m.id for m in second] == [fake.mention_id(alerts[-1])]
    assert "rss" in caplog.text
    assert ALERTS in caplog.text
    assert "no id and no link" in caplog.text


def test_an_entry_without_any_date_is_skipped_and_logged_by_its_id(
    channel_context: ContextFactory,
    small_scenario: Scenario,
    world: World,
    now: datetime,
    start: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the newest article comes without pubDate
    fake.arm_fault(world, "entry_without_date")
    articles = sorted(_posts(small_scenario, "article").values(), key=lambda p: p.created_at)
    caplog.set_level(logging.WARNING, logger="stormwatch.channels.rss")

    # When the blog source polls
    mentions, _ = read_pages(source_of(channel_context("rss"), BLOG), None, start)

    # Then the undated one is not read (no stable time to store it under) and is logged
    assert [m.id for m in mentions] == [fake.mention_id(post) for post in articles[:-1]]
    assert fake.mention_id(articles[-1]) in caplog.text
    assert clean_text(articles[-1].text) not in caplog.text


# --- parsing quirks of real feeds -----------------------------------------------------------


ATOM_WITH_LANG = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-GB">
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id><title>Planet Reisen</title>
  <updated>2026-11-22T10:00:00Z</updated><author><name>Planet</name></author>
  <entry xml:lang="de-AT"><id>urn:uuid:1</id><title>Gr\xc3\xbc\xc3\x9fe</title>
    <link href="/2026/gruesse"/><updated>2026-11-22T09:00:00+01:00</updated>
    <summary type="html">&lt;p&gt;Servus &amp;amp; so&lt;/p&gt;</summary></entry>
  <entry><id>urn:uuid:2</id><title>Hello</title><updated>2026-11-22T09:30:00Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Hi <b>there</b></div></content>
  </entry>
</feed>"""


def test_atom_xml_lang_gives_the_language_and_relative_links_resolve_against_the_feed() -> None:
    # Given an Atom feed with xml:lang on the feed and on one entry
    # When it is parsed
    entries = rss.parse_feed(
        ATOM_WITH_LANG, "application/atom+xml", "feed:planet", "https://planet.example/atom.xml"
    )

    # Then the entry's own language wins over the feed's, and times are UTC
    first, second = (entry.mention for entry in entries)
    assert first is not None
    assert second is not None
    assert (first.language, second.language) == ("de", "en")
    assert first.url == "https://planet.example/2026/gruesse"
    assert first.text == "Grüße Servus & so"
    assert first.created_at == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert second.text == "Hello Hi there"


def test_a_complete_feed_with_a_stray_ampersand_is_read_leniently() -> None:
    # Given an RSS feed that is complete but not well-formed, as real ones can be
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>A & B</title>'
        b"<link>https://ab.example/</link><description>d</description><language>pl</language>"
        b"<item><title>Kolibri Pay & Co</title><guid>https://ab.example/1</guid>"
        b"<pubDate>Sun, 22 Nov 2026 10:00:00 +0100</pubDate></item></channel></rss>"
    )

    # When it is parsed
    entries = rss.parse_feed(body, "application/rss+xml", "feed:ab")

    # Then the item is read, with the channel's language
    assert [entry.mention.text for entry in entries if entry.mention] == ["Kolibri Pay & Co"]
    assert [entry.mention.language for entry in entries if entry.mention] == ["pl"]


@pytest.mark.parametrize(
    ("link", "target"),
    [
        (
            "https://www.google.com/url?rct=j&sa=t&url=https%3A%2F%2Fwww.spiegel.de%2Fa%3Fx%3D1"
            "&ct=ga&cd=CAIyGjA&usg=AOvVaw1",
            "https://www.spiegel.de/a?x=1",
        ),
        ("https://www.google.de/url?q=https://example.org/b&sa=U", "https://example.org/b"),
        ("https://www.google.com/url?url=javascript:alert(1)", None),
        ("https://evil.example/url?url=https://example.org/c", None),
        ("https://example.org/plain", None),
    ],
    ids=["alerts", "q-parameter", "not-http", "not-google", "plain"],
)
def test_google_redirect_links_are_unwrapped_and_nothing_else(
    link: str, target: str | None
) -> None:
    # Given a link / When it is unwrapped / Then only a Google redirect to http(s) changes
    assert rss.unwrap_redirect(link) == (target or link)


def test_importing_the_adapters_loads_neither_requests_nor_feedparser() -> None:
    # Given a fresh interpreter
    code = (
        "import sys, stormwatch.channels.rss, stormwatch.channels.reddit; "
        "print(sorted(m for m in ('requests', 'feedparser') if m in sys.modules))"
    )

    # When only the adapter modules are imported
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        env={"PYTHONPATH": "layers/core"},
    )

    # Then the heavy libraries wait for the first request
    assert result.stdout.strip() == "[]"
