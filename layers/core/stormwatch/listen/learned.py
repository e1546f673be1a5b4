"""The learned sentiment model: a linear model on hashed word and character n-grams.

`OfflineAnalyzer` labels posts in the languages it was trained on with it (docs/decisions/
0019; the weights and their model card are in ``models/``). The same code turns a post
into feature indices for training (scripts/sentiment/train.py builds sparse matrices from
`FeatureSpace.features`) and scores it at inference from a float32 weight table, so what
is trained is exactly what runs. Standard library only, as everything in the layer.

Features of a post written in language L, each hashed (CRC-32) into `buckets` rows:

- each word (casefolded; letters stretched beyond two cut to two, "sooo" -> "soo"),
  emoji, emoticon, "!"/"?" run, and "0" for a number;
- each pair of adjacent tokens;
- the character 2-5-grams of each word inside "<" and ">" (fastText's subwords): "<bad",
  "ad>", so unseen inflections and compounds share evidence;
- with `language_features`, a second copy of each of them tagged with L (when the model was
  trained on L), so a multilingual model learns what is shared and what is one language's
  (Daume III, "Frustratingly easy domain adaptation", 2007), plus a bias per language.

All n-gram features count 1 per occurrence and the sum is divided by sqrt(occurrences);
with `lexicon_features`, three more unscaled inputs come from the lexicon analyzer's
compound score s: max(-s, 0), max(s, 0) and s == 0.

Every n-gram feature belongs to one token or one pair of tokens, and no token spans
whitespace, so a post's score is a sum of cached sums: one per whitespace-separated chunk
(its tokens and the pairs inside it) and one per pair across two chunks, kept with the
second chunk under the first one's last token. Warm, a post costs a `split` and two
dictionary lookups by string per chunk.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Final

FORMAT: Final = "stormwatch-linear-1"
CLASSES: Final = 3  # 0 negative, 1 neutral, 2 positive
LEXICON_INPUTS: Final = 3
MIN_CHAR_GRAM: Final = 2
MAX_CHAR_GRAM: Final = 5
_MAGIC: Final = b"SWLIN1\n"

_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff"
_TOKEN = re.compile(
    r"https?://\S*|www\.\S+|@\w+"  # links and handles: one token each
    r"|[^\W\d_]+(?:['\u2019][^\W\d_]+)*"  # words (any script), with inner apostrophes
    r"|\d+(?:[.,]\d+)*"
    r"|>?[:;=]-?[()\[\]/|dDpP]|:'\(|</?3|-_-|\^\^"  # emoticons
    f"|[{_EMOJI}]"
    r"|[!?]+"
)
_STRETCHED = re.compile(r"(\w)\1{2,}")


def tokens(text: str) -> list[str]:
    """The tokens of `text`, normalised (see the module docstring)."""
    found = []
    for raw in _TOKEN.findall(text.casefold()):
        first = raw[0]
        if first == "@":
            found.append("@user")
        elif raw.startswith(("http", "www.")) and ("/" in raw or raw == "http"):
            found.append("<url>")
        elif first.isdigit():
            found.append("0")
        elif first in "!?":
            found.append("!?" if "!" in raw and "?" in raw else raw[:2])
        else:
            found.append(_STRETCHED.sub(r"\1\1", raw).replace("\u2019", "'"))
    return found


def bucket(key: str, buckets: int) -> int:
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % buckets


def token_keys(token: str) -> list[str]:
    """The n-gram keys of one token: the word and, for words, its character n-grams."""
    keys = ["w" + token]
    if token[0].isalpha():
        padded = f"<{token}>"
        for size in range(MIN_CHAR_GRAM, MAX_CHAR_GRAM + 1):
            keys.extend(
                "c" + padded[start : start + size] for start in range(len(padded) - size + 1)
            )
    return keys


def pair_keys(first: str, second: str) -> list[str]:
    return [f"b{first}\x1f{second}"]


@dataclass(frozen=True, slots=True)
class FeatureSpace:
    """How posts become indices: the table size and which features exist."""

    buckets: int
    languages: frozenset[str] = frozenset()  # languages with their own copy of each feature
    language_features: bool = False
    lexicon_features: bool = False

    @property
    def rows(self) -> int:
        return self.buckets + (LEXICON_INPUTS if self.lexicon_features else 0)

    def indices(self, keys: Iterable[str], language: str) -> list[int]:
        own = self.language_features and language in self.languages
        result = []
        for key in keys:
            result.append(bucket(key, self.buckets))
            if own:
                result.append(bucket(f"{language}\x1e{key}", self.buckets))
        return result

    def features(self, text: str, language: str) -> list[int]:
        """Hashed n-gram indices of `text`, one per occurrence (duplicates count twice)."""
        found = tokens(text)
        result: list[int] = []
        for token in found:
            result.extend(self.indices(token_keys(token), language))
        for first, second in pairwise(found):
            result.extend(self.indices(pair_keys(first, second), language))
        return result


def lexicon_inputs(score: float) -> tuple[float, float, float]:
    return (max(-score, 0.0), max(score, 0.0), 1.0 if score == 0.0 else 0.0)


Sums = tuple[int, float, float, float]
"""Occurrences and the summed (negative, neutral, positive) weights of some features."""
Chunk = tuple[str, str, int, float, float, float, dict[str, Sums]]
"""A chunk's first and last token, the sums of its tokens and inner pairs, and the sums of
the pair its first token makes with the last token of each chunk seen before it."""
_EMPTY: Final[Chunk] = ("", "", 0, 0.0, 0.0, 0.0, {})  # never read past its count of 0
MEMO_LIMIT: Final = 200_000  # chunks and pairs remembered, all languages together


@dataclass(slots=True)
class LinearModel:
    """Scores of a post for the three classes: bias + table rows of its features."""

    space: FeatureSpace
    table: array[float]  # rows x CLASSES, row-major, float32
    bias: dict[str, tuple[float, float, float]]  # per trained language, and "*" for others
    trained_on: tuple[str, ...] = ()  # SHA-256 of each training text file
    _chunks: dict[str, dict[str, Chunk]] = field(default_factory=dict)  # by language
    _remembered: int = 0  # chunks and pairs in `_chunks`, bounded by MEMO_LIMIT

    def _sum(self, keys: list[str], language: str) -> Sums:
        table = self.table
        indices = self.space.indices(keys, language)
        neg = neu = pos = 0.0
        for index in indices:
            row = index * CLASSES
            neg += table[row]
            neu += table[row + 1]
            pos += table[row + 2]
        return len(indices), neg, neu, pos

    def _chunk(self, language: str, chunk: str) -> Chunk:
        """Sums of a whitespace-free chunk's tokens and inner pairs, and its end tokens."""
        found = tokens(chunk)
        if not found:
            return _EMPTY
        count = 0
        neg = neu = pos = 0.0
        parts = [self._sum(token_keys(token), language) for token in found]
        parts.extend(self._sum(pair_keys(a, b), language) for a, b in pairwise(found))
        for n, a, b, c in parts:
            count, neg, neu, pos = count + n, neg + a, neu + b, pos + c
        return found[0], found[-1], count, neg, neu, pos, {}

    def clear_caches(self) -> None:
        self._chunks.clear()
        self._remembered = 0

    def _room(self, language: str) -> dict[str, Chunk]:
        """`language`'s chunk cache, with room for one more chunk or pair: every cache is
        emptied when they hold MEMO_LIMIT (a pair may then go to an entry no longer kept)."""
        if self._remembered >= MEMO_LIMIT:
            self.clear_caches()
        self._remembered += 1
        chunks = self._chunks.get(language)
        if chunks is None:
            chunks = self._chunks[language] = {}
        return chunks

    def scores(
        self, text: str, language: str, lexicon_score: float = 0.0
    ) -> tuple[float, float, float]:
        """Decision values (negative, neutral, positive) of `text` in `language`.

        `lexicon_score` is the lexicon's compound score of the text (OfflineAnalyzer.score
        in the same language), read only by a model trained with `lexicon_features`.
        """
        if language not in self.space.languages:
            language = "*"
        chunks = self._chunks.get(language)
        if chunks is None:
            chunks = self._chunks[language] = {}
        count = 0
        neg = neu = pos = 0.0
        previous = ""
        for chunk in text.split():
            entry = chunks.get(chunk)
            if entry is None:
                chunks = self._room(language)
                entry = chunks[chunk] = self._chunk(language, chunk)
            first, last, n, a, b, c, after = entry
            if not n:
                continue
            count, neg, neu, pos = count + n, neg + a, neu + b, pos + c
            if previous:
                pair = after.get(previous)
                if pair is None:
                    chunks = self._room(language)
                    pair = after[previous] = self._sum(pair_keys(previous, first), language)
                n, a, b, c = pair
                count, neg, neu, pos = count + n, neg + a, neu + b, pos + c
            previous = last
        return self._finish(language, count, (neg, neu, pos), lexicon_score)

    def _finish(
        self, language: str, count: int, sums: tuple[float, float, float], lexicon_score: float
    ) -> tuple[float, float, float]:
        """The decision values from the n-gram sums: scaled, plus bias and lexicon inputs."""
        neg, neu, pos = sums
        if count:
            scale = 1.0 / math.sqrt(count)
            neg, neu, pos = neg * scale, neu * scale, pos * scale
        bias = self.bias.get(language, self.bias["*"])
        neg, neu, pos = neg + bias[0], neu + bias[1], pos + bias[2]
        if self.space.lexicon_features:
            table, base = self.table, self.space.buckets * CLASSES
            for offset, value in enumerate(lexicon_inputs(lexicon_score)):
                if value:
                    row = base + offset * CLASSES
                    neg += value * table[row]
                    neu += value * table[row + 1]
                    pos += value * table[row + 2]
        return neg, neu, pos

    def label(self, text: str, language: str, lexicon_score: float = 0.0) -> int:
        """The class (0 negative, 1 neutral, 2 positive) with the highest decision value."""
        values = self.scores(text, language, lexicon_score)
        return max(range(CLASSES), key=values.__getitem__)

    # --- storage --------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        header = {
            "format": FORMAT,
            "buckets": self.space.buckets,
            "languages": sorted(self.space.languages),
            "language_features": self.space.language_features,
            "lexicon_features": self.space.lexicon_features,
            "bias": {name: list(values) for name, values in sorted(self.bias.items())},
            "trained_on": list(self.trained_on),
        }
        encoded = json.dumps(header, sort_keys=True).encode()
        table = array("f", self.table)
        if struct.pack("=I", 1) != struct.pack("<I", 1):
            table.byteswap()
        path.write_bytes(_MAGIC + struct.pack("<I", len(encoded)) + encoded + table.tobytes())

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        return cls.from_bytes(path.read_bytes(), str(path))

    @classmethod
    def from_bytes(cls, data: bytes, path: str = "weights") -> LinearModel:
        if not data.startswith(_MAGIC):
            raise ValueError(f"{path}: not a {FORMAT} file")
        start = len(_MAGIC) + 4
        (length,) = struct.unpack_from("<I", data, len(_MAGIC))
        header = json.loads(data[start : start + length])
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: format {header.get('format')!r}, expected {FORMAT}")
        space = FeatureSpace(
            buckets=int(header["buckets"]),
            languages=frozenset(header["languages"]),
            language_features=bool(header["language_features"]),
            lexicon_features=bool(header["lexicon_features"]),
        )
        table = array("f")
        table.frombytes(data[start + length :])
        if struct.pack("=I", 1) != struct.pack("<I", 1):
            table.byteswap()
        if len(table) != space.rows * CLASSES:
            raise ValueError(f"{path}: {len(table)} weights, expected {space.rows * CLASSES}")
        bias = {
            name: (float(values[0]), float(values[1]), float(values[2]))
            for name, values in header["bias"].items()
        }
        trained_on = tuple(str(digest) for digest in header.get("trained_on", ()))
        return cls(space, table, bias, trained_on)


def probabilities(values: Sequence[float]) -> list[float]:
    """Softmax of decision values: shares that sum to 1, in the order of `values`."""
    top = max(values)
    exps = [math.exp(value - top) for value in values]
    total = sum(exps)
    return [value / total for value in exps]
