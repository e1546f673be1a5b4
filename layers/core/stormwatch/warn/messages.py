"""What an alert says: the email (subject and plain-text body) and the one-segment SMS. Pure.

The alert lifecycle fills a `Notice`; `email` and `sms` turn it into the texts SNS sends.

Everything that comes from outside (brand and people's names, mention text, channel names,
commands) is data: it is cleaned of control characters and inserted as a value, never used
as a format string, so ``{brand}`` in a mention stays ``{brand}``.

SMS rules (one segment, never cut mid-word):
- A text in the GSM 03.38 alphabet gets 160 septets (escape-table characters count 2);
  anything else goes as UCS-2 and gets 70 UTF-16 code units (emoji count 2).
- The SMS is built from parts, most important first, one per line; a part goes in only if
  it fits whole, and a part may offer shorter wordings (fewer names, the brand cut at a
  word boundary with an ellipsis), tried in order.
- It is built twice: with names transliterated to GSM-7 (``ł`` -> ``l``, ``ó`` -> ``o``,
  typographic quotes and dashes to ASCII, emoji and other symbols dropped) and as UCS-2
  with the names as written. The GSM-7 text wins unless the UCS-2 one keeps something more
  important: a name with no Latin transliteration (CJK, Cyrillic) keeps its script in
  UCS-2 instead of being replaced by the brand id. Letters GSM-7 has (Ä, ö, ñ, é, ß, Ø)
  are never transliterated.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stormwatch.text import clean_text

__all__ = [
    "EXCERPT_CHARS",
    "SUBJECT_LIMIT",
    "Acknowledgement",
    "ChannelCount",
    "EmailMessage",
    "Escalation",
    "Evidence",
    "Kind",
    "Notice",
    "Resolution",
    "TopMention",
    "Totals",
    "email",
    "excerpt",
    "gsm7_length",
    "sms",
    "sms_segments",
    "to_gsm7",
    "ucs2_length",
]

SUBJECT_LIMIT = 100
"""SNS rejects longer email subjects. Counted in UTF-16 code units, which is never less
than the character count, so an emoji in a brand name cannot push it over."""
SMS_GSM7_LIMIT = 160
SMS_UCS2_LIMIT = 70
_GSM7_PART = 153  # a concatenated SMS loses 7 septets (6 bytes of header) per segment
_UCS2_PART = 67
MAX_TOP_MENTIONS = 5
EXCERPT_CHARS = 200
_AUTHOR_CHARS = 60
_NAME_CHARS = 120
_REASON_CHARS = 300
_YEAR_MINUTES = 366 * 1440

SEVERITY_NAMES = {1: "watch", 2: "warning", 3: "critical"}
ALL_CHANNELS = "ALL"  # the model's name for "the brand across every channel"

# Rule names as the detectors write them; unknown rules are shown through their reason.
_VOLUME = "volume"
_NEGATIVE_SHARE = "negative share"
_STATIC = "static threshold"
_VELOCITY = "velocity"
_SILENCE = frozenset({"silence", "silent source"})
_FAILING = "failing poller"


class Kind(enum.StrEnum):
    STARTED = "started"
    ESCALATED = "escalated"
    """Severity rose."""
    REMINDER = "reminder"
    """An escalation step: still unacknowledged."""
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    BLIND = "blind"
    """Monitoring is blind (a channel silent or its poller failing): for ops, not a crisis."""


def _finite(value: float, what: str) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")


def _aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), not naive: {value!r}")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One finding behind the alert, as the detectors report it."""

    rule: str
    """volume, negative share, static threshold, velocity, silence / failing poller."""
    channel: str
    """A channel name, or ALL / "all channels"."""
    observed: float
    """Mentions in the window; for negative share the share as a fraction (0.78)."""
    expected: float | None
    """The usual level, the threshold or the alert level; None when there is none."""
    window_minutes: int
    reason: str = ""

    def __post_init__(self) -> None:
        _finite(self.observed, "evidence.observed")
        if self.expected is not None:
            _finite(self.expected, "evidence.expected")
        if self.window_minutes < 0:
            raise ValueError(f"evidence.window_minutes must be >= 0, not {self.window_minutes}")


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
    kind: Kind
    severity: int
    """1 watch, 2 warning, 3 critical; for RESOLVED the highest it reached."""
    started_at: datetime
    now: datetime
    time_zone: str
    """A zoneinfo name (Europe/Berlin): every time is shown in it."""
    evidence: Sequence[Evidence] = ()
    channels: Sequence[ChannelCount] = ()
    top_negative: Sequence[TopMention] = ()
    """Most important first; only the first five are shown."""
    ack_command: str = ""
    previous_severity: int | None = None
    """For ESCALATED: the severity it rose from."""
    escalation: Escalation | None = None
    acknowledged: Acknowledgement | None = None
    resolution: Resolution | None = None
    pause_instructions: str = ""
    """How to pause every scheduled post now (config `alerts.pause_instructions`): critical
    alerts carry it; empty leaves it out."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))
        for name in ("evidence", "channels", "top_negative"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
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
        if self.kind is Kind.RESOLVED and self.resolution is None:
            raise ValueError("a RESOLVED notice needs its resolution (duration, peak, totals)")
        if self.kind is Kind.ACKNOWLEDGED and self.acknowledged is None:
            raise ValueError("an ACKNOWLEDGED notice needs who acknowledged and when")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def severity_name(self) -> str:
        return SEVERITY_NAMES[self.severity]


@dataclass(frozen=True, slots=True)
class EmailMessage:
    subject: str
    body: str


# --- GSM 03.38 ----------------------------------------------------------------------------

# The basic table without ESC (0x1B), which only introduces the extension table.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

# Letters NFKD does not take apart, and punctuation with a plain equivalent.
_TO_GSM7 = {
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H", "ı": "i", "ŧ": "t", "Ŧ": "T",
    "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D", "ẞ": "SS", "ĸ": "k",
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "″": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
    "…": "...", "•": "-", "·": "-", "×": "x", "≤": "<=", "≥": ">=", "\u00a0": " ",
}  # fmt: skip
# Emoji, pictographs, their modifiers and joiners decorate a name; they do not identify it.
_DECORATION = frozenset({"So", "Sk", "Mn", "Me", "Cf"})
_SPACES = re.compile(r" {2,}")


def gsm7_length(text: str) -> int | None:
    """Septets `text` takes in GSM-7 (escape-table characters count 2); None if it cannot."""
    length = 0
    for char in text:
        if char in _GSM7_BASIC:
            length += 1
        elif char in _GSM7_EXTENDED:
            length += 2
        else:
            return None
    return length


def ucs2_length(text: str) -> int:
    """UTF-16 code units: what UCS-2 SMS and SNS's subject limit count (emoji are 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _packed(weights: Iterable[int], size: int) -> int:
    # A segment never splits an escape pair or a surrogate pair.
    segments, used = 1, 0
    for weight in weights:
        if used + weight > size:
            segments, used = segments + 1, 0
        used += weight
    return segments


