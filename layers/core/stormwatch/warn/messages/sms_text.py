"""The SMS: the essentials of an alert in one segment, whole words only. Pure.

The SMS is built from parts, most important first, one per line (`compose`): the tag and
brand, the headline, since when, the commands, who is paged, where. It is built twice:
with names transliterated to GSM-7 (``ł`` -> ``l``, emoji dropped: 160 septets of room)
and as UCS-2 with the names as written (70 units). The GSM-7 text wins unless the UCS-2
one keeps something more important: a name with no Latin transliteration (CJK, Cyrillic)
keeps its script in UCS-2 instead of being replaced by the brand id.
"""

from __future__ import annotations

from stormwatch.warn.messages.compose import (
    Mode,
    Part,
    capitalised,
    compose,
    listed,
    phrases,
    ranked,
    shortened,
)
from stormwatch.warn.messages.gsm7 import (
    SMS_GSM7_LIMIT,
    SMS_UCS2_LIMIT,
    gsm7_length,
    to_gsm7,
    ucs2_length,
)
from stormwatch.warn.messages.layout import as_written, clean, clock, count, duration, percent
from stormwatch.warn.messages.notice import SEVERITY_NAMES, Notice
from stormwatch.warn.messages.wording import (
    blind_channels,
    blind_since,
    finding_line,
    head,
    headline,
)
from stormwatch.warn.vocabulary import AlertEvent

__all__ = ["sms"]


def _transliterated(text: str) -> str | None:
    cleaned = clean(text)
    return (to_gsm7(cleaned) or None) if cleaned else None


_GSM7 = Mode(SMS_GSM7_LIMIT, gsm7_length, _transliterated, "...", head_cap=53)
_UCS2 = Mode(SMS_UCS2_LIMIT, ucs2_length, as_written, "…", head_cap=28)

_LATE = 50  # priority of a part that yields to every part after it
_COMMAND = -1  # priority of a critical SMS's commands: the room before all else


def _sms_tag(notice: Notice) -> str:
    return {
        AlertEvent.ACKNOWLEDGED: "ACKED",
        AlertEvent.RESOLVED: "RESOLVED",
        AlertEvent.BLIND: "OPS",
    }.get(notice.kind, notice.severity_name.upper())


def _sms_parts(notice: Notice, mode: Mode) -> list[Part]:
    """The SMS's parts, most important first; each on its own line unless joined by " "."""
    tag_and_brand = head(_sms_tag(notice), notice, mode)
    if notice.kind is AlertEvent.RESOLVED:
        return [tag_and_brand, *_sms_resolved(notice, mode)]
    if notice.kind is AlertEvent.BLIND:
        return [tag_and_brand, *_sms_blind(notice, mode), *_sms_ack(notice, mode)]
    said = headline(notice, mode.data)
    data = mode.data
    channels = [
        f"{name} {count(c.mentions)}"
        for c in sorted(notice.channels, key=lambda c: -c.mentions)
        if (name := data(c.channel))
    ]
    where = [Part(ranked(f"On {text}" for text in listed(channels)))]
    if notice.kind is AlertEvent.ACKNOWLEDGED:
        return [
            tag_and_brand,
            _sms_acked_by(notice, mode),
            Part(ranked(capitalised(p) for p in phrases(said))),
            *_sms_pause(notice, mode),
            *where,
        ]
    return [
        tag_and_brand,
        Part(ranked(phrases(said)), " "),
        *_sms_status(notice, mode),
        *_sms_actions(notice, mode),
        *_sms_paging(notice, mode),
        *where,
    ]


def _command_priority(notice: Notice) -> int | None:
    # In a critical alert, what to do now gets the room first (the tag and brand fit in
    # what is left, as the tag alone at worst); the headline, when it began and where
    # yield to it. It also ranks first when the GSM-7 and UCS-2 texts are compared: a
    # brand name kept in its own script is worth less than a command.
    return _COMMAND if notice.severity == 3 else None


def _sms_actions(notice: Notice, mode: Mode) -> list[Part]:
    """The console's link when there is one: one tap to the page whose buttons acknowledge
    and pause, so it takes the commands' room (the ack command yields to everything, the
    pause command stays in the email); else the commands."""
    link = mode.data(notice.console_link)
    # A cut link opens nothing: whole or not at all.
    if not link or any(c.isspace() for c in link):
        return [*_sms_ack(notice, mode), *_sms_pause(notice, mode)]
    ack = [Part(part.alternatives, priority=_LATE) for part in _sms_ack(notice, mode)]
    return [Part(ranked([f"Open: {link}", link]), priority=_command_priority(notice)), *ack]


