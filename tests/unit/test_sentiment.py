"""Sentiment: the offline lexicon analyzer's rules, the shipped analyzer's measured accuracy
(own set and the demo's texts), and Comprehend. The learned model: test_learned_sentiment."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from local import scenario
from stormwatch.listen.sentiment import (
    COMPREHEND_BATCH_SIZE,
    COMPREHEND_MAX_BYTES,
    ComprehendAnalyzer,
    Lexicon,
    OfflineAnalyzer,
    comprehend_cost_usd,
    lexicon_for,
    score_label,
    truncate_utf8,
)
from stormwatch.model import Sentiment

EVAL = Path(__file__).resolve().parents[1] / "data" / "sentiment_eval.tsv"
LAYER_PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "core" / "stormwatch"

# The shipped analyzer (learned model for en de fr es, lexicon alone for pl) on
# tests/data/sentiment_eval.tsv, the project's own set, written by the lexicons' authors:
# en 0.860 (74/86), de 0.884 (76/86), pl 0.907 (78/86), fr 0.719 (23/32), es 0.969 (31/32).
# The lexicon alone scored en 0.849, de 0.907 and fr 0.938 (the rest the same): the model,
# trained on real posts, reads short neutral French and German questions and announcements
# as negative more often (docs/decisions/0019; on real posts it gains 32 points in French).
# A regression test, not an accuracy claim: each floor allows one or two texts to flip.
ACCURACY_FLOORS = {"en": 0.83, "de": 0.87, "pl": 0.88, "fr": 0.68, "es": 0.90}

analyzer = OfflineAnalyzer()


def score(text: str, language: str = "en") -> float:
    return analyzer.score(text, language)


# --- labels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (-1.0, Sentiment.NEGATIVE),
        (-0.05, Sentiment.NEGATIVE),
        (-0.049, Sentiment.NEUTRAL),
        (0.0, Sentiment.NEUTRAL),
        (0.049, Sentiment.NEUTRAL),
        (0.05, Sentiment.POSITIVE),
        (1.0, Sentiment.POSITIVE),
    ],
)
def test_score_label_uses_a_dead_band_of_five_hundredths(value: float, label: Sentiment) -> None:
    # Given a compound score / Then the label of VADER's thresholds
    assert score_label(value) is label


def test_analyze_returns_one_label_and_score_per_item_in_order() -> None:
    # Given a batch in three languages
    items = [("great service", "en"), ("Frechheit!", "de"), ("", "pl"), ("ok", "und")]
    # When analysed as a batch
    results = analyzer.analyze(items)
    # Then each item has its own label, consistent with its score in [-1, 1]
    assert [label for label, _ in results] == [
        Sentiment.POSITIVE,
        Sentiment.NEGATIVE,
        Sentiment.NEUTRAL,
        Sentiment.POSITIVE,
    ]
    for label, value in results:
        assert -1.0 <= value <= 1.0
        assert score_label(value) is label


# --- the rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "plain", "negated"),
    [
        ("en", "The service was good", "The service was not good"),
        ("en", "I recommend them", "I don't recommend them"),
        ("de", "Der Service war gut", "Der Service war nicht gut"),
        ("de", "Das war hilfreich und freundlich", "Das war keine Hilfe"),
        ("pl", "Polecam", "Nie polecam"),
        ("pl", "Jestem zadowolony", "Nie jestem zadowolony"),
        ("fr", "Je recommande", "Je ne recommande pas"),
        ("es", "Me gusta", "No me gusta"),
    ],
)
def test_negation_flips_the_words_after_it(language: str, plain: str, negated: str) -> None:
    # Given praise and the same praise negated / Then the negated one is negative
    assert score(plain, language) > 0
    assert score(negated, language) < 0


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("de", "Das gefällt mir nicht"),
        ("de", "Ich empfehle euch niemandem mehr"),
        ("fr", "J'aime pas du tout"),
        ("fr", "Je n'aime pas"),
        ("en", "Thanks for nothing"),
    ],
)
def test_a_negator_closing_its_clause_negates_the_word_before_it(language: str, text: str) -> None:
    # Given a negation placed after the verb / Then the praise before it is negated
    assert score(text, language) < 0


def test_a_negator_that_opens_a_new_phrase_does_not_reach_back() -> None:
    # Given a complaint followed by "no way to ..." that negates nothing before it
    text = "The chatbot is useless and there is no way to reach a human"
    # Then "useless" keeps its sign
    assert score(text) < 0


def test_a_negated_negative_is_mildly_positive() -> None:
    # Given "not bad" / Then positive, but weaker than "good"
    assert 0 < score("not bad") < score("good")
    assert score("kein Problem", "de") > 0


@pytest.mark.parametrize(
    ("language", "plain", "boosted"),
    [
        ("en", "good", "very good"),
        ("en", "rude", "extremely rude"),
        ("de", "enttäuscht", "total enttäuscht"),
        ("de", "gut", "sehr gut"),
        ("pl", "dobrze", "bardzo dobrze"),
        ("pl", "słabo", "naprawdę słabo"),
        ("fr", "décevant", "très décevant"),
        ("es", "malo", "muy malo"),
    ],
)
def test_boosters_strengthen_the_word_after_them(language: str, plain: str, boosted: str) -> None:
    # Given a word with and without an intensifier / Then same sign, larger magnitude
    assert abs(score(boosted, language)) > abs(score(plain, language)) > 0
    assert (score(boosted, language) > 0) == (score(plain, language) > 0)


def test_dampeners_weaken_the_word_after_them() -> None:
    # Given "slightly annoying" / Then less negative than "annoying", still negative
    assert score("annoying") < score("slightly annoying") < 0


def test_multi_word_modifiers_act_on_the_words_after_them() -> None:
    # Given modifiers of two words / Then they damp or contrast like single ones,
    # and their first word ("kind") is not read as an opinion of its own
    assert 0 < score("kind of good") < score("good")
    assert score("a bit slow") > score("slow")
    assert 0 < score("un peu décevant", "fr") * -1 < score("décevant", "fr") * -1
    assert score("El vuelo fue malo, sin embargo el personal fue genial", "es") > 0


def test_a_booster_that_is_also_praise_counts_alone() -> None:
    # Given "super" alone and "super" before a word / Then praise alone, a booster before
    assert score("super", "de") > 0
    assert score("super nett", "de") > score("nett", "de")


def test_all_caps_inside_mixed_case_text_is_emphasis() -> None:
    # Given the same complaint with one word shouted
    # Then the shouted one is stronger; a text all in capitals gets no extra weight
    assert score("the service was TERRIBLE") < score("the service was terrible") < 0
    assert score("TERRIBLE") == score("terrible")


def test_exclamation_marks_strengthen_and_stretched_words_count() -> None:
    # Given exclamation marks and stretched spelling / Then stronger, same sign
    assert score("great!!!") > score("great") > 0
    assert score("terrible!!!") < score("terrible") < 0
    assert score("sooo baaad") < 0
    assert score("goood") > 0


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("😡", -1),
        ("🤬🤬", -1),
        ("👎👎👎", -1),
        ("😍", 1),
        ("👍", 1),
        ("❤️", 1),
        (":(", -1),
        (":-(", -1),
        (":)", 1),
        ("<3", 1),
    ],
)
def test_emoji_and_emoticons_carry_valence(text: str, sign: int) -> None:
    # Given an emoji or emoticon alone / Then its sign
    assert score(text) * sign > 0


def test_emoji_are_not_negated_by_a_negator_before_them() -> None:
    # Given a negation followed by an angry emoji / Then the emoji stays negative
    assert score("Ich empfehle euch niemandem mehr 👎", "de") < score("Ich empfehle euch 👎", "de")
    assert score("no 😡") < 0


@pytest.mark.parametrize(
    ("language", "text", "sign"),
    [
        ("en", "The food was great but the staff were rude", -1),
        ("en", "The staff were rude but the food was great", 1),
        ("de", "Das Essen war super, aber das Personal unfreundlich", -1),
        ("pl", "Obsługa miła, ale paczka zniszczona", -1),
        ("fr", "Le vol était en retard mais le personnel adorable", 1),
        ("es", "El vuelo fue genial pero el personal maleducado", -1),
    ],
)
def test_contrast_weighs_the_later_clause(language: str, text: str, sign: int) -> None:
    # Given praise and a complaint joined by "but" / Then the later clause decides
    assert score(text, language) * sign > 0


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "#fail"),
        ("en", "#boycott"),
        ("en", "#boycottskyjet"),
        ("en", "#SkyJetFail"),
        ("de", "#Shitstorm"),
        ("de", "#NordBahnChaos"),
        ("pl", "#bojkot"),
    ],
)
def test_hashtags_are_read_including_brand_compounds(language: str, text: str) -> None:
    # Given a crisis hashtag, alone or glued to a brand / Then negative
    assert score(text, language) < 0


@pytest.mark.parametrize(
    "word",
    ["Riesenfrechheit", "Katastrophenservice", "Zugausfall", "Servicekatastrophe", "Scheißladen"],
)
def test_german_compounds_are_read_by_their_parts(word: str) -> None:
    # Given a compound no lexicon lists / Then the known head or stem decides
    assert score(word, "de") < 0


def test_german_negating_prefix_and_umlauts_are_not_folded_away() -> None:
    # Given "unzuverlässig" (not in the lexicon) and "schon" (already), not "schön"
    assert score("unzuverlässig", "de") < 0 < score("zuverlässig", "de")
    assert score("Der Zug ist schon da", "de") == 0
    assert score("Der Zug ist schön", "de") > 0


@pytest.mark.parametrize(
    "text",
    ["oszuści", "oszustwo", "oszukali mnie", "oszukańcy", "naciągacze", "wyciek danych"],
)
def test_polish_inflections_match_by_stem(text: str) -> None:
    # Given inflected forms of "fraud/cheat/leak" / Then all negative
    assert score(text, "pl") < 0


def test_polish_without_diacritics_and_with_negating_prefix() -> None:
    # Given Polish typed without diacritics / Then read as with them
    assert score("swietna obsluga", "pl") == score("świetna obsługa", "pl") > 0
    assert score("zle", "pl") < 0
    # Given "niezły" (not bad = pretty good), built with the glued "nie" / Then positive
    assert score("niezły serwis", "pl") > 0
    assert score("niesolidny", "pl") < 0


def test_french_elisions_are_split_from_their_word() -> None:
    # Given an elided article and an elided negation
    assert score("c'est de l'arnaque", "fr") < 0
    assert score("n'hésitez pas, service impeccable", "fr") > 0


def test_languages_without_a_lexicon_use_the_english_one() -> None:
    # Given Italian and undetermined posts / Then the English lexicon (and emoji) apply
    assert lexicon_for("it").language == "en"
    assert lexicon_for("und").language == "en"
    assert lexicon_for("de-AT").language == "de"
    assert score("what a scam 😡", "und") == score("what a scam 😡", "en") < 0
    assert score("che truffa, #fail", "it") < 0


def test_handles_and_urls_are_not_read_as_opinions() -> None:
    # Given only a happy-sounding handle and URL / Then neutral
    assert score("@happy_bank https://great.example/love", "en") == 0
    assert score("@worst_airline_ever thanks, sorted!") > 0


def test_mention_text_is_data_even_when_it_looks_like_markup_or_code() -> None:
    # Given text that would be dangerous if evaluated or templated / Then just words
    assert score("{{ config }} __import__('os').system('rm -rf /') ${jndi:ldap://x}") == 0


# --- lexicon files ------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "minimum"), [("en", 400), ("de", 400), ("pl", 400)])
def test_main_lexicons_have_several_hundred_entries(language: str, minimum: int) -> None:
    # Given the shipped lexicon / Then it is substantial, not a token list
    lexicon = lexicon_for(language)
    assert len(lexicon.words) + len(lexicon.stems) + len(lexicon.phrases) >= minimum


@pytest.mark.parametrize("language", ["fr", "es"])
def test_smaller_lexicons_exist_for_french_and_spanish(language: str) -> None:
    assert lexicon_for(language).language == language
    assert len(lexicon_for(language).words) >= 150


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("good", "expected word<TAB>valence"),
        ("good\tvery", "not a number"),
        ("good\t5", "outside [-4, 4]"),
        ("good\t1\tMAYBE", "unknown role"),
    ],
)
def test_malformed_lexicon_lines_are_rejected_with_their_place(line: str, problem: str) -> None:
    # Given a broken line / When loaded / Then an error naming file, line and problem
    with pytest.raises(ValueError, match=re.escape(problem)) as error:
        Lexicon("en").add("lexicons/en.tsv", 7, line)
    assert "lexicons/en.tsv:7" in str(error.value)


def test_a_word_listed_twice_is_rejected() -> None:
    # Given a lexicon that lists a word twice (in pl, also once with and once without ś)
    lexicon = Lexicon("pl")
    lexicon.add("pl.tsv", 1, "świetnie\t3")
    # Then the second is an error rather than a silent override
    with pytest.raises(ValueError, match="listed twice"):
        lexicon.add("pl.tsv", 2, "swietnie\t2")


def test_lexicons_and_weights_load_where_the_lambda_layer_installs_the_package(
    tmp_path: Path,
) -> None:
    # Given the package copied to python/stormwatch, as `sam build` lays out a layer
    shutil.copytree(
        LAYER_PACKAGE,
        tmp_path / "python" / "stormwatch",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    program = (
        "from stormwatch.listen import sentiment\n"
        "from stormwatch.listen.sentiment import OfflineAnalyzer\n"
        "from stormwatch.listen.language import detect_language\n"
        "text = 'Nie polecam, obsługa to jakiś żart 😡'\n"
        "language = detect_language(text)\n"
        "analyzer = OfflineAnalyzer()\n"
        "print(language, analyzer.score(text, language) < 0, sentiment._Shipped.loaded)\n"
        "label, _ = analyzer.analyze([('Worst airline ever, never again', 'en')])[0]\n"
        "print(label.value, analyzer.model is not None)\n"
    )
    # When a fresh interpreter imports it from there (and nothing else)
    environment = {"PYTHONPATH": str(tmp_path / "python"), "PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        check=False,
        timeout=60,
    )
    # Then the trigram profile, the lexicons and (on first scoring, not at import) the
    # learned model's weights load as package data
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["pl", "True", "False", "negative", "True"]


# --- measured accuracy --------------------------------------------------------------------


def _eval_rows() -> list[tuple[str, str, str]]:
    lines = EVAL.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "lang\tlabel\ttext"
    rows = []
    for line in lines[1:]:
        language, label, text = line.split("\t")
        rows.append((language, label, text))
    return rows


def test_evaluation_set_has_the_promised_size_and_labels() -> None:
    # Given the labelled evaluation set / Then >= 80 texts for en, de, pl and >= 30 fr, es
    rows = _eval_rows()
    counts = Counter(language for language, _, _ in rows)
    assert min(counts["en"], counts["de"], counts["pl"]) >= 80
    assert min(counts["fr"], counts["es"]) >= 30
    assert {label for _, label, _ in rows} == {s.value for s in Sentiment}


def test_accuracy_on_the_evaluation_set_stays_above_the_measured_floors() -> None:
    # Given the labelled evaluation set / When the shipped analyzer labels each text
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    rows = _eval_rows()
    labels = analyzer.analyze([(text, language) for language, _, text in rows])
    for (language, label, _), (found, _) in zip(rows, labels, strict=True):
        total[language] += 1
        right[language] += found.value == label
    accuracy = {language: right[language] / total[language] for language in total}
    # Then no language falls below the accuracy measured when the analyzer was written
    for language, floor in ACCURACY_FLOORS.items():
        assert accuracy[language] >= floor, accuracy


# The demo (local/scenario.py, `_storm_brand_post`): during the storm a brand post is drawn
# from the negative bank 80% of the time, the neutral 15%, the positive 5%, in de 50%,
# en 42%, pl 5%, fr 3% (a language without texts in a bank uses the English ones); the
# quiet Saturday draws from `_QUIET` in de 50%, en 40%, pl 7%, fr 3%. Each text is written
# with every brand form. Measured with the shipped analyzer: storm 0.712 negative (the
# lexicon alone: 0.758), quiet Saturday 0.150 (the same). The demo's negative-share rule
# fires at 0.6 (config/example.yaml).
STORM_NEGATIVE_FLOOR = 0.65
QUIET_NEGATIVE_CEILING = 0.20


def _negative_share(bank: dict[str, list[str]], language: str) -> float:
    written_in = language if language in bank else "en"
    texts = [
        template.replace("{brand}", form)
        for template in bank[written_in]
        for form in scenario.STORM_BRAND_FORMS
    ]
    labels = analyzer.analyze([(text, written_in) for text in texts])
    return sum(label is Sentiment.NEGATIVE for label, _ in labels) / len(labels)


def test_the_demo_storm_reads_mostly_negative_and_the_quiet_saturday_mostly_not() -> None:
    # Given the scenario's text banks and how often the demo draws from each
    storm_languages = {"de": 0.5, "en": 0.42, "pl": 0.05, "fr": 0.03}
    storm_banks = {
        0.8: scenario._STORM_NEGATIVE,
        0.15: scenario._STORM_NEUTRAL,
        0.05: scenario._STORM_POSITIVE,
    }
    quiet_languages = {"de": 0.5, "en": 0.4, "pl": 0.07, "fr": 0.03}
    quiet = {language: [text for text, _ in items] for language, items in scenario._QUIET.items()}
    # When the shipped analyzer labels every text in every brand form
    storm = sum(
        bank_weight * language_weight * _negative_share(bank, language)
        for bank_weight, bank in storm_banks.items()
        for language, language_weight in storm_languages.items()
    )
    saturday = sum(
        weight * _negative_share(quiet, lang) for lang, weight in quiet_languages.items()
    )
    # Then the storm's expected negative share is above the demo's alert level, the quiet
    # day's far below it
    assert storm >= STORM_NEGATIVE_FLOOR, storm
    assert saturday <= QUIET_NEGATIVE_CEILING, saturday


# --- Comprehend -----------------------------------------------------------------------------


class Budget:
    """A spend guard that allows up to `limit` dollars and records every request."""

    def __init__(self, limit: float = 100.0) -> None:
        self.limit = limit
        self.spent = 0.0
        self.requests: list[float] = []

    def try_spend(self, usd: float) -> bool:
        self.requests.append(usd)
        if self.spent + usd > self.limit + 1e-12:
            return False
        self.spent += usd
        return True


class RecordingFallback:
    """A fallback analyzer that remembers what it was given and answers NEUTRAL 0.0."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def analyze(self, items: Sequence[tuple[str, str]]) -> list[tuple[Sentiment, float]]:
        self.seen.extend(items)
        return [(Sentiment.NEUTRAL, 0.0) for _ in items]


