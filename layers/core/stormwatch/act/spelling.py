"""Spelling, as people check before they post: unknown words in a statement, with suggestions.

A real Hunspell checker (spylls, Hunspell's algorithms in pure Python) with the
dictionaries `scripts/dictionaries/fetch.py` puts next to this module: German, English
(US and British: a word either knows is right) and Polish. docs/decisions/0010-spelling.md
says why these and what a check costs.

The text is read as a person reads it: URLs, domains, e-mail addresses, @mentions,
#hashtags, anything with a digit in it (times, dates, prices, "24h") and flight numbers
("NW 1234") are not words to check. Hyphenated and German compounds, sentence-initial
capitals and ALL CAPS are judged by Hunspell's own rules; abbreviations with a dot
("usw.", "z. B.", "e.g.") are words too. Brand names, the config's vocabulary and the
values a statement fills in (names of places, people...) are known words: `known_words`
gathers the config's, a caller adds its own.

Suggestions are Hunspell's edit-based ones (a letter missing, swapped, doubled...) within
a time budget; its n-gram and phonetic passes read the whole word list and take seconds
for German, so they are left out.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from stormwatch.errors import StormwatchError

if TYPE_CHECKING:
    from stormwatch.config.document import Config

DICTIONARIES: Final = Path(__file__).resolve().parent / "dictionaries"
"""Where `make` (scripts/dictionaries/fetch.py) puts the .aff/.dic files; `sam build` ships
them in the layer with this package."""

SPELLING_LANGUAGES: Final[dict[str, tuple[str, ...]]] = {
    "de": ("de",),
    "en": ("en-us", "en-gb"),
    "pl": ("pl",),
}
"""Language code -> the dictionaries (file stems) that may know its words."""

MAX_SUGGESTIONS: Final = 3
_MEMO_LIMIT: Final = 50_000

_LETTER = r"(?:[^\W\d_][\u0300-\u036f]*)"
_WORD = re.compile(rf"{_LETTER}+(?:['’.-]{_LETTER}+)*")
# Spans that are not words, found before the words are: a word inside one is skipped.
_NOT_WORDS = re.compile(
    r"""
      (?:https?://|www\.)[^\s<>"]+                          # URL
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+                          # e-mail address
    | (?<![\w@])@\w[\w.-]*(?:@[\w-]+(?:\.[\w-]+)+)?         # @handle, @user@instance
    | (?<![\w&])\#\w+                                       # hashtag
    | (?<![\w@.-])(?:[a-z0-9-]+\.)+[a-z]{2,24}(?:/[^\s<>"]*)?(?![\w@-])  # bare domain
    | \b(?:[A-Z]{2,3}|[A-Z][0-9]|[0-9][A-Z])\ ?[0-9]{1,4}[A-Z]?\b       # flight number
    | [\w.,:/'’+%-]*[0-9][\w.,:/'’+%-]*                     # times, dates, numbers, "24h"
    """,
    re.VERBOSE,
)


class SpellingError(StormwatchError):
    """Spelling cannot be checked; the statement must not pass as checked."""


class UnsupportedLanguage(SpellingError):
    """No dictionary for this language: its text is not checked, and says so."""

    def __init__(self, language: str) -> None:
        supported = ", ".join(sorted(SPELLING_LANGUAGES))
        super().__init__(f"spelling: no dictionary for {language!r} (checked: {supported})")
        self.language = language


class DictionaryMissing(SpellingError):
    """A supported language's dictionary files are not installed."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"spelling: {path} is missing; `make setup` (scripts/dictionaries/fetch.py) "
            "fetches the dictionaries"
        )
        self.path = path


@dataclass(frozen=True, slots=True)
class UnknownWord:
    """A word no dictionary and no known word accepts, where it stands in the text."""

    word: str
    """As written in the text (`text[offset:offset + len(word)]`)."""
    offset: int
    """Index of its first character in the text (in code points, as `str` counts)."""
    suggestions: tuple[str, ...] = ()
    """A few likely corrections, best first; may be empty."""


def known_words(config: Config) -> tuple[str, ...]:
    """The config's own words: brand names, their keywords and hashtags, act.vocabulary."""
    words: list[str] = []
    for brand in config.brands:
        words += [brand.name, *brand.keywords, *brand.hashtags]
    words += config.act.vocabulary
    return tuple(words)


def normalise_language(language: str) -> str:
    """ "de-DE", "en_GB", " EN " -> the primary subtag the dictionaries are listed by."""
    return re.split(r"[-_]", language.strip(), maxsplit=1)[0].lower()


class SpellChecker:
    """Finds the words of a text that its language's dictionaries do not know.

    Dictionaries load on first use of their language (0.5-1 s for German or English, see
    the decision record) and stay loaded for the process, shared by every checker: a warm
    Lambda pays once. Thread-safe.
    """

    def __init__(
        self,
        known: Iterable[str] = (),
        *,
        dictionaries: Path = DICTIONARIES,
        seconds_per_suggestion: float = 0.3,
        seconds_for_suggestions: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`known`: words always right (brand names, vocabulary), as written: "Nordwind"
        also accepts "NORDWIND", not "nordwind". Phrases are split into words.
        Suggestions for one word stop after `seconds_per_suggestion`, for one text after
        `seconds_for_suggestions`; words past that get none."""
        self._known = _KnownWords(known)
        self._directory = dictionaries
        self._per_word = seconds_per_suggestion
        self._per_text = seconds_for_suggestions
        self._clock = clock

    @staticmethod
    def supports(language: str) -> bool:
        return normalise_language(language) in SPELLING_LANGUAGES

    def unknown_words(
        self, text: str, language: str, *, known: Iterable[str] = ()
    ) -> list[UnknownWord]:
        """Unknown words of `text`, in order; [] means every word was checked and known.

        `known` adds words for this text only (the statement's variables' values).
        Raises UnsupportedLanguage for a language without a dictionary, DictionaryMissing
        when its files are not installed: never an empty list for text not checked.
        """
        checker = _load(self._directory, normalise_language(language))
        extra = self._known.plus(known)
        flagged = [
            (word, offset)
            for word, offset in _unknown(text, checker, extra, normalise_language(language))
        ]
        deadline = self._clock() + self._per_text
        suggested: dict[str, tuple[str, ...]] = {}
        result = []
        for word, offset in flagged:
            if word not in suggested:
                word_deadline = min(deadline, self._clock() + self._per_word)
                suggested[word] = checker.suggest(word, extra, word_deadline, self._clock)
            result.append(UnknownWord(word, offset, suggested[word]))
        return result


class _KnownWords:
    """Words accepted as written, in capitals, and capitalised when written in lowercase
    (Hunspell's rule for its own words)."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.words: frozenset[str] = frozenset(
            match[0] for phrase in phrases for match in _WORD.finditer(_nfc(phrase))
        )
        self._forms = frozenset(
            form
            for word in self.words
            for form in (word, word.upper(), word.capitalize() if word.islower() else word)
        )

    def plus(self, phrases: Iterable[str]) -> _KnownWords:
        phrases = tuple(phrases)
        return _KnownWords((*self.words, *phrases)) if phrases else self

    def __contains__(self, word: str) -> bool:
        return word in self._forms


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _tokens(text: str) -> Iterator[tuple[str, int, str]]:
    """(word, offset, the character after it) for each word outside the skipped spans."""
    skipped = [match.span() for match in _NOT_WORDS.finditer(text)]
    index = 0
    for match in _WORD.finditer(text):
        start, end = match.span()
        while index < len(skipped) and skipped[index][1] <= start:
            index += 1
        if index < len(skipped) and skipped[index][0] < end:
            continue
        yield match[0], start, text[end : end + 1]


def _unknown(
    text: str, checker: _Language, known: _KnownWords, language: str
) -> Iterator[tuple[str, int]]:
    for written, offset, after in _tokens(text):
        word = _nfc(written)
        if _accepted(word, after, checker, known, language):
            continue
        if "-" not in word:
            yield written, offset
            continue
        # A compound with a hyphen: only the parts nobody knows are wrong.
        position = 0
        for part in written.split("-"):
            if part and not _accepted(_nfc(part), "", checker, known, language):
                yield part, offset + position
            position += len(part) + 1


def _accepted(word: str, after: str, checker: _Language, known: _KnownWords, language: str) -> bool:
    if word in known or checker.knows(word):
        return True
    if after == "." and (
        checker.knows(word + ".") or all(len(piece) == 1 for piece in word.split("."))
    ):
        # An abbreviation ("usw.", "e.g.", the "z." and "B." of "z. B.") or an initial.
        return True
    if after == "-" and checker.knows(word + "-"):
        return True  # the first half of "Flug- und Bahnreisende"
    return _possessive_of_known(word, known, language)


def _possessive_of_known(word: str, known: _KnownWords, language: str) -> bool:
    if language == "en":
        for ending in ("'s", "’s", "'", "’"):
            if word.endswith(ending) and word.removesuffix(ending) in known:
                return True
    # German and Polish genitive without an apostrophe: "Nordwinds", "Nordwindu".
    endings = {"de": ("s",), "pl": ("u", "a", "owi", "em", "ie")}.get(language, ())
    return any(word.endswith(ending) and word.removesuffix(ending) in known for ending in endings)


_LOADED: dict[tuple[Path, str], _Language] = {}
_LOADING = threading.Lock()


def clear_cache() -> None:
    """Forget the verdicts on words seen so far; the dictionaries stay loaded (benchmarks
    measure a statement whose words are new with it)."""
    for language in list(_LOADED.values()):
        language.clear_cache()


def _load(directory: Path, language: str) -> _Language:
    names = SPELLING_LANGUAGES.get(language)
    if names is None:
        raise UnsupportedLanguage(language)
    key = (directory, language)
    loaded = _LOADED.get(key)
    if loaded is None:
        with _LOADING:
            loaded = _LOADED.get(key)
            if loaded is None:
                loaded = _LOADED[key] = _Language([_dictionary(directory / n) for n in names])
    return loaded


def _dictionary(stem: Path) -> Any:
    for suffix in (".aff", ".dic"):
        if not stem.with_suffix(suffix).is_file():
            raise DictionaryMissing(stem.with_suffix(suffix))
    # Imported on first use: a function that never checks spelling does not pay for it.
    from spylls.hunspell import Dictionary  # type: ignore[import-untyped]

    with _no_garbage_collection():
        return Dictionary.from_files(str(stem))


_GC_PAUSES = threading.Lock()


@contextlib.contextmanager
def _no_garbage_collection() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a dictionary loads. Reading one
    builds hundreds of thousands of objects that all stay: each full collection they set
    off walks all of them and frees nothing, and these were nearly half of a load's time
    (the four dictionaries: 3.8 s of CPU with it, 2.0 s without). Loads run one at a
    time (`_LOADING`); the collector runs again, if it ran before, when the load ends."""
    with _GC_PAUSES:
        was_enabled = gc.isenabled()
        gc.disable()
    try:
        yield
    finally:
        with _GC_PAUSES:
            if was_enabled:
                gc.enable()


class _OutOfTime(Exception):
    pass


class _Language:
    """One language's loaded dictionaries and the verdicts they gave."""

    def __init__(self, dictionaries: list[Any]) -> None:
        self._dictionaries = dictionaries
        self._verdicts: dict[str, bool] = {}
        self._suggested: dict[str, tuple[str, ...]] = {}
        self._suggesters = [_EditSuggester(dictionary) for dictionary in dictionaries]

    def clear_cache(self) -> None:
        self._verdicts.clear()
        self._suggested.clear()

    def knows(self, word: str) -> bool:
        verdict = self._verdicts.get(word)
        if verdict is None:
            if len(self._verdicts) >= _MEMO_LIMIT:
                self._verdicts.clear()
            verdict = self._verdicts[word] = any(
                dictionary.lookup(form)
                for form in dict.fromkeys((word, word.replace("’", "'")))
                for dictionary in self._dictionaries
            )
        return verdict

    def suggest(
        self, word: str, known: _KnownWords, deadline: float, clock: Callable[[], float]
    ) -> tuple[str, ...]:
        found = difflib.get_close_matches(word, sorted(known.words), n=MAX_SUGGESTIONS, cutoff=0.8)
        for suggestion in self._dictionary_suggestions(word, deadline, clock):
            if suggestion not in found:
                found.append(suggestion)
        return tuple(found[:MAX_SUGGESTIONS])

    def _dictionary_suggestions(
        self, word: str, deadline: float, clock: Callable[[], float]
    ) -> tuple[str, ...]:
        # Every channel's rendering repeats the statement's typos: search once. A search
        # that ran out of time with nothing found is tried again next time.
        remembered = self._suggested.get(word)
        if remembered is not None:
            return remembered
        found: list[str] = []
        complete = True
        for suggester in self._suggesters:
            for suggestion in suggester.suggestions(word, deadline, clock):
                if suggestion is None:
                    complete = False
                elif suggestion not in found and suggestion != word:
                    found.append(suggestion)
                if len(found) >= MAX_SUGGESTIONS:
                    break
        if complete or found:
            if len(self._suggested) >= _MEMO_LIMIT:
                self._suggested.clear()
            self._suggested[word] = tuple(found[:MAX_SUGGESTIONS])
        return tuple(found[:MAX_SUGGESTIONS])


class _EditSuggester:
    """Hunspell's suggestion search without its n-gram and phonetic passes, stopped when
    its time is up (each candidate is checked through a lookup that watches the clock)."""

    def __init__(self, dictionary: Any) -> None:
        self._lookup = dictionary.lookuper
        self._local = threading.local()
        self._suggest = _edits_only_suggest_class()(dictionary.aff, dictionary.dic, self)

    def suggestions(
        self, word: str, deadline: float, clock: Callable[[], float]
    ) -> Iterator[str | None]:
        """Suggestions, best first, then None if the time ran out before the end."""
        self._local.deadline = deadline
        self._local.clock = clock
        try:
            for suggestion in self._suggest.suggestions(word):
                yield str(suggestion.text)
        except _OutOfTime:
            yield None

    def _in_time(self) -> None:
        if self._local.clock() >= self._local.deadline:
            raise _OutOfTime

    # The interface spylls' Suggest uses of its Lookup.
    def good_forms(self, *args: Any, **kwargs: Any) -> Any:
        self._in_time()
        return self._lookup.good_forms(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._in_time()
        return self._lookup(*args, **kwargs)


_EDITS_ONLY: list[type] = []


def _edits_only_suggest_class() -> type:
    if not _EDITS_ONLY:
        from spylls.hunspell.algo.suggest import Suggest  # type: ignore[import-untyped]

        class EditsOnlySuggest(Suggest):  # type: ignore[misc]
            def __init__(self, aff: Any, dic: Any, lookup: Any) -> None:
                # Suggest's own __init__ also lists every word for the n-gram pass.
                self.aff = aff
                self.dic = dic
                self.lookup = lookup

            def ngram_suggestions(self, word: str, handled: Any) -> Iterator[str]:
                return iter(())

            def phonet_suggestions(self, word: str) -> Iterator[str]:
                return iter(())

        _EDITS_ONLY.append(EditsOnlySuggest)
    return _EDITS_ONLY[0]
