"""A stopped poller is counted by the evaluator from the health records it reads anyway
(`UnpolledChannels`, which SilentPollerAlarm reads): no per-channel metric."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stormwatch.persistence.health import PollHealthRecord
from stormwatch.warn.evaluate import UNPOLLED_AFTER, unpolled_channels

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _ran(minutes_ago: float, first_minutes_ago: float | None = None) -> PollHealthRecord:
    at = NOW - timedelta(minutes=minutes_ago)
    first = NOW - timedelta(minutes=first_minutes_ago) if first_minutes_ago is not None else at
    return PollHealthRecord(
        last_run_at=at, last_success_at=at, consecutive_failures=0, last_error=None,
        first_success_at=first,
    )  # fmt: skip


def test_a_channel_whose_last_completed_run_is_older_than_the_slowest_rate_is_unpolled() -> None:
    # Given x polled a minute ago, rss 76 minutes ago and reddit 60 minutes ago (its rate)
    health = {"x": _ran(1, 600), "rss": _ran(76, 600), "reddit": _ran(60, 600)}
    # When the evaluator counts the channels not polled
    found = unpolled_channels(("x", "rss", "reddit"), health, NOW)
    # Then only rss is: 75 minutes spans the slowest PollRate with slack
    assert found == ["rss"]
    assert timedelta(minutes=60) < UNPOLLED_AFTER


def test_a_channel_never_polled_counts_only_once_polling_has_gone_on_that_long() -> None:
    # Given x polling for 10 minutes, and bluesky enabled but never polled
    fresh = {"x": _ran(1, 10)}
    # Then a fresh deploy is no stopped poller; after 80 minutes bluesky is unpolled
    assert unpolled_channels(("x", "bluesky"), fresh, NOW) == []
    assert unpolled_channels(("x", "bluesky"), {"x": _ran(1, 80)}, NOW) == ["bluesky"]
    # and a channel no longer enabled is not asked about
    assert unpolled_channels(("x",), {"x": _ran(1, 80), "rss": _ran(500, 800)}, NOW) == []
