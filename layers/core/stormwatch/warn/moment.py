"""Which minute an evaluation judges, given the time its event asks for and the clock.

The schedule's event names its minute (``scheduled_time``), so that a redelivered
invocation judges the same minute again and decides nothing twice. But the time is only
trusted near the clock: an evaluation moves the detectors, the alert lifecycle and the
outbox's claims to the time it judges, and a time that has not come would stay their
newest for good (every real minute after it would look older and be ignored: a storm
then gives severity 0). An old time is no use either: the state has moved past it.

- within `LATE` behind the clock: that minute (the schedule's retry and Lambda's
  asynchronous queue deliver at most three minutes late, see template.yaml);
- older (a replay from the dead-letter queue, a hand-written test event): the clock's
  minute instead; the minutes missed are judged by it, from the detectors' checkpoint;
- ahead of the clock by at most `AHEAD` (clock skew): the clock's minute;
- further ahead: refused, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from stormwatch.errors import ConfigError

LATE = timedelta(minutes=5)
AHEAD = timedelta(minutes=5)
FIELD = "event.scheduled_time"


@dataclass(frozen=True, slots=True)
class EvaluationMoment:
    at: datetime
    """The time judged: never after the clock."""
    replaced: datetime | None = None
    """The event's time when it was too old and the clock's was judged instead."""


def evaluation_moment(requested: datetime | None, clock: datetime) -> EvaluationMoment:
    """The time to judge for an event asking for `requested` (None: none asked) at `clock`."""
    if requested is None:
        return EvaluationMoment(clock)
    if requested > clock + AHEAD:
        raise ConfigError(
            FIELD,
            f"{requested.isoformat()} is {_span(requested - clock)} ahead of the clock "
            f"({clock.isoformat(timespec='seconds')}): refused, an evaluation never judges "
            "a time that has not come",
        )
    if requested > clock:
        return EvaluationMoment(clock)
    if requested < clock - LATE:
        return EvaluationMoment(clock, replaced=requested)
    return EvaluationMoment(requested)


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
