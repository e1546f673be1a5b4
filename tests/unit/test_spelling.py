"""Spelling as people check before they post: real dictionaries, real sentences.

The dictionaries are the pinned ones `make` fetches (scripts/dictionaries/fetch.py); each
language loads once for the module (German and English about a second, Polish a few).
"""

from __future__ import annotations

import gc
import itertools
from pathlib import Path

import pytest

from stormwatch.act import spelling
from stormwatch.act.spelling import (
    DictionaryMissing,
    SpellChecker,
    UnknownWord,
    UnsupportedLanguage,
    known_words,
)
from tests.helpers import example_config

BRANDS = ("Nordwind Air", "NordwindAir", "Kolibri")
# Suggestions are searched within a time budget. Tests of what is flagged give them none
# (a full search for a German word takes seconds); tests of suggestions give them time to
# spare, so they do not depend on how busy the machine is.


def without_suggestions(known: tuple[str, ...] = ()) -> SpellChecker:
    return SpellChecker(known, seconds_per_suggestion=0.0, seconds_for_suggestions=0.0)


@pytest.fixture(scope="module")
def checker() -> SpellChecker:
    return without_suggestions(BRANDS)


@pytest.fixture(scope="module")
def patient() -> SpellChecker:
    return SpellChecker(BRANDS, seconds_per_suggestion=30.0, seconds_for_suggestions=60.0)


def words(unknown: list[UnknownWord]) -> list[str]:
    return [word.word for word in unknown]


# --- misspellings are flagged ------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        (
            "de",
            "Wir bitten um Enschuldigung für die Verspätng und informieren Sie weiter.",
            ["Enschuldigung", "Verspätng"],
        ),
        (
            "en",
            "We apologize to every pasenger and will recieve your claims.",
            ["pasenger", "recieve"],
        ),
        (
            "pl",
            "Przepraszmy wszystkich pasażerów za opóźnienie lotu.",
            ["Przepraszmy"],
        ),
        ("de", "Die entschuldigung kommt spät.", ["entschuldigung"]),  # a noun in lowercase
    ],
)
def test_given_real_misspellings_when_checked_then_each_is_flagged_where_it_stands(
    checker: SpellChecker, language: str, text: str, expected: list[str]
) -> None:
    unknown = checker.unknown_words(text, language)

    assert words(unknown) == expected
    for word in unknown:
        assert text[word.offset : word.offset + len(word.word)] == word.word


@pytest.mark.parametrize(
    ("language", "typo", "correction"),
    [("en", "recieve", "receive"), ("de", "heuet", "heute"), ("pl", "lotniskko", "lotnisko")],
)
def test_given_a_simple_typo_when_checked_then_the_correction_is_suggested(
    patient: SpellChecker, language: str, typo: str, correction: str
) -> None:
    (unknown,) = patient.unknown_words(f"{typo}.", language)

    assert correction in unknown.suggestions
    assert 1 <= len(unknown.suggestions) <= 3


def test_given_a_misspelled_brand_when_checked_then_the_brand_is_suggested(
    checker: SpellChecker,
) -> None:
    (unknown,) = checker.unknown_words("Ihr Team von Nordwnd Air", "de")

    assert unknown.word == "Nordwnd"
    assert unknown.suggestions[0] == "Nordwind"


def test_given_no_time_left_when_checked_then_the_typo_is_flagged_without_suggestions() -> None:
    spelling.clear_cache()  # no suggestions remembered from other tests
    ticks = itertools.count(0.0, 100.0)  # every reading of the clock is 100 s later
    hurried = SpellChecker(clock=lambda: next(ticks))

    assert hurried.unknown_words("We will recieve it.", "en") == [UnknownWord("recieve", 8, ())]


# --- correct text passes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text"),
    [
        (
            "de",
            "Wir wissen, dass viele von Ihnen heute auf Ihren Flug gewartet haben, und das tut "
            "uns leid. Der Flug wurde wegen eines technischen Defekts gestrichen. Unser "
            "Kundenservice bucht alle betroffenen Fluggäste auf den nächsten freien Flug um "
            "oder erstattet den Ticketpreis. Bitte prüfen Sie Ihre E-Mails. Alle Flug- und "
            "Bahnreisenden erhalten z. B. Gutscheine, Hotelzimmer usw. über das "
            "Kundenservice-Team. WIR MELDEN UNS WIEDER.",
        ),
        (
            "en",
            "We know that many of you were waiting for your flight today, and we're sorry. "
            "The flight was cancelled because of a technical fault. Our customer service "
            "team will refund the fare, e.g. by bank transfer, or book you on the next "
            "available flight. Please check your e-mail. WE WILL KEEP YOU POSTED.",
        ),
        (
            "en",
            "We apologize: the flight was canceled and travelers’ bags are delayed.",
        ),
        (
            "pl",
            "Wiemy, że wielu z Państwa czekało dziś na lot, i bardzo przepraszamy. Lot został "
            "odwołany z powodu usterki technicznej samolotu. Zwrócimy cenę biletu, np. "
            "przelewem.",
        ),
    ],
)
def test_given_correct_sentences_a_comms_team_writes_when_checked_then_nothing_is_flagged(
    checker: SpellChecker, language: str, text: str
) -> None:
    assert checker.unknown_words(text, language) == []


