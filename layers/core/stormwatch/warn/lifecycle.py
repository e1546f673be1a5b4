"""The alert lifecycle of one brand: pending -> firing -> acknowledged -> resolved. Pure.

One alert per brand episode: every crisis finding of the brand (over all channels or
one) feeds one severity per bucket, the highest; `FiringRule` decides when an episode
starts, rises and ends (confirmation, resolution after a quiet spell, a cooldown that
keeps a flapping series from paging again and again). On top of it this module adds
what people need: who hears what (`Dispatch`), acknowledgement, and an escalation policy
that pages the next step while nobody acknowledges.

A storm that flares up again within a day of its last unusual bucket reopens the same
alert (decision 0018): the team gets a "rekindled" update; on call is paged, and the
escalation policy runs again from that moment, only when the rekindle (or a later rise
of the reopened alert) is worse than the episode's peak so far. An acknowledgement
stands: whoever took the episode keeps it.

Every dispatch carries a key that is unique for its alert and event; the evaluator
stores it in an outbox before sending, so evaluating the same minute twice, or again
after a crash, never sends anything twice.

"Monitoring is blind" (a channel silent or its poller failing) is tracked apart by
`BlindMonitor`: it goes to ops and is never worded or counted as a storm.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from stormwatch.config.alerts import AlertSettings
from stormwatch.model import iso, parse_iso
from stormwatch.warn.firing import FiringEventKind, FiringRule
from stormwatch.warn.vocabulary import AlertEvent, Finding

KEPT_EPISODES = 20

TEAM = "team"  # the alert email list (the topic's email subscription)
ON_CALL = "on_call"
ESCALATION = "escalation"
BUSINESS_HOURS = "business_hours"
OPS = "ops"


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One notification to send: what happened, and to which audiences."""

    key: str
    kind: AlertEvent
    brand: str
    alert_id: str
    severity: int
    audience: tuple[str, ...]
    at: datetime
    step: str = ""
    channel: str = ""
    reason: str = ""
    previous_severity: int | None = None
    started_at: datetime | None = None
    paged: tuple[str, ...] = ()
    """Phones that got an SMS about this alert: "back to normal" reaches them too, whoever
    is on call when it ends."""
    quiet: bool = False
    """An update of a reopened alert that pages nobody (not worse than its peak): the
    team's email only, not the team's SMS topic."""
    opens: bool = False
    """What people take for a new alert: it started, or a reopened alert became worse than
    its peak (on call is paged again after "back to normal"). `bench.nab` counts these."""


_ALERT_ID = re.compile(r"^(?P<brand>.+)-\d{8}-\d{4}$")


def alert_id_of(brand: str, started_at: datetime) -> str:
    """An alert's id: its brand and the minute it started (people type it: `pause --alert`)."""
    return f"{brand}-{started_at:%Y%m%d-%H%M}"


def brand_of_alert(alert_id: str) -> str | None:
    """The brand an alert id names, or None when it is not shaped like one."""
    match = _ALERT_ID.match(alert_id)
    return match.group("brand") if match else None


def audience_for(severity: int) -> tuple[str, ...]:
    """Severity 1: email. 2: email and SMS to whoever is on call. 3: also escalation."""
    if severity >= 3:
        return (TEAM, ON_CALL, ESCALATION)
    if severity == 2:
        return (TEAM, ON_CALL)
    return (TEAM,)


