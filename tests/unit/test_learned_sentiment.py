"""The learned sentiment model (stormwatch.listen.learned) and how OfflineAnalyzer uses it.

The models here are tiny and hand-made: no test trains anything. The shipped table is only
read, to check it loads, lazily, and what it says about the demo's texts (test_sentiment).
"""

from __future__ import annotations

import logging
from array import array
from pathlib import Path

import pytest

from stormwatch.listen import learned, sentiment
from stormwatch.listen.learned import (
    CLASSES,
    FeatureSpace,
    LinearModel,
    lexicon_inputs,
    probabilities,
    tokens,
)
from stormwatch.listen.sentiment import OfflineAnalyzer, learned_score, score_label
from stormwatch.model import Sentiment


def _model(votes: dict[str, int], *, lexicon: bool = False) -> LinearModel:
    """A model for en and de in which each word of `votes` votes for one class (0, 1, 2)."""
    space = FeatureSpace(
        256, frozenset({"en", "de"}), language_features=True, lexicon_features=lexicon
    )
    table = array("f", [0.0] * (space.rows * CLASSES))
    for word, label in votes.items():
        for index in space.features(word, "en"):
            table[index * CLASSES + label] = 1.0
    if lexicon:  # max(-s, 0) votes negative, max(s, 0) positive, s == 0 neutral
        base = space.buckets * CLASSES
        for offset, label in enumerate((0, 2, 1)):
            table[base + offset * CLASSES + label] = 5.0
    bias = {"*": (0.0, 0.1, 0.0), "en": (0.0, 0.1, 0.0), "de": (0.0, 0.1, 0.0)}
    return LinearModel(space, table, bias)


# --- the model ------------------------------------------------------------------------------


def test_linear_model_round_trips_and_scores_from_its_table(tmp_path: Path) -> None:
    # Given a model whose every feature of "bad" votes negative, saved and loaded again
    space = FeatureSpace(64, frozenset({"en"}), language_features=True)
    table = array("f", [0.0] * (space.rows * CLASSES))
    for index in space.features("bad", "en"):
        table[index * CLASSES] = 1.0
    model = LinearModel(space, table, {"*": (0.0, 0.1, 0.0), "en": (0.0, 0.1, 0.0)})
    path = tmp_path / "m.bin"
    model.save(path)
    loaded = LinearModel.load(path)
    # Then the loaded one labels and scores as the original, and the file is its bytes
    assert loaded.label("bad", "en") == 0
    assert loaded.label("", "en") == 1
    assert loaded.scores("bad", "en") == pytest.approx(model.scores("bad", "en"))
    assert LinearModel.from_bytes(path.read_bytes()).bias == loaded.bias
    assert tokens("SOOO bad!!! @brand http://x.co/1 :( 😡 42") == [
        "soo", "bad", "!!", "@user", "<url>", ":(", "😡", "0",
    ]  # fmt: skip


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    # Given bytes that are not a weights file / Then loading says so
    with pytest.raises(ValueError, match="not a stormwatch-linear-1 file"):
        LinearModel.from_bytes(b"PK\x03\x04", "x.bin")


def test_cached_chunk_sums_equal_the_features_the_trainer_sees() -> None:
    # Given a model with arbitrary weights
    space = FeatureSpace(512, frozenset({"de"}), language_features=True)
    table = array("f", [((i * 7919) % 13 - 6) / 10 for i in range(space.rows * CLASSES)])
    model = LinearModel(space, table, {"*": (0.0, 0.0, 0.0), "de": (0.1, 0.0, -0.1)})
    for text, language in [
        ("Nicht gut!!! @db_bahn #Zugausfall 😡😡 http://t.co/x", "de"),
        ("  so   sooo bad:( ok  ", "en"),
        ("...", "de"),
    ]:
        # When a text is scored, cold and then from the caches
        indices = space.features(text, language)
        reference = [model.bias[language if language == "de" else "*"][k] for k in range(3)]
        for k in range(CLASSES):
            total = sum(table[i * CLASSES + k] for i in indices)
            reference[k] += total / len(indices) ** 0.5 if indices else 0.0
        # Then both equal the sums over the features the trainer builds its rows from
        for _ in range(2):
            assert model.scores(text, language) == pytest.approx(reference, abs=1e-6)


def test_the_caches_stay_bounded_and_scores_do_not_change_when_they_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a model whose caches may hold five chunks and pairs, all languages together
    monkeypatch.setattr(learned, "MEMO_LIMIT", 5)
    space = FeatureSpace(512, frozenset({"de", "en"}), language_features=True)
    table = array("f", [((i * 7919) % 13 - 6) / 10 for i in range(space.rows * CLASSES)])
    bias = {"*": (0.0, 0.0, 0.0), "de": (0.1, 0.0, -0.1), "en": (0.0, 0.1, 0.0)}
    bounded = LinearModel(space, table, bias)
    words = [f"wort{chr(97 + i)}" for i in range(26)]
    texts = [
        (f"{word} und noch mehr {word}!", "de" if i % 2 else "en") for i, word in enumerate(words)
    ]
    # When many texts in two languages are scored, twice
    first = [bounded.scores(text, language) for text, language in texts]
    second = [bounded.scores(text, language) for text, language in texts]
    # Then the caches never hold more than allowed, and the scores are those of a fresh model
    assert bounded._remembered <= 5
    assert sum(map(len, bounded._chunks.values())) <= 5
    fresh = [v for t, lang in texts for v in LinearModel(space, table, bias).scores(t, lang)]
    assert [v for values in first for v in values] == pytest.approx(fresh, abs=1e-6)
    assert [v for values in second for v in values] == pytest.approx(fresh, abs=1e-6)
    assert len(set(first)) == len(texts)


