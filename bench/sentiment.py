"""Sentiment on real labelled posts: macro-F1, recall of each class, confusion matrix.

    PYTHONPATH=layers/core:. .venv/bin/python -m bench.sentiment --data DIR [--split val|test]
        [--model shipped|lexicon | --weights FILE_OR_DIR] [--timing]

For each folder named in DIR/languages.json ({"folder": "iso-639-1", ...}) it reads
SPLIT_text.txt and SPLIT_labels.txt (one post a line; 0 negative, 1 neutral, 2 positive),
labels every post with the model, in the folder's language, and prints the folder's
macro-F1 (mean of the three classes' F1, in percent), each class's recall and the confusion
matrix. The last line is the mean macro-F1 over the folders: `sentiment: F macro-F1`.

Models: `shipped` (the default) is the shipped `OfflineAnalyzer` as the poll path labels
mentions: the learned model (stormwatch/listen/models/) in the languages it was trained on,
the lexicon elsewhere. `lexicon` is the lexicon alone, through `score_label` (the analyzer
before the learned model shipped). `--weights` scores a linear model of
stormwatch.listen.learned from a weights file, or from a directory holding one file per
language (`<lang>.bin`, else `default.bin`). The bench trains nothing; a weights file
(the shipped one included) records the SHA-256 of the text files it was trained on, and a
split among them is refused.
Folders can share posts (TweetEval's English validation split holds 1,430 posts of
umsab-english's train split and all of its validation split), so a post that is also in any
folder's train split is left out of every score, whatever the model, and counted.

Texts are read as the posts were written: JSON-style escapes some SemEval files carry
literally (`\\u2019`, `\\u002c`) and HTML entities (`&amp;`) are decoded first.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from stormwatch.listen.learned import LinearModel
from stormwatch.listen.sentiment import OfflineAnalyzer, score_label
from stormwatch.model import Sentiment

CLASS_NAMES = ("negative", "neutral", "positive")
LABEL_OF = {Sentiment.NEGATIVE: 0, Sentiment.NEUTRAL: 1, Sentiment.POSITIVE: 2}
_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")

Labeller = Callable[[str, str], int]
"""The class (0, 1, 2) of a text written in a language."""


def _decode_escapes(match: re.Match[str]) -> str:
    units = match.group(0).encode("ascii").decode("unicode_escape")
    # Emoji arrive as surrogate pairs (\ud83d\ude02): join them.
    return units.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def clean(text: str) -> str:
    """A post as it was written, from a line of a benchmark file."""
    if "\\u" in text:
        text = _ESCAPES.sub(_decode_escapes, text)
    return html.unescape(text) if "&" in text else text


@dataclass(frozen=True, slots=True)
class Split:
    folder: str
    language: str
    texts: list[str]
    labels: list[int]
    digest: str  # SHA-256 of the text file


def read_split(data: Path, folder: str, language: str, split: str) -> Split:
    text_path = data / folder / f"{split}_text.txt"
    raw = text_path.read_bytes()
    texts = [clean(line) for line in raw.decode("utf-8").splitlines()]
    lines = (data / folder / f"{split}_labels.txt").read_text(encoding="utf-8").split()
    labels = [int(value) for value in lines]
    if len(texts) != len(labels):
        raise ValueError(f"{folder}/{split}: {len(texts)} texts but {len(labels)} labels")
    if any(label not in (0, 1, 2) for label in labels):
        raise ValueError(f"{folder}/{split}: labels must be 0, 1 or 2")
    return Split(folder, language, texts, labels, hashlib.sha256(raw).hexdigest())


def train_texts(data: Path, folders: Sequence[str]) -> set[str]:
    """Every post of the folders' train splits (none when a folder has no train split)."""
    seen: set[str] = set()
    for folder in folders:
        path = data / folder / "train_text.txt"
        if path.exists():
            seen.update(clean(line) for line in path.read_text(encoding="utf-8").splitlines())
    return seen


def without(split: Split, seen: set[str]) -> Split:
    """`split` less the posts in `seen`."""
    kept = [(t, label) for t, label in zip(split.texts, split.labels, strict=True) if t not in seen]
    texts, labels = [t for t, _ in kept], [label for _, label in kept]
    return Split(split.folder, split.language, texts, labels, split.digest)


def read_languages(data: Path) -> dict[str, str]:
    languages = json.loads((data / "languages.json").read_text(encoding="utf-8"))
    if not isinstance(languages, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in languages.items()
    ):
        raise ValueError(f"{data / 'languages.json'}: expected {{folder: language}}")
    return languages