def sms_segments(text: str) -> int:
    """How many SMS segments `text` takes (an empty text still takes one)."""
    septets = gsm7_length(text)
    if septets is not None:
        if septets <= SMS_GSM7_LIMIT:
            return 1
        return _packed((1 if c in _GSM7_BASIC else 2 for c in text), _GSM7_PART)
    units = [2 if ord(c) > 0xFFFF else 1 for c in text]
    if sum(units) <= SMS_UCS2_LIMIT:
        return 1
    return _packed(units, _UCS2_PART)


def to_gsm7(text: str) -> str | None:
    """`text` in the GSM-7 alphabet, transliterated, or None when a letter has no
    transliteration (CJK, Cyrillic, Arabic...): such names stay as written, in UCS-2.

    Characters GSM-7 has are kept as they are; diacritics it lacks are dropped (ó -> o,
    ł -> l); emoji and other symbols are dropped.
    """
    if gsm7_length(text) is not None:
        return text
    out: list[str] = []
    for char in text:
        if char in _GSM7_BASIC or char in _GSM7_EXTENDED:
            out.append(char)
        elif char in _TO_GSM7:
            out.append(_TO_GSM7[char])
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            # Spacing accents (¯, ¨) decompose to a space and a mark: no letter to keep,
            # and a space would split the word they sit in.
            if base.strip() and " " not in base and gsm7_length(base) is not None:
                out.append(base)
            elif unicodedata.category(char) not in _DECORATION:
                return None
    return _SPACES.sub(" ", "".join(out)).strip(" ")


# --- text helpers -------------------------------------------------------------------------


def _clean(text: str, limit: int = 4000) -> str:
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
    return _clean(text, limit)


def _count(value: float) -> str:
    return f"{round(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def _pct(share: float) -> str:
    return f"{share:.0%}"


def _times(ratio: float) -> str:
    if ratio >= 10:
        return f"{ratio:,.0f}x"
    return f"{ratio:.1f}".removesuffix(".0") + "x"


def _duration(span: timedelta) -> str:
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