@dataclass
class ActiveAlert:
    id: str
    started_at: datetime
    severity: int
    peak_severity: int
    peak_at: datetime
    peak_count: int = 0
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    acknowledgement_sent: bool = False
    reminders: list[str] = field(default_factory=list)
    paged: list[str] = field(default_factory=list)
    """Phones an SMS about this alert went to."""
    rekindles: int = 0
    """How often the alert reopened after a resolve (0: never)."""
    rekindled_at: datetime | None = None
    """The first bucket of its last rekindle."""
    escalation_from: datetime | None = None
    """When the escalation policy last (re)started: None is the alert's start; a
    reopened alert's policy runs only from a rekindle or rise worse than its peak."""

    @property
    def round(self) -> str:
        """The part of a dispatch key that tells a reopened alert's messages apart."""
        return f"r{self.rekindles}" if self.rekindles else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": iso(self.started_at),
            "severity": self.severity,
            "peak_severity": self.peak_severity,
            "peak_at": iso(self.peak_at),
            "peak_count": self.peak_count,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": iso(self.acknowledged_at) if self.acknowledged_at else None,
            "acknowledgement_sent": self.acknowledgement_sent,
            "reminders": list(self.reminders),
            "paged": list(self.paged),
            "rekindles": self.rekindles,
            "rekindled_at": iso(self.rekindled_at) if self.rekindled_at else None,
            "escalation_from": iso(self.escalation_from) if self.escalation_from else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActiveAlert:
        acknowledged = data.get("acknowledged_at")
        return cls(
            id=str(data["id"]),
            started_at=parse_iso(data["started_at"]),
            severity=int(data["severity"]),
            peak_severity=int(data["peak_severity"]),
            peak_at=parse_iso(data["peak_at"]),
            peak_count=int(data.get("peak_count", 0)),
            acknowledged_by=data.get("acknowledged_by"),
            acknowledged_at=parse_iso(acknowledged) if acknowledged else None,
            acknowledgement_sent=bool(data.get("acknowledgement_sent", False)),
            reminders=[str(item) for item in data.get("reminders", [])],
            paged=[str(item) for item in data.get("paged", [])],
            rekindles=int(data.get("rekindles", 0)),
            rekindled_at=_moment(data.get("rekindled_at")),
            escalation_from=_moment(data.get("escalation_from")),
        )


