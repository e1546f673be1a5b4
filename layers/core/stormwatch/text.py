"""Text clean-up shared by the adapters and the matcher. Mention text is data, never markup."""

from __future__ import annotations

import html
import re
import unicodedata

MAX_TEXT_CHARS = 4000

_TAG = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"\s+")
# Control and format characters except the joiners emoji need; bidi overrides go too.
_UNWANTED = {"Cc", "Cf", "Cs", "Co", "Cn"}
_KEEP = {"\u200d", "\ufe0f"}


def clean_text(raw: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """NFC, no control/bidi characters, single spaces, at most `limit` characters."""
    text = _SPACE.sub(" ", unicodedata.normalize("NFC", raw))
    if not text.isprintable():
        # Only text with format or control characters left pays for the per-character pass.
        text = "".join(
            ch if ch in _KEEP or unicodedata.category(ch) not in _UNWANTED else " " for ch in text
        )
        text = _SPACE.sub(" ", text)
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


_BLOCK_TAG = re.compile(
    r"(?i)<\s*/?\s*(br|p|div|li|ul|ol|h[1-6]|blockquote|pre|tr|td|th|hr|section|article)\b[^>]{0,2000}>"
)


def strip_markup(raw: str) -> str:
    """Plain text from an HTML fragment (Mastodon content, RSS summaries).

    Block tags separate words; inline tags vanish, so ``@<span>nordwindair</span>`` and
    ``<b>Nordwind</b>Air`` read as written.
    """
    return html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", raw)))


# Letters with a stroke have no decomposition, so NFKD alone leaves them alone.
_STROKES = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "ħ": "h", "ı": "i", "ŧ": "t"})


_combining_marks: dict[int, None] = {}


def _without_combining_marks(text: str) -> str:
    # A translate table runs in C; it is built on first use (about 20 ms) rather than at
    # import, and covers the Basic Multilingual Plane, where the diacritics of every
    # script we match live.
    if not _combining_marks:
        _combining_marks.update(
            (code, None) for code in range(0x300, 0x10000) if unicodedata.combining(chr(code))
        )
    return text.translate(_combining_marks)


def fold(text: str) -> str:
    """Case- and diacritics-insensitive form used for matching (ß -> ss, É -> e, Ł -> l)."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    return _without_combining_marks(unicodedata.normalize("NFKD", folded.translate(_STROKES)))
