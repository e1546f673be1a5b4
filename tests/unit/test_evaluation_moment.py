"""Which minute an evaluation judges: the event's when it is near the clock, never one
that has not come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stormwatch.errors import ConfigError
from stormwatch.warn.moment import AHEAD, LATE, evaluation_moment

CLOCK = datetime(2026, 11, 22, 3, 0, 30, tzinfo=UTC)


def test_a_scheduled_minute_delivered_late_is_judged_as_scheduled() -> None:
    # Given an event retried three minutes after its minute / When it is evaluated
    # Then its own minute is judged (a redelivery decides nothing twice)
    late = CLOCK - timedelta(minutes=3)
    assert evaluation_moment(late, CLOCK).at == late
    assert evaluation_moment(late, CLOCK).replaced is None


def test_no_event_time_is_the_clock() -> None:
    assert evaluation_moment(None, CLOCK).at == CLOCK


def test_a_time_a_little_ahead_is_the_clock_and_one_far_ahead_is_refused() -> None:
    # Given a scheduler clock a minute ahead of ours / Then our clock's minute is judged
    assert evaluation_moment(CLOCK + timedelta(minutes=1), CLOCK).at == CLOCK
    # Given a time beyond the skew allowed / Then it is refused in one line
    with pytest.raises(ConfigError, match=r"is 3 days ahead of the clock") as error:
        evaluation_moment(CLOCK + timedelta(days=3), CLOCK)
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match=r"is 5 min ahead"):
        evaluation_moment(CLOCK + AHEAD + timedelta(seconds=1), CLOCK)


def test_an_old_time_is_replaced_by_the_clock_and_said_so() -> None:
    # Given a replay from the dead-letter queue, hours later / When it is evaluated
    old = CLOCK - LATE - timedelta(seconds=1)
    moment = evaluation_moment(old, CLOCK)
    # Then the clock's minute is judged, and the old time is kept for the log
    assert (moment.at, moment.replaced) == (CLOCK, old)