def _window(minutes: int) -> str:
    return f" in {_duration(timedelta(minutes=minutes))}" if minutes > 0 else ""


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _zone_label(local: datetime) -> str:
    name = local.tzname()
    if not name or name[0] in "+-":
        offset = local.utcoffset() or timedelta()
        sign = "-" if offset < timedelta() else "+"
        hours, seconds = divmod(abs(int(offset.total_seconds())), 3600)
        return f"UTC{sign}{hours:02d}:{seconds // 60:02d}" if offset else "UTC"
    return name


def _clock(moment: datetime, zone: ZoneInfo, reference: datetime | None = None) -> str:
    """'04:05 CET', with the weekday when it is not the reference's local day."""
    local = moment.astimezone(zone)
    text = f"{local:%H:%M} {_zone_label(local)}"
    if reference is not None and reference.astimezone(zone).date() != local.date():
        text = f"{_DAYS[local.weekday()]} {text}"
    return text


def _stamp(moment: datetime, zone: ZoneInfo) -> str:
    """'Sun 22 Nov 2026, 04:05 CET (03:05 UTC)': locale-independent, UTC for other teams."""
    local = moment.astimezone(zone)
    text = (
        f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}, "
        f"{local:%H:%M} {_zone_label(local)}"
    )
    if local.utcoffset():
        text += f" ({moment.astimezone(ZoneInfo('UTC')):%H:%M} UTC)"
    return text


def _where(channel: str) -> str:
    return "all channels" if channel in (ALL_CHANNELS, "all channels", "") else channel


def _rule(evidence: Evidence) -> str:
    return evidence.rule.strip().lower().replace("_", " ").replace("-", " ")


def _is_blind(evidence: Evidence) -> bool:
    return _rule(evidence) in _SILENCE or _rule(evidence) == _FAILING


def _ratio(evidence: Evidence) -> float | None:
    if evidence.expected is None or evidence.expected <= 0:
        return None
    return evidence.observed / evidence.expected


def _strongest(found: Sequence[Evidence]) -> Evidence | None:
    # The brand-wide figure speaks for the brand; a single channel only when it is all we have.
    if not found:
        return None
    return min(
        found,
        key=lambda e: (_where(e.channel) != "all channels", -(_ratio(e) or e.observed)),
    )


# --- what the numbers say -----------------------------------------------------------------

_Text = Callable[[str], str | None]
"""How data enters a message: cleaned, maybe transliterated; None when it cannot."""


def _headline(notice: Notice, data: _Text) -> list[str]:
    """Short phrases, most telling first: 'mentions 11x usual', '78% negative'."""
    by_rule: dict[str, list[Evidence]] = {}
    for evidence in notice.evidence:
        if not _is_blind(evidence):
            by_rule.setdefault(_rule(evidence), []).append(evidence)

    def on(evidence: Evidence) -> str | None:
        where = _where(evidence.channel)
        if where == "all channels":
            return ""
        name = data(where)
        return f" on {name}" if name else None

    items: list[str] = []
    volume = _strongest(by_rule.get(_VOLUME, []))
    static = _strongest(by_rule.get(_STATIC, []))
    velocity = _strongest(by_rule.get(_VELOCITY, []))
    negative = _strongest(by_rule.get(_NEGATIVE_SHARE, []))
    if volume is not None and (where := on(volume)) is not None:
        ratio = _ratio(volume)
        items.append(
            f"mentions{where} {_times(ratio)} usual"
            if ratio is not None
            else f"{_count(volume.observed)} mentions{where}{_window(volume.window_minutes)}"
        )
    elif static is not None and (where := on(static)) is not None:
        items.append(f"{_count(static.observed)} mentions{where}{_window(static.window_minutes)}")
    elif velocity is not None and (where := on(velocity)) is not None:
        ratio = _ratio(velocity)
        items.append(
            f"mentions{where} up {_times(ratio)}{_window(velocity.window_minutes)}"
            if ratio is not None
            else f"{_count(velocity.observed)} mentions{where}{_window(velocity.window_minutes)}"
        )
    if negative is not None and (where := on(negative)) is not None:
        items.append(f"{_pct(negative.observed)} negative{where}")
    return items or ["unusual mention activity"]


