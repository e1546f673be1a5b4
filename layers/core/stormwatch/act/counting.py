"""Length of a statement as each channel counts it, and the links, mentions and hashtags a
channel sees in it.

Every channel counts differently, and a statement that is one character too long is
refused at the moment it must go out, so each count follows the channel's own rules:

- X: twitter-text v3 weighted length. NFC first; code points in the ranges below weigh 1,
  every other code point 2; an emoji sequence (ZWJ family, skin tone, flag, keycap)
  weighs 2 as a whole; every URL weighs 23 whatever its length. 280.
- Mastodon: grapheme clusters, after every ``http(s)://`` URL is replaced by 23
  characters and every remote mention ``@user@domain`` by ``@user``. The limit is the
  instance's (``GET /api/v2/instance``), 500 by default.
- Bluesky: 300 grapheme clusters, and at most 3000 bytes of UTF-8.
- LinkedIn: 3,000 characters of the text as posted, that is after its "little text"
  reserved characters are escaped (`channels.linkedin.escape_little_text`).
- Facebook: 63,206 characters. Instagram caption: 2,200 characters, at most 30 hashtags.

"Characters" for LinkedIn, Facebook and Instagram are UTF-16 code units: their servers are
Java and JavaScript, which count an emoji outside the BMP as two. Counting so never
passes a text the channel refuses.

Graphemes are segmented here (`graphemes`) with the standard library: extended grapheme
clusters per Unicode 15.1's UAX #29, Indic conjuncts (GB9c) included, so the layer needs no
compiled dependency for them. The tests hold them to the `regex` module's ``\\X`` on
generated text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from typing import Final

X_LIMIT: Final = 280
X_URL_WEIGHT: Final = 23
X_DEFAULT_WEIGHT: Final = 2
X_LIGHT_RANGES: Final = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
"""twitter-text v3: code points in these ranges weigh 1 (Latin, Greek, Cyrillic, Hebrew,
Arabic, Devanagari ... and the general punctuation X treats as narrow)."""

MASTODON_DEFAULT_LIMIT: Final = 500
MASTODON_URL_WEIGHT: Final = 23
BLUESKY_GRAPHEME_LIMIT: Final = 300
BLUESKY_BYTE_LIMIT: Final = 3000
LINKEDIN_LIMIT: Final = 3000
FACEBOOK_LIMIT: Final = 63_206
INSTAGRAM_LIMIT: Final = 2200
INSTAGRAM_HASHTAG_LIMIT: Final = 30


@dataclass(frozen=True, slots=True)
class Length:
    """How much of a channel's limit a text uses, in that channel's unit."""

    used: int
    limit: int
    unit: str = "characters"

    @property
    def fits(self) -> bool:
        return self.used <= self.limit

    @property
    def over(self) -> int:
        """How many units must go (0 when the text fits)."""
        return max(0, self.used - self.limit)

    def __str__(self) -> str:
        return f"{self.used}/{self.limit} {self.unit}"


# --- grapheme clusters (UAX #29) -------------------------------------------


class _Break(IntEnum):
    OTHER = 0
    CR = 1
    LF = 2
    CONTROL = 3
    EXTEND = 4
    ZWJ = 5
    REGIONAL_INDICATOR = 6
    PREPEND = 7
    SPACING_MARK = 8
    L = 9
    V = 10
    T = 11
    LV = 12
    LVT = 13


_ZWJ = 0x200D
_ZWNJ = 0x200C
_PREPEND: Final = frozenset(
    [*range(0x600, 0x606), 0x6DD, 0x70F, 0x890, 0x891, 0x8E2, 0xD4E, 0x110BD, 0x110CD]
)
# Spacing marks that Unicode calls Other_Grapheme_Extend: they extend, they do not space.
_OTHER_GRAPHEME_EXTEND: Final = frozenset(
    [
        *(0x9BE, 0x9D7, 0xB3E, 0xB57, 0xBBE, 0xBD7, 0xCC2, 0xCD5, 0xCD6, 0xD3E, 0xD57),
        *(0xDCF, 0xDDF, 0x1B35, 0x302E, 0x302F, 0x1D165, *range(0x1D16E, 0x1D173)),
    ]
)
_EXTENDING_OTHERS: Final = frozenset(
    [0x200C, 0xFF9E, 0xFF9F, *range(0x1F3FB, 0x1F400), *range(0xE0020, 0xE0080)]
)
# Extended_Pictographic (emoji-data.txt), the ranges outside U+1F000..U+1FFFD written out.
_PICTOGRAPHIC_RANGES: Final = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049),
    (0x2122, 0x2122), (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA),
    (0x231A, 0x231B), (0x2328, 0x2328), (0x2388, 0x2388), (0x23CF, 0x23CF),
    (0x23E9, 0x23F3), (0x23F8, 0x23FA), (0x24C2, 0x24C2), (0x25AA, 0x25AB),
    (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x2600, 0x2605),
    (0x2607, 0x2612), (0x2614, 0x2685), (0x2690, 0x2705), (0x2708, 0x2712),
    (0x2714, 0x2714), (0x2716, 0x2716), (0x271D, 0x271D), (0x2721, 0x2721),
    (0x2728, 0x2728), (0x2733, 0x2734), (0x2744, 0x2744), (0x2747, 0x2747),
    (0x274C, 0x274C), (0x274E, 0x274E), (0x2753, 0x2755), (0x2757, 0x2757),
    (0x2763, 0x2767), (0x2795, 0x2797), (0x27A1, 0x27A1), (0x27B0, 0x27B0),
    (0x27BF, 0x27BF), (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50), (0x2B55, 0x2B55), (0x3030, 0x3030), (0x303D, 0x303D),
    (0x3297, 0x3297), (0x3299, 0x3299),
)  # fmt: skip
_SYMBOLS_PLANE: Final = (0x1F000, 0x1FFFD)
_NOT_PICTOGRAPHIC_IN_PLANE: Final = (
    (0x1F100, 0x1F10C), (0x1F110, 0x1F12E), (0x1F130, 0x1F16B), (0x1F172, 0x1F17D),
    (0x1F180, 0x1F18D), (0x1F18F, 0x1F190), (0x1F19B, 0x1F1AC), (0x1F1E6, 0x1F200),
    (0x1F210, 0x1F219), (0x1F21B, 0x1F22E), (0x1F230, 0x1F231), (0x1F23B, 0x1F23B),
    (0x1F240, 0x1F248), (0x1F3FB, 0x1F3FF), (0x1F53E, 0x1F545), (0x1F650, 0x1F67F),
    (0x1F700, 0x1F773), (0x1F780, 0x1F7D4), (0x1F800, 0x1F80B), (0x1F810, 0x1F847),
    (0x1F850, 0x1F859), (0x1F860, 0x1F887), (0x1F890, 0x1F8AD), (0x1F8B0, 0x1F8FF),
    (0x1F93B, 0x1F93B), (0x1F946, 0x1F946), (0x1FB00, 0x1FBFF),
)  # fmt: skip


def _in_ranges(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


@cache
def is_pictographic(char: str) -> bool:
    """Unicode's Extended_Pictographic: the characters emoji sequences are built from."""
    code = ord(char)
    if _SYMBOLS_PLANE[0] <= code <= _SYMBOLS_PLANE[1]:
        return not _in_ranges(code, _NOT_PICTOGRAPHIC_IN_PLANE)
    return _in_ranges(code, _PICTOGRAPHIC_RANGES)


