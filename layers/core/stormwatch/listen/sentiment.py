"""Sentiment of mentions behind one batch interface: an offline analyzer and Comprehend.

`OfflineAnalyzer` is the default: free, in-process, microseconds a mention (measured by
``bench/text_analysis.py``). In the languages its learned model was trained on (en, de,
fr, es, it, pt) it labels with that model (``learned.py``, weights and model card in
``models/``; docs/decisions/0019), which reads the post's n-grams and the lexicon score
below; in every other language (Polish included), or if the weights cannot be read, the
lexicon score alone gives the label.

The lexicon score is computed like VADER (Hutto & Gilbert, 2014), re-implemented here with
lexicons written for this project (``lexicons/<lang>.tsv``, format in ``lexicons/README.md``):

- each word, emoji or emoticon has a valence from -4 to +4;
- a negator within the three tokens before a word flips and damps it (x -0.74): "not good",
  "nicht gut", "nie polecam"; a negator that finds no word after it in its clause flips the
  word just before it, as German and French put it after the verb ("gefällt mir nicht",
  "j'aime pas") and English does in "thanks for nothing";
- intensifiers and downtoners in the same window add or remove 0.293 (less with distance);
  a word in ALL CAPS inside mixed-case text adds 0.733; a stretched word ("sooo baaad") 0.293;
- "but"/"aber"/"ale" weighs what comes before by 0.5 and what comes after by 1.5;
- each "!" (up to four) adds 0.292 towards the sign of the sum; two or three "?" add 0.18
  each, more add 0.96;
- hashtags are read as words, and if unknown, by their longest known prefix or suffix
  (#boycottskyjet, #lufthansafail); German compounds by their head (Zugausfall -> Ausfall)
  and by explicit stems (Katastrophen-); Polish inflections by stems (oszuk*);
- the sum s becomes s / sqrt(s^2 + 15) in [-1, 1]; <= -0.05 is negative, >= 0.05 positive.

Languages without a lexicon (it, nl, pt, "und", ...) are read with the English lexicon:
English crisis words (fail, scam, boycott, wtf) and emoji turn up in posts of every
language, while a union of all lexicons would misread false friends (German "Gift" is
poison, Spanish "sin" is "without", German "mal" is "once", Polish "nie" is "not").

`ComprehendAnalyzer` sends the languages it is configured for to Amazon Comprehend under a
spending guard and hands everything else, and everything that fails, to a fallback.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from itertools import chain
from typing import TYPE_CHECKING, Final, Literal, Protocol, cast

from stormwatch.config import COMPREHEND_LANGUAGES
from stormwatch.listen.language import BoundedMemo
from stormwatch.listen.learned import LinearModel, probabilities
from stormwatch.model import Sentiment
from stormwatch.text import fold

if TYPE_CHECKING:
    from mypy_boto3_comprehend import ComprehendClient
    from mypy_boto3_comprehend.literals import LanguageCodeType
    from mypy_boto3_comprehend.type_defs import BatchDetectSentimentResponseTypeDef

logger = logging.getLogger(__name__)

POSITIVE_THRESHOLD: Final = 0.05
NEGATIVE_THRESHOLD: Final = -0.05


class SentimentAnalyzer(Protocol):
    def analyze(self, items: Sequence[tuple[str, str]]) -> list[tuple[Sentiment, float]]:
        """Label and score in [-1, 1] of each (text, language) item, in order."""
        ...


class SpendGuard(Protocol):
    def try_spend(self, usd: float) -> bool:
        """Reserve `usd` of the budget; False (and nothing reserved) when it would overrun."""
        ...


def score_label(score: float) -> Sentiment:
    """The label of a compound score (VADER's thresholds: the dead band is +-0.05)."""
    if score <= NEGATIVE_THRESHOLD:
        return Sentiment.NEGATIVE
    if score >= POSITIVE_THRESHOLD:
        return Sentiment.POSITIVE
    return Sentiment.NEUTRAL


# --- lexicons ---------------------------------------------------------------------------

LEXICON_LANGUAGES: Final = frozenset({"en", "de", "pl", "fr", "es"})
DEFAULT_LEXICON: Final = "en"
_SHARED_LEXICON = "mul"
# Posts in these languages often drop diacritics ("zle", "pesimo"), and few sentiment words
# differ only by them. German keeps them: "schon" (already) is not "schön" (beautiful).
_DIACRITICS_OPTIONAL: Final = frozenset({"pl", "fr", "es"})
# German writes compounds as one word; the head (last part) carries the meaning.
_COMPOUND_HEADS: Final = frozenset({"de"})
_MIN_COMPOUND_HEAD = 5
_MIN_AFFIX_MATCH = 4

PLAIN, NEGATOR, BOOSTER, DAMPENER, CONTRAST, BREAK = range(6)
_ROLES: Final = {"NEG": NEGATOR, "BOOST": BOOSTER, "DAMP": DAMPENER, "BUT": CONTRAST}


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    valence: float
    role: int = PLAIN


Phrase = tuple[tuple[str, ...], float, int]
"""The words after a phrase's first word, its valence, and its role (PLAIN, NEGATOR ...)."""


@dataclass(slots=True)
class Lexicon:
    """The entries of one language (plus the shared ones), keyed by normalised form."""

    language: str
    words: dict[str, LexiconEntry] = field(default_factory=dict)
    stems: dict[str, float] = field(default_factory=dict)
    endings: dict[str, float] = field(default_factory=dict)
    phrases: dict[str, list[Phrase]] = field(default_factory=dict)
    negating_prefixes: list[str] = field(default_factory=list)
    stem_lengths: tuple[int, ...] = ()

    @property
    def fold_diacritics(self) -> bool:
        return self.language in _DIACRITICS_OPTIONAL

    def key(self, word: str) -> str:
        lowered = word.casefold()
        if lowered.isascii():
            return lowered
        lowered = lowered.replace("’", "'")
        return fold(lowered) if self.fold_diacritics else lowered

    def add(self, source: str, line_number: int, line: str) -> None:
        parts = line.split("\t")
        where = f"{source}:{line_number}"
        if len(parts) not in (2, 3) or not parts[0].strip():
            raise ValueError(f"{where}: expected word<TAB>valence[<TAB>role], got {line!r}")
        word, valence_text = parts[0].strip(), parts[1].strip()
        try:
            valence = float(valence_text)
        except ValueError:
            raise ValueError(f"{where}: valence {valence_text!r} is not a number") from None
        if not -4.0 <= valence <= 4.0:
            raise ValueError(f"{where}: valence {valence} outside [-4, 4]")
        role_name = parts[2].strip() if len(parts) == 3 else ""
        if role_name == "NEGPREFIX":
            self.negating_prefixes.append(self.key(word))
            return
        if role_name and role_name not in _ROLES:
            raise ValueError(f"{where}: unknown role {role_name!r}")
        role = _ROLES.get(role_name, PLAIN)
        if " " in word:
            head, *rest = (self.key(part) for part in word.split())
            self.phrases.setdefault(head, []).append((tuple(rest), valence, role))
        elif word.endswith("*"):
            stem = self.key(word[:-1])
            self._put(self.stems, stem, valence, where)
            self.stem_lengths = tuple(sorted({*self.stem_lengths, len(stem)}, reverse=True))
        elif word.startswith("*") and len(word) > 1:
            self._put(self.endings, self.key(word[1:]), valence, where)
        else:
            key = self.key(word)
            if key in self.words:
                raise ValueError(f"{where}: {word!r} is listed twice")
            self.words[key] = LexiconEntry(valence, role)

    @staticmethod
    def _put(table: dict[str, float], key: str, valence: float, where: str) -> None:
        if key in table:
            raise ValueError(f"{where}: {key!r} is listed twice")
        table[key] = valence

    def merge_shared(self, shared: Lexicon) -> None:
        """Add the shared entries this language does not define itself."""
        for key, entry in shared.words.items():
            self.words.setdefault(self.key(key), entry)
        for head, variants in shared.phrases.items():
            self.phrases.setdefault(self.key(head), []).extend(
                (tuple(map(self.key, rest)), valence, role) for rest, valence, role in variants
            )

    def valence_of(self, key: str) -> float | None:
        """Valence of a normalised word, trying negating prefixes, stems and compound heads."""
        entry = self.words.get(key)
        if entry is not None:
            return entry.valence if entry.role == PLAIN or entry.valence else None
        for prefix in self.negating_prefixes:
            if key.startswith(prefix) and len(key) - len(prefix) >= 3:
                rest = self.words.get(key[len(prefix) :])
                if rest is not None and rest.role == PLAIN and rest.valence:
                    return rest.valence * NEGATION_SCALAR
        return self._affix_valence(key)

    def _affix_valence(self, key: str) -> float | None:
        for stem_length in self.stem_lengths:
            stem_valence = self.stems.get(key[:stem_length]) if stem_length <= len(key) else None
            if stem_valence is not None:
                return stem_valence
        for head_length in range(len(key) - 1, _MIN_AFFIX_MATCH - 1, -1) if self.endings else ():
            ending_valence = self.endings.get(key[-head_length:])
            if ending_valence is not None:
                return ending_valence
        if self.language in _COMPOUND_HEADS:
            for head_length in range(len(key) - 3, _MIN_COMPOUND_HEAD - 1, -1):
                head = self.words.get(key[-head_length:])
                if head is not None and head.role == PLAIN and head.valence:
                    return head.valence
        return None

    def hashtag_valence(self, key: str) -> float | None:
        """Valence of a hashtag body: whole, else its longest known prefix, else suffix."""
        whole = self.valence_of(key)
        if whole is not None:
            return whole
        for length in range(len(key) - 1, _MIN_AFFIX_MATCH - 1, -1):
            for part in (key[:length], key[-length:]):
                entry = self.words.get(part)
                if entry is not None and entry.role == PLAIN and entry.valence:
                    return entry.valence
        return None


_LEXICONS: dict[str, Lexicon] = {}


def _read_lexicon(language: str) -> Lexicon:
    lexicon = Lexicon(language)
    resource = resources.files("stormwatch.listen") / "lexicons" / f"{language}.tsv"
    source = f"lexicons/{language}.tsv"
    with resource.open(encoding="utf-8") as lines:
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip("\n")
            if line.strip() and not line.startswith("#"):
                lexicon.add(source, number, line)
    return lexicon


def lexicon_for(language: str) -> Lexicon:
    """The lexicon used for `language` (English for languages without one), loaded once."""
    primary = language.split("-", 1)[0].lower()
    name = primary if primary in LEXICON_LANGUAGES else DEFAULT_LEXICON
    lexicon = _LEXICONS.get(name)
    if lexicon is None:
        lexicon = _read_lexicon(name)
        lexicon.merge_shared(_read_lexicon(_SHARED_LEXICON))
        _LEXICONS[name] = lexicon
    return lexicon


# --- the offline analyzer ---------------------------------------------------------------

NEGATION_SCALAR: Final = -0.74
BOOSTER_STEP: Final = 0.293
CAPS_STEP: Final = 0.733
EXCLAMATION_STEP: Final = 0.292
QUESTION_STEP: Final = 0.18
BEFORE_CONTRAST: Final = 0.5
AFTER_CONTRAST: Final = 1.5
NORMALISATION_ALPHA: Final = 15.0
_WINDOW_DECAY: Final = (1.0, 0.95, 0.9)

# URLs and @handles are removed first (only when present): they are names, not opinions.
_NOISE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://|www\.)\S+|@[\w.]+(?:@[\w.-]+)?")
_NOISE_MARKERS = ("@", "://", "www.")
_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
# Words come first and use explicit Latin ranges (fast; the lexicons are all Latin-script).
# Emoticons that start with a letter (xD) are read as words and found in the lexicon.
# The other kinds sit behind one lookahead class, so a space or digit costs two tests,
# not one per alternative.
_TOKEN = re.compile(
    f"[{_LATIN}]+(?:['\u2019][{_LATIN}]+)*"
    "|(?=[#:;=<>.,!?\\-\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff])"
    r"(?:#\w+|>?[:;=]-?[()\[\]/|D]|:'\(|</?3|-_-|[.,;:!?]+"
    "|[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff])"
)
_STRETCHED = re.compile(r"(\w)\1{2,}")


@dataclass(frozen=True, slots=True)
class _Token:
    key: str
    valence: float
    role: int
    emphasis: float  # ALL CAPS or stretched letters
    phrases: tuple[Phrase, ...] = ()
    symbol: bool = False  # emoji and emoticons mean what they show: never negated or boosted
    active: bool = field(init=False)  # worth a look in the scoring loop

    def __post_init__(self) -> None:
        active = bool(self.valence or self.phrases) or self.role in (NEGATOR, CONTRAST)
        object.__setattr__(self, "active", active)


_CLAUSE_BREAK = _Token("", 0.0, BREAK, 0.0)


def _classify(lexicon: Lexicon, raw: str) -> _Token:
    """What one raw token means for `lexicon`'s language; cached per lexicon."""
    first = raw[0]
    if first in ".,;:!?" and raw.strip(".,;:!?") == "":
        return _CLAUSE_BREAK
    if first == "#":
        key = lexicon.key(raw[1:])
        tag_valence = lexicon.hashtag_valence(key)
        return _Token(key, tag_valence or 0.0, PLAIN, 0.0)
    if not (first.isalpha() and raw[-1].isalpha()):
        entry = lexicon.words.get(lexicon.key(raw))
        return _Token(raw, entry.valence if entry else 0.0, PLAIN, 0.0, symbol=True)
    shouted = len(raw) >= 3 and raw.isupper()
    emphasis = CAPS_STEP if shouted else 0.0
    key = lexicon.key(raw)
    token = _word_token(lexicon, key, emphasis)
    if token.valence or token.role != PLAIN or token.phrases:
        return token
    if _STRETCHED.search(key):
        # "sooo baaad": try the word with runs cut to two letters, then to one.
        for squeezed in (_STRETCHED.sub(r"\1\1", key), _STRETCHED.sub(r"\1", key)):
            found = _word_token(lexicon, squeezed, emphasis + BOOSTER_STEP)
            if found.valence or found.role != PLAIN:
                return found
    return token


def _word_token(lexicon: Lexicon, key: str, emphasis: float) -> _Token:
    phrases = tuple(lexicon.phrases.get(key, ()))
    entry = lexicon.words.get(key)
    if entry is not None:
        return _Token(key, entry.valence, entry.role, emphasis, phrases)
    if "'" in key:
        return _elided_token(lexicon, key, emphasis, phrases)
    valence = lexicon.valence_of(key)
    return _Token(key, valence or 0.0, PLAIN, emphasis if valence else 0.0, phrases)


def _elided_token(
    lexicon: Lexicon, key: str, emphasis: float, phrases: tuple[Phrase, ...]
) -> _Token:
    # English contractions ("didn't") negate; French and Italian elisions ("n'aime",
    # "l'arnaque") are a clitic glued to a word: the word counts, a glued "n'" negates it.
    if lexicon.language == "en" and key.endswith("n't"):
        return _Token(key, 0.0, NEGATOR, emphasis, phrases)
    head, _, tail = key.rpartition("'")
    tail_valence = lexicon.valence_of(tail) or 0.0
    head_entry = lexicon.words.get(head.rsplit("'", 1)[-1])
    if head_entry is not None and head_entry.role == NEGATOR:
        return _Token(key, tail_valence * NEGATION_SCALAR, NEGATOR, emphasis, phrases)
    return _Token(key, tail_valence, PLAIN, emphasis if tail_valence else 0.0, phrases)


def _sign(value: float) -> float:
    return 1.0 if value > 0 else -1.0


@dataclass(slots=True)
class _Scoring:
    """Per-text working state: valence by token position and what has been used up."""

    tokens: Sequence[_Token]
    values: dict[int, float] = field(default_factory=dict)
    negated: set[int] = field(default_factory=set)
    spent: set[int] = field(default_factory=set)  # negators used, words inside phrases


def _compound(tokens: list[_Token], text: str) -> float:
    active = [index for index, token in enumerate(tokens) if token.active]
    if not active:
        return 0.0
    if _apply_modifier_phrases(tokens, active):
        active = [index for index, token in enumerate(tokens) if token.active]
    scoring = _Scoring(tokens)
    mixed_case = not text.isupper()
    phrase_end = 0
    for index in active:
        if index >= phrase_end:
            phrase_end = max(phrase_end, _score_token(scoring, index, mixed_case=mixed_case))
    _apply_trailing_negators(scoring, active)
    _apply_contrast(scoring, active)
    total = sum(scoring.values.values())
    if total:
        total += _sign(total) * _punctuation_emphasis(text)
    score = total / math.sqrt(total * total + NORMALISATION_ALPHA)
    return max(-1.0, min(1.0, score))


def _score_token(scoring: _Scoring, index: int, *, mixed_case: bool) -> int:
    """Record the valence of the token at `index`; returns where a phrase it starts ends."""
    tokens = scoring.tokens
    token = tokens[index]
    valence, phrase_end = _phrase_at(tokens, index)
    if phrase_end > index + 1:
        # The phrase's own words ("pour rien") modify nothing else.
        scoring.spent.update(range(index + 1, phrase_end))
    elif token.role == BOOSTER and index + 1 < len(tokens) and tokens[index + 1].valence:
        return phrase_end  # "super" before a sentiment word intensifies it; alone it is praise
    if not valence:
        return phrase_end
    if token.role == NEGATOR:
        scoring.negated.add(index)  # an elided negation ("n'aime") arrives already negated
    elif not token.symbol:
        if mixed_case and token.emphasis:
            valence += _sign(valence) * token.emphasis
        valence = _apply_window(scoring, index, valence)
    scoring.values[index] = valence
    return phrase_end


def _phrase_matches(tokens: Sequence[_Token], index: int, rest: tuple[str, ...]) -> bool:
    end = index + 1 + len(rest)
    return (
        end <= len(tokens)
        and tokens[index + 1].key == rest[0]
        and (len(rest) == 1 or tuple(t.key for t in tokens[index + 1 : end]) == rest)
    )


def _phrase_at(tokens: Sequence[_Token], index: int) -> tuple[float, int]:
    """Valence and end of the sentiment phrase starting at `index`, else of the token alone."""
    token = tokens[index]
    for rest, phrase_valence, role in token.phrases:
        if role == PLAIN and _phrase_matches(tokens, index, rest):
            return phrase_valence, index + 1 + len(rest)
    return token.valence, index + 1


def _apply_modifier_phrases(tokens: list[_Token], active: Sequence[int]) -> bool:
    """Turn "kind of", "sin embargo", "un peu" into one modifier on their last word.

    The earlier words stop counting ("kind" in "kind of" is not praise). Returns whether
    any phrase matched. `tokens` is this text's own list, so replacing items is safe.
    """
    changed = False
    for index in active:
        for rest, _, role in tokens[index].phrases:
            if role != PLAIN and _phrase_matches(tokens, index, rest):
                end = index + len(rest)
                for member in range(index, end):
                    tokens[member] = _Token(tokens[member].key, 0.0, PLAIN, 0.0)
                tokens[end] = _Token(tokens[end].key, 0.0, role, 0.0)
                changed = True
                break
    return changed


def _apply_contrast(scoring: _Scoring, active: Sequence[int]) -> None:
    contrast_at = next((i for i in active if scoring.tokens[i].role == CONTRAST), -1)
    if contrast_at < 0:
        return
    values = scoring.values
    for position in values:
        if position < contrast_at:
            values[position] *= BEFORE_CONTRAST
        elif position > contrast_at:
            values[position] *= AFTER_CONTRAST


def _apply_window(scoring: _Scoring, index: int, valence: float) -> float:
    """`valence` after the modifiers in the three tokens before `index` (same clause)."""
    tokens = scoring.tokens
    is_negated = False
    for distance, decay in enumerate(_WINDOW_DECAY, start=1):
        position = index - distance
        if position < 0:
            break
        modifier = tokens[position]
        role = modifier.role
        if role == BREAK:
            break
        if role == BOOSTER:
            valence += _sign(valence) * BOOSTER_STEP * decay
        elif role == DAMPENER:
            valence -= _sign(valence) * BOOSTER_STEP * decay
        elif role == NEGATOR and not is_negated:
            is_negated = True
            scoring.spent.add(position)
    if is_negated:
        scoring.negated.add(index)
        valence *= NEGATION_SCALAR
    return valence


def _apply_trailing_negators(scoring: _Scoring, active: Sequence[int]) -> None:
    # A negator that closes its clause negates the word before it: "gefällt mir nicht",
    # "j'aime pas du tout", "thanks for nothing". One followed by more words ("no way to
    # reach a human") negates nothing before it.
    tokens, values, negated = scoring.tokens, scoring.values, scoring.negated
    for position in active:
        if tokens[position].role != NEGATOR or position in scoring.spent:
            continue
        if not _closes_clause(tokens, position):
            continue
        for distance in (1, 2, 3):
            target = position - distance
            if target < 0 or tokens[target].role == BREAK:
                break
            if values.get(target):
                if target not in negated:
                    values[target] *= NEGATION_SCALAR
                    negated.add(target)
                break


_MAX_WORDS_AFTER_TRAILING_NEGATOR = 2  # "mehr", "du tout", "at all"


def _closes_clause(tokens: Sequence[_Token], position: int) -> bool:
    words_after = 0
    for later in tokens[position + 1 :]:
        if later.role == BREAK:
            return True
        if later.symbol:
            continue
        words_after += 1
        if words_after > _MAX_WORDS_AFTER_TRAILING_NEGATOR:
            return False
    return True


def _punctuation_emphasis(text: str) -> float:
    emphasis = min(text.count("!"), 4) * EXCLAMATION_STEP
    questions = text.count("?")
    if questions > 1:
        emphasis += min(questions, 3) * QUESTION_STEP if questions <= 3 else 0.96
    return emphasis


class _Reader:
    """Turns text into tokens for one lexicon, caching each word and each chunk it meets."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.tokens: BoundedMemo[str, _Token] = BoundedMemo(partial(_classify, lexicon))
        self.chunks: BoundedMemo[str, tuple[_Token, ...]] = BoundedMemo(self._chunk_tokens)

    def _chunk_tokens(self, chunk: str) -> tuple[_Token, ...]:
        if any(marker in chunk for marker in _NOISE_MARKERS):
            chunk = _NOISE.sub(" ", chunk)
        return tuple(map(self.tokens.__getitem__, _TOKEN.findall(chunk)))

    def read(self, text: str) -> list[_Token]:
        return list(chain.from_iterable(map(self.chunks.__getitem__, text.split())))

    def clear(self) -> None:
        self.tokens.clear()
        self.chunks.clear()


# --- the learned model -------------------------------------------------------------------

SHIPPED_MODEL: Final = "sentiment.bin"
# A neutral label's score stays inside the dead band, keeping its lean: |score| < 0.04.
_NEUTRAL_SCALE: Final = 0.04


class _Shipped:
    """The shipped model, read from the package on first use (not at import) and shared."""

    model: LinearModel | None = None
    loaded = False

    @classmethod
    def get(cls) -> LinearModel | None:
        if not cls.loaded:
            cls.loaded = True
            resource = resources.files("stormwatch.listen") / "models" / SHIPPED_MODEL
            try:
                cls.model = LinearModel.from_bytes(resource.read_bytes(), f"models/{SHIPPED_MODEL}")
            except (OSError, ValueError) as error:
                logger.warning("sentiment model unavailable (%s): lexicon only", error)
        return cls.model


def learned_score(values: Sequence[float]) -> tuple[Sentiment, float]:
    """Label and score in [-1, 1] of a learned model's decision values (neg, neu, pos).

    The label is the class with the highest value. The score is P(positive) - P(negative)
    of a softmax over the values, moved into the label's band of `score_label` (negative
    <= -0.05, neutral strictly inside, positive >= 0.05), so a stored score always reads
    back as its label, as the lexicon's compound does.
    """
    negative, neutral, positive = values
    shares = probabilities(values)
    lean = shares[2] - shares[0]
    # Ties go to the earlier class, as LinearModel.label's argmax does.
    if negative >= neutral and negative >= positive:
        return Sentiment.NEGATIVE, min(lean, NEGATIVE_THRESHOLD)
    if positive > neutral:
        return Sentiment.POSITIVE, max(lean, POSITIVE_THRESHOLD)
    return Sentiment.NEUTRAL, lean * _NEUTRAL_SCALE


class OfflineAnalyzer:
    """Sentiment for any language, in-process: the learned model where it was trained,
    the lexicon alone elsewhere (see the module docstring for both).

    `model` is the shipped one by default, loaded on the first text analysed (not when
    the analyzer is made); None means the lexicon only. Unknown languages, Polish (no
    labelled posts to train on) and a missing or unreadable weights file take the
    lexicon-only path.
    """

    def __init__(self, model: LinearModel | Literal["shipped"] | None = "shipped") -> None:
        self._readers: dict[str, _Reader] = {}
        self._model = model

    @property
    def model(self) -> LinearModel | None:
        """The learned model, loading the shipped one if it is the choice and not loaded yet."""
        if isinstance(self._model, str):  # "shipped", not read yet
            self._model = _Shipped.get()
        return self._model

    def _reader(self, language: str) -> _Reader:
        reader = self._readers.get(language)
        if reader is None:
            lexicon = lexicon_for(language)
            reader = self._readers.get(lexicon.language)
            if reader is None:
                reader = self._readers[lexicon.language] = _Reader(lexicon)
            self._readers[language] = reader
        return reader

    def clear_caches(self) -> None:
        """Forget the cached token meanings (benchmarks measure the cold path with it)."""
        for reader in self._readers.values():
            reader.clear()
        if isinstance(self._model, LinearModel):
            self._model.clear_caches()

    def score(self, text: str, language: str) -> float:
        """The lexicon's compound score in [-1, 1] of `text` in `language` (ISO 639-1 or
        "und"): the label of the lexicon-only path, and an input of the learned model."""
        tokens = self._reader(language).read(text)
        return _compound(tokens, text) if tokens else 0.0

    def label_and_score(self, text: str, language: str) -> tuple[Sentiment, float]:
        """What the poll path stores for one text: its label and a score in [-1, 1]."""
        lexicon_score = self.score(text, language)
        model = self.model
        if model is None or language not in model.space.languages:
            return score_label(lexicon_score), lexicon_score
        return learned_score(model.scores(text, language, lexicon_score))

    def analyze(self, items: Sequence[tuple[str, str]]) -> list[tuple[Sentiment, float]]:
        return [self.label_and_score(text, language) for text, language in items]


# --- Amazon Comprehend ----------------------------------------------------------------

COMPREHEND_BATCH_SIZE: Final = 25
COMPREHEND_MAX_BYTES: Final = 5_000
COMPREHEND_USD_PER_UNIT: Final = 0.0001
COMPREHEND_CHARS_PER_UNIT: Final = 100
COMPREHEND_MIN_UNITS: Final = 3
_COMPREHEND_LABELS: Final = {
    "POSITIVE": Sentiment.POSITIVE,
    "NEGATIVE": Sentiment.NEGATIVE,
    "NEUTRAL": Sentiment.NEUTRAL,
    # MIXED means strong positive and negative parts; for a storm counter that is
    # neither side, and its score (Positive - Negative) still says which leans more.
    "MIXED": Sentiment.NEUTRAL,
}


def truncate_utf8(text: str, max_bytes: int = COMPREHEND_MAX_BYTES) -> str:
    """The longest prefix of `text` that is at most `max_bytes` in UTF-8, whole characters only."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    # A cut inside a multi-byte character leaves an incomplete tail that "ignore" drops.
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def comprehend_cost_usd(texts: Iterable[str]) -> float:
    """List price of DetectSentiment for `texts`: per 100 characters, at least 3 units each."""
    units = sum(
        max(COMPREHEND_MIN_UNITS, math.ceil(len(text) / COMPREHEND_CHARS_PER_UNIT))
        for text in texts
    )
    return units * COMPREHEND_USD_PER_UNIT


