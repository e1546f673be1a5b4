"""The findings in words, shared by the email and the SMS: the headline ("mentions 11x
usual, 78% negative"), one line per finding, where and since when monitoring is blind,
and the tag-and-brand head. Pure.

Every rule has its own wording here; the match over `Rule` is exhaustive, so a rule added
to the vocabulary without one is a type error, not a message that shows a bare number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import assert_never

from stormwatch.model import ALL_CHANNELS
from stormwatch.warn.messages.compose import Mode, Part, Text, shortened
from stormwatch.warn.messages.layout import (
    clean,
    count,
    duration,
    percent,
    times,
    within,
)
from stormwatch.warn.messages.notice import Notice
from stormwatch.warn.vocabulary import Finding, Rule

__all__ = [
    "NAME_CHARS",
    "blind_channels",
    "blind_since",
    "brand",
    "finding_line",
    "findings_block",
    "head",
    "headline",
    "names",
    "rekindled_worse",
]

NAME_CHARS = 120
_REASON_CHARS = 300
_YEAR_MINUTES = 366 * 1440


def _ratio(finding: Finding) -> float | None:
    if finding.expected is None or finding.expected <= 0:
        return None
    return finding.observed / finding.expected


def _strongest(found: Sequence[Finding]) -> Finding | None:
    # The brand-wide figure speaks for the brand; a single channel only when it is all we have.
    if not found:
        return None
    return min(found, key=lambda f: (f.channel != ALL_CHANNELS, -(_ratio(f) or f.observed)))


def headline(notice: Notice, data: Text) -> list[str]:
    """Short phrases, most telling first: 'mentions 11x usual', '78% negative'."""
    by_rule: dict[Rule, list[Finding]] = {}
    for finding in notice.findings:
        if not finding.blind:
            by_rule.setdefault(finding.rule, []).append(finding)

    def on(finding: Finding) -> str | None:
        if finding.channel == ALL_CHANNELS:
            return ""
        name = data(finding.channel)
        return f" on {name}" if name else None

    items: list[str] = []
    volume = _strongest(by_rule.get(Rule.VOLUME, []))
    static = _strongest(by_rule.get(Rule.STATIC, []))
    velocity = _strongest(by_rule.get(Rule.VELOCITY, []))
    negative = _strongest(by_rule.get(Rule.NEGATIVE_SHARE, []))
    if volume is not None and (where := on(volume)) is not None:
        ratio = _ratio(volume)
        items.append(
            f"mentions{where} {times(ratio)} usual"
            if ratio is not None
            else f"{count(volume.observed)} mentions{where}{within(volume.window_minutes)}"
        )
    elif static is not None and (where := on(static)) is not None:
        items.append(f"{count(static.observed)} mentions{where}{within(static.window_minutes)}")
    elif velocity is not None and (where := on(velocity)) is not None:
        ratio = _ratio(velocity)
        items.append(
            f"mentions{where} up {times(ratio)}{within(velocity.window_minutes)}"
            if ratio is not None
            else f"{count(velocity.observed)} mentions{where}{within(velocity.window_minutes)}"
        )
    if negative is not None and (where := on(negative)) is not None:
        items.append(f"{percent(negative.observed)} negative{where}")
    return items or ["unusual mention activity"]


def finding_line(finding: Finding) -> str:
    """What one finding saw, against what is usual: '1,240 mentions in 1 h, usually 112'."""
    observed, expected, minutes = finding.observed, finding.expected, finding.window_minutes
    ratio = _ratio(finding)
    factor = f" ({times(ratio)})" if ratio is not None else ""
    mentions = f"{count(observed)} mentions{within(minutes)}"
    match finding.rule:
        case Rule.VOLUME:
            usual = (
                f"usually {count(expected)}{factor}"
                if expected is not None
                else "no usual level yet"
            )
            return f"{mentions}, {usual}"
        case Rule.NEGATIVE_SHARE:
            level = f", alert at {percent(expected)}" if expected is not None else ""
            return f"{percent(observed)} negative{within(minutes)}{level}"
        case Rule.STATIC:
            return mentions + (f", threshold {count(expected)}" if expected is not None else "")
        case Rule.VELOCITY:
            span = duration(timedelta(minutes=minutes))
            return mentions + (
                f" after {count(expected)} in the {span} before{factor}"
                if expected is not None and minutes > 0
                else ""
            )
        case Rule.SILENT:
            usual = f" where about {count(expected)} are usual" if expected is not None else ""
            return f"no mentions{within(minutes)}{usual}"
        case Rule.FAILING:
            since = f", no successful poll for {duration(timedelta(minutes=minutes))}"
            return f"{count(observed)} polls in a row failed" + (since if minutes else "")
        case unworded:
            assert_never(unworded)


def findings_block(findings: Sequence[Finding]) -> list[str]:
    """The email's lines for the findings: rule and where, the numbers, the rule's reason."""
    lines = []
    for finding in findings:
        label = f"{finding.rule.capitalize()}, {clean(finding.where, 60)}"
        lines.append(f"  - {label}: {finding_line(finding)}")
        reason = clean(finding.reason, _REASON_CHARS)
        if reason:
            lines.append(f"    {reason}")
    return lines


def blind_channels(notice: Notice) -> list[str]:
    """The channels monitoring is blind on, as the email names them; never empty."""
    found = [f for f in notice.findings if f.blind] or list(notice.findings)
    channels: list[str] = []
    for finding in found:
        name = clean(finding.where, 60)
        if name and name not in channels:
            channels.append(name)
    return channels or ["a channel"]


def blind_since(notice: Notice) -> datetime:
    # A failing poller's window runs from its last success, a silent channel's from its
    # last mention: both go back further than the moment the alert was raised.
    windows = [f.window_minutes for f in notice.findings if f.blind and f.window_minutes > 0]
    if not windows:
        return notice.started_at
    # A window longer than a year is a fault upstream, not a reason to fail the message.
    earliest = notice.now - timedelta(minutes=min(max(windows), _YEAR_MINUTES))
    return min(earliest, notice.started_at)


def brand(notice: Notice, limit: int = NAME_CHARS) -> str:
    """The brand as the email names it: its name, else its id; never empty."""
    return clean(notice.brand_name, limit) or clean(notice.brand_id, limit) or "brand"


def names(people: Sequence[str]) -> str:
    """People as the email lists them: 'Jana Nováková, Łukasz Wójcik'."""
    return ", ".join(name for name in (clean(p, NAME_CHARS) for p in people) if name)


def head(tag: str, notice: Notice, mode: Mode, *, bracket: bool = False) -> Part:
    """Tag and brand: '[CRITICAL] Nordwind Air:'. It always fits, in the worst case as
    the tag alone, within the mode's `head_cap`."""
    label = f"[{tag}]" if bracket else tag
    alternatives: list[tuple[str, int]] = []
    brand_name = mode.data(notice.brand_name)
    if brand_name:
        for name in shortened(brand_name, mode.ellipsis, mode.head_cap):
            alternatives.append((f"{label} {name}:", 0 if name == brand_name else 1))
    brand_id = mode.data(notice.brand_id)
    if brand_id:
        alternatives.append((f"{label} {brand_id}:", 2))
    alternatives.append((f"{label} alert:", 3))
    return Part(alternatives, cap=mode.head_cap)


def rekindled_worse(notice: Notice) -> bool:
    """A rekindled alert worse than the episode's peak before it (a page, not an update)."""
    return notice.previous_severity is not None and notice.severity > notice.previous_severity