_HANGUL_SYLLABLES = (0xAC00, 0xD7A3)

# Indic_Conjunct_Break (Unicode 15.1): a virama between two consonants holds them together.
_CONJUNCT_LINKERS: Final = frozenset([0x94D, 0x9CD, 0xACD, 0xB4D, 0xC4D, 0xD4D])
_CONJUNCT_CONSONANTS: Final = (
    (0x915, 0x939), (0x958, 0x95F), (0x978, 0x97F), (0x995, 0x9A8), (0x9AA, 0x9B0),
    (0x9B2, 0x9B2), (0x9B6, 0x9B9), (0x9DC, 0x9DD), (0x9DF, 0x9DF), (0x9F0, 0x9F1),
    (0xA95, 0xAA8), (0xAAA, 0xAB0), (0xAB2, 0xAB3), (0xAB5, 0xAB9), (0xAF9, 0xAF9),
    (0xB15, 0xB28), (0xB2A, 0xB30), (0xB32, 0xB33), (0xB35, 0xB39), (0xB5C, 0xB5D),
    (0xB5F, 0xB5F), (0xB71, 0xB71), (0xC15, 0xC28), (0xC2A, 0xC39), (0xC58, 0xC5A),
    (0xD15, 0xD3A),
)  # fmt: skip