@pytest.mark.parametrize(
    "not_words",
    [
        "https://nordwnd.example/statment?id=xyzq",
        "www.nordwnd.example",
        "nordwnd.example/hilfe",
        "@nordwnd",
        "@nordwnd@mastodn.social",
        "@nordwnd.bsky.social",
        "#Kundnservice",
        "servis@nordwnd.example",
        "Flug NW 1234, LH400 und U2 8123",
        "um 14:30 Uhr am 02.12.2026, ab 9.30 Uhr, 24h, 1.234,56 EUR",
    ],
)
def test_given_urls_handles_tags_addresses_and_numbers_when_checked_then_they_are_no_words(
    checker: SpellChecker, not_words: str
) -> None:
    assert checker.unknown_words(f"Infos {not_words} jederzeit.", "de") == []


# --- known words -------------------------------------------------------------------------


def test_given_the_configs_brands_and_vocabulary_when_checked_then_they_are_known_words() -> None:
    config = example_config(lambda channel: f"http://127.0.0.1:1/{channel}")
    checker = without_suggestions(known_words(config))
    text = "Nordwind Air und NordwindAir: Ihr Kolibri-Bonus gilt, sagt das NORDWIND-AIR-Team."

    assert set(known_words(config)) >= {"Nordwind Air", "NordwindAir", "Nordwind", "Kolibri"}
    assert checker.unknown_words(text, "de") == []
    assert words(without_suggestions().unknown_words(text, "de")) == [
        "Air",
        "NordwindAir",
        "Kolibri",
        "AIR",
    ]


def test_given_a_brand_when_written_as_its_genitive_or_possessive_then_it_is_known(
    checker: SpellChecker,
) -> None:
    assert checker.unknown_words("Kolibris Kundenservice hilft.", "de") == []
    assert checker.unknown_words("Kolibri's team helps.", "en") == []


def test_given_a_brand_in_lowercase_when_checked_then_it_is_flagged(
    checker: SpellChecker,
) -> None:
    # As Hunspell treats its own proper names: capitals are fine, lowercase is a typo.
    assert words(checker.unknown_words("Thanks from kolibri and KOLIBRI.", "en")) == ["kolibri"]


def test_given_a_statements_own_names_when_passed_then_they_are_known_for_that_text_only(
    checker: SpellChecker,
) -> None:
    text = "Der Flug nach Palma de Mallorca fällt aus."

    assert checker.unknown_words(text, "de", known=["Palma de Mallorca"]) == []
    assert words(checker.unknown_words(text, "de")) == ["Palma"]


def test_given_a_hyphenated_compound_when_one_part_is_wrong_then_only_that_part_is_flagged(
    checker: SpellChecker,
) -> None:
    text = "Das Kundenservcie-Team und die Kolibri-Hotline helfen."

    assert checker.unknown_words(text, "de")[0].word == "Kundenservcie"
    assert checker.unknown_words(text, "de")[0].offset == text.index("Kundenservcie")
    assert len(checker.unknown_words(text, "de")) == 1


# --- what cannot be checked says so ------------------------------------------------------


def test_given_an_unsupported_language_when_checked_then_it_is_a_clear_error(
    checker: SpellChecker,
) -> None:
    with pytest.raises(
        UnsupportedLanguage, match=r"no dictionary for 'fr' \(checked: de, en, pl\)"
    ):
        checker.unknown_words("Nous sommes désolés.", "fr")
    assert not checker.supports("fr")
    assert checker.supports("de-DE")
    assert checker.supports("en_GB")
    assert checker.unknown_words("We are sorry.", "en-GB") == []


def test_given_the_dictionaries_are_not_installed_when_checked_then_it_is_a_clear_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(DictionaryMissing, match=r"de\.aff is missing; `make setup`"):
        SpellChecker(dictionaries=tmp_path).unknown_words("Wir prüfen das.", "de")


@pytest.mark.parametrize("collecting", [True, False])
def test_given_a_dictionary_loading_then_the_garbage_collector_waits_and_is_as_it_was_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collecting: bool
) -> None:
    # Given a small German dictionary of its own, and the collector on or off
    from spylls.hunspell import Dictionary  # type: ignore[import-untyped]

    (tmp_path / "de.aff").write_text("SET UTF-8\n", encoding="utf-8")
    (tmp_path / "de.dic").write_text("1\nHallo\n", encoding="utf-8")
    seen_while_loading: list[bool] = []
    real_load = Dictionary.from_files

    def load(path: str) -> object:
        seen_while_loading.append(gc.isenabled())
        return real_load(path)

    monkeypatch.setattr(Dictionary, "from_files", load)
    was_enabled = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        # When it loads for a first check
        unknown = SpellChecker(dictionaries=tmp_path).unknown_words("Hallo Welt", "de")
        after = gc.isenabled()
    finally:
        (gc.enable if was_enabled else gc.disable)()
    # Then it was read with the collector paused, which is as it was once it is loaded
    assert seen_while_loading == [False]
    assert after is collecting
    assert words(unknown) == ["Welt"]