@pytest.fixture
def comprehend() -> Iterator[tuple[Any, Stubber]]:
    # A real client: Stubber checks every request and response against the API model.
    client = boto3.client(
        "comprehend",
        region_name="eu-central-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _results(sentiments: Sequence[str]) -> dict[str, Any]:
    scores = {
        "POSITIVE": {"Positive": 0.9, "Negative": 0.02, "Neutral": 0.07, "Mixed": 0.01},
        "NEGATIVE": {"Positive": 0.01, "Negative": 0.95, "Neutral": 0.03, "Mixed": 0.01},
        "NEUTRAL": {"Positive": 0.1, "Negative": 0.1, "Neutral": 0.79, "Mixed": 0.01},
        "MIXED": {"Positive": 0.3, "Negative": 0.45, "Neutral": 0.05, "Mixed": 0.2},
    }
    return {
        "ResultList": [
            {"Index": index, "Sentiment": sentiment, "SentimentScore": scores[sentiment]}
            for index, sentiment in enumerate(sentiments)
        ],
        "ErrorList": [],
    }


def test_sixty_texts_go_in_three_calls_of_at_most_twenty_five(comprehend: Any) -> None:
    # Given 60 English mentions and Comprehend enabled for English
    client, stubber = comprehend
    texts = [f"mention number {n} about the outage" for n in range(60)]
    for start in (0, 25, 50):
        batch = texts[start : start + COMPREHEND_BATCH_SIZE]
        stubber.add_response(
            "batch_detect_sentiment",
            _results(["NEGATIVE"] * len(batch)),
            {"TextList": batch, "LanguageCode": "en"},
        )
    budget = Budget()
    analyzer_ = ComprehendAnalyzer(client, budget, languages={"en"}, fallback=RecordingFallback())
    # When analysed
    results = analyzer_.analyze([(text, "en") for text in texts])
    # Then three calls (25, 25, 10), every result from Comprehend, each batch paid for first
    assert len(results) == 60
    assert all(label is Sentiment.NEGATIVE for label, _ in results)
    assert results[0][1] == pytest.approx(0.01 - 0.95)
    assert analyzer_.analyzed_by_comprehend == 60
    assert len(budget.requests) == 3
    assert budget.requests[2] == pytest.approx(10 * 3 * 0.0001)  # 10 short texts, 3 units each


def test_languages_are_batched_separately_and_results_keep_their_order(comprehend: Any) -> None:
    # Given interleaved German, English and Polish mentions; Comprehend for de and en only
    client, stubber = comprehend
    items = [("gut", "de"), ("bad", "en"), ("dobrze", "pl"), ("schlecht", "de"), ("", "en")]
    stubber.add_response(
        "batch_detect_sentiment",
        _results(["POSITIVE", "NEGATIVE"]),
        {"TextList": ["gut", "schlecht"], "LanguageCode": "de"},
    )
    stubber.add_response(
        "batch_detect_sentiment",
        _results(["MIXED"]),
        {"TextList": ["bad"], "LanguageCode": "en"},
    )
    fallback = RecordingFallback()
    analyzer_ = ComprehendAnalyzer(client, Budget(), languages={"de", "en"}, fallback=fallback)
    # When analysed
    results = analyzer_.analyze(items)
    # Then one call per language, Polish and the empty text go to the fallback, order is kept,
    # and MIXED counts as neutral with score Positive - Negative
    assert results[0][0] is Sentiment.POSITIVE
    assert results[1][0] is Sentiment.NEUTRAL
    assert results[1][1] == pytest.approx(0.3 - 0.45)
    assert results[3][0] is Sentiment.NEGATIVE
    assert fallback.seen == [("dobrze", "pl"), ("", "en")]


def test_long_multibyte_text_is_cut_to_five_thousand_bytes_on_a_character_boundary(
    comprehend: Any,
) -> None:
    # Given texts longer than Comprehend's 5,000-byte limit in 2- and 3-byte characters
    client, stubber = comprehend
    polish = "ł" * 3000  # 6,000 bytes
    euros = "€" * 2000  # 6,000 bytes; 5,000 is not a multiple of 3
    stubber.add_response(
        "batch_detect_sentiment",
        _results(["NEUTRAL", "NEUTRAL"]),
        {"TextList": ["ł" * 2500, "€" * 1666], "LanguageCode": "de"},
    )
    budget = Budget()
    analyzer_ = ComprehendAnalyzer(client, budget, languages={"de"})
    # When analysed / Then exactly what the Stubber expects was sent, and the cost is of that
    analyzer_.analyze([(polish, "de"), (euros, "de")])
    assert budget.requests == [pytest.approx((25 + 17) * 0.0001)]


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 5000, "abc"),
        ("a" * 5001, 5000, "a" * 5000),
        ("aa😡", 5, "aa"),  # the emoji is 4 bytes: cutting it would leave invalid UTF-8
        ("aa😡", 6, "aa😡"),
        ("żółw", 4, "żó"),
    ],
)
def test_truncate_utf8_never_splits_a_character(text: str, limit: int, expected: str) -> None:
    assert truncate_utf8(text, limit) == expected
    assert len(truncate_utf8(text, limit).encode()) <= limit


