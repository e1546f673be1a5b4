"""Model comparison for docs/decisions/0019: fit on the train splits, choose by CV, report val.

Needs scikit-learn, numpy and (for `fasttext`) the fasttext-numpy2 wheel, which the
Lambda layer does not: run it from a training venv of its own (0019 lists its packages), e.g.

    PYTHONPATH=layers/core:. .train-venv/bin/python scripts/sentiment/experiment.py \\
        --data /work/shared/data/sentiment linear --save .train-out/linear.bin

Every hyper-parameter (C, and the offset added to the negative class's score) is chosen by
5-fold cross-validation on the train splits (mean macro-F1 over the languages); the
validation splits are only scored, once, at the end. Texts are read with bench.sentiment's
`clean`, features made by stormwatch.listen.learned's `FeatureSpace`, so a saved model
gives the same labels in `python -m bench.sentiment --weights`. scripts/sentiment/train.py
trains the shipped table with this module's functions.

Variants: `linear` (per language or, with --multilingual, one model with a copy of every
feature per language), `--lexicon` adds the OfflineAnalyzer's score as three inputs,
`--negation` a negated copy of the words after a negator (0019: not shipped);
`fasttext` trains fastText supervised per language (epochs and learning rate by CV);
`leave-one-out` trains the multilingual model without one language and scores that
language's validation split, as a model would meet Polish (no labelled posts).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.metrics import f1_score, recall_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from bench.sentiment import clean, read_languages
from stormwatch.listen.learned import CLASSES, FeatureSpace, LinearModel, lexicon_inputs, tokens
from stormwatch.listen.sentiment import NEGATOR, OfflineAnalyzer, lexicon_for, score_label

FOLDERS = (
    "umsab-english",
    "umsab-german",
    "umsab-french",
    "umsab-spanish",
    "umsab-italian",
    "umsab-portuguese",
)
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
OFFSETS = tuple(round(-0.5 + 0.05 * step, 2) for step in range(31))  # -0.5 .. +1.0
SEED = 13
LEXICON = OfflineAnalyzer()
LABELS = {"negative": 0, "neutral": 1, "positive": 2}


# Negators of the languages without a lexicon of their own (they read the English one).
_MORE_NEGATORS = {
    "it": {"non", "mai", "nessuno", "niente", "nulla", "senza"},
    "pt": {"não", "nao", "nunca", "nem", "nada", "sem", "ninguém"},
}
_NEGATORS: dict[str, frozenset[str]] = {}
NEGATION_WINDOW = 3


def negators(language: str) -> frozenset[str]:
    found = _NEGATORS.get(language)
    if found is None:
        words = lexicon_for(language).words
        found = frozenset(k for k, e in words.items() if e.role == NEGATOR) | frozenset(
            _MORE_NEGATORS.get(language, ())
        )
        _NEGATORS[language] = found
    return found


@dataclass(frozen=True, slots=True)
class NegationSpace(FeatureSpace):
    """0019's item 4: FeatureSpace plus a "negated" copy of each of the (up to three) words
    after a negator ("not good" also gives "n:good"), from the lexicons' negators."""

    def features(self, text: str, language: str) -> list[int]:
        result = FeatureSpace.features(self, text, language)
        words = negators(language)
        window = 0
        for token in tokens(text):
            if token in words or token.endswith("n't"):
                window = NEGATION_WINDOW
            elif window and token[0].isalpha():
                result.extend(self.indices(["n:" + token], language))
                window -= 1
            elif not token[0].isalpha():
                window = 0
        return result


