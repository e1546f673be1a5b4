"""What an SMS costs: the GSM 03.38 alphabet, lengths in septets and UTF-16 units, segments,
and transliteration into GSM-7. Pure; knows nothing of alerts.

A text in the GSM 03.38 alphabet gets 160 septets (escape-table characters count 2);
anything else goes as UCS-2 and gets 70 UTF-16 code units (emoji count 2). One character
outside the alphabet turns the whole SMS into UCS-2 and takes more than half its room,
which is why names are transliterated first (``ł`` -> ``l``) - but never letters GSM-7
has (Ä, ö, ñ, é, ß, Ø).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = [
    "SMS_GSM7_LIMIT",
    "SMS_UCS2_LIMIT",
    "gsm7_length",
    "sms_segments",
    "to_gsm7",
    "ucs2_length",
]

SMS_GSM7_LIMIT = 160
SMS_UCS2_LIMIT = 70
_GSM7_PART = 153  # a concatenated SMS loses 7 septets (6 bytes of header) per segment
_UCS2_PART = 67

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
