"""What an alert says, as data: the `Notice` the evaluator fills and `email` and `sms`
render. Pure.

It carries the rules' own `Finding`s and the lifecycle's `AlertEvent`, not copies of them.
A notice that cannot be right (a naive time, an unknown zone, a finding with no number,
a resolution missing) is refused when it is made, not rendered into a wrong message.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stormwatch.warn.vocabulary import AlertEvent, Finding

__all__ = [
    "SEVERITY_NAMES",
    "Acknowledgement",
    "ChannelCount",
    "Escalation",
    "Notice",
    "Resolution",
    "TopMention",
    "Totals",
]

SEVERITY_NAMES = {1: "watch", 2: "warning", 3: "critical"}


def _finite(value: float, what: str) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")


def _aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), not naive: {value!r}")


def _showable(finding: Finding) -> None:
    _finite(finding.observed, "finding.observed")
    if finding.expected is not None:
        _finite(finding.expected, "finding.expected")
    if finding.window_minutes < 0:
        raise ValueError(f"finding.window_minutes must be >= 0, not {finding.window_minutes}")


@dataclass(frozen=True, slots=True)
class ChannelCount:
    channel: str
    mentions: int


@dataclass(frozen=True, slots=True)
class TopMention:
    channel: str
    author: str
    text: str
    url: str
    reach: int = 0


@dataclass(frozen=True, slots=True)
class Totals:
    mentions: int
    negative_share: float
    """A fraction, 0.12 for 12%."""

    def __post_init__(self) -> None:
        _finite(self.negative_share, "totals.negative_share")


@dataclass(frozen=True, slots=True)
class Resolution:
    duration: timedelta
    peak_at: datetime
    """Start of the busiest bucket."""
    peak_count: int
    before: Totals
    during: Totals
    peak_bucket_minutes: int | None = None

    def __post_init__(self) -> None:
        _aware(self.peak_at, "resolution.peak_at")


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    by: str
    at: datetime

    def __post_init__(self) -> None:
        _aware(self.at, "acknowledgement.at")


@dataclass(frozen=True, slots=True)
class Escalation:
    step: int
    """1-based."""
    steps: int | None
    """How many steps the policy has, when known."""
    paging: Sequence[str]
    """Who is being paged now."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "paging", tuple(self.paging))


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification of an alert. Sequences are copied into tuples."""

    brand_name: str
    brand_id: str
    alert_id: str
    kind: AlertEvent
    severity: int
    """1 watch, 2 warning, 3 critical; for RESOLVED the highest it reached."""
    started_at: datetime
    now: datetime
    time_zone: str
    """A zoneinfo name (Europe/Berlin): every time is shown in it."""
    findings: Sequence[Finding] = ()
    """The rules' findings, shown in this order (the evaluator puts the most severe first)."""
    channels: Sequence[ChannelCount] = ()
    top_negative: Sequence[TopMention] = ()
    """Most important first; only the first five are shown."""
    ack_command: str = ""
    previous_severity: int | None = None
    """For ESCALATED: the severity it rose from."""
    escalation: Escalation | None = None
    acknowledged: Acknowledgement | None = None
    resolution: Resolution | None = None
    pause_command: str = ""
    """The command that pauses every scheduled post now (`stormwatch pause --alert <id>`):
    critical alerts carry it whole; empty leaves it out."""
    pause_instructions: str = ""
    """The team's own note on pausing (config `alerts.pause_instructions`): critical alert
    emails carry it after the command; empty leaves it out."""
    console_link: str = ""
    """A signed link to the alert's page in the console (``https://<host>/l/<id>.<mac>``):
    the SMS carries it whole or not at all, the email first among what to do; empty (no
    console URL deployed) leaves it out."""
    report_command: str = ""
    """How to get the crisis report (`stormwatch report <id>`): the "back to normal" email
    names it; empty leaves it out."""
    report_link: str = ""
    """The report's page in the console (``https://<host>/alerts/<id>/report``, behind the
    sign-in): the "back to normal" email names it first; empty leaves it out."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AlertEvent(self.kind))
        for name in ("findings", "channels", "top_negative"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for finding in self.findings:
            _showable(finding)
        for severity in (self.severity, self.previous_severity):
            if severity is not None and severity not in SEVERITY_NAMES:
                raise ValueError(f"severity must be 1, 2 or 3, not {severity!r}")
        _aware(self.started_at, "started_at")
        _aware(self.now, "now")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"time_zone {self.time_zone!r} is not a known zone") from error
        # The lifecycle knows these for these kinds; a notice without them is a wiring bug
        # better caught when the notice is made than in a message that says nothing.
        if self.kind is AlertEvent.RESOLVED and self.resolution is None:
            raise ValueError("a RESOLVED notice needs its resolution (duration, peak, totals)")
        if self.kind is AlertEvent.ACKNOWLEDGED and self.acknowledged is None:
            raise ValueError("an ACKNOWLEDGED notice needs who acknowledged and when")
        if self.kind is AlertEvent.BLIND_RESOLVED:
            # Ops' short all-clear names only the channel: the evaluator writes it.
            raise ValueError("a BLIND_RESOLVED event has no notice: it names no findings")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def severity_name(self) -> str:
        return SEVERITY_NAMES[self.severity]