def _evidence_line(evidence: Evidence) -> str:
    rule = _rule(evidence)
    observed, expected, minutes = evidence.observed, evidence.expected, evidence.window_minutes
    ratio = _ratio(evidence)
    times = f" ({_times(ratio)})" if ratio is not None else ""
    mentions = f"{_count(observed)} mentions{_window(minutes)}"
    if rule == _VOLUME:
        usual = (
            f"usually {_count(expected)}{times}" if expected is not None else "no usual level yet"
        )
        line = f"{mentions}, {usual}"
    elif rule == _NEGATIVE_SHARE:
        level = f", alert at {_pct(expected)}" if expected is not None else ""
        line = f"{_pct(observed)} negative{_window(minutes)}{level}"
    elif rule == _STATIC:
        line = mentions + (f", threshold {_count(expected)}" if expected is not None else "")
    elif rule == _VELOCITY:
        span = _duration(timedelta(minutes=minutes))
        line = mentions + (
            f" after {_count(expected)} in the {span} before{times}"
            if expected is not None and minutes > 0
            else ""
        )
    elif rule in _SILENCE:
        usual = f" where about {_count(expected)} are usual" if expected is not None else ""
        line = f"no mentions{_window(minutes)}{usual}"
    elif rule == _FAILING:
        since = f", no successful poll for {_duration(timedelta(minutes=minutes))}"
        line = f"{_count(observed)} polls in a row failed" + (since if minutes else "")
    else:
        usual = f" (expected {_count(expected)})" if expected is not None else ""
        line = f"{_count(observed)}{usual}{_window(minutes)}"
    return line


def _evidence_block(evidence: Sequence[Evidence]) -> list[str]:
    lines = []
    for item in evidence:
        label = _clean(item.rule, 40).capitalize() or "Finding"
        lines.append(f"  - {label}, {_clean(_where(item.channel), 60)}: {_evidence_line(item)}")
        reason = _clean(item.reason, _REASON_CHARS)
        if reason:
            lines.append(f"    {reason}")
    return lines


def _blind_channels(notice: Notice) -> list[str]:
    found = [e for e in notice.evidence if _is_blind(e)] or list(notice.evidence)
    names: list[str] = []
    for item in found:
        name = _clean(_where(item.channel), 60)
        if name and name not in names:
            names.append(name)
    return names or ["a channel"]


def _blind_since(notice: Notice) -> datetime:
    # A failing poller's window runs from its last success, a silent channel's from its
    # last mention: both go back further than the moment the alert was raised.
    windows = [e.window_minutes for e in notice.evidence if _is_blind(e) and e.window_minutes > 0]
    if not windows:
        return notice.started_at
    # A window longer than a year is a fault upstream, not a reason to fail the message.
    earliest = notice.now - timedelta(minutes=min(max(windows), _YEAR_MINUTES))
    return min(earliest, notice.started_at)


def _brand(notice: Notice, limit: int = _NAME_CHARS) -> str:
    return _clean(notice.brand_name, limit) or _clean(notice.brand_id, limit) or "brand"


def _names(people: Sequence[str]) -> str:
    return ", ".join(name for name in (_clean(p, _NAME_CHARS) for p in people) if name)


# --- composing length-limited texts -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Mode:
    budget: int
    measure: Callable[[str], int | None]
    data: _Text
    ellipsis: str
    head_cap: int
    """Most units the tag and brand may take, so that the essentials still follow."""


def _as_written(text: str) -> str | None:
    return _clean(text) or None


def _transliterated(text: str) -> str | None:
    cleaned = _clean(text)
    return (to_gsm7(cleaned) or None) if cleaned else None


_GSM7 = _Mode(SMS_GSM7_LIMIT, gsm7_length, _transliterated, "...", head_cap=53)
_UCS2 = _Mode(SMS_UCS2_LIMIT, ucs2_length, _as_written, "…", head_cap=28)
_SUBJECT = _Mode(SUBJECT_LIMIT, ucs2_length, _as_written, "…", head_cap=50)

_MISSING = 99  # quality of a part left out
_LATE = 50  # priority of a part that yields to every part after it
_COMMAND = 1  # priority of a critical SMS's commands: the room right after the headline


@dataclass(frozen=True, slots=True)
class _Part:
    alternatives: Sequence[tuple[str, int]]
    """(text, quality): the first that fits is taken; lower quality numbers are better."""
    joiner: str = "\n"
    """Put before the part unless it comes first; " " keeps it on the line before."""
    cap: int | None = None
    """At most this many units for this part alone."""
    priority: int | None = None
    """Parts are offered the room in this order (lower first; by default their position),
    and shown in their position: a detail may read before a command yet yield to it."""


def _render(parts: Sequence[_Part], chosen: dict[int, str]) -> str:
    pieces: list[str] = []
    for index in sorted(chosen):
        pieces.append(parts[index].joiner + chosen[index] if pieces else chosen[index])
    return "".join(pieces)


