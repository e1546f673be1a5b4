"""How values read in a message: outside text cleaned and capped, numbers, durations and
clock times. Pure; knows nothing of alerts.

Text from outside (names, mention text, channels, commands) is data: it becomes one clean
line - no control or bidi characters that could forge a line or reverse what follows - and
is inserted as a value, never used as a format string. Times are written without the
locale (a Lambda's locale is not the reader's) in the configured zone, with the zone's
abbreviation, or its offset where the zone has none.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from stormwatch.text import clean_text

__all__ = [
    "EXCERPT_CHARS",
    "as_written",
    "clean",
    "clock",
    "count",
    "duration",
    "excerpt",
    "percent",
    "stamp",
    "times",
    "within",
]

EXCERPT_CHARS = 200

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clean(text: str, limit: int = 4000) -> str:
    """One line of plain text: no control or bidi characters, single spaces."""
    return _cap(clean_text(text, limit=1_000_000), limit)


def _cap(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` characters, cut at a word boundary.

    Text without a space in the second half of the window (CJK, a huge URL) is cut at a
    character boundary that keeps combining marks and emoji sequences whole.
    """
    if len(text) <= limit:
        return text
    room = limit - len(ellipsis)
    space = text.rfind(" ", 0, room + 1)
    if space >= room // 2:
        return text[:space].rstrip(" ,;:-") + ellipsis
    cut = room
    while cut > 0 and (
        unicodedata.combining(text[cut])
        or unicodedata.category(text[cut]) in {"Mn", "Me", "Sk"}
        or text[cut] in "\u200d\ufe0f"
        or text[cut - 1] == "\u200d"
    ):
        cut -= 1
    return text[:cut] + ellipsis


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A mention's text for a message: one clean line, at most `limit` characters."""
    return clean(text, limit)


def as_written(text: str) -> str | None:
    """Data as it enters a message that takes any script: cleaned; None when nothing is left."""
    return clean(text) or None


def count(value: float) -> str:
    return f"{round(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def percent(share: float) -> str:
    return f"{share:.0%}"


def times(ratio: float) -> str:
    if ratio >= 10:
        return f"{ratio:,.0f}x"
    return f"{ratio:.1f}".removesuffix(".0") + "x"


def duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "under 1 min"
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def within(minutes: int) -> str:
    """' in 15 min' after a count; nothing when the window is unknown (0)."""
    return f" in {duration(timedelta(minutes=minutes))}" if minutes > 0 else ""


def _zone_label(local: datetime) -> str:
    name = local.tzname()
    if not name or name[0] in "+-":
        offset = local.utcoffset() or timedelta()
        sign = "-" if offset < timedelta() else "+"
        hours, seconds = divmod(abs(int(offset.total_seconds())), 3600)
        return f"UTC{sign}{hours:02d}:{seconds // 60:02d}" if offset else "UTC"
    return name


def clock(moment: datetime, zone: ZoneInfo, reference: datetime | None = None) -> str:
    """'04:05 CET', with the weekday when it is not the reference's local day."""
    local = moment.astimezone(zone)
    text = f"{local:%H:%M} {_zone_label(local)}"
    if reference is not None and reference.astimezone(zone).date() != local.date():
        text = f"{_DAYS[local.weekday()]} {text}"
    return text


def stamp(moment: datetime, zone: ZoneInfo) -> str:
    """'Sun 22 Nov 2026, 04:05 CET (03:05 UTC)': locale-independent, UTC for other teams."""
    local = moment.astimezone(zone)
    text = (
        f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}, "
        f"{local:%H:%M} {_zone_label(local)}"
    )
    if local.utcoffset():
        text += f" ({moment.astimezone(ZoneInfo('UTC')):%H:%M} UTC)"
    return text
