"""How the shipped analyzer (or a weights file) and the lexicon label the demo's text banks.

    PYTHONPATH=layers/core:. .venv/bin/python scripts/sentiment/demo_banks.py [WEIGHTS]

The banks are local/scenario.py's. A preview only: the demo's storm reading mostly negative
also depends on how often each text is drawn; `make demo` is the real check.
tests/unit/test_sentiment.py asserts the shipped analyzer's counts on the same banks.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from local import scenario
from stormwatch.listen.learned import LinearModel
from stormwatch.listen.sentiment import OfflineAnalyzer, score_label

BRAND = "SkyJet"


def banks() -> dict[str, dict[str, list[str]]]:
    """The scenario's texts by bank and language, with the brand filled in."""
    quiet = {language: [text for text, _ in items] for language, items in scenario._QUIET.items()}
    return {
        title: {
            language: [template.format(brand=BRAND) for template in texts]
            for language, texts in bank.items()
        }
        for title, bank in (
            ("storm negative", scenario._STORM_NEGATIVE),
            ("storm neutral", scenario._STORM_NEUTRAL),
            ("storm positive", scenario._STORM_POSITIVE),
            ("quiet day", quiet),
        )
    }


def main(argv: list[str]) -> None:
    model = LinearModel.load(Path(argv[0])) if argv else "shipped"
    analyzer = OfflineAnalyzer(model)
    lexicon = OfflineAnalyzer(model=None)
    for title, bank in banks().items():
        learned: Counter[str] = Counter()
        alone: Counter[str] = Counter()
        for language, texts in bank.items():
            for text in texts:
                learned[analyzer.label_and_score(text, language)[0].value[:3]] += 1
                alone[score_label(lexicon.score(text, language)).value[:3]] += 1
        counts = f"analyzer {dict(sorted(learned.items()))}, lexicon {dict(sorted(alone.items()))}"
        print(f"{title}: {counts}")


if __name__ == "__main__":
    main(sys.argv[1:])