def _compose(parts: Sequence[_Part], mode: _Mode) -> tuple[str, tuple[int, ...]]:
    """The text of the parts that fit, and its quality: per part, most important first, the
    quality of the wording taken (_MISSING when left out). Lower tuples are better texts."""

    def rank(i: int) -> tuple[int, int]:
        priority = parts[i].priority
        return (i if priority is None else priority, i)

    order = sorted(range(len(parts)), key=rank)
    chosen: dict[int, str] = {}
    qualities = []
    for index in order:
        part, quality_taken = parts[index], _MISSING
        for alternative, quality in part.alternatives:
            size = mode.measure(alternative)
            if size is None or (part.cap is not None and size > part.cap):
                continue
            total = mode.measure(_render(parts, {**chosen, index: alternative}))
            if total is not None and total <= mode.budget:
                chosen[index], quality_taken = alternative, quality
                break
        qualities.append(quality_taken)
    return _render(parts, chosen), tuple(qualities)


def _shortened(name: str, ellipsis: str, longest: int) -> list[str]:
    """`name`, then ever fewer of its words followed by an ellipsis, each at most `longest`
    characters: never part of a word."""
    options = [name] if len(name) <= longest else []
    words = name.split(" ")
    prefix_lengths = [0]
    for word in words:
        prefix_lengths.append(prefix_lengths[-1] + len(word) + 1)
    for keep in range(len(words) - 1, 0, -1):
        if prefix_lengths[keep] - 1 + len(ellipsis) > longest:
            continue
        head = " ".join(words[:keep]).rstrip(" ,;:-&/+")
        if head:
            options.append(head + ellipsis)
    return options


def _head(tag: str, notice: Notice, mode: _Mode, *, bracket: bool = False) -> _Part:
    """Tag and brand: '[CRITICAL] Nordwind Air:'. It always fits, in the worst case as
    the tag alone, within the mode's `head_cap`."""
    label = f"[{tag}]" if bracket else tag
    alternatives: list[tuple[str, int]] = []
    brand = mode.data(notice.brand_name)
    if brand:
        for name in _shortened(brand, mode.ellipsis, mode.head_cap):
            alternatives.append((f"{label} {name}:", 0 if name == brand else 1))
    brand_id = mode.data(notice.brand_id)
    if brand_id:
        alternatives.append((f"{label} {brand_id}:", 2))
    alternatives.append((f"{label} alert:", 3))
    return _Part(alternatives, cap=mode.head_cap)


def _listed(items: Sequence[str], *, separator: str = ", ") -> list[str]:
    """All items, then fewer with '+N more': whole items only. None for no items."""
    if not items:
        return []
    options = [separator.join(items)]
    options += [
        separator.join(items[:keep]) + f" +{len(items) - keep} more"
        for keep in range(len(items) - 1, 0, -1)
    ]
    return options


def _phrases(items: Sequence[str]) -> list[str]:
    return [", ".join(items[:keep]) for keep in range(len(items), 0, -1)]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _ranked(options: Iterable[str]) -> list[tuple[str, int]]:
    return [(option, rank) for rank, option in enumerate(options)]


# --- SMS ----------------------------------------------------------------------------------


def _sms_tag(notice: Notice) -> str:
    return {
        Kind.ACKNOWLEDGED: "ACKED",
        Kind.RESOLVED: "RESOLVED",
        Kind.BLIND: "OPS",
    }.get(notice.kind, notice.severity_name.upper())


def _sms_parts(notice: Notice, mode: _Mode) -> list[_Part]:
    """The SMS's parts, most important first; each on its own line unless joined by " "."""
    head = _head(_sms_tag(notice), notice, mode)
    if notice.kind is Kind.RESOLVED:
        return [head, *_sms_resolved(notice, mode)]
    if notice.kind is Kind.BLIND:
        return [head, *_sms_blind(notice, mode), *_sms_ack(notice, mode)]
    headline = _headline(notice, mode.data)
    data = mode.data
    channels = [
        f"{name} {_count(c.mentions)}"
        for c in sorted(notice.channels, key=lambda c: -c.mentions)
        if (name := data(c.channel))
    ]
    where = [_Part(_ranked(f"On {text}" for text in _listed(channels)))]
    if notice.kind is Kind.ACKNOWLEDGED:
        return [
            head,
            _sms_acked_by(notice, mode),
            _Part(_ranked(_capitalised(p) for p in _phrases(headline))),
            *_sms_pause(notice, mode),
            *where,
        ]
    return [
        head,
        _Part(_ranked(_phrases(headline)), " "),
        *_sms_status(notice, mode),
        *_sms_ack(notice, mode),
        *_sms_pause(notice, mode),
        *_sms_paging(notice, mode),
        *where,
    ]


def _command_priority(notice: Notice) -> int | None:
    # In a critical alert, what to do now comes before when it began and where.
    return _COMMAND if notice.severity == 3 else None


