"""Every channel adapter against its fake: the cursor rules hold for the whole scenario.

These are the promises the poll loop relies on: reading in runs that stop after any
page, with new posts arriving between runs, returns every post of the channel and
none twice; no adapter invents ids the channel does not have.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import pytest
import time_machine

from local.fakechannels.registry import available_channels, fake_module
from local.fakechannels.world import World
from local.scenario import Scenario
from stormwatch.channels import mention_sources
from stormwatch.channels.base import Cursor, MentionSource
from tests.conftest import ContextFactory

CHANNELS = available_channels()


def _run(
    sources: list[MentionSource],
    cursors: dict[str, Cursor | None],
    start,
    rng: random.Random,
    seen: dict[str, Counter[str]],
) -> int:
    """One poll run: each source reads a random number of pages, like a run cut short."""
    read = 0
    for source in sources:
        stop_after = rng.randint(1, 3)
        for index, page in enumerate(source.pages(cursors.get(source.key), start)):
            for mention in page.mentions:
                seen[source.key][mention.id] += 1
                read += 1
            cursors[source.key] = page.cursor
            if index + 1 >= stop_after:
                break
    return read


def _catch_up(
    sources: list[MentionSource],
    cursors: dict[str, Cursor | None],
    start,
    rng: random.Random,
    seen: dict[str, Counter[str]],
) -> None:
    """Poll runs cut short at random until one reads nothing and moves no cursor."""
    for _ in range(2000):
        before = dict(cursors)
        if _run(sources, cursors, start, rng, seen) == 0 and before == cursors:
            break


def _expected_ids(scenario: Scenario, channel: str) -> set[str]:
    mention_id = fake_module(channel).mention_id
    return {mention_id(post) for post in scenario.channel_posts(channel)}


def _assert_every_post_read_once(
    seen: dict[str, Counter[str]], scenario: Scenario, channel: str
) -> None:
    """Together the sources read every post of the channel, and no source read one twice."""
    union = set().union(*(set(counter) for counter in seen.values()))
    assert union == _expected_ids(scenario, channel)
    for key, counter in seen.items():
        repeated = [mention_id for mention_id, n in counter.items() if n > 1]
        assert not repeated, f"{key} read these more than once: {repeated[:5]}"


@pytest.mark.parametrize("channel", CHANNELS)
def test_runs_cut_short_at_random_read_every_post_once(
    channel: str, channel_context: ContextFactory, small_scenario: Scenario, world: World
) -> None:
    # Given the whole scenario lies in the past and polling starts before its first post
    start = small_scenario.start - timedelta(minutes=1)
    with time_machine.travel(small_scenario.end + timedelta(minutes=5), tick=False):
        sources = mention_sources(channel, channel_context(channel))
        cursors: dict[str, Cursor | None] = {}
        seen: dict[str, Counter[str]] = {source.key: Counter() for source in sources}
        rng = random.Random(channel)

        # When runs that each stop after one to three pages repeat until nothing is new
        _catch_up(sources, cursors, start, rng, seen)

    # Then together the sources read every post of the channel, and no source read one twice
    _assert_every_post_read_once(seen, small_scenario, channel)


def poll_moments(start: datetime, end: datetime, rng: random.Random) -> list[datetime]:
    """When pollers run while the scenario unfolds: irregular, as Lambda's schedule and
    retries make them. Mostly minutes to an hour apart, on whole minutes as often as
    between them; sometimes seconds apart (a retry, an overlapping schedule)."""
    moments, moment = [], start
    while moment < end:
        if rng.random() < 0.2:
            gap = timedelta(seconds=rng.randint(1, 90))
        else:
            gap = timedelta(minutes=rng.randint(1, 60), seconds=rng.choice((0, rng.randint(1, 59))))
        moment += gap
        moments.append(moment)
    return moments


@pytest.mark.parametrize("channel", CHANNELS)
def test_polling_as_posts_arrive_misses_nothing(
    channel: str, channel_context: ContextFactory, small_scenario: Scenario
) -> None:
    # Given runs at irregular moments while the scenario unfolds, each cut short at random
    # (not every five minutes for two days: what can go wrong happens between a post and
    # the next run, at any distance, and a regular grid tries one distance only)
    start = small_scenario.start - timedelta(minutes=1)
    rng = random.Random(f"live-{channel}")
    moments = poll_moments(small_scenario.start, small_scenario.end, rng)
    assert 60 <= len(moments) <= 150
    cursors: dict[str, Cursor | None] = {}
    with time_machine.travel(small_scenario.start, tick=False) as clock:
        sources = mention_sources(channel, channel_context(channel))
        seen: dict[str, Counter[str]] = {source.key: Counter() for source in sources}
        # When the clock moves through the scenario and then polling catches up at the end
        read_while_arriving = 0
        for moment in moments:
            clock.move_to(moment)
            read_while_arriving += _run(sources, cursors, start, rng, seen)
        clock.move_to(small_scenario.end + timedelta(minutes=5))
        _catch_up(sources, cursors, start, rng, seen)

    # Then every post was read, none twice by the same source; most while they arrived
    _assert_every_post_read_once(seen, small_scenario, channel)
    assert read_while_arriving > sum(sum(counter.values()) for counter in seen.values()) / 2