class ComprehendAnalyzer:
    """Comprehend for the configured languages within a budget; a fallback for the rest.

    Never raises for Comprehend's sake: a refused budget, a failed call or a per-item
    error sends the affected texts to `fallback`, and the counters say how many went.
    Spend is reserved before each call and not returned when the call fails, so the
    budget errs on the side of spending less.
    """

    def __init__(
        self,
        client: ComprehendClient,
        budget: SpendGuard,
        *,
        languages: Collection[str],
        fallback: SentimentAnalyzer | None = None,
    ) -> None:
        unsupported = sorted(set(languages) - COMPREHEND_LANGUAGES)
        if unsupported:
            raise ValueError(f"Comprehend does not analyse {', '.join(unsupported)}")
        self._client = client
        self._budget = budget
        self._languages = frozenset(languages)
        self._fallback: SentimentAnalyzer = fallback if fallback is not None else OfflineAnalyzer()
        self.analyzed_by_comprehend = 0
        self.fallback_due_to_budget = 0
        self.fallback_due_to_errors = 0
        self.spent_usd = 0.0

    def analyze(self, items: Sequence[tuple[str, str]]) -> list[tuple[Sentiment, float]]:
        results: list[tuple[Sentiment, float] | None] = [None] * len(items)
        by_language: dict[str, list[int]] = {}
        for index, (text, language) in enumerate(items):
            if language in self._languages and text.strip():
                by_language.setdefault(language, []).append(index)
        for language, indices in by_language.items():
            for start in range(0, len(indices), COMPREHEND_BATCH_SIZE):
                batch = indices[start : start + COMPREHEND_BATCH_SIZE]
                self._analyze_batch(items, batch, language, results)
        pending = [index for index, result in enumerate(results) if result is None]
        if pending:
            fallen_back = self._fallback.analyze([items[index] for index in pending])
            for index, result in zip(pending, fallen_back, strict=True):
                results[index] = result
        complete = [result for result in results if result is not None]
        if len(complete) != len(items):
            raise RuntimeError("fallback analyzer returned fewer results than items")
        return complete

    def _analyze_batch(
        self,
        items: Sequence[tuple[str, str]],
        batch: Sequence[int],
        language: str,
        results: list[tuple[Sentiment, float] | None],
    ) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        texts = [truncate_utf8(items[index][0]) for index in batch]
        cost = comprehend_cost_usd(texts)
        if not self._budget.try_spend(cost):
            self.fallback_due_to_budget += len(batch)
            return
        self.spent_usd += cost
        try:
            response = self._client.batch_detect_sentiment(
                TextList=texts, LanguageCode=cast("LanguageCodeType", language)
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "unknown")
            logger.warning(
                "Comprehend batch_detect_sentiment failed (%s) for %d %s texts; "
                "using the fallback analyzer",
                code,
                len(batch),
                language,
            )
            self.fallback_due_to_errors += len(batch)
            return
        except BotoCoreError as error:
            logger.warning(
                "Comprehend unreachable (%s) for %d %s texts; using the fallback analyzer",
                type(error).__name__,
                len(batch),
                language,
            )
            self.fallback_due_to_errors += len(batch)
            return
        self._collect(response, batch, language, results)

    def _collect(
        self,
        response: BatchDetectSentimentResponseTypeDef,
        batch: Sequence[int],
        language: str,
        results: list[tuple[Sentiment, float] | None],
    ) -> None:
        answered: set[int] = set()
        for result in response.get("ResultList", []):
            position = result.get("Index")
            label = _COMPREHEND_LABELS.get(result.get("Sentiment", ""))
            if position is None or label is None or not 0 <= position < len(batch):
                continue
            scores = result.get("SentimentScore", {})
            score = scores.get("Positive", 0.0) - scores.get("Negative", 0.0)
            results[batch[position]] = (label, max(-1.0, min(1.0, score)))
            answered.add(position)
        self.analyzed_by_comprehend += len(answered)
        errors = response.get("ErrorList", [])
        if errors:
            logger.warning(
                "Comprehend rejected %d of %d %s texts (%s); using the fallback analyzer",
                len(errors),
                len(batch),
                language,
                ", ".join(sorted({error.get("ErrorCode", "unknown") for error in errors})),
            )
        self.fallback_due_to_errors += len(batch) - len(answered)
