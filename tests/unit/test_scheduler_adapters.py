"""The scheduler adapters against the fake Mastodon, Facebook and Hootsuite: paging and
windows, the answers they refuse, throttling, failures, and times too near; the fake's
scheduled statuses checked against Mastodon's published OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from local.fakechannels.scheduling import facebook as fake_facebook
from local.fakechannels.scheduling import hootsuite as fake_hootsuite
from local.fakechannels.scheduling import mastodon as fake_mastodon
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import World
from stormwatch.channels.http import HttpClient
from stormwatch.channels.schedulers.base import TooSoon
from stormwatch.channels.schedulers.facebook import FacebookScheduler
from stormwatch.channels.schedulers.hootsuite import HootsuiteScheduler
from stormwatch.channels.schedulers.mastodon import MastodonScheduler
from stormwatch.config.act import HootsuiteScheduler as HootsuiteSettings
from stormwatch.errors import ChannelUnavailable, MalformedResponse, RateLimited
from tests.conftest import ContextFactory
from tests.contract.openapi import SPECS, Spec

T0 = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)


def _specs() -> Path:
    """shared/specs beside the checkout (a git worktree sits one level deeper)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "specs").is_dir():
            return parent / "shared" / "specs"
    return SPECS


SPEC = Spec.load(_specs() / "mastodon" / "openapi.json")


@pytest.fixture(autouse=True)
def frozen() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as clock:
        yield clock


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda seconds: None)


def _mastodon(channel_context: ContextFactory) -> MastodonScheduler:
    return MastodonScheduler(channel_context("mastodon"))


def _hootsuite(fake_server: FakeChannelServer, horizon_days: int = 60) -> HootsuiteScheduler:
    settings = HootsuiteSettings(
        enabled=True,
        base_url=fake_server.channel_url("hootsuite"),
        horizon_days=horizon_days,
    )
    return HootsuiteScheduler(
        settings,
        HttpClient("hootsuite", timeout=5),
        lambda: fake_hootsuite.CREDENTIALS,
        lambda: datetime.now(UTC),
    )


def test_mastodon_lists_every_page_and_its_answers_and_requests_match_the_spec(
    fake_server: FakeChannelServer, world: World, channel_context: ContextFactory
) -> None:
    # Given 95 scheduled statuses (three pages of 40)
    seeded = fake_mastodon.seed(world, 95, T0)
    scheduler = _mastodon(channel_context)

    # When they are listed, one is moved out of the way and one cancelled
    listed = scheduler.scheduled()
    scheduler.cancel(listed[0])

    # Then every one is found with its text and time, and all it sent and got is in the spec
    assert sorted(post.id for post in listed) == sorted(seeded)
    assert listed[-1].text.startswith("Nordwind Air weekly tip")
    assert listed[-1].scheduled_at == T0 + timedelta(hours=1)
    exchanges = world.exchanges_of("mastodon")
    assert len([e for e in exchanges if e.method == "GET"]) == 3
    assert SPEC.check_answers([e for e in exchanges if e.status == 200]) == []
    assert SPEC.check_requests(exchanges) == []


def test_mastodon_restores_with_an_idempotency_key_and_refuses_a_time_too_near(
    fake_server: FakeChannelServer, world: World, channel_context: ContextFactory
) -> None:
    # Given a parked scheduled status
    fake_mastodon.seed(world, 1, T0)
    scheduler = _mastodon(channel_context)
    (post,) = scheduler.scheduled()
    scheduler.cancel(post)

    # When it is recreated twice (a retry), it exists once, found by find_recreated
    at = T0 + timedelta(hours=2)
    first = scheduler.recreate(post, at)
    assert scheduler.recreate(post, at) == first
    assert scheduler.find_recreated(post, at) == first
    assert [p.id for p in scheduler.scheduled()] == [first]

    # And another post's time within 5 minutes is refused as too soon (Mastodon's 422)
    with pytest.raises(TooSoon):
        scheduler.recreate(replace(post, id="another"), T0 + timedelta(minutes=3))