def _moment(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


class NotAcknowledgeable(ValueError):
    """The alert named is not the brand's open alert (resolved, or never existed)."""


class BrandLifecycle:
    def __init__(
        self,
        brand: str,
        settings: AlertSettings,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        self.brand = brand
        self.settings = settings
        state = state or {}
        firing_state = state.get("firing")
        self.firing = (
            FiringRule.from_state(firing_state, settings.lifecycle)
            if firing_state
            else FiringRule(settings.lifecycle)
        )
        alert = state.get("alert")
        self.alert = ActiveAlert.from_dict(alert) if alert else None
        self.episodes: list[dict[str, Any]] = list(state.get("episodes", []))

    def to_state(self) -> dict[str, Any]:
        return {
            "firing": self.firing.to_state(),
            "alert": self.alert.as_dict() if self.alert else None,
            "episodes": self.episodes[-KEPT_EPISODES:],
        }

    # --- the minute's evaluation ----------------------------------------------------

    def evaluate(
        self,
        bucket_start: datetime,
        bucket_minutes: int,
        now: datetime,
        findings: Sequence[Finding],
        all_channels_count: int,
    ) -> list[Dispatch]:
        """Feed the current bucket's crisis findings; return what must be sent now."""
        crisis = [finding for finding in findings if not finding.blind]
        severity = max((finding.severity for finding in crisis), default=0)
        reason = "; ".join(
            f"{f.rule} ({f.where}): {f.reason}"
            for f in sorted(crisis, key=lambda f: -f.severity)[:3]
        )
        windows: dict[int, int] = {}
        for finding in crisis:
            for minutes, window_severity in finding.windows:
                windows[minutes] = max(windows.get(minutes, 0), window_severity)
        # The window that raised the level: the shortest among the most severe findings.
        top = min(
            (f for f in crisis if f.severity == severity),
            key=lambda f: f.window_minutes,
            default=None,
        )
        level = _Level(
            bucket_start,
            bucket_minutes,
            severity,
            window_minutes=top.window_minutes if top else None,
            window_severities=tuple(sorted(windows.items())),
        )
        event = self.firing.step(level)
        dispatches: list[Dispatch] = []
        if event is not None and event.kind is FiringEventKind.STARTED:
            self.alert = ActiveAlert(
                id=alert_id_of(self.brand, event.started_at),
                started_at=event.started_at,
                severity=event.severity,
                peak_severity=event.severity,
                peak_at=bucket_start,
                peak_count=all_channels_count,
            )
            dispatches.append(
                replace(self._dispatch(AlertEvent.STARTED, now, reason=reason), opens=True)
            )
        elif event is not None and event.kind is FiringEventKind.REKINDLED:
            dispatches.append(
                self._rekindle(event.started_at, event.severity, bucket_start, now, reason)
            )
        elif event is not None and event.kind is FiringEventKind.ESCALATED and self.alert:
            previous = self.alert.severity
            # A quietly reopened alert that rises above its peak pages on call again.
            # (Its rule escalates only above the episode's peak.) Once paged, a further
            # rise escalates as in any alert: the policy already runs.
            opens = bool(self.alert.rekindles) and self.alert.escalation_from is None
            if opens:
                self._restart_escalation(bucket_start)
            self.alert.severity = event.severity
            self.alert.peak_severity = max(self.alert.peak_severity, event.severity)
            escalated = self._dispatch(
                AlertEvent.ESCALATED,
                now,
                key=f"severity-{event.severity}",
                reason=reason,
                previous=previous,
            )
            dispatches.append(replace(escalated, opens=opens))
        if self.alert is not None and all_channels_count > self.alert.peak_count:
            self.alert.peak_count = all_channels_count
            self.alert.peak_at = bucket_start
        if event is not None and event.kind is FiringEventKind.RESOLVED and self.alert:
            dispatches.append(self._resolve(now))
            return dispatches
        dispatches.extend(self._acknowledgement(now))
        dispatches.extend(self._escalation(now))
        return dispatches

    def note_paged(self, phones: Iterable[str]) -> None:
        """Remember who got an SMS about the open alert (to tell them when it is over)."""
        if self.alert is not None:
            for phone in phones:
                if phone not in self.alert.paged:
                    self.alert.paged.append(phone)

    def acknowledge(self, alert_id: str, by: str, at: datetime) -> None:
        """Someone took the alert: escalation stops; the team hears who and when."""
        if self.alert is None or self.alert.id != alert_id:
            open_id = self.alert.id if self.alert else "none"
            raise NotAcknowledgeable(f"{alert_id} is not open for {self.brand} (open: {open_id})")
        if self.alert.acknowledged_at is None:
            self.alert.acknowledged_by = by
            self.alert.acknowledged_at = at

    # --- parts ---------------------------------------------------------------------

    def _rekindle(
        self, started_at: datetime, severity: int, at: datetime, now: datetime, reason: str
    ) -> Dispatch:
        """The episode resolved last is open again: the same alert, told to the team; a
        page (and the escalation policy again) only when it is worse than its peak."""
        alert_id = alert_id_of(self.brand, started_at)
        closed = self.episodes[-1] if self.episodes else None
        if closed is not None and closed.get("id") == alert_id:
            self.episodes.pop()
            alert = ActiveAlert.from_dict(closed)
        else:  # the closed alert is not kept (state from before 0018): the same id anew
            alert = ActiveAlert(alert_id, started_at, severity, severity, at)
        self.alert = alert
        peak = alert.peak_severity
        alert.rekindles += 1
        alert.rekindled_at = at
        alert.severity = severity
        worse = severity > peak
        if worse:
            alert.peak_severity = severity
            self._restart_escalation(at)
        dispatch = self._dispatch(
            AlertEvent.REKINDLED,
            now,
            audience=audience_for(severity) if worse else (TEAM,),
            reason=reason,
            previous=peak,
        )
        return replace(dispatch, opens=True) if worse else replace(dispatch, quiet=True)

    def _restart_escalation(self, at: datetime) -> None:
        """A reopened alert became worse than its peak: a real page, so the policy runs
        again from `at` (unless someone has the episode already)."""
        assert self.alert is not None
        self.alert.escalation_from = at
        self.alert.reminders = []

    def _dispatch(
        self,
        kind: AlertEvent,
        now: datetime,
        *,
        key: str = "",
        audience: tuple[str, ...] | None = None,
        step: str = "",
        reason: str = "",
        previous: int | None = None,
    ) -> Dispatch:
        assert self.alert is not None
        event = "-".join(part for part in (kind.value, self.alert.round, key) if part)
        return Dispatch(
            key=f"{self.alert.id}:{event}",
            kind=kind,
            brand=self.brand,
            alert_id=self.alert.id,
            severity=self.alert.severity,
            audience=audience if audience is not None else audience_for(self.alert.severity),
            at=now,
            step=step,
            reason=reason,
            previous_severity=previous,
            started_at=self.alert.started_at,
        )

    def _resolve(self, now: datetime) -> Dispatch:
        assert self.alert is not None
        # Everyone who was told about it hears that it is over: the audiences of its peak
        # as they are now, and everyone paged while it lasted. A reopened alert that paged
        # nobody since its rekindle: the team, who heard of it (the rest heard it end).
        if self.alert.rekindles and self.alert.escalation_from is None:
            dispatch = replace(
                self._dispatch(AlertEvent.RESOLVED, now, audience=(TEAM,)), quiet=True
            )
        else:
            dispatch = replace(
                self._dispatch(
                    AlertEvent.RESOLVED, now, audience=audience_for(self.alert.peak_severity)
                ),
                paged=tuple(self.alert.paged),
            )
        closed = self.alert.as_dict()
        closed["resolved_at"] = iso(now)
        self.episodes.append(closed)
        self.alert = None
        return dispatch

    def _acknowledgement(self, now: datetime) -> Iterable[Dispatch]:
        alert = self.alert
        if alert is None or alert.acknowledged_at is None or alert.acknowledgement_sent:
            return []
        alert.acknowledgement_sent = True
        return [
            self._dispatch(
                AlertEvent.ACKNOWLEDGED,
                now,
                audience=(TEAM,),
                reason=f"acknowledged by {alert.acknowledged_by}",
            )
        ]

    def _escalation(self, now: datetime) -> Iterable[Dispatch]:
        """The latest due step of the policy, once; steps missed meanwhile are not replayed."""
        alert = self.alert
        policy = self.settings.escalation
        if alert is None or alert.acknowledged_at is not None or alert.severity < 2:
            return []
        if not policy.steps:
            return []
        if alert.rekindles and alert.escalation_from is None:
            return []  # reopened, never worse than its peak: the team knows, nobody is paged
        base = alert.escalation_from or alert.started_at
        due: tuple[int, int] | None = None
        for round_number in range(policy.repeat):
            for index, step in enumerate(policy.steps):
                moment = base + timedelta(
                    minutes=round_number * policy.cycle_minutes + step.after_minutes
                )
                if moment <= now:
                    due = (round_number, index)
        if due is None:
            return []
        name = f"{due[0] + 1}.{due[1] + 1}"
        if name in alert.reminders or any(_after(sent, name) for sent in alert.reminders):
            return []
        alert.reminders.append(name)
        step = policy.steps[due[1]]
        audience = (TEAM, step.notify)
        return [
            self._dispatch(
                AlertEvent.REMINDER,
                now,
                key=name,
                audience=audience,
                step=f"round {due[0] + 1} of {policy.repeat}, step {due[1] + 1}: {step.notify}",
                reason=f"not acknowledged {step.after_minutes + due[0] * policy.cycle_minutes} "
                f"min after it started",
            )
        ]


def _after(sent: str, candidate: str) -> bool:
    """True when step `sent` ("round.step") comes after `candidate` in the policy."""
    sent_round, sent_step = (int(part) for part in sent.split("."))
    round_number, step = (int(part) for part in candidate.split("."))
    return (sent_round, sent_step) > (round_number, step)


@dataclass(frozen=True, slots=True)
class _Level:
    """The brand's severity in one bucket, shaped as `FiringRule` reads assessments."""

    bucket_start: datetime
    bucket_minutes: int
    severity: int
    stale: bool = False
    window_minutes: int | None = None
    window_severities: tuple[tuple[int, int], ...] = ()


class BlindMonitor:
    """Channels on which monitoring is blind; ops hear when it starts and when it ends."""

    def __init__(self, state: Mapping[str, Any] | None = None) -> None:
        self.blind: dict[str, dict[str, str]] = {
            channel: dict(entry) for channel, entry in (state or {}).get("blind", {}).items()
        }

    def to_state(self) -> dict[str, Any]:
        return {"blind": self.blind}

    def evaluate(self, now: datetime, findings: Sequence[Finding]) -> list[Dispatch]:
        current = {finding.channel: finding for finding in findings if finding.blind}
        dispatches = []
        for channel, finding in sorted(current.items()):
            if channel in self.blind:
                continue
            since = iso(now)
            self.blind[channel] = {"since": since, "rule": finding.rule, "reason": finding.reason}
            dispatches.append(
                _blind_dispatch(AlertEvent.BLIND, channel, since, now, finding.reason)
            )
        for channel in sorted(set(self.blind) - set(current)):
            since = self.blind.pop(channel)["since"]
            reason = f"{channel} is read again (blind since {since})"
            dispatches.append(
                _blind_dispatch(AlertEvent.BLIND_RESOLVED, channel, since, now, reason)
            )
        return dispatches


def _blind_dispatch(
    kind: AlertEvent, channel: str, since: str, now: datetime, reason: str
) -> Dispatch:
    """Ops hear that monitoring of `channel` went blind at `since`, or that it is over."""
    over = ":over" if kind is AlertEvent.BLIND_RESOLVED else ""
    return Dispatch(
        key=f"blind:{channel}:{since}{over}",
        kind=kind,
        brand="",
        alert_id=f"blind-{channel}-{parse_iso(since):%Y%m%d-%H%M}",
        severity=1,
        audience=(OPS,),
        at=now,
        channel=channel,
        reason=reason,
    )
