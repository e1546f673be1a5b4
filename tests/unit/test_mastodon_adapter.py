"""The Mastodon adapter against the fake instance: min_id polling, search chains, rate limits,
failures and normalising HTML statuses."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from local.fakechannels import mastodon as fake
from local.fakechannels.world import World
from local.scenario import Post, Scenario, build_scenario
from stormwatch.channels import mastodon
from stormwatch.channels.http import HttpClient
from stormwatch.config import Brand
from stormwatch.errors import (
    AuthFailed,
    ChannelUnavailable,
    MalformedResponse,
    RateLimited,
)
from stormwatch.model import parse_iso
from stormwatch.text import clean_text
from tests.conftest import ContextFactory
from tests.helpers import read_pages, source_of


@pytest.fixture(scope="module")
def small_scenario() -> Scenario:
    """mastodon alone at a third of the demo's volume: enough posts for several pages per source."""
    return build_scenario(volume=0.3, seed=11, channels=("mastodon",))


@pytest.fixture
def after(small_scenario: Scenario) -> Iterator[Any]:
    """The clock after the scenario, frozen until a test moves it."""
    with time_machine.travel(small_scenario.end + timedelta(minutes=5), tick=False) as clock:
        yield clock


def _posts(world: World, keep: Callable[[Post], bool], since: datetime) -> list[Post]:
    return [p for p in world.visible_posts("mastodon") if keep(p) and p.created_at >= since]


def _tagged(post: Post) -> bool:
    return "#nordwindair" in post.text.casefold()


def _mentioning(post: Post) -> bool:
    return "@nordwindair" in post.text.casefold()


def _about_nordwind(post: Post) -> bool:
    return "nordwind" in post.text.casefold()


def _queries(world: World, path: str = "") -> list[dict[str, str]]:
    return [dict(e.query) for e in world.exchanges_of("mastodon") if path in e.path]


# --- queries and sources ---------------------------------------------------------------------


def test_search_query_quotes_phrases_and_adds_hashtags() -> None:
    # Given a brand with a phrase, a word and a hashtag
    brand = Brand(
        id="acme", name="Acme", keywords=("Acme Corp", "Acme", "+acme"), hashtags=("AcmeFail",)
    )

    # When its Mastodon search query is built
    # Then phrases and operator-like text are quoted, and any term may match
    assert mastodon.search_query(brand) == '"Acme Corp" Acme "+acme" #AcmeFail'


@pytest.mark.parametrize(
    ("options", "keys"),
    [
        (
            {},
            [
                "notifications",
                "tag:nordwindair",
                "tag:kolibripay",
                "search:nordwind-air",
                "search:kolibri-pay",
            ],
        ),
        ({"search": False, "hashtags": False}, ["notifications"]),
        ({"notifications": False, "search": False}, ["tag:nordwindair", "tag:kolibripay"]),
    ],
)
def test_sources_follow_the_channel_options(
    channel_context: ContextFactory, options: dict[str, bool], keys: list[str]
) -> None:
    # Given the channel's options
    context = channel_context("mastodon", **options)

    # When the sources are listed
    # Then there is one per enabled kind of query, each with a stable key
    assert [source.key for source in mastodon.mention_sources(context)] == keys


# --- normalising ---------------------------------------------------------------------------------