def test_mastodon_cancel_of_a_post_gone_already_succeeds(
    fake_server: FakeChannelServer, world: World, channel_context: ContextFactory
) -> None:
    fake_mastodon.seed(world, 1, T0)
    scheduler = _mastodon(channel_context)
    (post,) = scheduler.scheduled()
    scheduler.cancel(post)
    scheduler.cancel(post)  # 404: gone already
    assert scheduler.scheduled() == []


@pytest.mark.parametrize(
    ("fault", "times", "error"),
    [
        ("status:429", 1, RateLimited),
        ("status:503", 2, ChannelUnavailable),
        ("html", 2, ChannelUnavailable),
        ("bad_json", 1, MalformedResponse),
    ],
)
def test_a_bad_answer_is_a_typed_error(
    fake_server: FakeChannelServer,
    world: World,
    channel_context: ContextFactory,
    fault: str,
    times: int,
    error: type[Exception],
) -> None:
    fake_mastodon.seed(world, 3, T0)
    fake_hootsuite.seed(world, 3, T0)
    for channel in ("mastodon", "hootsuite"):
        world.faults.arm(fault, channel=channel, times=times)
    with pytest.raises(error):
        _mastodon(channel_context).scheduled()
    with pytest.raises(error):
        _hootsuite(fake_server).scheduled()


def test_hootsuite_lists_window_by_window_up_to_the_horizon(
    fake_server: FakeChannelServer, world: World
) -> None:
    # Given 150 messages every 12 hours (75 days ahead), 100 a page at most
    seeded = fake_hootsuite.seed(world, 150, T0)

    # When listed with a 60-day horizon
    listed = _hootsuite(fake_server, horizon_days=60).scheduled()

    # Then each window is at most 4 weeks, and exactly the messages within 60 days are found
    gets = [dict(e.query) for e in world.exchanges_of("hootsuite") if e.method == "GET"]
    for query in gets:
        start, end = (
            datetime.fromisoformat(query[k].replace("Z", "+00:00"))
            for k in ("startTime", "endTime")
        )
        assert end - start <= timedelta(weeks=4)
    within = [i for n, i in enumerate(seeded) if timedelta(hours=1 + 12 * n) < timedelta(days=60)]
    assert sorted(p.id for p in listed) == sorted(within)
    assert {p.details["social_profile_id"] for p in listed} == set(fake_hootsuite.PROFILES)


def test_hootsuite_skips_a_malformed_message_and_refuses_a_time_too_near(
    fake_server: FakeChannelServer, world: World
) -> None:
    fake_hootsuite.seed(world, 2, T0)

    def damage(payload: dict[str, Any]) -> dict[str, Any]:
        if payload["data"]:
            payload["data"][0].pop("socialProfile", None)
        return payload

    world.channel_state("hootsuite")["rewrite"] = damage
    scheduler = _hootsuite(fake_server)
    (kept,) = scheduler.scheduled()
    with pytest.raises(TooSoon):
        scheduler.recreate(kept, T0 + timedelta(minutes=2))


def test_facebook_lists_every_page_and_restores_within_the_documented_range(
    fake_server: FakeChannelServer, world: World, channel_context: ContextFactory
) -> None:
    # Given 130 scheduled posts (two Graph pages of 100)
    seeded = fake_facebook.seed(world, 130, T0)
    scheduler = FacebookScheduler(channel_context("facebook"))

    # When listed, all are found with their links
    listed = scheduler.scheduled()
    assert sorted(p.id for p in listed) == sorted(seeded)
    assert all(p.details["link"].startswith("https://nordwind.example/") for p in listed)

    # Then one cancelled twice is fine, and recreated 10 minutes ahead is refused, an hour is not
    post = listed[0]
    scheduler.cancel(post)
    scheduler.cancel(post)
    with pytest.raises(TooSoon):
        scheduler.recreate(post, T0 + timedelta(minutes=5))
    created = scheduler.recreate(post, T0 + timedelta(hours=1))
    assert scheduler.find_recreated(post, T0 + timedelta(hours=1)) == created
