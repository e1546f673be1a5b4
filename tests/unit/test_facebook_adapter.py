"""The Facebook Pages adapter against the fake Graph API: reading, paging, throttling, failures."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine

from local.fakechannels import facebook as fake
from local.fakechannels.world import World
from local.scenario import Post, Scenario
from stormwatch.channels import facebook, mention_sources
from stormwatch.channels.base import ChannelContext, MentionSource
from stormwatch.channels.graph import DEFAULT_BACKOFF
from stormwatch.channels.http import HttpClient
from stormwatch.errors import (
    AuthFailed,
    ChannelUnavailable,
    MalformedResponse,
    RateLimited,
)
from stormwatch.text import clean_text
from tests.conftest import ContextFactory
from tests.helpers import read_pages, read_until_limited

CHANNEL = "facebook"


@pytest.fixture
def clock(small_scenario: Scenario) -> Iterator[time_machine.Traveller]:
    """Frozen in the middle of the storm: the scenario's first 32 hours are visible."""
    with time_machine.travel(small_scenario.storm_start + timedelta(hours=5), tick=False) as t:
        yield t


def _sources(context: ChannelContext) -> dict[str, MentionSource]:
    return {source.key.split(":")[0]: source for source in mention_sources(CHANNEL, context)}


def _visible(world: World, kind: str) -> dict[str, Post]:
    return {
        fake.mention_id(post): post for post in world.visible_posts(CHANNEL) if post.kind == kind
    }


def _requests(world: World, path_part: str = "") -> list[str]:
    return [e.path for e in world.exchanges_of(CHANNEL) if path_part in e.path and not e.fault]


# --- reading ------------------------------------------------------------------------