def test_statuses_are_normalised_as_the_scenario_knows_them(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given a scenario's worth of statuses about the brand
    start = datetime.now(UTC) - timedelta(days=3)

    # When the brand search reads them
    mentions, _ = read_pages(
        source_of(channel_context("mastodon"), "search:nordwind-air"), None, start
    )

    # Then each is the scenario post: status id, permalink, acct, plain text of the HTML,
    # time, language, reach (followers) and engagement (favourites + reblogs + replies)
    posts = {fake.mention_id(p): p for p in _posts(world, _about_nordwind, start)}
    assert len(mentions) == len(posts) > 50
    for mention in mentions:
        post = posts[mention.id]
        handle = fake.username(post.author)
        assert mention.url == f"https://{fake.INSTANCE}/@{handle}/{mention.id}"
        assert mention.author == handle
        assert mention.text == clean_text(post.text)
        assert mention.created_at == post.created_at
        assert mention.language == post.lang
        assert (mention.reach, mention.engagement) == (post.reach, post.engagement)


def test_a_status_found_as_a_notification_and_by_search_has_one_id(
    channel_context: ContextFactory, after: Any
) -> None:
    # Given the notifications and the search of the same instance
    context = channel_context("mastodon")
    start = datetime.now(UTC) - timedelta(days=3)

    # When both read
    notified, _ = read_pages(source_of(context, "notifications"), None, start)
    found, _ = read_pages(source_of(context, "search:nordwind-air"), None, start)

    # Then a status mentioning the account has the same mention id (its status id) in both
    assert notified
    assert {m.id for m in notified} <= {m.id for m in found}
    assert all(int(m.id) > fake.NOTIFICATION_ID_BASE * 10**6 for m in notified)


def test_html_content_becomes_plain_text_with_mentions_links_and_entities_intact(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given a status with a content warning, mention and hashtag spans, a shortened link,
    # entities, paragraphs, joiners, a bidi override and one with a huge text
    content = (
        '<p>Hallo <span class="h-card" translate="no"><a href="https://m.example/@nordwindair" '
        'class="u-url mention">@<span>nordwindair</span></a></span> &amp; '
        '<a href="https://m.example/tags/nordwindair" class="mention hashtag" rel="tag">'
        "#<span>NordwindAir</span></a> "
        '<a href="https://x.example/very/long" rel="nofollow noopener" target="_blank">'
        '<span class="invisible">https://</span><span class="ellipsis">x.example/ve</span>'
        '<span class="invisible">ry/long</span></a><br>Zürich 👨\u200d👩\u200d👧 '
        "\u202eevil</p><p>zweiter&nbsp;Absatz &#39;ok&#39; &lt;3</p>"
    )

    def unusual(statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        statuses[0].update(content=content, spoiler_text="CW: Ärger")
        for status in statuses[1:]:
            status["content"] = "<p>" + "Nordwind " * 1000 + "</p>"
        return statuses

    world.channel_state("mastodon")[fake.REWRITE] = unusual

    # When the tag timeline reads them
    mentions, _ = read_pages(
        source_of(channel_context("mastodon"), "tag:nordwindair"),
        None,
        datetime.now(UTC) - timedelta(days=3),
    )

    # Then the text is what people read, in one piece
    assert mentions[0].text == (
        "CW: Ärger Hallo @nordwindair & #NordwindAir https://x.example/very/long "
        "Zürich 👨\u200d👩\u200d👧 evil zweiter Absatz 'ok' <3"
    )
    assert all(len(m.text) <= 4000 for m in mentions)
    assert mentions[-1].text.endswith("…")


# --- min_id polling ---------------------------------------------------------------------------


def test_forward_pages_follow_link_prev_and_the_cursor_is_the_newest_id_read(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given a tag timeline longer than a page
    context = channel_context("mastodon", page_size=2)
    start = datetime.now(UTC) - timedelta(days=3)

    # When it is read from the start
    pages = list(source_of(context, "tag:nordwindair").pages(None, start))

    # Then pages come oldest first, newest first within each, each cursor is its newest id,
    # and each request asks above the previous cursor
    ids = [[int(m.id) for m in page.mentions] for page in pages]
    assert len(pages) >= 4
    assert all(page == sorted(page, reverse=True) for page in ids)
    assert all(a[0] < b[-1] for a, b in itertools.pairwise(ids))
    assert [page.cursor["min_id"] for page in pages] == [str(page[0]) for page in ids]
    asked = [query["min_id"] for query in _queries(world)]
    assert asked[1 : len(pages)] == [page.cursor["min_id"] for page in pages[:-1]]
    # (a full last page costs one more request, above its cursor, that finds nothing new)
    assert asked[len(pages) :] in ([], [pages[-1].cursor["min_id"]])
    assert {m.id for p in pages for m in p.mentions} == {
        fake.mention_id(p) for p in _posts(world, _tagged, start)
    }


def test_a_tag_run_cut_short_loses_nothing_while_statuses_keep_arriving(
    channel_context: ContextFactory, world: World, small_scenario: Scenario
) -> None:
    # Given a run, early in the storm, that read one page of the tag timeline
    start = small_scenario.start
    with time_machine.travel(small_scenario.storm_start + timedelta(hours=4), tick=False) as clock:
        source = source_of(channel_context("mastodon", page_size=2), "tag:nordwindair")
        first = next(iter(source.pages(None, start)))

        # When hours later the next run resumes from its cursor
        clock.move_to(small_scenario.end)
        rest, _ = read_pages(source, first.cursor, start)
        expected = {fake.mention_id(p) for p in _posts(world, _tagged, start)}

    # Then every tagged status was read once
    ids = [m.id for m in [*first.mentions, *rest]]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected


def test_the_first_poll_commits_its_start_even_when_nothing_is_there_yet(
    channel_context: ContextFactory, small_scenario: Scenario
) -> None:
    # Given a tag nobody has used yet
    with time_machine.travel(small_scenario.start + timedelta(minutes=30), tick=False):
        source = source_of(channel_context("mastodon"), "tag:kolibripay")

        # When it is polled for the first time, and again from the cursor it gave
        start = datetime.now(UTC) - timedelta(minutes=10)
        pages = list(source.pages(None, start))
        again = list(source.pages(pages[0].cursor, start))

    # Then the first poll yields one empty page whose cursor is a status id for `start`,
    # and the next yields nothing
    assert [page.mentions for page in pages] == [[]]
    start_ms = int(start.timestamp() * 1000)
    assert pages[0].cursor == {"min_id": str((start_ms << 16) - 1)}
    assert again == []


def test_a_tag_nobody_has_used_is_an_empty_timeline_not_a_failure(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given a brand hashtag no status has carried yet: Mastodon answers its timeline 404
    context = channel_context(
        "mastodon",
        brands=[
            {"id": "newco", "name": "NewCo", "keywords": ["NewCo"], "hashtags": ["NewCoLaunch"]}
        ],
    )
    source = source_of(context, "tag:newcolaunch")
    start = datetime.now(UTC) - timedelta(minutes=10)

    # When it is polled for the first time, and again from the cursor it gave
    pages = list(source.pages(None, start))
    again = list(source.pages(pages[0].cursor, start))

    # Then the first poll commits where it starts, the next finds nothing, and neither fails
    assert [page.mentions for page in pages] == [[]]
    assert pages[0].cursor == {"min_id": str((int(start.timestamp() * 1000) << 16) - 1)}
    assert again == []
    assert [e.status for e in world.exchanges_of("mastodon")] == [404, 404]


def test_quotes_count_as_engagement_like_favourites_reblogs_and_replies(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given statuses that were quoted seven times each (Mastodon 4.4's quotes_count)
    def quoted(statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for status in statuses:
            status["quotes_count"] = 7
        return statuses

    world.channel_state("mastodon")[fake.REWRITE] = quoted
    start = datetime.now(UTC) - timedelta(days=3)

    # When the tag timeline reads them
    mentions, _ = read_pages(source_of(channel_context("mastodon"), "tag:nordwindair"), None, start)

    # Then each one's engagement counts the quotes too
    posts = {fake.mention_id(p): p for p in _posts(world, _tagged, start)}
    assert mentions
    assert all(m.engagement == posts[m.id].engagement + 7 for m in mentions)


def test_notifications_start_from_the_newest_mention_older_than_start(
    channel_context: ContextFactory,
    world: World,
    small_scenario: Scenario,
    after: Any,
) -> None:
    # Given mention notifications before and after the start (notification ids are a plain
    # sequence, so no id can be derived from a time)
    start = small_scenario.storm_start + timedelta(hours=3)
    context = channel_context("mastodon", page_size=3)

    # When the notifications are read for the first time
    mentions, cursor = read_pages(source_of(context, "notifications"), None, start)

    # Then the adapter walked down with max_id to the first one older than start and read
    # forward with min_id from there: exactly the mentions since start
    assert mentions
    assert {m.id for m in mentions} == {
        fake.mention_id(p) for p in _posts(world, _mentioning, start)
    }
    queries = _queries(world)
    assert any("max_id" in q for q in queries)
    assert all(q["types[]"] == "mention" for q in queries)
    older = [p for p in world.visible_posts("mastodon") if _mentioning(p) and p.created_at < start]
    assert min(int(q["min_id"]) for q in queries if "min_id" in q) == fake.notification_id(
        older[-1]
    )
    assert cursor == {
        "min_id": str(max(fake.notification_id(p) for p in _posts(world, _mentioning, start)))
    }


# --- search chains -----------------------------------------------------------------------------


def test_search_pages_by_offset_under_a_pinned_max_id_while_statuses_arrive(
    channel_context: ContextFactory, world: World, small_scenario: Scenario
) -> None:
    # Given a search run, during the storm, cut short after one page
    start = small_scenario.start
    with time_machine.travel(small_scenario.storm_start + timedelta(hours=4), tick=False) as clock:
        source = source_of(channel_context("mastodon", page_size=5), "search:nordwind-air")
        first = next(iter(source.pages(None, start)))

        # When more statuses arrive before the next runs resume and poll again
        clock.shift(timedelta(hours=2))
        resumed, cursor = read_pages(source, first.cursor, start)
        newer, _ = read_pages(source, cursor, start)
        expected = {fake.mention_id(p) for p in _posts(world, _about_nordwind, start)}

    # Then the resumed chain kept its max_id and went on by offset, and together the runs
    # read every matching status once
    searches = _queries(world, "/api/v2/search")
    assert searches[1]["max_id"] == searches[0]["max_id"]
    assert searches[1]["offset"] == "5"
    ids = [m.id for m in [*first.mentions, *resumed, *newer]]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert newer


def test_search_asks_from_a_second_before_its_lower_bound(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given Mastodon turns min_id into "after <that second>", exclusive
    start = datetime(2026, 11, 22, 6, 30, 0, 500000, tzinfo=UTC)

    # When a first search chain asks from `start`
    list(source_of(channel_context("mastodon"), "search:nordwind-air").pages(None, start))

    # Then min_id is a status id of the second before, overlap included
    lower = start - mastodon.SEARCH_OVERLAP
    expected = lower.replace(microsecond=0) - timedelta(seconds=1)
    asked = int(_queries(world, "/api/v2/search")[0]["min_id"])
    assert datetime.fromtimestamp((asked >> 16) / 1000, UTC) == expected


# --- rate limits ------------------------------------------------------------------------------


def test_a_429_is_rate_limited_until_the_iso_reset_and_the_cursor_stays(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given a tag timeline read one page
    start = datetime.now(UTC) - timedelta(days=3)
    source = source_of(channel_context("mastodon", page_size=2), "tag:nordwindair")
    pages = source.pages(None, start)
    first = next(pages)

    # When the instance answers the next request with 429
    world.faults.arm("status:429", channel="mastodon")
    with pytest.raises(RateLimited) as limited:
        next(pages)

    # Then the retry time is the ISO X-RateLimit-Reset, and resuming from the last yielded
    # cursor reads the rest once
    reset = world.exchanges_of("mastodon")[-1].response_headers["X-RateLimit-Reset"]
    assert limited.value.retry_at == parse_iso(reset)
    rest, _ = read_pages(source, first.cursor, start)
    ids = [m.id for m in [*first.mentions, *rest]]
    assert first.mentions
    assert rest
    assert sorted(ids) == sorted({fake.mention_id(p) for p in _posts(world, _tagged, start)})


def test_a_used_up_quota_yields_the_page_then_stops_every_source_before_the_next_request(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given the account may make two more requests in this window
    world.channel_state("mastodon")[fake.REQUESTS_PER_WINDOW] = 2
    context = channel_context("mastodon", page_size=2)
    sources = {source.key: source for source in mastodon.mention_sources(context)}
    tag, search = sources["tag:nordwindair"], sources["search:nordwind-air"]
    pages = tag.pages(None, datetime.now(UTC) - timedelta(days=3))

    # When the tag timeline reads: the second answer says the quota is used up
    read = [next(pages), next(pages)]
    with pytest.raises(RateLimited) as limited:
        next(pages)

    # Then both pages were yielded, nothing more was sent, even by another source (the
    # quota is the account's), and the retry time is the announced reset
    assert all(page.mentions for page in read)
    with pytest.raises(RateLimited):
        next(iter(search.pages(None, datetime.now(UTC))))
    assert len(world.exchanges_of("mastodon")) == 2
    reset = world.exchanges_of("mastodon")[-1].response_headers["X-RateLimit-Reset"]
    assert limited.value.retry_at == parse_iso(reset)


# --- failures ------------------------------------------------------------------------------------


def test_a_refused_token_is_auth_failed_without_the_token_in_the_message(
    channel_context: ContextFactory, after: Any
) -> None:
    # Given a context whose secret holds a revoked token
    context = replace(
        channel_context("mastodon"), credentials=lambda: {"access_token": "revoked-456"}
    )

    # When the notifications are read
    with pytest.raises(AuthFailed) as failed:
        read_pages(source_of(context, "notifications"), None, datetime.now(UTC))

    # Then the error says 401 and does not repeat the token
    assert "401" in str(failed.value)
    assert "revoked-456" not in str(failed.value)


def test_a_token_without_the_scope_is_auth_failed(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given the instance refuses the token for this method
    world.faults.arm("status:403", channel="mastodon")

    # When a source reads
    with pytest.raises(AuthFailed, match="403"):
        read_pages(
            source_of(channel_context("mastodon"), "tag:nordwindair"), None, datetime.now(UTC)
        )


@pytest.mark.parametrize("fault", ["bad_json", "truncated", "empty"])
def test_an_unreadable_answer_is_malformed(
    channel_context: ContextFactory, world: World, after: Any, fault: str
) -> None:
    # Given the instance answers 200 with a body that is not JSON
    world.faults.arm(fault, channel="mastodon")

    # When a source reads
    with pytest.raises(MalformedResponse):
        read_pages(
            source_of(channel_context("mastodon"), "tag:nordwindair"), None, datetime.now(UTC)
        )


def test_an_html_error_page_is_unavailable(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given a proxy in front of the instance answers with an HTML error page
    world.faults.arm("html", channel="mastodon")
    context = replace(
        channel_context("mastodon"), http=HttpClient("mastodon", timeout=5, retries=0)
    )

    # When a source reads
    with pytest.raises(ChannelUnavailable, match="502"):
        read_pages(source_of(context, "tag:nordwindair"), None, datetime.now(UTC))


@pytest.mark.parametrize(
    ("key", "rewrite", "complaint"),
    [
        ("tag:nordwindair", lambda body: {"statuses": body}, "JSON array of statuses"),
        ("notifications", lambda body: {"data": body}, "notifications"),
        ("search:nordwind-air", lambda body: {**body, "statuses": None}, "'statuses' array"),
    ],
)
def test_an_answer_of_the_wrong_shape_is_malformed_saying_what_is_wrong(
    channel_context: ContextFactory,
    world: World,
    after: Any,
    key: str,
    rewrite: Callable[[Any], Any],
    complaint: str,
) -> None:
    # Given the instance answers JSON of the wrong shape
    world.channel_state("mastodon")[fake.REWRITE] = rewrite

    # When a source reads
    with pytest.raises(MalformedResponse) as error:
        read_pages(
            source_of(channel_context("mastodon"), key), None, datetime.now(UTC) - timedelta(days=3)
        )

    # Then the error says what is wrong
    assert complaint in str(error.value)


def test_one_bad_status_is_logged_by_id_and_skipped(
    channel_context: ContextFactory,
    world: World,
    after: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given one status of an answer has no account
    broken: list[dict[str, Any]] = []

    def drop_account(statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if statuses and not broken:
            broken.append(statuses[1])
            del statuses[1]["account"]
        return statuses

    world.channel_state("mastodon")[fake.REWRITE] = drop_account
    start = datetime.now(UTC) - timedelta(days=3)

    # When the tag timeline reads
    with caplog.at_level(logging.WARNING, logger="stormwatch.channels.mastodon"):
        mentions, cursor = read_pages(
            source_of(channel_context("mastodon"), "tag:nordwindair"), None, start
        )

    # Then the others are read and the cursor passed it; the warning names channel and id only
    assert broken
    assert {m.id for m in mentions} == {
        fake.mention_id(p) for p in _posts(world, _tagged, start)
    } - {broken[0]["id"]}
    assert cursor is not None
    assert int(cursor["min_id"]) >= int(broken[0]["id"])
    warning = [r for r in caplog.records if r.name == "stormwatch.channels.mastodon"][-1]
    assert warning.getMessage().startswith("mastodon: ")
    assert broken[0]["id"] in warning.getMessage()
    assert "nordwind" not in warning.getMessage().casefold()


def test_a_timeout_is_channel_unavailable(
    channel_context: ContextFactory, world: World, after: Any
) -> None:
    # Given the instance answers slower than the client waits
    world.faults.arm("slow:1", channel="mastodon")
    context = replace(
        channel_context("mastodon"), http=HttpClient("mastodon", timeout=0.2, retries=0)
    )

    # When a source reads
    with pytest.raises(ChannelUnavailable, match="timed out"):
        read_pages(source_of(context, "tag:nordwindair"), None, datetime.now(UTC))
