"""The LinkedIn adapter against the fake Community Management API."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from local.fakechannels import linkedin as fake
from local.fakechannels.world import World
from local.scenario import Post, Scenario, build_scenario
from stormwatch.channels import linkedin, mention_sources
from stormwatch.channels.base import ChannelContext, MentionSource
from stormwatch.channels.http import HttpClient
from stormwatch.errors import (
    AuthFailed,
    ChannelError,
    ChannelUnavailable,
    MalformedResponse,
    RateLimited,
)
from stormwatch.text import clean_text
from tests.conftest import ConfigFactory, ContextFactory
from tests.helpers import read_pages, read_until_limited

CHANNEL = "linkedin"
MENTIONS = f"mentions:{fake.ORGANIZATION_ID}"
COMMENTS = f"comments:{fake.ORGANIZATION_ID}"


@pytest.fixture(scope="module")
def small_scenario() -> Scenario:
    """LinkedIn is quiet at a tenth of the volume (7 posts); the full volume has 87."""
    return build_scenario(volume=1.0, seed=11, channels=(CHANNEL,))


@pytest.fixture
def clock(small_scenario: Scenario) -> Iterator[time_machine.Traveller]:
    with time_machine.travel(small_scenario.storm_start + timedelta(hours=6), tick=False) as t:
        yield t


def _sources(context: ChannelContext) -> dict[str, MentionSource]:
    return {source.key: source for source in mention_sources(CHANNEL, context)}


def _visible(world: World, kind: str) -> dict[str, Post]:
    return {
        fake.mention_id(post): post for post in world.visible_posts(CHANNEL) if post.kind == kind
    }


def _raw_requests(world: World) -> list[str]:
    return list(world.channel_state(CHANNEL).get("raw_requests", []))


def test_one_source_for_mentions_and_one_for_comments(channel_context: ContextFactory) -> None:
    keys = [source.key for source in mention_sources(CHANNEL, channel_context(CHANNEL))]
    assert keys == [MENTIONS, COMMENTS]


def test_posts_mentioning_the_organization_are_read_with_their_text_restored(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given posts that @-mention the organization, stored in LinkedIn's little-text format
    source = _sources(channel_context(CHANNEL))[MENTIONS]

    # When the mentions source reads its notifications and the posts behind them
    mentions, _ = read_pages(source, None, start)

    # Then each post is a mention with the text its author wrote
    expected = _visible(world, "mention")
    assert expected
    assert sorted(m.id for m in mentions) == sorted(expected)
    for mention in mentions:
        post = expected[mention.id]
        assert mention.text == clean_text(post.text)
        assert mention.author == fake.person_urn(post.author)
        assert mention.created_at == post.created_at
        assert mention.url == f"https://www.linkedin.com/feed/update/{mention.id}/"
        assert (mention.reach, mention.engagement, mention.language) == (0, 0, None)


def test_comments_on_the_organizations_posts_are_read(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given comments on the organization's own posts
    source = _sources(channel_context(CHANNEL))[COMMENTS]

    # When the comments source reads them
    mentions, cursor = read_pages(source, None, start)

    # Then every comment is a mention linking to its place under the post
    expected = _visible(world, "comment")
    assert expected
    assert sorted(m.id for m in mentions) == sorted(expected)
    assert all("?commentUrn=urn%3Ali%3Acomment%3A" in m.url for m in mentions)
    assert all(m.text == clean_text(expected[m.id].text) for m in mentions)
    assert cursor is not None
    assert len(cursor["posts"]) <= linkedin.MAX_TRACKED_POSTS


def test_posts_without_new_comments_cost_one_request_or_none(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given every comment has been read
    source = _sources(channel_context(CHANNEL))[COMMENTS]
    _all, cursor = read_pages(source, None, start)
    assert cursor is not None
    before = len(world.exchanges_of(CHANNEL))

    # When the source runs again a minute later
    clock.shift(timedelta(minutes=1))
    again, _ = read_pages(source, cursor, start)

    # Then nothing is new, and only the recent posts' first comment pages were asked
    assert again == []
    asked = [e for e in world.exchanges_of(CHANNEL)[before:] if e.path.endswith("/comments")]
    hot = [
        post
        for post in cursor["posts"]
        if fake.org_post_time(int(post.rsplit(":", 1)[1]) - fake._ORG_POST)
        >= datetime.now(start.tzinfo) - linkedin.HOT_POST_AGE
    ]
    assert 0 < len(asked) == len(hot) < len(cursor["posts"])
    assert all(dict(e.query)["start"] == "0" for e in asked)


def test_a_mentions_chain_cut_short_resumes_while_new_posts_arrive(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
) -> None:
    # Given notification pages of two and a run that stopped after the first page
    source = _sources(channel_context(CHANNEL, page_size=2))[MENTIONS]
    first, cursor = read_pages(source, None, start, pages=1)
    at_first_run = set(_visible(world, "mention"))
    assert cursor is not None
    assert "chain" in cursor

    # When new mentions arrive and two more runs read on
    clock.shift(timedelta(hours=2))
    second, cursor = read_pages(source, cursor, start)
    first_chain = _raw_requests(world)
    third, _ = read_pages(source, cursor, start)

    # Then the chain kept its time range (so offsets did not shift under it), and nothing
    # was lost or read twice
    assert {m.id for m in first + second} == at_first_run
    assert third
    assert sorted(m.id for m in first + second + third) == sorted(_visible(world, "mention"))
    ends = set(re.findall(r"end:(\d+)", " ".join(first_chain)))
    assert len(ends) == 1


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_little_text_written_by_linkedin_reads_back_as_written(text: str) -> None:
    # Given any text as LinkedIn stores it (escapes, the mention, hashtag templates)
    stored = fake.little_text(text)

    # Then the adapter restores it exactly
    assert linkedin.little_text(stored) == text


def test_little_text_mentions_and_hashtags_become_plain_text() -> None:
    stored = r"@[Nordwind Air](urn:li:organization:2414183) hat \(schon wieder\) {hashtag|\#|fail}"
    assert linkedin.little_text(stored) == "@Nordwind Air hat (schon wieder) #fail"


def test_queries_use_restli_encoding_exactly(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given both sources read
    for source in mention_sources(CHANNEL, channel_context(CHANNEL)):
        read_pages(source, None, start)

    # Then List(...) and (k:v) travel literally and URNs are encoded, in queries and paths
    raw = _raw_requests(world)
    urn = "urn%3Ali%3Aorganization%3A2414183"
    assert any(
        re.search(
            rf"q=criteria&organizationalEntity={urn}&actions=List\(SHARE_MENTION\)"
            r"&timeRange=\(start:\d+,end:\d+\)&start=\d+&count=\d+$",
            uri,
        )
        for uri in raw
    )
    assert any(re.search(rf"q=author&author={urn}&sortBy=LAST_MODIFIED&", uri) for uri in raw)
    assert any(
        re.search(r"ids=List\(urn%3Ali%3Ashare%3A\d+(,urn%3Ali%3Ashare%3A\d+)*\)$", uri)
        for uri in raw
    )
    assert any(re.search(r"/rest/socialActions/urn%3Ali%3Ashare%3A\d+/comments\?", u) for u in raw)
    assert not any("%28" in uri or "%29" in uri or "urn:li:" in uri for uri in raw)


def test_a_429_backs_off_for_the_default_time(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given LinkedIn answers 429 (with no reset time, as it always does)
    world.faults.arm("status:429", channel=CHANNEL)

    # When a source reads
    with pytest.raises(RateLimited) as limited:
        read_pages(_sources(channel_context(CHANNEL))[MENTIONS], None, start)

    # Then the adapter waits its default quarter of an hour
    assert limited.value.retry_at == datetime.now(start.tzinfo) + linkedin.DEFAULT_BACKOFF


def test_a_429_mid_chain_keeps_the_cursor_of_the_last_page(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
) -> None:
    # Given a daily quota that runs out after the first page (notifications + posts)
    world.channel_state(CHANNEL)["budget"] = 2
    source = _sources(channel_context(CHANNEL, page_size=2))[MENTIONS]
    expected = sorted(_visible(world, "mention"))

    # When the source reads until it is throttled, and again once the quota is back
    read, cursor, limited = read_until_limited(source, None, start)
    clock.shift(timedelta(days=1))
    world.channel_state(CHANNEL)["budget"] = 100
    rest, _ = read_pages(source, cursor, start)

    # Then the first page was kept, and the next day's run went on from there
    assert len(read) == 2
    assert limited.retry_at == datetime.now(start.tzinfo) - timedelta(days=1) + (
        linkedin.DEFAULT_BACKOFF
    )
    assert sorted(m.id for m in read + rest) == expected


@pytest.mark.parametrize(
    ("failure", "error", "says"),
    [
        ("status:401", AuthFailed, "401"),
        ("status:403", AuthFailed, "ACCESS_DENIED"),
        ("wrong token", AuthFailed, "INVALID_ACCESS_TOKEN"),
        ("sunset version", ChannelError, "api_version"),
        ("bad_json", MalformedResponse, "invalid JSON"),
        ("html", ChannelUnavailable, "502"),
    ],
)
def test_failures_are_typed_and_say_what_to_fix(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    config_for: ConfigFactory,
    world: World,
    start: datetime,
    failure: str,
    error: type[Exception],
    says: str,
) -> None:
    # Given LinkedIn fails that way
    config = config_for(CHANNEL, api_version="202301") if failure == "sunset version" else None
    context = channel_context(CHANNEL, config=config)
    if failure == "wrong token":
        context = dataclasses.replace(context, credentials=lambda: {"access_token": "stale"})
    elif failure.startswith("status:") or failure in ("bad_json", "html"):
        world.faults.arm(failure, channel=CHANNEL, times=2)

    # When a source reads
    with pytest.raises(error) as failed:
        read_pages(_sources(context)[MENTIONS], None, start)

    # Then the error is typed, helpful, and never shows the token
    assert says in str(failed.value)
    assert fake.CREDENTIALS["access_token"] not in str(failed.value)


def test_an_answer_that_is_not_a_collection_is_malformed(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given the notifications answer lacks its elements
    world.channel_state(CHANNEL)["mangle"] = lambda path, payload: {"paging": payload["paging"]}

    # When it is read, Then that is a malformed response
    with pytest.raises(MalformedResponse, match=r"Rest\.li collection"):
        read_pages(_sources(channel_context(CHANNEL))[MENTIONS], None, start)


def test_a_bad_comment_and_an_unreadable_post_are_logged_and_skipped(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given one comment without a creation time, and a mentioning post that was deleted
    bad_comment = sorted(_visible(world, "comment"))[0]
    deleted_post = sorted(_visible(world, "mention"))[0]

    def damage(path: str, payload: dict[str, Any]) -> dict[str, Any]:
        for element in payload.get("elements", []):
            if element.get("$URN") == bad_comment:
                del element["created"]
        payload.get("results", {}).pop(deleted_post, None)
        return payload

    world.channel_state(CHANNEL)["mangle"] = damage

    # When both sources read
    with caplog.at_level(logging.WARNING):
        sources = _sources(channel_context(CHANNEL))
        comments, _ = read_pages(sources[COMMENTS], None, start)
        mentions, _ = read_pages(sources[MENTIONS], None, start)

    # Then everything else is read, and the warnings name the ids (never the text)
    assert {m.id for m in comments} == set(_visible(world, "comment")) - {bad_comment}
    assert {m.id for m in mentions} == set(_visible(world, "mention")) - {deleted_post}
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert bad_comment in logged
    assert deleted_post in logged
    assert not any(post.text in logged for post in world.visible_posts(CHANNEL))


def test_a_stalled_api_is_unavailable_after_the_client_timeout(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given LinkedIn stalls longer than the client waits
    world.faults.arm("slow:1.2", channel=CHANNEL, times=2)
    context = dataclasses.replace(channel_context(CHANNEL), http=HttpClient(CHANNEL, timeout=0.3))

    # When a source reads, Then the channel is unavailable for this run
    with pytest.raises(ChannelUnavailable, match="timed out"):
        read_pages(_sources(context)[COMMENTS], None, start)
    deadline = time.monotonic() + 5
    while (
        sum(1 for e in world.exchanges_of(CHANNEL) if e.fault) < 2 and time.monotonic() < deadline
    ):
        time.sleep(0.05)  # the stalled answers must not land in the next test's world