def test_truncation_limit_is_comprehends() -> None:
    assert COMPREHEND_MAX_BYTES == 5000


@pytest.mark.parametrize(
    ("lengths", "usd"),
    [([1], 0.0003), ([300], 0.0003), ([301], 0.0004), ([1000, 50], 0.0013), ([], 0.0)],
)
def test_cost_is_per_hundred_characters_with_three_units_minimum(
    lengths: list[int], usd: float
) -> None:
    assert comprehend_cost_usd("x" * length for length in lengths) == pytest.approx(usd)


def test_items_in_the_error_list_fall_back_one_by_one(comprehend: Any) -> None:
    # Given a batch where Comprehend rejects the middle text
    client, stubber = comprehend
    response = _results(["POSITIVE", "POSITIVE", "NEGATIVE"])
    response["ResultList"] = [response["ResultList"][0], response["ResultList"][2]]
    response["ErrorList"] = [
        {"Index": 1, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "try again"}
    ]
    stubber.add_response(
        "batch_detect_sentiment", response, {"TextList": ["a", "b", "c"], "LanguageCode": "en"}
    )
    fallback = RecordingFallback()
    analyzer_ = ComprehendAnalyzer(client, Budget(), languages={"en"}, fallback=fallback)
    # When analysed
    results = analyzer_.analyze([("a", "en"), ("b", "en"), ("c", "en")])
    # Then only the rejected text went to the fallback, and the others kept Comprehend's answer
    assert fallback.seen == [("b", "en")]
    assert [label for label, _ in results] == [
        Sentiment.POSITIVE,
        Sentiment.NEUTRAL,
        Sentiment.NEGATIVE,
    ]
    assert analyzer_.fallback_due_to_errors == 1