def test_the_lexicon_score_enters_as_three_inputs() -> None:
    # Given a model that reads only the lexicon's score
    model = _model({}, lexicon=True)
    # Then a negative score votes negative, a positive one positive, zero neutral
    assert lexicon_inputs(-0.5) == (0.5, 0.0, 0.0)
    assert model.label("whatever", "en", -0.5) == 0
    assert model.label("whatever", "en", 0.5) == 2
    assert model.label("whatever", "en", 0.0) == 1


# --- the stored score -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "label"),
    [
        ((2.0, 0.0, -1.0), Sentiment.NEGATIVE),
        ((0.01, 0.0, 0.0), Sentiment.NEGATIVE),  # barely ahead: still at most -0.05
        ((0.0, 0.0, 0.0), Sentiment.NEGATIVE),  # a tie goes to the earlier class
        ((-1.0, 0.5, 0.4), Sentiment.NEUTRAL),
        ((-3.0, 0.0, -0.1), Sentiment.NEUTRAL),
        ((0.2, 0.1, 0.2), Sentiment.NEGATIVE),
        ((-0.5, 0.3, 0.31), Sentiment.POSITIVE),  # barely ahead: still at least 0.05
        ((-2.0, -1.0, 3.0), Sentiment.POSITIVE),
    ],
)
def test_a_learned_score_reads_back_as_its_label(
    values: tuple[float, float, float], label: Sentiment
) -> None:
    # Given a model's decision values / When turned into what the poll path stores
    found, value = learned_score(values)
    # Then the label is the highest value's and the score, in [-1, 1], reads back as it
    assert found is label
    assert -1.0 <= value <= 1.0
    assert score_label(value) is label


def test_a_learned_score_is_the_positive_share_minus_the_negative_one() -> None:
    # Given clear decision values / Then the score is P(positive) - P(negative) of a softmax
    shares = probabilities((-2.0, -1.0, 3.0))
    assert sum(shares) == pytest.approx(1.0)
    assert learned_score((-2.0, -1.0, 3.0))[1] == pytest.approx(shares[2] - shares[0])
    assert learned_score((3.0, -1.0, -2.0))[1] == pytest.approx(shares[0] - shares[2])


# --- the analyzer ---------------------------------------------------------------------------


def test_the_analyzer_labels_trained_languages_with_the_model_and_others_with_the_lexicon() -> None:
    # Given a model that calls "terrible" and "fatalna" positive (the lexicons: negative)
    analyzer = OfflineAnalyzer(_model({"terrible": 2, "fatalna": 2}))
    # When texts in a trained language, in Polish and in an unknown language are analysed
    results = analyzer.analyze([("terrible", "en"), ("fatalna", "pl"), ("terrible", "und")])
    # Then the model labels the trained language; the others keep the lexicon's compound
    assert results[0][0] is Sentiment.POSITIVE
    assert results[1] == (Sentiment.NEGATIVE, analyzer.score("fatalna", "pl"))
    assert results[2] == (Sentiment.NEGATIVE, analyzer.score("terrible", "und"))


def test_the_analyzer_feeds_the_lexicon_score_to_the_model() -> None:
    # Given a model that reads only the lexicon's score
    analyzer = OfflineAnalyzer(_model({}, lexicon=True))
    # When texts the lexicon scores negative, positive and not at all are analysed
    labels = [
        label for label, _ in analyzer.analyze([("awful", "en"), ("toll", "de"), ("x", "en")])
    ]
    # Then the model follows the lexicon's sign
    assert labels == [Sentiment.NEGATIVE, Sentiment.POSITIVE, Sentiment.NEUTRAL]


def test_without_a_model_the_analyzer_is_the_lexicon_alone() -> None:
    # Given the analyzer without a model / Then labels and scores are the lexicon's
    analyzer = OfflineAnalyzer(model=None)
    value = analyzer.score("Terrible service, never again", "en")
    assert analyzer.analyze([("Terrible service, never again", "en")]) == [
        (score_label(value), value)
    ]


def test_the_shipped_model_loads_on_first_scoring_not_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the shipped model not loaded yet
    monkeypatch.setattr(sentiment._Shipped, "loaded", False)
    monkeypatch.setattr(sentiment._Shipped, "model", None)
    # When an analyzer is made, nothing is read; when it scores, the table is
    analyzer = OfflineAnalyzer()
    before = sentiment._Shipped.loaded
    analyzer.analyze([("Worst airline ever", "en")])
    assert (before, sentiment._Shipped.loaded) == (False, True)
    # Then it is the six-language model with the lexicon inputs
    assert analyzer.model is not None
    assert analyzer.model.space.languages == {"en", "de", "fr", "es", "it", "pt"}
    assert analyzer.model.space.lexicon_features


def test_a_missing_table_falls_back_to_the_lexicon_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a layer whose weights file is missing
    monkeypatch.setattr(sentiment._Shipped, "loaded", False)
    monkeypatch.setattr(sentiment._Shipped, "model", None)
    monkeypatch.setattr(sentiment, "SHIPPED_MODEL", "missing.bin")
    # When a text is analysed
    with caplog.at_level(logging.WARNING, logger=sentiment.__name__):
        results = OfflineAnalyzer().analyze([("Terrible service", "en")])
    # Then it gets the lexicon's label and score, and the log says why
    value = OfflineAnalyzer(model=None).score("Terrible service", "en")
    assert results == [(Sentiment.NEGATIVE, value)]
    assert "lexicon only" in caplog.text