def _sms_ack(notice: Notice, mode: _Mode) -> list[_Part]:
    ack = mode.data(notice.ack_command)
    return [_Part([(f"Ack: {ack}", 0)] if ack else [], priority=_command_priority(notice))]


def _sms_pause(notice: Notice, mode: _Mode) -> list[_Part]:
    pause = mode.data(notice.pause_instructions)
    if notice.severity < 3 or not pause:
        return []
    # The team's own instructions when they fit; the email always carries them whole.
    wordings = [f"Pause posts: {pause}", "Pause posts now: see email"]
    return [_Part(_ranked(wordings), priority=_command_priority(notice))]


def _sms_status(notice: Notice, mode: _Mode) -> list[_Part]:
    since = _Part([(f"Since {_clock(notice.started_at, notice.zone, notice.now)}", 0)])
    if notice.kind is Kind.ESCALATED and notice.previous_severity is not None:
        # What to do now matters more than when it began: the start time yields to the
        # commands, and the alert id carries the start date and time anyway.
        up = _Part([(f"Up from {SEVERITY_NAMES[notice.previous_severity]}", 0)])
        return [up, _Part(since.alternatives, priority=_LATE)]
    if notice.kind is Kind.REMINDER:
        late = f"Not acked after {_duration(notice.now - notice.started_at)}"
        step = f", step {notice.escalation.step}" if notice.escalation else ""
        return [_Part(_ranked([late + step, late]))]
    return [since]


def _sms_paging(notice: Notice, mode: _Mode) -> list[_Part]:
    if notice.kind is not Kind.REMINDER or notice.escalation is None:
        return []
    paging = [p for p in (mode.data(p) for p in notice.escalation.paging) if p]
    return [_Part(_ranked(f"Paging {who}" for who in _listed(paging)))]


def _sms_acked_by(notice: Notice, mode: _Mode) -> _Part:
    assert notice.acknowledged is not None
    at = _clock(notice.acknowledged.at, notice.zone, notice.now)
    who = mode.data(notice.acknowledged.by)
    names = _shortened(who, mode.ellipsis, mode.budget) if who else []
    what = f"{notice.severity_name} alert acked"
    return _Part(_ranked([*(f"{what} by {n} at {at}" for n in names), f"{what} at {at}"]), " ")


def _sms_resolved(notice: Notice, mode: _Mode) -> list[_Part]:
    assert notice.resolution is not None
    done, zone = notice.resolution, notice.zone
    peak_at = _clock(done.peak_at, zone, notice.now)
    during = (
        f"During {_count(done.during.mentions)} mentions, "
        f"{_pct(done.during.negative_share)} negative"
    )
    before = f"before {_count(done.before.mentions)}, {_pct(done.before.negative_share)}"
    since = _clock(notice.started_at, zone, notice.now)
    return [
        _Part([(f"back to normal after {_duration(done.duration)}", 0)], " "),
        _Part([(f"Peak {_count(done.peak_count)} mentions at {peak_at}", 0)]),
        _Part(_ranked([f"{during}; {before}", during])),
        _Part([(f"Was {notice.severity_name}, since {since}", 0)]),
    ]


def _sms_blind(notice: Notice, mode: _Mode) -> list[_Part]:
    names = _listed([n for n in (mode.data(c) for c in _blind_channels(notice)) if n])
    since = _clock(_blind_since(notice), notice.zone, notice.now)
    parts = [
        _Part(
            _ranked(
                [
                    *(f"monitoring blind on {n} since {since}" for n in names),
                    f"monitoring blind since {since}",
                ]
            ),
            " ",
        ),
        _Part(
            _ranked(
                [*(f"Alerts for {n} unreliable until fixed" for n in names), "Alerts unreliable"]
            )
        ),
    ]
    detail = [
        f"{channel}: {_evidence_line(item)}"
        for item in notice.evidence
        if _is_blind(item) and (channel := mode.data(_where(item.channel)))
    ]
    # The detail reads before the ack command but yields to it.
    parts.append(_Part(_ranked(detail[:1]), priority=_LATE))
    return parts


def sms(notice: Notice) -> str:
    """The essentials in one SMS segment, whole words only."""
    gsm7 = _compose(_sms_parts(notice, _GSM7), _GSM7)
    ucs2 = _compose(_sms_parts(notice, _UCS2), _UCS2)
    # Lower quality numbers are better; on a tie GSM-7 has more than twice the room.
    return gsm7[0] if gsm7[1] <= ucs2[1] else ucs2[0]


# --- email --------------------------------------------------------------------------------