def test_refused_budget_sends_the_batch_to_the_fallback(comprehend: Any) -> None:
    # Given a budget that covers the first batch of 25 short texts and not the second
    client, stubber = comprehend
    texts = [f"text {n}" for n in range(30)]
    stubber.add_response(
        "batch_detect_sentiment",
        _results(["NEUTRAL"] * 25),
        {"TextList": texts[:25], "LanguageCode": "en"},
    )
    budget = Budget(limit=25 * 3 * 0.0001)
    fallback = RecordingFallback()
    analyzer_ = ComprehendAnalyzer(client, budget, languages={"en"}, fallback=fallback)
    # When analysed
    analyzer_.analyze([(text, "en") for text in texts])
    # Then one call only; the 5 texts of the refused batch went offline and are counted
    assert analyzer_.fallback_due_to_budget == 5
    assert fallback.seen == [(text, "en") for text in texts[25:]]
    assert analyzer_.spent_usd == pytest.approx(budget.spent)


def test_a_failed_call_falls_back_for_its_batch_and_logs_without_raising(
    comprehend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given Comprehend throttling the first batch and answering the second
    client, stubber = comprehend
    texts = [f"text {n}" for n in range(26)]
    stubber.add_client_error(
        "batch_detect_sentiment",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded",
        http_status_code=400,
        expected_params={"TextList": texts[:25], "LanguageCode": "en"},
    )
    stubber.add_response(
        "batch_detect_sentiment",
        _results(["POSITIVE"]),
        {"TextList": texts[25:], "LanguageCode": "en"},
    )
    fallback = RecordingFallback()
    analyzer_ = ComprehendAnalyzer(client, Budget(), languages={"en"}, fallback=fallback)
    # When analysed
    with caplog.at_level(logging.WARNING, logger="stormwatch.listen.sentiment"):
        results = analyzer_.analyze([(text, "en") for text in texts])
    # Then the throttled batch fell back, the next one still used Comprehend, and a warning
    # names the error but not the mention text
    assert fallback.seen == [(text, "en") for text in texts[:25]]
    assert results[25][0] is Sentiment.POSITIVE
    assert analyzer_.fallback_due_to_errors == 25
    assert "ThrottlingException" in caplog.text
    assert "text 3" not in caplog.text


def test_default_fallback_is_the_offline_analyzer(comprehend: Any) -> None:
    # Given Comprehend for German only / When a Polish complaint arrives
    client, _ = comprehend
    analyzer_ = ComprehendAnalyzer(client, Budget(), languages={"de"})
    # Then the offline analyzer scores it, without any call
    [(label, value)] = analyzer_.analyze([("Oszuści, nie polecam!", "pl")])
    assert label is Sentiment.NEGATIVE
    assert value < 0


def test_languages_comprehend_cannot_analyse_are_refused_at_construction(comprehend: Any) -> None:
    client, _ = comprehend
    with pytest.raises(ValueError, match="pl"):
        ComprehendAnalyzer(client, Budget(), languages={"de", "pl"})