def _sms_ack(notice: Notice, mode: Mode) -> list[Part]:
    ack = mode.data(notice.ack_command)
    return [Part([(f"Ack: {ack}", 0)] if ack else [], priority=_command_priority(notice))]


def _sms_pause(notice: Notice, mode: Mode) -> list[Part]:
    if notice.severity < 3:
        return []
    command = mode.data(notice.pause_command)
    note = mode.data(notice.pause_instructions)
    # The command whole or not at all: a cut one would pause nothing, or the wrong alert.
    if command:
        wordings = [f"Pause posts: {command}", command, "Pause posts now: see email"]
    elif note:
        wordings = [f"Pause posts: {note}", "Pause posts now: see email"]
    else:
        return []
    return [Part(ranked(wordings), priority=_command_priority(notice))]


def _sms_status(notice: Notice, mode: Mode) -> list[Part]:
    since = Part([(f"Since {clock(notice.started_at, notice.zone, notice.now)}", 0)])
    if notice.kind is AlertEvent.ESCALATED and notice.previous_severity is not None:
        # What to do now matters more than when it began: the start time yields to the
        # commands, and the alert id carries the start date and time anyway.
        up = Part([(f"Up from {SEVERITY_NAMES[notice.previous_severity]}", 0)])
        return [up, Part(since.alternatives, priority=_LATE)]
    if notice.kind is AlertEvent.REKINDLED:
        # Only a rekindle worse than the episode's peak pages anyone.
        was = notice.previous_severity
        back = f"Back, worse than {SEVERITY_NAMES[was]}" if was is not None else "Back again"
        return [Part(ranked([back, "Back again"])), since]
    if notice.kind is AlertEvent.REMINDER:
        late = f"Not acked after {duration(notice.now - notice.started_at)}"
        step = f", step {notice.escalation.step}" if notice.escalation else ""
        return [Part(ranked([late + step, late]))]
    return [since]


def _sms_paging(notice: Notice, mode: Mode) -> list[Part]:
    if notice.kind is not AlertEvent.REMINDER or notice.escalation is None:
        return []
    paging = [p for p in (mode.data(p) for p in notice.escalation.paging) if p]
    return [Part(ranked(f"Paging {who}" for who in listed(paging)))]


def _sms_acked_by(notice: Notice, mode: Mode) -> Part:
    assert notice.acknowledged is not None
    at = clock(notice.acknowledged.at, notice.zone, notice.now)
    who = mode.data(notice.acknowledged.by)
    names = shortened(who, mode.ellipsis, mode.budget) if who else []
    what = f"{notice.severity_name} alert acked"
    return Part(ranked([*(f"{what} by {n} at {at}" for n in names), f"{what} at {at}"]), " ")


def _sms_resolved(notice: Notice, mode: Mode) -> list[Part]:
    assert notice.resolution is not None
    done, zone = notice.resolution, notice.zone
    peak_at = clock(done.peak_at, zone, notice.now)
    during = (
        f"During {count(done.during.mentions)} mentions, "
        f"{percent(done.during.negative_share)} negative"
    )
    before = f"before {count(done.before.mentions)}, {percent(done.before.negative_share)}"
    since = clock(notice.started_at, zone, notice.now)
    return [
        Part([(f"back to normal after {duration(done.duration)}", 0)], " "),
        Part([(f"Peak {count(done.peak_count)} mentions at {peak_at}", 0)]),
        Part(ranked([f"{during}; {before}", during])),
        Part([(f"Was {notice.severity_name}, since {since}", 0)]),
    ]


def _sms_blind(notice: Notice, mode: Mode) -> list[Part]:
    names = listed([n for n in (mode.data(c) for c in blind_channels(notice)) if n])
    since = clock(blind_since(notice), notice.zone, notice.now)
    parts = [
        Part(
            ranked(
                [
                    *(f"monitoring blind on {n} since {since}" for n in names),
                    f"monitoring blind since {since}",
                ]
            ),
            " ",
        ),
        Part(
            ranked(
                [*(f"Alerts for {n} unreliable until fixed" for n in names), "Alerts unreliable"]
            )
        ),
    ]
    detail = [
        f"{channel}: {finding_line(finding)}"
        for finding in notice.findings
        if finding.blind and (channel := mode.data(finding.where))
    ]
    # The detail reads before the ack command but yields to it.
    parts.append(Part(ranked(detail[:1]), priority=_LATE))
    return parts


def sms(notice: Notice) -> str:
    """The essentials in one SMS segment, whole words only."""
    gsm7 = compose(_sms_parts(notice, _GSM7), _GSM7)
    ucs2 = compose(_sms_parts(notice, _UCS2), _UCS2)
    # Lower quality numbers are better; on a tie GSM-7 has more than twice the room.
    return gsm7[0] if gsm7[1] <= ucs2[1] else ucs2[0]