def _subject(notice: Notice) -> str:
    mode, zone = _SUBJECT, notice.zone
    tag = {
        Kind.ACKNOWLEDGED: "ACK",
        Kind.RESOLVED: "RESOLVED",
        Kind.BLIND: "OPS",
    }.get(notice.kind, notice.severity_name.upper())
    parts = [_head(tag, notice, mode, bracket=True)]
    phrases = _phrases(_headline(notice, _as_written))
    if notice.kind is Kind.ACKNOWLEDGED:
        assert notice.acknowledged is not None
        what = f"{notice.severity_name} alert acknowledged"
        names = _shortened(_clean(notice.acknowledged.by), mode.ellipsis, mode.budget)
        options = [*(f"{what} by {n}" for n in names if n), what]
    elif notice.kind is Kind.RESOLVED:
        assert notice.resolution is not None
        back = f"back to normal after {_duration(notice.resolution.duration)}"
        options = [f"{back}, was {notice.severity_name}", back, "back to normal"]
    elif notice.kind is Kind.BLIND:
        at = _clock(_blind_since(notice), zone, notice.now)
        names = _listed(_blind_channels(notice))
        options = [
            *(f"monitoring blind on {n} since {at}" for n in names),
            *(f"monitoring blind on {n}" for n in names),
            "monitoring blind",
        ]
    elif notice.kind is Kind.ESCALATED and notice.previous_severity is not None:
        up = f"up from {SEVERITY_NAMES[notice.previous_severity]}"
        options = [*(f"{up}, {p}" for p in phrases), up]
    elif notice.kind is Kind.REMINDER:
        late = f"not acknowledged after {_duration(notice.now - notice.started_at)}"
        options = [*(f"{late}, {p}" for p in phrases), late]
    else:
        options = phrases
    parts.append(_Part(_ranked(options), " "))
    return _compose(parts, mode)[0]


_ACTIVE = (Kind.STARTED, Kind.ESCALATED, Kind.REMINDER)

_OUTLOOK = {
    1: "Mention activity is above the usual level: keep an eye on it.",
    2: "A storm of mentions is building: please look now.",
    3: "A storm of mentions is under way: act now.",
}


def _opening(notice: Notice) -> list[str]:
    brand, zone = _brand(notice), notice.zone
    severity = notice.severity_name
    headline = ", ".join(_headline(notice, _as_written))
    if notice.kind is Kind.BLIND:
        names = ", ".join(_blind_channels(notice))
        return [
            f"For ops: monitoring is blind on {names} for {brand}.",
            f"Alerts for {names} are unreliable until this is fixed: "
            "a rise in mentions there would go unnoticed.",
        ]
    if notice.kind is Kind.RESOLVED:
        return [
            f"Back to normal: {brand}.",
            f"Mentions are back to the usual level; the {severity} alert is resolved.",
        ]
    if notice.kind is Kind.ACKNOWLEDGED:
        assert notice.acknowledged is not None
        ack = notice.acknowledged
        after = _duration(ack.at - notice.started_at)
        return [
            f"The {severity} alert for {brand} was acknowledged by "
            f"{_clean(ack.by, _NAME_CHARS) or 'someone'} at {_clock(ack.at, zone, notice.now)}"
            f" ({after} after it started).",
            "Escalation stops here. The alert stays open until mentions are back to normal.",
            f"Now: {headline}.",
        ]
    lines = [f"{severity.upper()} alert for {brand}: {headline}.", _OUTLOOK[notice.severity]]
    if notice.kind is Kind.ESCALATED and notice.previous_severity is not None:
        lines.append(
            f"Severity rose from {SEVERITY_NAMES[notice.previous_severity]} to {severity}."
        )
    if notice.kind is Kind.REMINDER:
        lines.append(
            f"Still not acknowledged, {_duration(notice.now - notice.started_at)} after it started."
        )
    if notice.escalation is not None and notice.kind in _ACTIVE:
        step = notice.escalation
        of = f" of {step.steps}" if step.steps else ""
        paging = _names(step.paging)
        lines.append(
            f"Escalation step {step.step}{of}" + (f": now paging {paging}." if paging else ".")
        )
    return lines


