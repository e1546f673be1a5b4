"""When an alert starts, rises and ends: a small state machine over assessments.

`FiringRule.step` takes the detector's `Assessment` of each bucket in time order and
answers with at most one event: STARTED (a new alert fires), ESCALATED (a firing
alert reached a higher severity), RESOLVED (back to normal for long enough) or
REKINDLED (the episode just resolved flares up again within `reopen_minutes` of its
last unusual bucket: the same alert opens again, decision 0018).
The full lifecycle (acknowledgement, notifications, escalation policy) is built
on these events elsewhere; this rule only decides their moments.

Everything is measured in bucket time, not in calls, so a gap in the data or an
evaluator that judges the same bucket several times (the current bucket is
re-read every minute while it fills) gives the same events as one call per bucket.

Its timing, `FiringRuleParams`, is the config document's ``alerts.lifecycle`` section.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from stormwatch.config.alerts import FiringRuleParams

STATE_VERSION: Final = 3
"""3: the episode (its start and last unusual bucket) is kept after a resolve, so that a
rekindle can reopen it. Versions 1 and 2 load: an episode they resolved cannot reopen."""


class FiringEventKind(enum.StrEnum):
    STARTED = "started"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    REKINDLED = "rekindled"
    """The episode resolved last flares up again within the reopen window: the same alert
    (`started_at` is its start) fires again; `severity` is this bucket's."""


class FiringPhase(enum.StrEnum):
    IDLE = "idle"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True, slots=True)
class FiringEvent:
    kind: FiringEventKind
    at: datetime
    """Start of the bucket that caused the event."""
    severity: int
    """STARTED/ESCALATED/REKINDLED: the severity now; RESOLVED: the peak severity of the
    alert."""
    started_at: datetime
    """When the alert this event belongs to started firing."""


class AssessmentLike(Protocol):
    """What the rule reads from `stormwatch.warn.detector.Assessment`."""

    @property
    def bucket_start(self) -> datetime: ...
    @property
    def bucket_minutes(self) -> int: ...
    @property
    def severity(self) -> int: ...
    @property
    def stale(self) -> bool: ...
    @property
    def window_minutes(self) -> int | None: ...
    @property
    def window_severities(self) -> tuple[tuple[int, int], ...]: ...


