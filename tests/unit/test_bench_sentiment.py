"""bench/sentiment.py: its metrics on a hand-made set and its reading of the files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.sentiment import clean, main, read_split, score

# gold:      neg neg neg neg neu neu neu pos pos pos
# predicted: neg neg neu pos neu neu neg pos pos neu
GOLD = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
PREDICTED = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1]


def test_confusion_recall_and_macro_f1_by_hand() -> None:
    result = score(GOLD, PREDICTED)
    assert result.confusion == ((2, 1, 1), (1, 2, 0), (0, 1, 2))
    assert result.recall == pytest.approx((2 / 4, 2 / 3, 2 / 3))
    assert result.precision == pytest.approx((2 / 3, 2 / 4, 2 / 3))
    # F1 = 2pr / (p + r): negative 4/7, neutral 4/7, positive 2/3.
    assert result.f1 == pytest.approx((4 / 7, 4 / 7, 2 / 3))
    assert result.macro_f1 == pytest.approx((4 / 7 + 4 / 7 + 2 / 3) / 3)


def test_a_class_never_predicted_scores_zero_not_an_error() -> None:
    result = score([0, 1, 2], [1, 1, 1])
    assert result.recall == (0.0, 1.0, 0.0)
    assert result.f1[0] == 0.0
    assert result.macro_f1 == pytest.approx((2 * (1 / 3) / (1 + 1 / 3)) / 3)


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="length"):
        score([0, 1], [0])


def test_clean_decodes_what_the_files_escape() -> None:
    assert clean(r"it\u2019s 1\u002c2 &amp; \ud83d\ude02") == "it’s 1,2 & 😂"
    assert clean("plain") == "plain"


def _write(folder: Path, split: str, rows: list[tuple[str, int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}_text.txt").write_text("".join(f"{t}\n" for t, _ in rows), "utf-8")
    (folder / f"{split}_labels.txt").write_text("".join(f"{label}\n" for _, label in rows))


def test_bench_prints_per_folder_and_the_mean_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "a", "val", [("terrible, awful service", 0), ("I love it", 2)])
    _write(tmp_path / "a", "train", [("I love it", 2)])  # left out of the score
    _write(tmp_path / "b", "val", [("Das ist schrecklich", 0)])
    (tmp_path / "languages.json").write_text(json.dumps({"a": "en", "b": "de"}))
    main(["--data", str(tmp_path), "--split", "val"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("sentiment: ")
    assert lines[-1].endswith(" macro-F1")
    assert any(line.startswith("a (en, 1 posts)") for line in lines)
    assert any("1 posts also in a train split left out" in line for line in lines)
    assert read_split(tmp_path, "b", "de", "val").labels == [0]
