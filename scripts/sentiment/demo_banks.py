"""How a weights file and the lexicon label the demo scenario's text banks (local/scenario.py).

    PYTHONPATH=layers/core:. .venv/bin/python scripts/sentiment/demo_banks.py WEIGHTS

A preview only: the demo's storm reading mostly negative also depends on how often each
text is drawn; `make demo` is the real check.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from bench.sentiment_linear import LinearModel
from local import scenario
from stormwatch.listen.sentiment import OfflineAnalyzer, score_label

NAMES = ("neg", "neu", "pos")
BRAND = "SkyJet"


def main(weights: Path) -> None:
    analyzer = OfflineAnalyzer()
    model = LinearModel.load(weights, analyzer.score)
    banks = {
        "storm negative": scenario._STORM_NEGATIVE,
        "storm neutral": scenario._STORM_NEUTRAL,
        "storm positive": scenario._STORM_POSITIVE,
        "quiet day": {
            language: [text for text, _ in items] for language, items in scenario._QUIET.items()
        },
    }
    for title, bank in banks.items():
        learned: Counter[str] = Counter()
        lexicon: Counter[str] = Counter()
        for language, texts in bank.items():
            for template in texts:
                text = template.format(brand=BRAND)
                learned[NAMES[model.label(text, language)]] += 1
                lexicon[score_label(analyzer.score(text, language)).value[:3]] += 1
        counts = f"linear {dict(sorted(learned.items()))}, lexicon {dict(sorted(lexicon.items()))}"
        print(f"{title}: {counts}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
