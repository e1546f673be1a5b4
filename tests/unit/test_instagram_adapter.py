"""The Instagram adapter against the fake Graph API: hashtags, tags, paging, limits, failures."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine

from local.fakechannels import instagram as fake
from local.fakechannels.world import World
from local.scenario import Post, Scenario
from stormwatch.channels import mention_sources
from stormwatch.channels.base import ChannelContext, MentionSource
from stormwatch.channels.http import HttpClient
from stormwatch.errors import AuthFailed, ChannelUnavailable, MalformedResponse, RateLimited
from stormwatch.text import clean_text
from tests.conftest import ContextFactory
from tests.helpers import read_pages, read_until_limited

CHANNEL = "instagram"
NORDWIND = "hashtag:nordwindair"
TAGGED = f"mentioned:{fake.BUSINESS_ACCOUNT_ID}"


@pytest.fixture
def clock(small_scenario: Scenario) -> Iterator[time_machine.Traveller]:
    with time_machine.travel(small_scenario.storm_start + timedelta(hours=8), tick=False) as t:
        yield t


def _sources(context: ChannelContext) -> dict[str, MentionSource]:
    return {source.key: source for source in mention_sources(CHANNEL, context)}


def _visible(world: World, kind: str, hashtag: str | None = None) -> dict[str, Post]:
    return {
        fake.mention_id(post): post
        for post in world.visible_posts(CHANNEL)
        if post.kind == kind and (hashtag is None or fake.hashtag_of(post) == hashtag)
    }


def _paths(world: World, since: int = 0) -> list[str]:
    return [exchange.path.rsplit("/", 1)[1] for exchange in world.exchanges_of(CHANNEL)[since:]]


def test_one_source_per_brand_hashtag_and_one_for_tagged_media(
    channel_context: ContextFactory,
) -> None:
    # Given brands with the hashtags NordwindAir and KolibriPay
    keys = [source.key for source in mention_sources(CHANNEL, channel_context(CHANNEL))]

    # Then each hashtag (case-folded, as Instagram treats them) and the tags edge is a source
    assert keys == ["hashtag:nordwindair", "hashtag:kolibripay", TAGGED]


def test_hashtag_media_are_read_normalised(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given public media tagged #NordwindAir
    source = _sources(channel_context(CHANNEL))[NORDWIND]

    # When the hashtag source reads them
    mentions, cursor = read_pages(source, None, start)

    # Then each is a mention as the scenario wrote it; hashtag media carry no author
    expected = _visible(world, "hashtag", "nordwindair")
    assert expected
    assert sorted(m.id for m in mentions) == sorted(expected)
    for mention in mentions:
        post = expected[mention.id]
        assert mention.text == clean_text(post.text)
        assert mention.created_at == post.created_at
        assert mention.url.startswith("https://www.instagram.com/p/")
        assert (mention.author, mention.reach, mention.language) == ("", 0, None)
        assert mention.engagement == post.engagement
    assert cursor is not None
    assert cursor["hashtag_id"] == fake.HASHTAGS["nordwindair"][0]


def test_the_hashtag_id_is_looked_up_once_and_kept_in_the_cursor(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given a first run that found the hashtag's id and stopped right away
    source = _sources(channel_context(CHANNEL))[NORDWIND]
    first, cursor = read_pages(source, None, start, pages=1)
    assert first == []
    assert _paths(world) == ["ig_hashtag_search"]

    # When the next runs read on from that cursor
    rest, cursor = read_pages(source, cursor, start)
    expected = sorted(_visible(world, "hashtag", "nordwindair"))
    clock.shift(timedelta(hours=1))
    read_pages(source, cursor, start)

    # Then the hashtag was never searched again (each search spends the weekly quota)
    assert _paths(world).count("ig_hashtag_search") == 1
    assert sorted(m.id for m in rest) == expected


def test_a_hashtag_nobody_used_yet_reads_nothing_and_is_searched_again_later(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
) -> None:
    # Given a brand hashtag Instagram does not know
    brands = [{"id": "fresh", "name": "Fresh Brand", "keywords": ["Fresh"], "hashtags": ["New"]}]
    context = channel_context(CHANNEL, page_size=2, brands=brands)
    source = _sources(context)["hashtag:new"]

    # When it is read twice
    first = list(source.pages(None, start))
    second = list(source.pages(None, start))

    # Then there is nothing, and no id was cached that could be wrong
    assert first == second == []
    assert _paths(world) == ["ig_hashtag_search", "ig_hashtag_search"]


def test_tagged_media_are_read_with_their_author(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given media that tag the business account
    source = _sources(channel_context(CHANNEL))[TAGGED]

    # When the tags source reads them
    mentions, _ = read_pages(source, None, start)

    # Then they come with the author's username
    expected = _visible(world, "mentioned")
    assert {m.id: m.author for m in mentions} == {key: p.author for key, p in expected.items()}


def test_media_without_a_caption_is_kept_with_empty_text(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given tagged media whose captions were left out
    def no_captions(path: str, payload: dict[str, Any]) -> dict[str, Any]:
        for item in payload.get("data", []):
            item.pop("caption", None)
        return payload

    world.channel_state(CHANNEL)["mangle"] = no_captions
    source = _sources(channel_context(CHANNEL))[TAGGED]

    # When they are read
    mentions, _ = read_pages(source, None, start)

    # Then they are still mentions (the account was tagged), with empty text
    assert len(mentions) == len(_visible(world, "mentioned"))
    assert {mention.text for mention in mentions} == {""}


def test_paging_resumes_a_chain_cut_short_while_new_media_arrive(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
) -> None:
    # Given pages of two and a run that stopped after one page of tagged media
    context = channel_context(CHANNEL, page_size=2)
    source = _sources(context)[TAGGED]
    first, cursor = read_pages(source, None, start, pages=1)
    at_first_run = set(_visible(world, "mentioned"))

    # When new media arrive and later runs read to the end
    clock.shift(timedelta(hours=3))
    second, cursor = read_pages(source, cursor, start)
    third, _ = read_pages(source, cursor, start)

    # Then the old chain was finished first, then the new media came, none twice
    assert {m.id for m in first + second} == at_first_run
    read = [m.id for m in first + second + third]
    assert len(read) > len(at_first_run)
    assert sorted(read) == sorted(_visible(world, "mentioned"))


def test_the_real_24_hour_window_of_recent_media_only_limits_what_can_be_read(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given the fake's recent_media keeps only the last 24 hours, as Instagram's does
    world.channel_state(CHANNEL)["recent_media_hours"] = 24
    source = _sources(channel_context(CHANNEL))[NORDWIND]

    # When a source that starts 35 hours back reads
    mentions, cursor = read_pages(source, None, start)

    # Then it reads what the window holds and finishes its chain normally
    now = datetime.now(start.tzinfo)
    expected = {
        key
        for key, post in _visible(world, "hashtag", "nordwindair").items()
        if post.created_at >= now - timedelta(hours=24)
    }
    assert {m.id for m in mentions} == expected
    assert cursor is not None
    assert "chain" not in cursor["listing"]


def test_usage_at_the_limit_hands_over_the_page_then_stops(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
) -> None:
    # Given a quota of two calls an hour for the Instagram account
    world.channel_state(CHANNEL)["budget"] = 2
    source = _sources(channel_context(CHANNEL, page_size=2))[TAGGED]

    # When the tags edge is read until the adapter stops
    read, _cursor, limited = read_until_limited(source, None, start)

    # Then both answered pages were handed over and no third call was made
    assert len(read) == 4
    assert len(world.exchanges_of(CHANNEL)) == 2
    now = datetime.now(start.tzinfo)
    assert limited.retry_at == now + timedelta(minutes=60)


def test_the_instagram_business_use_case_limit_is_a_rate_limit(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given the account's quota is used up (Graph code 80002)
    world.channel_state(CHANNEL)["budget"] = 0
    source = _sources(channel_context(CHANNEL))[TAGGED]

    # When it is read, Then the adapter backs off until access returns
    with pytest.raises(RateLimited) as stopped:
        read_pages(source, None, start)
    assert stopped.value.retry_at == datetime.now(start.tzinfo) + timedelta(minutes=60)


@pytest.mark.parametrize(
    ("fault", "times", "error"),
    [
        ("bad_json", 1, MalformedResponse),
        ("truncated", 1, MalformedResponse),
        ("html", 2, ChannelUnavailable),
        ("status:401", 1, AuthFailed),
    ],
)
def test_failures_are_typed_errors(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
    fault: str,
    times: int,
    error: type[Exception],
) -> None:
    # Given the API fails that way
    world.faults.arm(fault, channel=CHANNEL, times=times)
    source = _sources(channel_context(CHANNEL))[TAGGED]

    # When the source reads, Then the failure is typed
    with pytest.raises(error):
        read_pages(source, None, start)


def test_an_expired_token_is_an_auth_failure_without_the_token(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given Graph reports the token expired (code 190)
    world.channel_state(CHANNEL)["token_expired"] = True

    # When a hashtag source reads
    with pytest.raises(AuthFailed) as failed:
        read_pages(_sources(channel_context(CHANNEL))[NORDWIND], None, start)

    # Then it is an auth failure that does not repeat the token
    assert "190" in str(failed.value)
    assert fake.CREDENTIALS["access_token"] not in str(failed.value)


def test_one_bad_media_item_is_logged_and_skipped(
    clock: time_machine.Traveller,
    channel_context: ContextFactory,
    world: World,
    start: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given one tagged medium with an unreadable timestamp
    broken: list[str] = []

    def damage(path: str, payload: dict[str, Any]) -> dict[str, Any]:
        if payload["data"] and not broken:
            broken.append(payload["data"][0]["id"])
            payload["data"][0]["timestamp"] = "yesterday"
        return payload

    world.channel_state(CHANNEL)["mangle"] = damage
    source = _sources(channel_context(CHANNEL))[TAGGED]

    # When the source reads
    with caplog.at_level(logging.WARNING):
        mentions, _ = read_pages(source, None, start)

    # Then the others are read and the bad one is named in a warning
    assert {m.id for m in mentions} == set(_visible(world, "mentioned")) - set(broken)
    assert any(broken[0] in r.getMessage() and CHANNEL in r.getMessage() for r in caplog.records)


def test_a_stalled_api_is_unavailable_after_the_client_timeout(
    clock: time_machine.Traveller, channel_context: ContextFactory, world: World, start: datetime
) -> None:
    # Given the API stalls longer than the client waits
    world.faults.arm("slow:1.2", channel=CHANNEL, times=2)
    context = dataclasses.replace(channel_context(CHANNEL), http=HttpClient(CHANNEL, timeout=0.3))

    # When a source reads, Then the channel is unavailable for this run
    with pytest.raises(ChannelUnavailable, match="timed out"):
        read_pages(_sources(context)[TAGGED], None, start)
    deadline = time.monotonic() + 5
    while (
        sum(1 for e in world.exchanges_of(CHANNEL) if e.fault) < 2 and time.monotonic() < deadline
    ):
        time.sleep(0.05)  # the stalled answers must not land in the next test's world
