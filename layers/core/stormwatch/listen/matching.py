"""Which brands a mention is about: keywords and hashtags, case- and diacritics-insensitive.

Exclusions remove their phrase before the keywords are looked for, instead of vetoing
the whole post: "kalter Nordwind heute, und Nordwind Air streicht Flüge" is still about
the airline, "kalter Nordwind heute" is not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from stormwatch.config import Brand
from stormwatch.text import fold

_SEPARATORS = re.compile(r"[\s\-_./·]+")


def _normalise(text: str) -> str:
    return _SEPARATORS.sub(" ", fold(text))


def _phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str] | None:
    folded = sorted({_normalise(phrase).strip() for phrase in phrases if phrase.strip()}, key=len)
    if not folded:
        return None
    alternatives = "|".join(re.escape(phrase) for phrase in reversed(folded))
    # Word boundaries that also accept '#' and '@' in front: #NordwindAir, @nordwindair.
    return re.compile(rf"(?<![0-9a-z])(?:{alternatives})(?![0-9a-z])")


class BrandMatcher:
    def __init__(self, brands: Sequence[Brand]) -> None:
        self._rules: list[tuple[str, re.Pattern[str] | None, re.Pattern[str] | None]] = []
        for brand in brands:
            keywords = _phrase_pattern([*brand.keywords, *brand.hashtags])
            exclusions = _phrase_pattern(brand.exclude)
            self._rules.append((brand.id, keywords, exclusions))

    def brands_of(self, text: str) -> tuple[str, ...]:
        """Ids of the brands `text` mentions, in configuration order."""
        normalised = _normalise(text)
        found = []
        for brand_id, keywords, exclusions in self._rules:
            if keywords is None:
                continue
            candidate = exclusions.sub(" ", normalised) if exclusions is not None else normalised
            if keywords.search(candidate):
                found.append(brand_id)
        return tuple(found)