def _facts(notice: Notice) -> list[str]:
    zone, now = notice.zone, notice.now
    rows: list[tuple[str, str]] = []
    if notice.kind is Kind.BLIND:
        since = _blind_since(notice)
        rows.append(("Blind since", f"{_stamp(since, zone)}, {_duration(now - since)} ago"))
    elif notice.kind is Kind.RESOLVED:
        assert notice.resolution is not None
        end = notice.started_at + notice.resolution.duration
        rows += [
            ("Lasted", f"{_duration(notice.resolution.duration)}"),
            ("From", _stamp(notice.started_at, zone)),
            ("To", _stamp(end, zone)),
            ("Was", f"{notice.severity_name} ({notice.severity} of 3)"),
        ]
    else:
        ago = f"{_duration(now - notice.started_at)} ago"
        rows += [
            ("Severity", f"{notice.severity_name} ({notice.severity} of 3)"),
            ("Since", f"{_stamp(notice.started_at, zone)}, {ago}"),
        ]
        if notice.acknowledged is not None:
            ack = notice.acknowledged
            rows.append(
                ("Acknowledged", f"{_stamp(ack.at, zone)} by {_clean(ack.by, _NAME_CHARS)}")
            )
    brand_id = _clean(notice.brand_id, _NAME_CHARS)
    rows.append(("Brand", _brand(notice) + (f" ({brand_id})" if brand_id else "")))
    rows.append(("Alert", _clean(notice.alert_id, _NAME_CHARS)))
    width = max(len(label) for label, _ in rows) + 2
    return [f"{label + ':':<{width}}{value}" for label, value in rows]


def _actions(notice: Notice) -> list[str]:
    blocks: list[str] = []
    ack = _clean(notice.ack_command)
    if ack and notice.kind in (*_ACTIVE, Kind.BLIND):
        # Watch alerts and blind sources page nobody, so there is no escalation to stop.
        why = " (stops the escalation)" if notice.kind in _ACTIVE and notice.severity > 1 else ""
        blocks.append(f"Acknowledge{why}:\n    {ack}")
    pause = _clean(notice.pause_instructions)
    if notice.severity == 3 and pause and notice.kind in (*_ACTIVE, Kind.ACKNOWLEDGED):
        blocks.append(f"Pause all scheduled posts now:\n    {pause}")
    return blocks


def _resolution_block(resolution: Resolution, zone: ZoneInfo) -> str:
    bucket = (
        f"the {_duration(timedelta(minutes=resolution.peak_bucket_minutes))} from"
        if resolution.peak_bucket_minutes
        else "the bucket starting"
    )
    before, during = resolution.before, resolution.during
    rows = [
        ("", "before", "during"),
        ("mentions", _count(before.mentions), _count(during.mentions)),
        ("negative", _pct(before.negative_share), _pct(during.negative_share)),
    ]
    table = [f"  {a:<10}{b:>10}{c:>10}".rstrip() for a, b, c in rows]
    return "\n".join(
        [
            f"Peak: {_count(resolution.peak_count)} mentions in {bucket} "
            f"{_stamp(resolution.peak_at, zone)}",
            "",
            "Totals",
            *table,
        ]
    )


def _channels_block(channels: Sequence[ChannelCount]) -> str:
    ordered = sorted(channels, key=lambda c: -c.mentions)
    rows = [(_clean(c.channel, 40) or "?", _count(c.mentions)) for c in ordered]
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join(
        ["Channels involved (mentions in the window)"]
        + [f"  {name:<{width}}{count:>8}" for name, count in rows]
    )


def _mentions_block(mentions: Sequence[TopMention]) -> str:
    lines = ["Top negative mentions"]
    for number, mention in enumerate(mentions[:MAX_TOP_MENTIONS], start=1):
        source = [_clean(mention.channel, 40), _clean(mention.author, _AUTHOR_CHARS)]
        if mention.reach:
            source.append(f"reach {_count(mention.reach)}")
        lines.append(f"  {number}. " + ", ".join(s for s in source if s))
        lines.append(f'     "{excerpt(mention.text)}"')
        url = _clean(mention.url).replace(" ", "%20")
        if url:
            lines.append(f"     {url}")
    return "\n".join(lines)


def _body(notice: Notice) -> str:
    sections = ["\n".join(_opening(notice)), "\n".join(_facts(notice)), *_actions(notice)]
    if notice.kind is Kind.RESOLVED:
        assert notice.resolution is not None
        sections.append(_resolution_block(notice.resolution, notice.zone))
    elif notice.kind is Kind.BLIND:
        if notice.evidence:
            sections.append("\n".join(["What was seen", *_evidence_block(notice.evidence)]))
    else:
        if notice.evidence:
            found = _evidence_block(notice.evidence)
            sections.append("\n".join(["Numbers against the usual level", *found]))
        if notice.channels:
            sections.append(_channels_block(notice.channels))
        if notice.top_negative:
            sections.append(_mentions_block(notice.top_negative))
    return "\n\n".join(sections) + "\n"


def email(notice: Notice) -> EmailMessage:
    """Subject (at most 100 UTF-16 units, one line) and plain-text body."""
    return EmailMessage(subject=_subject(notice), body=_body(notice))
