"""The words the Warn flow shares from rule to message: which rule found what, and what
happened to an alert. Pure.

The rules write `Finding`s, the lifecycle reads them and says what happened (`AlertEvent`),
and the messages render those same findings and events: one vocabulary, never copied into
a second type, as Alertmanager's labels and annotations flow unchanged into its templates.
A rule added here without a wording in `stormwatch.warn.messages` is a type error there.

The enums' values are what is stored (lifecycle state, outbox payloads, dispatch keys
such as ``<alert id>:reminder-1.2``): changing one makes stored data unreadable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from stormwatch.model import ALL_CHANNELS

__all__ = ["AlertEvent", "Finding", "Rule"]


class Rule(enum.StrEnum):
    """The rule behind a finding; its value is how people read it ("negative share")."""

    VOLUME = "volume"
    """Mentions against the seasonal baseline (the detector's judgement)."""
    NEGATIVE_SHARE = "negative share"
    STATIC = "static threshold"
    """Ops' own line: this many mentions in this window."""
    VELOCITY = "velocity"
    """Growth over the last window against the one before."""
    SILENT = "silent source"
    """A channel that usually has mentions has none, though its poller succeeds."""
    FAILING = "failing poller"

    @property
    def blind(self) -> bool:
        """Monitoring is blind (an ops problem), not a storm: never worded or counted as one."""
        return self in {Rule.SILENT, Rule.FAILING}


@dataclass(frozen=True, slots=True)
class Finding:
    """What one rule found in one series of a brand (or, when blind, on one channel)."""

    rule: Rule
    channel: str
    """A channel name, or ALL for the brand across every channel."""
    severity: int
    observed: float
    """Mentions in the window; for negative share the share as a fraction (0.78); for a
    failing poller the failed polls in a row."""
    expected: float | None
    """The usual level, the threshold or the alert level; None when there is none."""
    window_minutes: int
    """For a failing poller, the time since its last success (0 when it never had one)."""
    reason: str
    """The rule's own account, one line, for logs and the email."""
    window_severities: tuple[tuple[int, int], ...] = ()
    """(minutes, severity) per window judged, when the rule judges several."""

    @property
    def blind(self) -> bool:
        return self.rule.blind

    @property
    def windows(self) -> tuple[tuple[int, int], ...]:
        """(minutes, severity) per window: the rule's own window when it judges one."""
        return self.window_severities or ((self.window_minutes, self.severity),)

    @property
    def where(self) -> str:
        return "all channels" if self.channel == ALL_CHANNELS else self.channel


class AlertEvent(enum.StrEnum):
    """What happened to an alert: what the lifecycle dispatches and the messages tell."""

    STARTED = "started"
    ESCALATED = "escalated"
    """The severity rose."""
    REMINDER = "reminder"
    """An escalation step: still nobody acknowledged."""
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    REKINDLED = "rekindled"
    """The alert resolved, then its storm flared up again within the reopen window: the
    same alert is open again (decision 0018). The team hears it; on call only when it is
    worse than the episode's peak."""
    BLIND = "blind"
    """Monitoring is blind (a channel silent or its poller failing): for ops, not a crisis."""
    BLIND_RESOLVED = "blind_resolved"
    """The blind channel is read again."""