def read(data: Path, folder: str, split: str) -> tuple[list[str], np.ndarray]:
    texts = [
        clean(line)
        for line in (data / folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    ]
    labels = np.array([int(v) for v in (data / folder / f"{split}_labels.txt").read_text().split()])
    return texts, labels


def digest(data: Path, folder: str) -> str:
    return hashlib.sha256((data / folder / "train_text.txt").read_bytes()).hexdigest()


def matrix(space: FeatureSpace, texts: Sequence[str], languages: Sequence[str]) -> Any:
    """Rows as LinearModel computes them: counts / sqrt(occurrences), lexicon unscaled."""
    rows, cols, values = [], [], []
    for row, (text, language) in enumerate(zip(texts, languages, strict=True)):
        indices = space.features(text, language if language in space.languages else "*")
        if indices:
            scale = 1.0 / np.sqrt(len(indices))
            rows.extend([row] * len(indices))
            cols.extend(indices)
            values.extend([scale] * len(indices))
        if space.lexicon_features:
            for offset, value in enumerate(lexicon_inputs(LEXICON.score(text, language))):
                if value:
                    rows.append(row)
                    cols.append(space.buckets + offset)
                    values.append(value)
    # Duplicated (row, col) pairs are summed by the CSR conversion: counts.
    return sparse.csr_matrix(
        (values, (rows, cols)), shape=(len(texts), space.rows), dtype=np.float64
    )


def language_columns(languages: Sequence[str], trained: Sequence[str]) -> Any:
    """One indicator column per trained language (the per-language bias)."""
    index = {name: i for i, name in enumerate(trained)}
    rows = [r for r, name in enumerate(languages) if name in index]
    cols = [index[languages[r]] for r in rows]
    return sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(languages), len(trained))
    )


class Compact:
    """A linear SVM (one-vs-rest, squared hinge) on the columns the training rows use.

    Multinomial logistic regression (lbfgs) took 12-26 s a fit here against 0.4 s.
    """

    def __init__(self, x: Any, y: np.ndarray, c: float) -> None:
        self.columns = np.unique(x.indices)
        self.width = x.shape[1]
        self.model = LinearSVC(C=c, max_iter=5000, random_state=SEED).fit(x[:, self.columns], y)

    def decision_function(self, x: Any) -> np.ndarray:
        return np.asarray(self.model.decision_function(x[:, self.columns]))

    @property
    def coef_(self) -> np.ndarray:
        full = np.zeros((CLASSES, self.width))
        full[:, self.columns] = self.model.coef_
        return full

    @property
    def intercept_(self) -> np.ndarray:
        return np.asarray(self.model.intercept_)


def fit(x: Any, y: np.ndarray, c: float) -> Compact:
    return Compact(x, y, c)


def macro(y: np.ndarray, predicted: np.ndarray) -> float:
    return float(f1_score(y, predicted, average="macro", labels=[0, 1, 2]))


def shifted(decision: np.ndarray, offset: float) -> np.ndarray:
    values = decision.copy()
    values[:, 0] += offset
    return values.argmax(axis=1)


def groups_macro(y: np.ndarray, predicted: np.ndarray, groups: np.ndarray) -> float:
    return float(
        np.mean([macro(y[groups == g], predicted[groups == g]) for g in np.unique(groups)])
    )


def cross_validate(x: Any, y: np.ndarray, groups: np.ndarray) -> tuple[float, float, float]:
    """(C, negative offset, CV mean macro-F1) chosen on out-of-fold decision values."""
    strata = np.array([f"{g}:{label}" for g, label in zip(groups, y, strict=True)])
    folds = list(StratifiedKFold(5, shuffle=True, random_state=SEED).split(x, strata))
    best = (0.0, 0.0, -1.0)
    for c in C_GRID:
        decision = np.zeros((len(y), CLASSES))
        for train, held in folds:
            decision[held] = fit(x[train], y[train], c).decision_function(x[held])
        for offset in OFFSETS:
            value = groups_macro(y, shifted(decision, offset), groups)
            if value > best[2] + 1e-9:
                best = (c, offset, value)
        print(
            f"  C={c}: CV macro-F1 {100 * groups_macro(y, shifted(decision, 0), groups):.1f}"
            f" (offset 0)",
            file=sys.stderr,
        )
    return best