# --- metrics --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scores:
    confusion: tuple[tuple[int, ...], ...]  # [gold][predicted]
    recall: tuple[float, ...]
    precision: tuple[float, ...]
    f1: tuple[float, ...]

    @property
    def macro_f1(self) -> float:
        return sum(self.f1) / len(self.f1)


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def score(gold: Sequence[int], predicted: Sequence[int], classes: int = 3) -> Scores:
    """Confusion matrix, recall, precision and F1 per class (0 where undefined)."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    confusion = [[0] * classes for _ in range(classes)]
    for truth, guess in zip(gold, predicted, strict=True):
        confusion[truth][guess] += 1
    recall, precision, f1 = [], [], []
    for label in range(classes):
        hits = confusion[label][label]
        r = _ratio(hits, sum(confusion[label]))
        p = _ratio(hits, sum(row[label] for row in confusion))
        recall.append(r)
        precision.append(p)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
    return Scores(tuple(map(tuple, confusion)), tuple(recall), tuple(precision), tuple(f1))


def report(split: Split, result: Scores) -> list[str]:
    recalls = ", ".join(
        f"{name} {value:.2f}" for name, value in zip(CLASS_NAMES, result.recall, strict=True)
    )
    lines = [
        f"{split.folder} ({split.language}, {len(split.labels)} posts): "
        f"macro-F1 {100 * result.macro_f1:.1f}; recall {recalls}",
        "  confusion (rows gold, columns predicted: neg neu pos)",
    ]
    lines.extend(
        f"  {name:<8} " + " ".join(f"{count:4d}" for count in row)
        for name, row in zip(CLASS_NAMES, result.confusion, strict=True)
    )
    return lines


# --- models ---------------------------------------------------------------------------------


def _refuse_trained_on(models: dict[str, LinearModel], splits: Sequence[Split]) -> None:
    for name, model in models.items():
        for split in splits:
            if split.digest in model.trained_on:
                raise SystemExit(f"{name} was trained on {split.folder}'s split: refusing")


def lexicon_labeller() -> Labeller:
    analyzer = OfflineAnalyzer(model=None)
    return lambda text, language: LABEL_OF[score_label(analyzer.score(text, language))]


def shipped_labeller(splits: Sequence[Split]) -> Labeller:
    analyzer = OfflineAnalyzer()
    if analyzer.model is None:
        raise SystemExit("the shipped sentiment model did not load (see the warning above)")
    _refuse_trained_on({"the shipped model": analyzer.model}, splits)
    return lambda text, language: LABEL_OF[analyzer.label_and_score(text, language)[0]]


def weights_labeller(path: Path, splits: Sequence[Split]) -> Labeller:
    lexicon = OfflineAnalyzer(model=None).score
    if path.is_dir():
        models = {file.stem: LinearModel.load(file) for file in path.glob("*.bin")}
    else:
        models = {"default": LinearModel.load(path)}
    _refuse_trained_on(models, splits)

    def label(text: str, language: str) -> int:
        model = models.get(language) or models.get("default")
        if model is None:
            raise SystemExit(f"no weights for {language} and no default.bin in {path}")
        return model.label(text, language, lexicon(text, language))

    return label


def timing(labeller: Labeller, splits: Sequence[Split]) -> str:
    """Labelling speed on one core over every scored post, caches warm (best of 5 passes)."""
    items = [(text, split.language) for split in splits for text in split.texts]
    passes = []
    for _ in range(6):  # the first pass warms the caches
        started = time.perf_counter()
        for text, language in items:
            labeller(text, language)
        passes.append(time.perf_counter() - started)
    best = min(passes[1:])
    return (
        f"timing: {len(items) / best:,.0f} posts/s warm ({best / len(items) * 1e6:.1f} us each; "
        f"first pass {passes[0] / len(items) * 1e6:.1f} us each)"
    )


ISSUE_FOLDERS = ("umsab-english", "umsab-german", "umsab-french", "umsab-spanish")
"""The folders of issue 13's target: the mean macro-F1 over en, de, fr, es."""


def summary(results: dict[str, Scores]) -> list[str]:
    """One line per folder (macro-F1, negative recall), issue 13's mean, the mean of all."""
    lines = [
        f"  {folder}: macro-F1 {100 * result.macro_f1:.1f}, negative recall {result.recall[0]:.2f}"
        for folder, result in results.items()
    ]
    if all(folder in results for folder in ISSUE_FOLDERS):
        issue = sum(results[folder].macro_f1 for folder in ISSUE_FOLDERS) / len(ISSUE_FOLDERS)
        lines.append(f"mean of {', '.join(ISSUE_FOLDERS)}: {100 * issue:.1f} macro-F1")
    mean = sum(result.macro_f1 for result in results.values()) / len(results)
    lines.append(f"sentiment: {100 * mean:.1f} macro-F1")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with languages.json")
    parser.add_argument("--split", choices=("val", "test"), default="val")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model", choices=("shipped", "lexicon"), default="shipped")
    which.add_argument("--weights", type=Path, help="a linear model's file, or a folder of them")
    parser.add_argument(
        "--timing", action="store_true", help="also time labelling (warm, best of 5 passes)"
    )
    options = parser.parse_args(argv)

    languages = read_languages(options.data)
    if not languages:
        raise SystemExit(f"{options.data / 'languages.json'} names no folder")
    splits = [
        read_split(options.data, folder, language, options.split)
        for folder, language in languages.items()
    ]
    seen = train_texts(options.data, list(languages))
    if options.weights is not None:
        labeller, name = weights_labeller(options.weights, splits), str(options.weights)
    elif options.model == "lexicon":
        labeller, name = lexicon_labeller(), "lexicon"
    else:
        labeller, name = shipped_labeller(splits), "shipped (OfflineAnalyzer)"
    print(f"model: {name}; split: {options.split}")
    results: dict[str, Scores] = {}
    for whole in splits:
        split = without(whole, seen)
        predicted = [labeller(text, split.language) for text in split.texts]
        result = results[split.folder] = score(split.labels, predicted)
        print("\n".join(report(split, result)))
        if len(split.texts) < len(whole.texts):
            print(f"  ({len(whole.texts) - len(split.texts)} posts also in a train split left out)")
    if options.timing:
        print(timing(labeller, splits))
    print("\n".join(summary(results)))


if __name__ == "__main__":
    main(sys.argv[1:])