@cache
def _break_class(char: str) -> _Break:  # noqa: PLR0911 - one answer per class, as UAX #29 lists
    code = ord(char)
    if char == "\r":
        return _Break.CR
    if char == "\n":
        return _Break.LF
    if code == _ZWJ:
        return _Break.ZWJ
    if 0x1F1E6 <= code <= 0x1F1FF:
        return _Break.REGIONAL_INDICATOR
    if code in _PREPEND:
        return _Break.PREPEND
    if code in _EXTENDING_OTHERS or code in _OTHER_GRAPHEME_EXTEND:
        return _Break.EXTEND
    category = unicodedata.category(char)
    if category in ("Mn", "Me"):
        return _Break.EXTEND
    if category == "Mc" or code in (0xE33, 0xEB3):
        return _Break.SPACING_MARK
    if category in ("Cc", "Cf", "Zl", "Zp", "Cs"):
        return _Break.CONTROL
    return _hangul_class(code)


def _hangul_class(code: int) -> _Break:
    if 0x1100 <= code <= 0x115F or 0xA960 <= code <= 0xA97C:
        return _Break.L
    if 0x1160 <= code <= 0x11A7 or 0xD7B0 <= code <= 0xD7C6:
        return _Break.V
    if 0x11A8 <= code <= 0x11FF or 0xD7CB <= code <= 0xD7FB:
        return _Break.T
    if _HANGUL_SYLLABLES[0] <= code <= _HANGUL_SYLLABLES[1]:
        return _Break.LV if (code - _HANGUL_SYLLABLES[0]) % 28 == 0 else _Break.LVT
    return _Break.OTHER


_CONTROLS = (_Break.CR, _Break.LF, _Break.CONTROL)
_HANGUL_NEXT: Final = {
    _Break.L: (_Break.L, _Break.V, _Break.LV, _Break.LVT),
    _Break.LV: (_Break.V, _Break.T),
    _Break.V: (_Break.V, _Break.T),
    _Break.LVT: (_Break.T,),
    _Break.T: (_Break.T,),
}


def graphemes(text: str) -> Iterator[str]:
    """The extended grapheme clusters of `text`, what a reader sees as one character."""
    start = 0
    previous = _Break.OTHER
    # GB11: inside "pictographic Extend* ZWJ", the next pictograph joins the cluster.
    emoji_state = 0  # 0 none, 1 after a pictograph (and extends), 2 after its ZWJ
    regional_run = 0
    conjunct_state = 0  # 0 none, 1 after a consonant (and extends), 2 after its linker
    for index, char in enumerate(text):
        current = _break_class(char)
        pictographic = is_pictographic(char)
        code = ord(char)
        consonant = _is_conjunct_consonant(char)
        joined = conjunct_state == 2 and consonant
        if (
            index > 0
            and not joined
            and _boundary(previous, current, pictographic, emoji_state, regional_run)
        ):
            yield text[start:index]
            start = index
        if consonant:
            conjunct_state = 1
        elif code in _CONJUNCT_LINKERS and conjunct_state:
            conjunct_state = 2
        elif current not in (_Break.EXTEND, _Break.ZWJ) or code == _ZWNJ:
            # ZWNJ extends a cluster but is no InCB Extend: it ends a conjunct (GB9c).
            conjunct_state = 0
        if pictographic:
            emoji_state = 1
        elif current == _Break.EXTEND and emoji_state == 1:
            pass
        elif current == _Break.ZWJ and emoji_state == 1:
            emoji_state = 2
        else:
            emoji_state = 0
        regional_run = regional_run + 1 if current == _Break.REGIONAL_INDICATOR else 0
        previous = current
    if text:
        yield text[start:]


@cache
def _is_conjunct_consonant(char: str) -> bool:
    return _in_ranges(ord(char), _CONJUNCT_CONSONANTS)


