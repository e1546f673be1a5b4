"""Brand matching: case and diacritics folding, hashtags, handles, exclusions."""

from __future__ import annotations

import pytest

from stormwatch.config import Brand
from stormwatch.listen.matching import BrandMatcher
from stormwatch.text import clean_text, fold, strip_markup

NORDWIND = Brand(
    id="nordwind-air",
    name="Nordwind Air",
    keywords=("Nordwind Air", "NordwindAir", "Nordwind"),
    exclude=("kalter Nordwind", "eisiger Nordwind", "Nordwind weht", "north wind"),
    hashtags=("NordwindAir",),
)
KOLIBRI = Brand(id="kolibri-pay", name="Kolibri Pay", keywords=("Kolibri Pay", "Żółw Łódź"))
matcher = BrandMatcher([NORDWIND, KOLIBRI])


@pytest.mark.parametrize(
    "text",
    [
        "Nordwind Air cancelled my flight",
        "NORDWIND AIR, again",
        "flying #NordwindAir today",
        "@nordwindair where is my bag?",
        "Nordwind-Air lost it",
        "Nordwind hat schon wieder gestrichen",
        "kalter Nordwind heute, und Nordwind Air streicht trotzdem alles",
    ],
)
def test_mentions_of_the_brand_match(text: str) -> None:
    assert matcher.brands_of(text) == ("nordwind-air",)


@pytest.mark.parametrize(
    "text",
    [
        "Kalter Nordwind heute an der Ostsee",
        "Ein eisiger Nordwind fegt über Hamburg",
        "Nordwind weht seit Stunden",
        "the north wind is brutal",
        "Nordwinds of change",  # a different word
        "anordwind airline",  # inside another word
    ],
)
def test_look_alikes_do_not_match(text: str) -> None:
    assert matcher.brands_of(text) == ()


def test_exclusions_are_exact_phrases() -> None:
    # Given the exclusion "eisiger Nordwind" / When a post says "eisige Nordwind" (another
    # inflection) / Then it still counts: ops list each phrase they mean, nothing is guessed
    assert matcher.brands_of("Der eisige Nordwind fegt") == ("nordwind-air",)


def test_diacritics_and_polish_letters_fold() -> None:
    # Given a keyword with Polish letters / Then it matches with or without them
    assert matcher.brands_of("zolw lodz płaci?") == ("kolibri-pay",)
    assert matcher.brands_of("ŻÓŁW ŁÓDŹ") == ("kolibri-pay",)
    assert fold("Straße Łódź Émile") == "strasse lodz emile"


def test_a_post_about_both_brands_counts_for_both() -> None:
    assert matcher.brands_of("Paid Nordwind Air with Kolibri Pay") == (
        "nordwind-air",
        "kolibri-pay",
    )


def test_mention_text_is_cleaned_not_interpreted() -> None:
    # Given text with control characters, bidi overrides, markup and a template expression
    raw = "\u202eevil\u202c {{ config.secret }} <b>Nordwind</b>\x00 Air " + "x" * 5000
    text = clean_text(strip_markup(raw))
    # Then it is plain, bounded data: the expression is kept verbatim, never evaluated
    assert "{{ config.secret }}" in text
    assert "\u202e" not in text
    assert "\x00" not in text
    assert len(text) == 4000
    assert text.endswith("…")
    assert "Nordwind Air" in clean_text(strip_markup("<p>Nordwind</p> Air"))  # spacing kept