def report(name: str, language: str, y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    f1 = 100 * macro(y, predicted)
    recall = recall_score(y, predicted, average=None, labels=[0, 1, 2])
    print(
        f"{name}\t{language}\tmacro-F1 {f1:.1f}\tneg recall {recall[0]:.2f}"
        f"\tneu {recall[1]:.2f}\tpos {recall[2]:.2f}"
    )
    return {"f1": f1, "neg": float(recall[0])}


def run_linear(options: argparse.Namespace, folders: dict[str, str]) -> None:
    names = list(folders)
    train = {f: read(options.data, f, "train") for f in names}
    val = {f: read(options.data, f, "val") for f in names}
    languages = [folders[f] for f in names]
    units = [names] if options.multilingual else [[f] for f in names]
    tag = ("multi" if options.multilingual else "mono") + ("+lex" if options.lexicon else "")
    tag += f" 2^{options.bits}" + (" +negation" if options.negation else "")
    results = []
    for unit in units:
        unit_languages = [folders[f] for f in unit]
        space = (NegationSpace if options.negation else FeatureSpace)(
            2**options.bits,
            frozenset(unit_languages),
            language_features=options.multilingual,
            lexicon_features=options.lexicon,
        )
        texts = [t for f in unit for t in train[f][0]]
        langs = [folders[f] for f in unit for _ in train[f][0]]
        y = np.concatenate([train[f][1] for f in unit])
        started = time.perf_counter()
        x = matrix(space, texts, langs)
        if options.multilingual:
            x = sparse.hstack([x, language_columns(langs, unit_languages)]).tocsr()
        print(
            f"{tag} {unit}: {x.shape[0]} posts, {x.nnz} non-zeros, "
            f"{time.perf_counter() - started:.1f} s to featurise",
            file=sys.stderr,
        )
        if options.c is None:
            c, offset, cv = cross_validate(x, y, np.array(langs))
        else:  # fixed by an earlier CV (e.g. for a smaller table); no offset
            c, offset, cv = options.c, 0.0, float("nan")
        print(
            f"{tag} {'+'.join(unit_languages)}: chose C={c}, negative offset {offset:+.2f}"
            f" (CV macro-F1 {100 * cv:.1f})"
        )
        model = fit(x, y, c)
        for f in unit:
            vx = matrix(space, val[f][0], [folders[f]] * len(val[f][0]))
            if options.multilingual:
                vx = sparse.hstack(
                    [vx, language_columns([folders[f]] * vx.shape[0], unit_languages)]
                ).tocsr()
            decision = model.decision_function(vx)
            plain = report(f"{tag} offset 0", folders[f], val[f][1], shifted(decision, 0))
            tuned = report(
                f"{tag} offset {offset:+.2f}", folders[f], val[f][1], shifted(decision, offset)
            )
            results.append((folders[f], plain, tuned))
        if options.save:
            save(options, space, model, unit, unit_languages, offset)
    for which in (1, 2):
        mean = np.mean([r[which]["f1"] for r in results])
        print(f"{tag} {'offset 0' if which == 1 else 'CV offset'}\tmean\tmacro-F1 {mean:.1f}")
    del languages


def to_model(
    space: FeatureSpace,
    model: Compact,
    languages: Sequence[str],
    offset: float,
    trained_on: Sequence[str],
    *,
    multilingual: bool,
) -> LinearModel:
    """The inference model of a fitted SVM: its table, a bias per language, and "*"."""
    coef = model.coef_.astype(np.float32)  # classes x features
    table = coef[:, : space.rows].T.copy()  # rows x classes
    intercept = model.intercept_.astype(float).copy()
    intercept[0] += offset
    bias: dict[str, tuple[float, float, float]] = {"*": tuple(intercept)}  # type: ignore[dict-item]
    if multilingual:
        for i, name in enumerate(languages):
            bias[name] = tuple(intercept + coef[:, space.rows + i])  # type: ignore[assignment]
    return LinearModel(space, array("f", table.ravel().tolist()), bias, tuple(trained_on))


def save(
    options: argparse.Namespace,
    space: FeatureSpace,
    model: Compact,
    unit: Sequence[str],
    unit_languages: Sequence[str],
    offset: float,
) -> None:
    linear = to_model(
        space,
        model,
        unit_languages,
        offset,
        [digest(options.data, f) for f in unit],
        multilingual=options.multilingual,
    )
    path = options.save
    if not options.multilingual:
        path.mkdir(parents=True, exist_ok=True)
        path = path / f"{unit_languages[0]}.bin"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    linear.save(path)
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


def run_lexicon(options: argparse.Namespace, folders: dict[str, str]) -> None:
    for folder, language in folders.items():
        texts, y = read(options.data, folder, "val")
        predicted = np.array([LABELS[score_label(LEXICON.score(t, language)).value] for t in texts])
        report("lexicon", language, y, predicted)


def run_fasttext(options: argparse.Namespace, folders: dict[str, str]) -> None:
    import fasttext

    grid = [(epoch, lr) for epoch in (5, 25, 50) for lr in (0.1, 0.5, 1.0)]
    results = []
    with tempfile.TemporaryDirectory() as work:

        def train(texts: Sequence[str], y: np.ndarray, epoch: int, lr: float) -> Any:
            path = Path(work) / "train.txt"
            path.write_text(
                "".join(
                    f"__label__{label} {' '.join(t.split())}\n"
                    for t, label in zip(texts, y, strict=True)
                )
            )
            return fasttext.train_supervised(
                str(path),
                epoch=epoch,
                lr=lr,
                wordNgrams=2,
                minn=2,
                maxn=5,
                dim=50,
                bucket=200_000,  # default 2M x dim: 400 MB initialised per fit
                seed=SEED,
                thread=1,
                verbose=0,
            )

        def predict(model: Any, texts: Sequence[str]) -> np.ndarray:
            labels, _ = model.predict([" ".join(t.split()) for t in texts])
            return np.array([int(label[0].removeprefix("__label__")) for label in labels])

        for folder, language in folders.items():
            texts, y = read(options.data, folder, "train")
            folds = list(StratifiedKFold(5, shuffle=True, random_state=SEED).split(texts, y))
            scored = []
            for epoch, lr in grid:
                predicted = np.zeros(len(y), dtype=int)
                for tr, held in folds:
                    model = train([texts[i] for i in tr], y[tr], epoch, lr)
                    predicted[held] = predict(model, [texts[i] for i in held])
                scored.append((macro(y, predicted), epoch, lr))
            cv, epoch, lr = max(scored)
            print(f"fasttext {language}: chose epoch={epoch}, lr={lr} (CV macro-F1 {100 * cv:.1f})")
            model = train(texts, y, epoch, lr)
            vt, vy = read(options.data, folder, "val")
            results.append(report("fasttext", language, vy, predict(model, vt)))
    print(f"fasttext\tmean\tmacro-F1 {np.mean([r['f1'] for r in results]):.1f}")


def run_leave_one_out(options: argparse.Namespace, folders: dict[str, str]) -> None:
    """Multilingual model without one language, scored on that language (Polish's case)."""
    for held in options.held or list(folders):
        rest = {f: lang for f, lang in folders.items() if f != held}
        space = FeatureSpace(
            2**options.bits,
            frozenset(rest.values()),
            language_features=True,
            lexicon_features=options.lexicon,
        )
        texts, langs, ys = [], [], []
        for f, lang in rest.items():
            t, y = read(options.data, f, "train")
            texts += t
            langs += [lang] * len(t)
            ys.append(y)
        x = sparse.hstack(
            [matrix(space, texts, langs), language_columns(langs, list(rest.values()))]
        ).tocsr()
        model = fit(x, np.concatenate(ys), options.c)
        vt, vy = read(options.data, held, "val")
        language = folders[held]
        vx = sparse.hstack(
            [
                matrix(space, vt, [language] * len(vt)),
                language_columns([language] * len(vt), list(rest.values())),
            ]
        ).tocsr()
        report(
            f"unseen{'+lex' if options.lexicon else ''} C={options.c}",
            language,
            vy,
            shifted(model.decision_function(vx), options.offset),
        )


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--folders", nargs="*", default=list(FOLDERS))
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("lexicon")
    linear = sub.add_parser("linear")
    linear.add_argument("--multilingual", action="store_true")
    linear.add_argument("--lexicon", action="store_true")
    linear.add_argument("--bits", type=int, default=20)
    linear.add_argument(
        "--negation", action="store_true", help="NegationSpace (not the shipped features)"
    )
    linear.add_argument("--save", type=Path)
    linear.add_argument("--c", type=float, help="skip the CV: this C, no offset")
    sub.add_parser("fasttext")
    loo = sub.add_parser("leave-one-out")
    loo.add_argument("--lexicon", action="store_true")
    loo.add_argument("--bits", type=int, default=20)
    loo.add_argument("--c", type=float, default=0.1, help="C chosen by `linear`'s CV")
    loo.add_argument("--offset", type=float, default=0.0, help="offset chosen by its CV")
    loo.add_argument("--held", nargs="*")
    options = parser.parse_args(argv)
    random.seed(SEED)
    languages = read_languages(options.data)
    folders = {f: languages[f] for f in options.folders}
    {
        "lexicon": run_lexicon,
        "linear": run_linear,
        "fasttext": run_fasttext,
        "leave-one-out": run_leave_one_out,
    }[options.what](options, folders)


if __name__ == "__main__":
    main(sys.argv[1:])
