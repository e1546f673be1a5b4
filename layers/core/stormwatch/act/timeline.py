"""One alert's timeline, in time order: what the Warn flow and the Act flow did. Pure.

The Warn side comes from two places that each say part of it: the outbox messages (every
event the evaluator decided, when it decided it, kept 30 days) and the brand's lifecycle
(the alert's start, who acknowledged it and when, when it resolved; the open alert and
the last episodes). Where both speak, the lifecycle's time wins: the alert started at
its first bucket, not at the minute the evaluator confirmed it, and it was acknowledged
when the person said so, not when the team was told. Escalations and reminders are only
in the outbox. The Act side is the timeline's own entries (paused, released, resumed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stormwatch.model import iso, parse_iso
from stormwatch.persistence.timeline import OutboxMessage, TimelineEntry

STARTED, ESCALATED, REMINDER = "started", "escalated", "reminder"
ACKNOWLEDGED, RESOLVED, REKINDLED = "acknowledged", "resolved", "rekindled"


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    kind: str
    who: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "kind": self.kind,
            "who": self.who,
            "details": dict(self.details),
        }


def alert_record(lifecycle: Mapping[str, Any] | None, alert_id: str) -> Mapping[str, Any] | None:
    """The alert in a brand's lifecycle state: the open one, or a closed episode."""
    if not lifecycle:
        return None
    candidates = [lifecycle.get("alert"), *reversed(lifecycle.get("episodes") or [])]
    return next((c for c in candidates if c and c.get("id") == alert_id), None)


def warn_steps(messages: Iterable[OutboxMessage], alert: Mapping[str, Any] | None) -> list[Step]:
    """What happened to the alert on the Warn side, one step per event (not per route)."""
    earliest: dict[str, OutboxMessage] = {}
    for message in messages:
        known = earliest.get(message.event)
        if known is None or message.decided_at < known.decided_at:
            earliest[message.event] = message
    steps: dict[str, Step] = {}
    for event, message in earliest.items():
        details: dict[str, Any] = {"severity": message.severity}
        if message.kind == REMINDER:
            details["step"] = event.removeprefix(f"{REMINDER}-")
        steps[event] = Step(message.decided_at, message.kind, None, details)
    if alert is not None:
        severity = {"severity": alert.get("severity")} if STARTED not in steps else None
        started = steps.get(STARTED)
        steps[STARTED] = Step(
            parse_iso(alert["started_at"]),
            STARTED,
            None,
            started.details if started else (severity or {}),
        )
        if alert.get("acknowledged_at"):
            steps[ACKNOWLEDGED] = Step(
                parse_iso(alert["acknowledged_at"]), ACKNOWLEDGED, alert.get("acknowledged_by")
            )
        if alert.get("resolved_at"):
            # A reopened alert resolved once per round: its record holds the last.
            rekindles = int(alert.get("rekindles") or 0)
            steps[f"{RESOLVED}-r{rekindles}" if rekindles else RESOLVED] = Step(
                parse_iso(alert["resolved_at"]),
                RESOLVED,
                None,
                {"peak_severity": alert.get("peak_severity")},
            )
    return list(steps.values())


def act_steps(entries: Iterable[TimelineEntry]) -> list[Step]:
    return [Step(entry.at, entry.kind, entry.who, entry.details) for entry in entries]


def alert_timeline(
    entries: Iterable[TimelineEntry],
    messages: Iterable[OutboxMessage],
    lifecycle: Mapping[str, Any] | None,
    alert_id: str,
) -> list[Step]:
    """Every step of the alert, oldest first (Warn before Act in the same instant)."""
    warn = warn_steps(messages, alert_record(lifecycle, alert_id))
    ordered = [(step, 0) for step in warn] + [(step, 1) for step in act_steps(entries)]
    return [step for step, _ in sorted(ordered, key=lambda pair: (pair[0].at, pair[1]))]
