"""Throughput of language detection + offline sentiment, the text work of the poll path.

The analyzer is the shipped `OfflineAnalyzer`: the learned model (with the lexicon's score
as an input) for the languages it was trained on, the lexicon alone for the others.

    PYTHONPATH=layers/core .venv/bin/python -m bench.text_analysis [--model lexicon]

(`--model lexicon`: the lexicon alone, the analyzer before the learned model shipped, to
compare the two on the same machine at the same time.)

The mentions are the evaluation texts (tests/data/*_eval.tsv): consecutive texts of one
language joined until each is about 150 characters, a typical post, repeated to 50,000
items. Both steps cache what they learn about each word, and a repeated corpus keeps those
caches warm, as a long-lived Lambda container's are on real traffic, whose vocabulary
repeats heavily. The cold figure (caches emptied before every mention) is printed too, as
the floor. The last line is the headline: warm mentions per second on one core, from
the best of five passes per 5,000-mention slice (see `timed`).

Before the timings it prints the accuracy of both steps on the labelled evaluation sets,
per language, so one command reproduces every figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stormwatch.listen import language
from stormwatch.listen.language import detect_language
from stormwatch.listen.sentiment import OfflineAnalyzer

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
ITEMS = 50_000
COLD_ITEMS = 5_000
TARGET_CHARS = 150
BATCH = 100  # the poll path scores a page of mentions at a time
ROUNDS = 5
SLICE = 5_000


def eval_texts() -> list[tuple[str, str]]:
    """(language, text) of both evaluation sets."""
    texts = []
    for name, text_column in (("sentiment_eval.tsv", 2), ("language_eval.tsv", 1)):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines()[1:]:
            fields = line.split("\t")
            texts.append((fields[0], fields[text_column]))
    return texts


def posts(texts: Sequence[tuple[str, str]], target_chars: int) -> list[str]:
    """Texts of one language joined into posts of at least `target_chars` characters."""
    joined: list[str] = []
    current: list[str] = []
    current_language = ""
    for text_language, text in texts:
        if current and (
            text_language != current_language or len(" ".join(current)) >= target_chars
        ):
            joined.append(" ".join(current))
            current = []
        current_language = text_language
        current.append(text)
    if current:
        joined.append(" ".join(current))
    return joined


def accuracy_lines(analyzer: OfflineAnalyzer) -> list[str]:
    """Per-language accuracy of detection (language_eval.tsv) and sentiment (sentiment_eval.tsv)."""
    detected: dict[str, list[bool]] = {}
    for line in (DATA / "language_eval.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        expected, text = line.split("\t")
        detected.setdefault(expected, []).append(detect_language(text) == expected)
    scored: dict[str, list[bool]] = {}
    for line in (DATA / "sentiment_eval.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        text_language, label, text = line.split("\t")
        guess = analyzer.label_and_score(text, text_language)[0].value
        scored.setdefault(text_language, []).append(guess == label)
    lines = []
    for title, results in (("language detection", detected), ("sentiment", scored)):
        every = [hit for hits in results.values() for hit in hits]
        parts = ", ".join(
            f"{name} {sum(hits) / len(hits):.3f} ({sum(hits)}/{len(hits)})"
            for name, hits in results.items()
        )
        lines.append(f"{title} accuracy: {sum(every) / len(every):.3f} overall; {parts}")
    return lines


def repeat(items: Sequence[str], count: int) -> list[str]:
    return (list(items) * (count // len(items) + 1))[:count]


def run(items: Sequence[str], analyzer: OfflineAnalyzer, *, cold: bool = False) -> float:
    """Seconds to detect the language of and score every item, in batches of `BATCH`."""
    started = time.perf_counter()
    for start in range(0, len(items), BATCH):
        pairs = []
        for text in items[start : start + BATCH]:
            if cold:
                language.clear_cache()
                analyzer.clear_caches()
            pairs.append((text, detect_language(text)))
        analyzer.analyze(pairs)
    return time.perf_counter() - started


def timed(items: Sequence[str], analyzer: OfflineAnalyzer, *, cold: bool = False) -> Timing:
    """Best and median time over `ROUNDS` passes, slice by slice.

    Other processes share this machine's cores; the best time of each slice is the one
    they disturbed least (the reasoning of `timeit`), the median shows what they cost.
    """
    slices = [items[start : start + SLICE] for start in range(0, len(items), SLICE)]
    rounds = [[run(part, analyzer, cold=cold) for part in slices] for _ in range(ROUNDS)]
    best = sum(min(times) for times in zip(*rounds, strict=True))
    median = statistics.median(sum(times) for times in rounds)
    return Timing(best=best, median=median, count=len(items))


@dataclass(frozen=True, slots=True)
class Timing:
    best: float
    median: float
    count: int

    def rate(self, seconds: float) -> str:
        return f"{self.count / seconds:,.0f} mentions/s ({seconds / self.count * 1e6:.1f} us each)"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("shipped", "lexicon"), default="shipped")
    options = parser.parse_args(argv)
    analyzer = OfflineAnalyzer() if options.model == "shipped" else OfflineAnalyzer(model=None)
    for line in accuracy_lines(analyzer):
        print(line)
    texts = eval_texts()
    items = repeat(posts(texts, TARGET_CHARS), ITEMS)
    short_items = repeat([text for _, text in texts], ITEMS)
    run(items[:2_000], analyzer)  # load the profile and lexicons outside the timing

    short = timed(short_items, analyzer)
    cold = timed(items[:COLD_ITEMS], analyzer, cold=True)
    warm = timed(items, analyzer)

    print(f"mentions: {len(items)}, {statistics.fmean(map(len, items)):.0f} characters on average")
    print(
        f"short eval texts as they are ({statistics.fmean(map(len, short_items)):.0f} chars): "
        f"{short.rate(short.best)}"
    )
    print(f"cold caches (emptied before every mention): {cold.rate(cold.best)}")
    print(f"warm caches, median round: {warm.rate(warm.median)}")
    print(f"warm caches, best: {warm.rate(warm.best)}")
    print(f"text_analysis: {warm.count / warm.best:,.0f} mentions/s")


if __name__ == "__main__":
    main(sys.argv[1:])