def test_feed_reads_visitors_posts_normalised_and_skips_the_pages_own_posts(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given a Page whose feed holds its own posts and its visitors' posts
    feed = _sources(channel_context(CHANNEL))["feed"]

    # When the feed source reads from the start of the scenario
    mentions, _cursor = read_pages(feed, None, start)

    # Then it returns exactly the visitors' posts, each as the scenario wrote it
    expected = _visible(world, "visitor_post")
    assert expected
    assert {mention.id for mention in mentions} == set(expected)
    assert len(mentions) == len(expected)
    for mention in mentions:
        post = expected[mention.id]
        assert mention.channel == CHANNEL
        assert mention.text == clean_text(post.text)
        assert mention.author == post.author_name
        assert mention.created_at == post.created_at
        assert mention.created_at.utcoffset() == timedelta(0)
        assert mention.url.startswith(f"https://www.facebook.com/{fake.PAGE_ID}/posts/")
        assert (mention.reach, mention.engagement, mention.language) == (0, post.engagement, None)


def test_tagged_and_comments_sources_read_their_kinds(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given posts tagging the Page and comments on the Page's own posts
    sources = _sources(channel_context(CHANNEL))

    # When both sources read everything
    tagged, _ = read_pages(sources["tagged"], None, start)
    comments, _ = read_pages(sources["comments"], None, start)

    # Then each returns its kind, with Graph's ids and like + reply counts as engagement
    assert tagged
    assert comments
    assert {m.id: m.engagement for m in tagged} == {
        key: post.engagement for key, post in _visible(world, "tag").items()
    }
    assert {m.id: m.engagement for m in comments} == {
        key: post.engagement for key, post in _visible(world, "comment").items()
    }
    assert all("?comment_id=" in mention.url for mention in comments)


def test_source_keys_are_stable_and_unique(channel_context: ContextFactory) -> None:
    # Given the example configuration
    keys = [source.key for source in mention_sources(CHANNEL, channel_context(CHANNEL))]

    # Then there is one source per query, keyed by what it reads
    assert keys == [f"feed:{fake.PAGE_ID}", f"tagged:{fake.PAGE_ID}", f"comments:{fake.PAGE_ID}"]


def test_comments_can_be_switched_off(channel_context: ContextFactory) -> None:
    # Given comments disabled in the configuration
    context = channel_context(CHANNEL, comments=False)

    # Then no comments source is built
    assert [s.key.split(":")[0] for s in mention_sources(CHANNEL, context)] == ["feed", "tagged"]


# --- paging and resuming -------------------------------------------------------------


def test_a_chain_cut_short_resumes_by_cursor_while_new_posts_arrive(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
) -> None:
    # Given pages of three posts and a first run that stopped after one page
    context = channel_context(CHANNEL, page_size=3)
    feed = _sources(context)["feed"]
    first, cursor = read_pages(feed, None, start, pages=1)
    assert cursor is not None
    assert "chain" in cursor

    # When two hours pass, new posts arrive, and two more runs read to the end
    clock.shift(timedelta(hours=2))
    second, cursor = read_pages(feed, cursor, start)
    third, _ = read_pages(feed, cursor, start)

    # Then the chain was finished by cursor and the new posts came next, none lost or doubled
    read = [mention.id for mention in first + second + third]
    assert sorted(read) == sorted(_visible(world, "visitor_post"))
    assert any(key == "after" for e in world.exchanges_of(CHANNEL) for key, _ in e.query)


def test_a_refused_page_cursor_resumes_the_chain_by_time(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
) -> None:
    # Given a chain cut short whose saved page cursor Graph no longer accepts
    context = channel_context(CHANNEL, page_size=3)
    feed = _sources(context)["feed"]
    first, cursor = read_pages(feed, None, start, pages=1)
    assert cursor is not None
    cursor = {**cursor, "chain": {**cursor["chain"], "token": "bm90IGEgY3Vyc29y!"}}

    # When the next run resumes it
    rest, _ = read_pages(feed, cursor, start)

    # Then it asks for posts older than what it read (until=...) and misses nothing
    assert {m.id for m in first + rest} == set(_visible(world, "visitor_post"))
    assert any(key == "until" for e in world.exchanges_of(CHANNEL) for key, _ in e.query)


def test_comments_of_unchanged_posts_are_not_read_again(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given the comments source has read every comment
    comments = _sources(channel_context(CHANNEL))["comments"]
    _first, cursor = read_pages(comments, None, start)
    assert cursor is not None
    before = len(world.exchanges_of(CHANNEL))

    # When it runs again a minute later, with no new comment
    clock.shift(timedelta(minutes=1))
    again, cursor = read_pages(comments, cursor, start)

    # Then it only listed the Page's posts, and its map holds the posts of the window only
    assert again == []
    assert [e.path.rsplit("/", 1)[1] for e in world.exchanges_of(CHANNEL)[before:]] == ["posts"]
    assert cursor is not None
    assert 0 < len(cursor["posts"]) <= facebook.MAX_TRACKED_POSTS


def test_a_new_comment_is_read_from_its_post_only(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given the comments source has read everything so far
    comments = _sources(channel_context(CHANNEL))["comments"]
    _first, cursor = read_pages(comments, None, start)
    known = set(_visible(world, "comment"))
    before = len(world.exchanges_of(CHANNEL))

    # When the clock moves until new comments exist and the source runs again
    later = next(
        post.created_at
        for post in world.scenario.channel_posts(CHANNEL)
        if post.kind == "comment" and fake.mention_id(post) not in known
    )
    clock.move_to(later + timedelta(seconds=1))
    new, _ = read_pages(comments, cursor, start)

    # Then it reads just the new comments, asking only the posts that changed
    assert {m.id for m in new} == set(_visible(world, "comment")) - known
    asked = {e.path for e in world.exchanges_of(CHANNEL)[before:] if e.path.endswith("/comments")}
    assert len(asked) == 1


# --- rate limits ---------------------------------------------------------------------


def test_usage_at_the_limit_hands_over_the_page_then_stops_until_access_returns(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
) -> None:
    # Given a quota of two calls an hour and pages of three posts
    world.channel_state(CHANNEL)["budget"] = 2
    context = channel_context(CHANNEL, page_size=3)
    feed = _sources(context)["feed"]

    # When the feed is read until the adapter stops
    read, cursor, limited = read_until_limited(feed, None, start)

    # Then both answered pages were handed over, no third call was made, and the
    # retry time is Graph's estimated time to regain access (the window's hour)
    answered = world.exchanges_of(CHANNEL)
    assert len(answered) == 2
    last_page = json.loads(answered[1].response_body)["data"]
    visitors = {item["id"] for item in last_page if item["from"]["id"] != fake.PAGE_ID}
    assert visitors
    assert visitors <= {mention.id for mention in read}
    assert limited.retry_at == datetime.now(start.tzinfo) + timedelta(minutes=60)
    # ... and the cursor of the last page resumes the chain once access is back
    expected = sorted(_visible(world, "visitor_post"))
    clock.shift(timedelta(minutes=61))
    world.channel_state(CHANNEL)["budget"] = 100
    rest, _ = read_pages(feed, cursor, start)
    assert sorted(m.id for m in read + rest) == expected


def test_a_throttling_error_code_backs_off_until_access_returns(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given a Page whose quota is used up
    world.channel_state(CHANNEL)["budget"] = 0
    feed = _sources(channel_context(CHANNEL))["feed"]

    # When the feed is read
    with pytest.raises(RateLimited) as stopped:
        read_pages(feed, None, start)

    # Then Graph's code 80001 is a rate limit until the BUC header's regain time
    assert stopped.value.retry_at == datetime.now(stopped.value.retry_at.tzinfo) + timedelta(
        minutes=60
    )


def test_the_app_limit_without_a_regain_time_backs_off_by_default(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given Graph answers the app request limit (code 4)
    world.faults.arm("status:429", channel=CHANNEL)
    feed = _sources(channel_context(CHANNEL))["feed"]

    # When the feed is read
    with pytest.raises(RateLimited) as stopped:
        read_pages(feed, None, start)

    # Then the adapter backs off for its default
    now = datetime.now(stopped.value.retry_at.tzinfo)
    assert stopped.value.retry_at == now + DEFAULT_BACKOFF


# --- failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "times", "error"),
    [
        ("bad_json", 1, MalformedResponse),
        ("truncated", 1, MalformedResponse),
        ("html", 2, ChannelUnavailable),
        ("status:500", 2, ChannelUnavailable),
    ],
)
def test_unreadable_answers_are_typed_errors(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
    fault: str,
    times: int,
    error: type[Exception],
) -> None:
    # Given the API answers garbage (twice where the client retries once)
    world.faults.arm(fault, channel=CHANNEL, times=times)
    feed = _sources(channel_context(CHANNEL))["feed"]

    # When the feed is read, Then the failure is typed
    with pytest.raises(error):
        read_pages(feed, None, start)


@pytest.mark.parametrize(
    "damage",
    [
        lambda payload: {"paging": payload.get("paging", {})},
        lambda payload: {**payload, "data": {"0": payload["data"]}},
        lambda payload: {"data": payload["data"], "paging": {"next": "https://x"}},
        lambda payload: [payload],
    ],
    ids=["no data", "data not a list", "next without cursor", "not an object"],
)
def test_answers_of_the_wrong_shape_are_malformed(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
    damage: Callable[[dict[str, Any]], Any],
) -> None:
    # Given the feed answers JSON of the wrong shape
    world.channel_state(CHANNEL)["mangle"] = lambda path, payload: damage(payload)
    feed = _sources(channel_context(CHANNEL))["feed"]

    # When it is read, Then that is a malformed response
    with pytest.raises(MalformedResponse):
        read_pages(feed, None, start)


def test_one_bad_item_is_logged_by_id_and_skipped(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given one post in the feed lacks its creation time and another has a number as text
    damaged: list[str] = []

    def damage(path: str, payload: dict[str, Any]) -> dict[str, Any]:
        items = [item for item in payload["data"] if item["from"]["id"] != fake.PAGE_ID]
        if len(items) >= 2 and not damaged:
            damaged.extend([items[0]["id"], items[1]["id"]])
            del items[0]["created_time"]
            items[1]["message"] = 42
        return payload

    world.channel_state(CHANNEL)["mangle"] = damage
    feed = _sources(channel_context(CHANNEL))["feed"]

    # When the feed is read
    with caplog.at_level(logging.WARNING):
        mentions, _ = read_pages(feed, None, start)

    # Then the rest is read, and the warnings name the channel and ids, never the text
    assert len(damaged) == 2
    assert {m.id for m in mentions} == set(_visible(world, "visitor_post")) - set(damaged)
    logged = [record.getMessage() for record in caplog.records]
    for item_id in damaged:
        assert any(CHANNEL in line and item_id in line for line in logged)
    texts = [post.text for post in _visible(world, "visitor_post").values()]
    assert not any(text in line for line in logged for text in texts)


def test_a_slow_api_is_unavailable_after_the_client_timeout(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given the API stalls longer than the client waits (twice: the client retries once)
    world.faults.arm("slow:1.2", channel=CHANNEL, times=2)
    context = channel_context(CHANNEL)
    context = dataclasses.replace(context, http=HttpClient(CHANNEL, timeout=0.3))

    # When the feed is read, Then the channel is unavailable for this run
    with pytest.raises(ChannelUnavailable, match="timed out"):
        read_pages(_sources(context)["feed"], None, start)
    _wait_for_stalled_answers(world, 2)


def _wait_for_stalled_answers(world: World, count: int) -> None:
    """Let the stalled requests finish, so they are not logged into the next test's world."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if sum(1 for e in world.exchanges_of(CHANNEL) if e.fault) >= count:
            return
        time.sleep(0.05)


# --- auth ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["expired token (400, code 190)", "401 fault"])
def test_a_refused_token_is_an_auth_failure_that_does_not_show_the_token(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
    how: str,
) -> None:
    # Given Graph refuses the Page token
    if how.startswith("expired"):
        world.channel_state(CHANNEL)["token_expired"] = True
    else:
        world.faults.arm("status:401", channel=CHANNEL)
    feed = _sources(channel_context(CHANNEL))["feed"]

    # When the feed is read
    with pytest.raises(AuthFailed) as failed:
        read_pages(feed, None, start)

    # Then an operator is told, and the token is nowhere in the message
    assert "190" in str(failed.value)
    assert fake.CREDENTIALS["page_access_token"] not in str(failed.value)


def test_credentials_are_fetched_on_first_use_and_the_token_sent_as_bearer_only(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given a secret store that counts its reads
    reads: list[int] = []

    def credentials() -> dict[str, str]:
        reads.append(1)
        return world.credentials[CHANNEL]

    context = dataclasses.replace(channel_context(CHANNEL), credentials=credentials)

    # When sources are built, nothing is fetched; when they read, the secret is read once
    sources = mention_sources(CHANNEL, context)
    assert reads == []
    for source in sources:
        read_pages(source, None, start)
    assert reads == [1]

    # Then every request carried the token in the Authorization header and never in the URL
    token = fake.CREDENTIALS["page_access_token"]
    for exchange in world.exchanges_of(CHANNEL):
        assert exchange.headers["Authorization"] == f"Bearer {token}"
        assert all(key != "access_token" and token not in value for key, value in exchange.query)


def test_a_secret_without_the_page_token_names_the_missing_field(
    clock: time_machine.Traveller, channel_context: ContextFactory, start: datetime
) -> None:
    # Given a secret without page_access_token
    context = dataclasses.replace(channel_context(CHANNEL), credentials=lambda: {"token": "x"})

    # When a source reads, Then the error names the field it needs
    with pytest.raises(AuthFailed, match="page_access_token"):
        read_pages(_sources(context)["feed"], None, start)