def _boundary(  # noqa: PLR0911 - the rules of UAX #29 in their order
    previous: _Break, current: _Break, pictographic: bool, emoji_state: int, regional_run: int
) -> bool:
    if previous == _Break.CR and current == _Break.LF:
        return False
    if previous in _CONTROLS or current in _CONTROLS:
        return True
    if current in _HANGUL_NEXT.get(previous, ()):
        return False
    if current in (_Break.EXTEND, _Break.ZWJ, _Break.SPACING_MARK):
        return False
    if previous == _Break.PREPEND:
        return False
    if previous == _Break.ZWJ and pictographic and emoji_state == 2:
        return False
    return not (current == _Break.REGIONAL_INDICATOR and regional_run % 2 == 1)


_FIRST_COMBINING = "\u0300"


def grapheme_count(text: str) -> int:
    if not text or max(text) < _FIRST_COMBINING:
        # Below the combining marks every character is a cluster of its own but CR LF:
        # nothing there extends, joins or pairs (most statements, German ones included).
        return len(text) - text.count("\r\n")
    return sum(1 for _ in graphemes(text))


# --- links, mentions, hashtags --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """A link, mention or hashtag found in a text: its text and where it is, in code points
    (Python indices) and in UTF-8 bytes (Bluesky's facets)."""

    text: str
    start: int
    end: int
    byte_start: int
    byte_end: int


def _span(text: str, start: int, end: int) -> Span:
    byte_start = len(text[:start].encode())
    return Span(text[start:end], start, end, byte_start, byte_start + len(text[start:end].encode()))


# Generic TLDs twitter-text knows that statements are likely to link to; every two-letter
# TLD is taken as a country code. A host under another TLD is not a link for X and its
# characters count one by one: a conservative count, never an optimistic one.
_GENERIC_TLDS: Final = frozenset(
    {
        "aero",
        "airline",
        "app",
        "asia",
        "bank",
        "biz",
        "blog",
        "cloud",
        "com",
        "company",
        "coop",
        "dev",
        "digital",
        "edu",
        "email",
        "energy",
        "flights",
        "global",
        "gov",
        "group",
        "help",
        "holiday",
        "info",
        "insurance",
        "int",
        "jobs",
        "link",
        "live",
        "media",
        "mil",
        "mobi",
        "museum",
        "name",
        "net",
        "network",
        "news",
        "online",
        "org",
        "page",
        "pro",
        "services",
        "shop",
        "site",
        "social",
        "store",
        "support",
        "tech",
        "tel",
        "today",
        "travel",
        "world",
    }
)
_URL = re.compile(
    r"(?<![\w@.\-/#])"
    r"(?P<scheme>https?://)?"
    r"(?P<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?P<tld>[a-z]{2,63}))"
    r"(?![\w-])(?::\d{1,5})?"
    r"(?P<path>/[^\s<>\"]*)?",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = ".,;:!?'\"»«“”‘’"


def _url_end(text: str, match: re.Match[str]) -> int:
    end = match.end()
    while end > match.start("host") and text[end - 1] in _TRAILING_PUNCTUATION + ")":
        if text[end - 1] == ")" and text[match.start() : end].count("(") >= text[
            match.start() : end
        ].count(")"):
            break
        end -= 1
    return end


def find_urls(text: str, channel: str) -> list[Span]:
    """Links in `text` as `channel` finds them.

    X (twitter-text) takes a host under a known TLD with or without a scheme (a bare
    ``example.de`` only with a path, as its country-code rule says); Mastodon, Bluesky and
    the rest take only links written with ``http://`` or ``https://``.
    """
    spans = []
    for match in _URL.finditer(text):
        tld = match["tld"].lower()
        if channel == "x":
            known = tld in _GENERIC_TLDS or (len(tld) == 2 and tld.isascii())
            if not known or (not match["scheme"] and len(tld) == 2 and not match["path"]):
                continue
        elif not match["scheme"]:
            continue
        spans.append(_span(text, match.start(), _url_end(text, match)))
    return spans


# Any link written with its scheme, whatever its host: an IP address, ``localhost`` or a
# name under a TLD the channels' own recognisers do not know.
_SCHEMED_URL = re.compile(
    r"(?<![\w@.\-/#])"
    r"(?P<scheme>https?://)"
    r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)"
    r"(?::\d{1,5})?"
    r"(?P<path>[/?#][^\s<>\"]*)?",
    re.IGNORECASE,
)


def find_links(text: str, channel: str) -> list[Span]:
    """Every link a reader could follow in `text` on `channel`: the links the channel finds
    (`find_urls`), and any other ``http(s)://`` link with a host.

    This is what the link check visits, so a link the channel shows as plain text (X and
    Mastodon take no IP address as a link host) is still checked; the checker's address
    guard decides whether such a host may be visited. Lengths keep counting with
    `find_urls`: such a link counts character by character, as the channel counts it.
    """
    found = find_urls(text, channel)
    for match in _SCHEMED_URL.finditer(text):
        end = _url_end(text, match)
        if not any(span.start < end and match.start() < span.end for span in found):
            found.append(_span(text, match.start(), end))
    return sorted(found, key=lambda span: span.start)


_MENTIONS: Final = {
    "x": re.compile(r"(?<![\w!@#$%&*])@([A-Za-z0-9_]{1,15})(?![\w@])"),
    # Mastodon's Account::MENTION_RE: a local @user or a remote @user@domain.
    "mastodon": re.compile(
        r"(?<![=/\w])@([a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)(?:@([\w.-]+\w))?", re.IGNORECASE
    ),
    # A Bluesky mention is a full handle: labels with dots and a letter-only TLD.
    "bluesky": re.compile(
        r"(?<![\w@])@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]*[a-z0-9])?)"
        r"(?![\w-]|\.\w)",
        re.IGNORECASE,
    ),
    "instagram": re.compile(r"(?<![\w@])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)"),
}
_GENERIC_MENTION = re.compile(r"(?<![\w@])@(\w{1,100})")
_HASHTAGS: Final = {
    # Bluesky: '#' and up to 64 characters that are neither space nor punctuation at the end.
    "bluesky": re.compile(r"(?<![\w#&])#(?!\ufe0f|\u20e3)([^\s#]{1,64})"),
}
_GENERIC_HASHTAG = re.compile(r"(?<![\w#&/])#(\w{1,100})")


def find_mentions(text: str, channel: str) -> list[Span]:
    """@mentions as `channel` writes them: X ``@name``, Mastodon ``@user`` or
    ``@user@domain``, Bluesky ``@handle.domain``, Instagram ``@user.name``."""
    pattern = _MENTIONS.get(channel, _GENERIC_MENTION)
    spans = []
    for match in pattern.finditer(text):
        end = match.end()
        while text[end - 1] in ".-":
            end -= 1
        spans.append(_span(text, match.start(), end))
    return spans


def find_hashtags(text: str, channel: str) -> list[Span]:
    """#hashtags as `channel` finds them; a tag of digits only is no tag anywhere."""
    pattern = _HASHTAGS.get(channel, _GENERIC_HASHTAG)
    spans = []
    urls = [(url.start, url.end) for url in find_urls(text, channel)]
    for match in pattern.finditer(text):
        end = match.end()
        while end > match.start(1) and (
            text[end - 1] in _TRAILING_PUNCTUATION or unicodedata.category(text[end - 1])[0] == "P"
        ):
            end -= 1
        tag = text[match.start(1) : end]
        if not tag or tag.isdigit() or any(low <= match.start() < high for low, high in urls):
            continue
        spans.append(_span(text, match.start(), end))
    return spans


def mention_handle(span: Span) -> str:
    """The handle a mention names, without its '@'."""
    return span.text[1:]


def hashtag_name(span: Span) -> str:
    return span.text[1:]


# --- the channels' counts -------------------------------------------------------------


def _x_weight(char: str) -> int:
    code = ord(char)
    return 1 if _in_ranges(code, X_LIGHT_RANGES) else X_DEFAULT_WEIGHT


def _is_emoji_sequence(cluster: str) -> bool:
    first = cluster[0]
    if is_pictographic(first):
        # A text-style symbol (©, ™, ↔) is an emoji only when it asks for emoji style or
        # joins a sequence; a pictograph of the symbol planes always is.
        return ord(first) >= _SYMBOLS_PLANE[0] or len(cluster) > 1
    if _break_class(first) == _Break.REGIONAL_INDICATOR:
        return True
    return cluster.endswith("\u20e3")  # keycap: 1️⃣, #️⃣


def x_length(text: str) -> Length:
    """twitter-text v3's weighted length of `text`, against X's 280."""
    normalised = unicodedata.normalize("NFC", text)
    used = 0
    position = 0
    for url in find_urls(normalised, "x"):
        used += _x_clusters_weight(normalised[position : url.start]) + X_URL_WEIGHT
        position = url.end
    used += _x_clusters_weight(normalised[position:])
    return Length(used, X_LIMIT, "weighted characters")


def _x_clusters_weight(text: str) -> int:
    if text.isascii():
        return len(text)
    weight = 0
    for cluster in graphemes(text):
        if _is_emoji_sequence(cluster):
            weight += X_DEFAULT_WEIGHT
        else:
            weight += sum(map(_x_weight, cluster))
    return weight


def mastodon_length(
    text: str, limit: int = MASTODON_DEFAULT_LIMIT, url_weight: int = MASTODON_URL_WEIGHT
) -> Length:
    """Mastodon's count: graphemes, a link as `url_weight` (the instance's
    ``characters_reserved_per_url``, 23 by default), a remote mention as its local part."""
    countable = []
    position = 0
    markers = [(url.start, url.end, "x" * url_weight) for url in find_urls(text, "")]
    for mention in find_mentions(text, "mastodon"):
        local = "@" + mention.text[1:].split("@", 1)[0]
        if not any(low <= mention.start < high for low, high, _ in markers):
            markers.append((mention.start, mention.end, local))
    for start, end, replacement in sorted(markers):
        countable.append(text[position:start])
        countable.append(replacement)
        position = end
    countable.append(text[position:])
    return Length(grapheme_count("".join(countable)), limit, "characters")


def bluesky_length(text: str) -> Length:
    """Bluesky's 300 graphemes (`bluesky_bytes` is its other limit)."""
    return Length(grapheme_count(text), BLUESKY_GRAPHEME_LIMIT, "graphemes")


def bluesky_bytes(text: str) -> Length:
    return Length(len(text.encode()), BLUESKY_BYTE_LIMIT, "bytes")


def utf16_length(text: str) -> int:
    """Characters as Java and JavaScript count them (an astral emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def linkedin_length(text: str) -> Length:
    """LinkedIn's 3,000 characters of the commentary as sent, reserved characters escaped."""
    # The escaping is the LinkedIn adapter's (beside its parser); imported here only when
    # counted, so this module stays free of the adapters' dependencies.
    from stormwatch.channels.linkedin import escape_little_text

    return Length(utf16_length(escape_little_text(text)), LINKEDIN_LIMIT, "characters")


def facebook_length(text: str) -> Length:
    return Length(utf16_length(text), FACEBOOK_LIMIT, "characters")


def instagram_length(text: str) -> Length:
    return Length(utf16_length(text), INSTAGRAM_LIMIT, "characters")


def instagram_hashtags(text: str) -> Length:
    """Instagram refuses a caption with more than 30 hashtags."""
    return Length(len(find_hashtags(text, "instagram")), INSTAGRAM_HASHTAG_LIMIT, "hashtags")


def channel_lengths(
    channel: str,
    text: str,
    *,
    mastodon_limit: int = MASTODON_DEFAULT_LIMIT,
    mastodon_url_weight: int = MASTODON_URL_WEIGHT,
) -> tuple[Length, ...]:
    """Every limit `channel` sets on `text`, the main one first."""
    if channel == "x":
        return (x_length(text),)
    if channel == "mastodon":
        return (mastodon_length(text, mastodon_limit, mastodon_url_weight),)
    if channel == "bluesky":
        return (bluesky_length(text), bluesky_bytes(text))
    if channel == "linkedin":
        return (linkedin_length(text),)
    if channel == "facebook":
        return (facebook_length(text),)
    if channel == "instagram":
        return (instagram_length(text), instagram_hashtags(text))
    raise ValueError(f"no length rules for channel {channel!r}")