class FiringRule:
    """Decides when alerts of one series start, escalate and resolve.

    IDLE -> PENDING (unusual, not yet confirmed) -> FIRING -> IDLE (resolved). While
    FIRING there is never a second STARTED. An alert resolves when the windows it is
    judged on (see `FiringRuleParams.recovery_minutes`) have been normal for
    `resolve_after_minutes`. After RESOLVED, the cooldown only lets a more severe
    episode through, and until one bucket is normal on every window only a fresh excess
    on the recovery windows starts a new alert: the long windows' memory of the episode
    just ended does not.

    An episode outlives its alert's resolve by `reopen_minutes` after its last unusual
    bucket: an excess then REKINDLES it (the same alert fires again, at the episode's
    peak severity, so that only a worse excess ESCALATES it) instead of starting a new
    one, and every unusual bucket of the reopened alert extends the window again, as an
    on-call tool groups the alerts of one incident (PagerDuty's time-window grouping,
    Alertmanager's group interval). After that long quiet a new storm is a new alert.
    """

    def __init__(self, params: FiringRuleParams | None = None) -> None:
        self.params = params or FiringRuleParams()
        self._episode_started: datetime | None = None
        self._episode_last: datetime | None = None
        self._last_bucket: datetime | None = None
        self._streak_start: datetime | None = None
        self._streak_last: datetime | None = None
        self._firing_since: datetime | None = None
        self._severity = 0
        self._last_unusual: datetime | None = None
        self._resolved_at: datetime | None = None
        self._resolved_peak = 0
        self._trigger_minutes: int | None = None
        self._awaiting_calm = False

    @property
    def phase(self) -> FiringPhase:
        if self._firing_since is not None:
            return FiringPhase.FIRING
        if self._streak_last is not None and self._streak_last == self._last_bucket:
            return FiringPhase.PENDING
        return FiringPhase.IDLE

    @property
    def firing_since(self) -> datetime | None:
        return self._firing_since

    def step(self, assessment: AssessmentLike) -> FiringEvent | None:
        """The event this bucket's assessment causes, if any."""
        if assessment.stale:
            return None
        at = assessment.bucket_start
        if self._last_bucket is not None and at < self._last_bucket:
            return None
        self._last_bucket = at
        bucket = timedelta(minutes=assessment.bucket_minutes)
        if self._firing_since is not None:
            return self._while_firing(at, assessment)
        if assessment.severity >= 1:
            return self._unusual(at, bucket, assessment)
        self._awaiting_calm = False
        return None

    def _judged(self, assessment: AssessmentLike, limit: int) -> int:
        """The highest severity among the windows up to `limit` minutes long."""
        windows = assessment.window_severities
        if not windows:
            return assessment.severity
        return max((severity for minutes, severity in windows if minutes <= limit), default=0)

    def _unusual(
        self, at: datetime, bucket: timedelta, assessment: AssessmentLike
    ) -> FiringEvent | None:
        severity = assessment.severity
        if self._awaiting_calm and self._judged(assessment, self.params.recovery_minutes) < 1:
            return None
        contiguous = self._streak_last is not None and at - self._streak_last <= bucket
        if not contiguous or self._streak_start is None:
            self._streak_start = at
        self._streak_last = at
        self._last_unusual = at
        streak = (at - self._streak_start) // bucket + 1
        if streak < self.params.confirm_buckets:
            return None
        if self._reopens(at):
            assert self._episode_started is not None
            self._firing_since = self._episode_started
            self._severity = max(severity, self._resolved_peak)
            self._episode_last = at
            self._trigger_minutes = assessment.window_minutes
            self._awaiting_calm = False
            return FiringEvent(FiringEventKind.REKINDLED, at, severity, self._episode_started)
        cooling = self._resolved_at is not None and at - self._resolved_at < timedelta(
            minutes=self.params.cooldown_minutes
        )
        if cooling and severity <= self._resolved_peak:
            return None
        self._firing_since = at
        self._severity = severity
        self._episode_started = at
        self._episode_last = at
        self._trigger_minutes = assessment.window_minutes
        self._awaiting_calm = False
        return FiringEvent(FiringEventKind.STARTED, at, severity, at)

    def _reopens(self, at: datetime) -> bool:
        """Whether an excess at `at` rekindles the episode resolved last."""
        reopen = self.params.reopen_minutes
        if not reopen or self._episode_started is None or self._episode_last is None:
            return False
        return at - self._episode_last < timedelta(minutes=reopen)

    def _while_firing(self, at: datetime, assessment: AssessmentLike) -> FiringEvent | None:
        assert self._firing_since is not None
        if assessment.severity > self._severity:
            self._severity = assessment.severity
            self._last_unusual = at
            self._episode_last = at
            return FiringEvent(FiringEventKind.ESCALATED, at, self._severity, self._firing_since)
        limit = max(self.params.recovery_minutes, self._trigger_minutes or 0)
        if self._judged(assessment, limit) >= 1:
            self._last_unusual = at
            self._episode_last = at
            return None
        if self._last_unusual is not None and at - self._last_unusual < timedelta(
            minutes=self.params.resolve_after_minutes
        ):
            return None
        event = FiringEvent(FiringEventKind.RESOLVED, at, self._severity, self._firing_since)
        self._resolved_at = at
        self._resolved_peak = self._severity
        self._firing_since = None
        self._severity = 0
        self._trigger_minutes = None
        self._awaiting_calm = assessment.severity >= 1
        self._streak_start = self._streak_last = None
        return event

    def to_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "last_bucket": _iso(self._last_bucket),
            "streak_start": _iso(self._streak_start),
            "streak_last": _iso(self._streak_last),
            "firing_since": _iso(self._firing_since),
            "severity": self._severity,
            "last_unusual": _iso(self._last_unusual),
            "resolved_at": _iso(self._resolved_at),
            "resolved_peak": self._resolved_peak,
            "trigger_minutes": self._trigger_minutes,
            "awaiting_calm": self._awaiting_calm,
            "episode_started": _iso(self._episode_started),
            "episode_last": _iso(self._episode_last),
        }

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        params: FiringRuleParams | None = None,
    ) -> FiringRule:
        rule = cls(params)
        try:
            version = state["version"]
            if version not in (1, 2, STATE_VERSION):
                raise ValueError(f"state version {version!r}, expected {STATE_VERSION}")
            rule._last_bucket = _parse(state["last_bucket"])
            rule._streak_start = _parse(state["streak_start"])
            rule._streak_last = _parse(state["streak_last"])
            rule._firing_since = _parse(state["firing_since"])
            rule._severity = int(state["severity"])
            rule._last_unusual = _parse(state["last_unusual"])
            rule._resolved_at = _parse(state["resolved_at"])
            rule._resolved_peak = int(state["resolved_peak"])
            # Version 1 knew neither: an alert it left firing is judged on the recovery
            # windows alone.
            if version >= 2:
                trigger = state["trigger_minutes"]
                rule._trigger_minutes = None if trigger is None else int(trigger)
                rule._awaiting_calm = bool(state["awaiting_calm"])
            if version >= 3:
                rule._episode_started = _parse(state["episode_started"])
                rule._episode_last = _parse(state["episode_last"])
            elif rule._firing_since is not None:
                # An alert left firing by an older version: its episode is known.
                rule._episode_started = rule._firing_since
                rule._episode_last = rule._last_unusual
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed firing state: {error!r}") from error
        return rule


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _parse(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"naive time in firing state: {text}")
    return moment
