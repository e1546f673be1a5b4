"""The email: a subject SNS accepts and a plain-text body that reads top down. Pure.

The subject is at most 100 UTF-16 units on one line (SNS refuses more), composed like an
SMS from parts that shorten whole words only. The body opens with what happened and what
it means, then the facts (since when, which alert), what to do (acknowledge; when critical,
the command that pauses every scheduled post, what it does, and the team's own note), and
last the numbers: the findings against the usual level, the channels involved and the top
negative mentions, each quoted as data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from stormwatch.warn.messages.compose import Mode, Part, compose, listed, phrases, ranked, shortened
from stormwatch.warn.messages.gsm7 import ucs2_length
from stormwatch.warn.messages.layout import (
    as_written,
    clean,
    clock,
    count,
    duration,
    excerpt,
    percent,
    stamp,
)
from stormwatch.warn.messages.notice import (
    SEVERITY_NAMES,
    ChannelCount,
    Notice,
    Resolution,
    TopMention,
)
from stormwatch.warn.messages.wording import (
    NAME_CHARS,
    blind_channels,
    blind_since,
    brand,
    findings_block,
    head,
    headline,
    names,
    rekindled_worse,
)
from stormwatch.warn.vocabulary import AlertEvent

__all__ = ["SUBJECT_LIMIT", "EmailMessage", "email", "read_again_email"]

SUBJECT_LIMIT = 100
"""SNS rejects longer email subjects. Counted in UTF-16 code units, which is never less
than the character count, so an emoji in a brand name cannot push it over."""
MAX_TOP_MENTIONS = 5
_AUTHOR_CHARS = 60

_SUBJECT = Mode(SUBJECT_LIMIT, ucs2_length, as_written, "…", head_cap=50)


@dataclass(frozen=True, slots=True)
class EmailMessage:
    subject: str
    body: str


def _subject(notice: Notice) -> str:
    mode, zone = _SUBJECT, notice.zone
    tag = {
        AlertEvent.ACKNOWLEDGED: "ACK",
        AlertEvent.RESOLVED: "RESOLVED",
        AlertEvent.BLIND: "OPS",
    }.get(notice.kind, notice.severity_name.upper())
    if notice.kind is AlertEvent.REKINDLED and not rekindled_worse(notice):
        tag = "REKINDLED"
    parts = [head(tag, notice, mode, bracket=True)]
    said = phrases(headline(notice, as_written))
    if notice.kind is AlertEvent.ACKNOWLEDGED:
        assert notice.acknowledged is not None
        what = f"{notice.severity_name} alert acknowledged"
        people = shortened(clean(notice.acknowledged.by), mode.ellipsis, mode.budget)
        options = [*(f"{what} by {n}" for n in people if n), what]
    elif notice.kind is AlertEvent.RESOLVED:
        assert notice.resolution is not None
        back = f"back to normal after {duration(notice.resolution.duration)}"
        options = [f"{back}, was {notice.severity_name}", back, "back to normal"]
    elif notice.kind is AlertEvent.BLIND:
        at = clock(blind_since(notice), zone, notice.now)
        channels = listed(blind_channels(notice))
        options = [
            *(f"monitoring blind on {n} since {at}" for n in channels),
            *(f"monitoring blind on {n}" for n in channels),
            "monitoring blind",
        ]
    elif notice.kind is AlertEvent.ESCALATED and notice.previous_severity is not None:
        up = f"up from {SEVERITY_NAMES[notice.previous_severity]}"
        options = [*(f"{up}, {p}" for p in said), up]
    elif notice.kind is AlertEvent.REMINDER:
        late = f"not acknowledged after {duration(notice.now - notice.started_at)}"
        options = [*(f"{late}, {p}" for p in said), late]
    elif notice.kind is AlertEvent.REKINDLED:
        again = "flared up again, worse" if rekindled_worse(notice) else "flared up again"
        options = [*(f"{again}, {p}" for p in said), again]
    else:
        options = said
    parts.append(Part(ranked(options), " "))
    return compose(parts, mode)[0]


_ACTIVE = (AlertEvent.STARTED, AlertEvent.ESCALATED, AlertEvent.REMINDER, AlertEvent.REKINDLED)

_OUTLOOK = {
    1: "Mention activity is above the usual level: keep an eye on it.",
    2: "A storm of mentions is building: please look now.",
    3: "A storm of mentions is under way: act now.",
}


def _opening(notice: Notice) -> list[str]:
    brand_name, zone = brand(notice), notice.zone
    severity = notice.severity_name
    said = ", ".join(headline(notice, as_written))
    if notice.kind is AlertEvent.BLIND:
        channels = ", ".join(blind_channels(notice))
        return [
            f"For ops: monitoring is blind on {channels} for {brand_name}.",
            f"Alerts for {channels} are unreliable until this is fixed: "
            "a rise in mentions there would go unnoticed.",
        ]
    if notice.kind is AlertEvent.RESOLVED:
        return [
            f"Back to normal: {brand_name}.",
            f"Mentions are back to the usual level; the {severity} alert is resolved.",
        ]
    if notice.kind is AlertEvent.ACKNOWLEDGED:
        assert notice.acknowledged is not None
        ack = notice.acknowledged
        after = duration(ack.at - notice.started_at)
        return [
            f"The {severity} alert for {brand_name} was acknowledged by "
            f"{clean(ack.by, NAME_CHARS) or 'someone'} at {clock(ack.at, zone, notice.now)}"
            f" ({after} after it started).",
            "Escalation stops here. The alert stays open until mentions are back to normal.",
            f"Now: {said}.",
        ]
    if notice.kind is AlertEvent.REKINDLED:
        return _rekindled(notice, brand_name, said)
    lines = [f"{severity.upper()} alert for {brand_name}: {said}.", _OUTLOOK[notice.severity]]
    if notice.kind is AlertEvent.ESCALATED and notice.previous_severity is not None:
        lines.append(
            f"Severity rose from {SEVERITY_NAMES[notice.previous_severity]} to {severity}."
        )
    if notice.kind is AlertEvent.REMINDER:
        lines.append(
            f"Still not acknowledged, {duration(notice.now - notice.started_at)} after it started."
        )
    if notice.escalation is not None and notice.kind in _ACTIVE:
        step = notice.escalation
        of = f" of {step.steps}" if step.steps else ""
        paging = names(step.paging)
        lines.append(
            f"Escalation step {step.step}{of}" + (f": now paging {paging}." if paging else ".")
        )
    return lines


def _rekindled(notice: Notice, brand_name: str, said: str) -> list[str]:
    """The storm that was back to normal flared up again within a day: the same alert."""
    since = stamp(notice.started_at, notice.zone)
    lines = [
        f"The storm for {brand_name} flared up again: {said}.",
        f"It is the same episode as the alert that started {since}, open again under "
        "the same id: a storm that comes back within a day of its last unusual "
        "activity is one episode.",
    ]
    peak = notice.previous_severity
    if rekindled_worse(notice):
        assert peak is not None
        lines.append(
            f"It is worse than before: {notice.severity_name} now, "
            f"{SEVERITY_NAMES[peak]} at its peak so far. On call is paged."
        )
        lines.append(_OUTLOOK[notice.severity])
    else:
        was = f" ({SEVERITY_NAMES[peak]})" if peak is not None else ""
        lines.append(
            f"Not worse than its peak so far{was}: nobody is paged. "
            "The alert resolves again once mentions are back to normal."
        )
    return lines


def _facts(notice: Notice) -> list[str]:
    zone, now = notice.zone, notice.now
    rows: list[tuple[str, str]] = []
    if notice.kind is AlertEvent.BLIND:
        since = blind_since(notice)
        rows.append(("Blind since", f"{stamp(since, zone)}, {duration(now - since)} ago"))
    elif notice.kind is AlertEvent.RESOLVED:
        assert notice.resolution is not None
        end = notice.started_at + notice.resolution.duration
        rows += [
            ("Lasted", f"{duration(notice.resolution.duration)}"),
            ("From", stamp(notice.started_at, zone)),
            ("To", stamp(end, zone)),
            ("Was", f"{notice.severity_name} ({notice.severity} of 3)"),
        ]
    else:
        ago = f"{duration(now - notice.started_at)} ago"
        rows += [
            ("Severity", f"{notice.severity_name} ({notice.severity} of 3)"),
            ("Since", f"{stamp(notice.started_at, zone)}, {ago}"),
        ]
        if notice.acknowledged is not None:
            ack = notice.acknowledged
            rows.append(("Acknowledged", f"{stamp(ack.at, zone)} by {clean(ack.by, NAME_CHARS)}"))
    brand_id = clean(notice.brand_id, NAME_CHARS)
    rows.append(("Brand", brand(notice) + (f" ({brand_id})" if brand_id else "")))
    rows.append(("Alert", clean(notice.alert_id, NAME_CHARS)))
    width = max(len(label) for label, _ in rows) + 2
    return [f"{label + ':':<{width}}{value}" for label, value in rows]


def _actions(notice: Notice) -> list[str]:
    blocks: list[str] = []
    link = clean(notice.console_link)
    if link and notice.kind in (*_ACTIVE, AlertEvent.ACKNOWLEDGED):
        blocks.append(
            "Open the alert in the console (acknowledge, pause; sign in first; the link "
            f"opens once and expires in a day):\n    {link}"
        )
    ack = clean(notice.ack_command)
    if ack and notice.kind in (*_ACTIVE, AlertEvent.BLIND):
        # Watch alerts and blind sources page nobody, so there is no escalation to stop.
        why = " (stops the escalation)" if notice.kind in _ACTIVE and notice.severity > 1 else ""
        blocks.append(f"Acknowledge{why}:\n    {ack}")
    if notice.severity == 3 and notice.kind in (*_ACTIVE, AlertEvent.ACKNOWLEDGED):
        blocks += _pause(notice)
    if notice.kind is AlertEvent.RESOLVED:
        blocks += _report(notice)
    return blocks


def _report(notice: Notice) -> list[str]:
    link, command = clean(notice.report_link), clean(notice.report_command)
    ways = [f"    {way}" for way in (link, command) if way]
    if not ways:
        return []
    return [
        "The crisis report (timeline, time to alert, to acknowledge and to statement; "
        "mentions before, during and after):\n" + "\n".join(ways)
    ]


def _pause(notice: Notice) -> list[str]:
    command, note = clean(notice.pause_command), clean(notice.pause_instructions)
    lines = []
    if command:
        lines += [
            f"Pause all scheduled posts now:\n    {command}",
            "It stops every scheduled post on every scheduler stormwatch is connected to.",
            "Nothing is deleted: each post is saved first, and `stormwatch resume` restores them.",
        ]
        if note:
            lines.append(f"Your team's note: {note}")
    elif note:
        lines.append(f"Pause all scheduled posts now:\n    {note}")
    return ["\n".join(lines)] if lines else []


def _resolution_block(resolution: Resolution, zone: ZoneInfo) -> str:
    bucket = (
        f"the {duration(timedelta(minutes=resolution.peak_bucket_minutes))} from"
        if resolution.peak_bucket_minutes
        else "the bucket starting"
    )
    before, during = resolution.before, resolution.during
    rows = [
        ("", "before", "during"),
        ("mentions", count(before.mentions), count(during.mentions)),
        ("negative", percent(before.negative_share), percent(during.negative_share)),
    ]
    table = [f"  {a:<10}{b:>10}{c:>10}".rstrip() for a, b, c in rows]
    return "\n".join(
        [
            f"Peak: {count(resolution.peak_count)} mentions in {bucket} "
            f"{stamp(resolution.peak_at, zone)}",
            "",
            "Totals",
            *table,
        ]
    )


def _channels_block(channels: Sequence[ChannelCount]) -> str:
    ordered = sorted(channels, key=lambda c: -c.mentions)
    rows = [(clean(c.channel, 40) or "?", count(c.mentions)) for c in ordered]
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join(
        ["Channels involved (mentions in the window)"]
        + [f"  {name:<{width}}{count:>8}" for name, count in rows]
    )


def _mentions_block(mentions: Sequence[TopMention]) -> str:
    lines = ["Top negative mentions"]
    for number, mention in enumerate(mentions[:MAX_TOP_MENTIONS], start=1):
        source = [clean(mention.channel, 40), clean(mention.author, _AUTHOR_CHARS)]
        if mention.reach:
            source.append(f"reach {count(mention.reach)}")
        lines.append(f"  {number}. " + ", ".join(s for s in source if s))
        lines.append(f'     "{excerpt(mention.text)}"')
        url = clean(mention.url).replace(" ", "%20")
        if url:
            lines.append(f"     {url}")
    return "\n".join(lines)


def _body(notice: Notice) -> str:
    sections = ["\n".join(_opening(notice)), "\n".join(_facts(notice)), *_actions(notice)]
    if notice.kind is AlertEvent.RESOLVED:
        assert notice.resolution is not None
        sections.append(_resolution_block(notice.resolution, notice.zone))
    elif notice.kind is AlertEvent.BLIND:
        if notice.findings:
            sections.append("\n".join(["What was seen", *findings_block(notice.findings)]))
    else:
        if notice.findings:
            found = findings_block(notice.findings)
            sections.append("\n".join(["Numbers against the usual level", *found]))
        if notice.channels:
            sections.append(_channels_block(notice.channels))
        if notice.top_negative:
            sections.append(_mentions_block(notice.top_negative))
    return "\n\n".join(sections) + "\n"


def email(notice: Notice) -> EmailMessage:
    """Subject (at most 100 UTF-16 units, one line) and plain-text body."""
    return EmailMessage(subject=_subject(notice), body=_body(notice))


def read_again_email(channel: str, reason: str) -> EmailMessage:
    """For ops: a channel on which monitoring was blind is read again."""
    name = clean(channel, NAME_CHARS)
    return EmailMessage(
        subject=f"[OPS] stormwatch: {name} is read again"[:SUBJECT_LIMIT],
        body=(
            f"For ops: mentions on {name} are read again, so alerts for {name} are "
            f"reliable again.\n\n{clean(reason)}\n"
        ),
    )
