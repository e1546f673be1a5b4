"""What a spell check of a statement costs, cold (a new Lambda environment) and warm.

    PYTHONPATH=layers/core .venv/bin/python -m bench.spelling

Cold: a fresh interpreter per language imports the checker, loads that language's
dictionaries and checks one statement; the figure is that whole first check, the load
also shown alone. Warm: dictionaries loaded, the checker's memory of words emptied
before every check, so each statement's words are new to it (the first channel's
rendering; the other channels' renderings repeat its words and cost a fraction, shown
too). The statements are clean holding statements as a comms team writes them, about
100 words each; the same with two typos shows what suggestions add. The last line is
the headline: warm milliseconds per clean statement in the slower of German and English.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from stormwatch.act import spelling
from stormwatch.act.spelling import SpellChecker

ROUNDS = 15
# act.vocabulary as an airline's comms team keeps it ("rebooking" is not in SCOWL).
VOCABULARY = ("Nordwind Air", "NordwindAir", "Nordwind", "Kolibri", "rebooking")
# The statement's variables that are proper names, known words for its check.
PLACES = ("Hamburg", "Palma")

STATEMENTS = {
    "de": (
        "Wir wissen, dass viele von Ihnen heute auf Flug NW 1234 von Hamburg nach Palma "
        "gewartet haben, und das tut uns sehr leid. Der Flug wurde wegen eines technischen "
        "Defekts an der Maschine gestrichen. Unser Kundenservice bucht alle betroffenen "
        "Fluggäste auf den nächsten freien Flug um oder erstattet den Ticketpreis. Wer in "
        "Hamburg übernachten muss, bekommt ein Hotelzimmer und Verpflegung von uns. Bitte "
        "prüfen Sie Ihre E-Mails: Dort finden Sie Ihre neue Buchung. Fragen beantworten wir "
        "rund um die Uhr unter https://nordwind.example/hilfe und bei @NordwindAir. Das "
        "nächste Update gibt es heute um 18:00 Uhr. #NordwindAir"
    ),
    "en": (
        "We know that many of you were waiting for flight NW 1234 from Hamburg to Palma "
        "today, and we are very sorry. The flight was cancelled because of a technical "
        "fault on the aircraft. Our customer service team is rebooking every affected "
        "passenger on the next available flight or refunding the fare. If you have to stay "
        "overnight in Hamburg, we will pay for your hotel room and meals. Please check your "
        "e-mail: your new booking is there. We answer questions around the clock at "
        "https://nordwind.example/help and at @NordwindAir. Our next update follows today "
        "at 6 pm. #NordwindAir"
    ),
    "pl": (
        "Wiemy, że wielu z Państwa czekało dziś na lot NW 1234 z Hamburga do Palmy, i bardzo "
        "przepraszamy. Lot został odwołany z powodu usterki technicznej samolotu. Nasz dział "
        "obsługi klienta przebuduje rezerwacje wszystkich pasażerów na najbliższy wolny lot "
        "albo zwróci cenę biletu. Kolejna informacja dziś o 18:00. #NordwindAir"
    ),
}
TYPOS = {
    "de": ("Kundenservice", "Kundnservice", "gestrichen", "gestrichn"),
    "en": ("passenger", "pasenger", "refunding", "refundig"),
}

_COLD = """
import json, sys, time
started = time.perf_counter()
from stormwatch.act import spelling
checker = spelling.SpellChecker({vocabulary!r})
places = {places!r}
loaded = time.perf_counter()
spelling._load(spelling.DICTIONARIES, {language!r})
load = time.perf_counter() - loaded
flagged = checker.unknown_words({text!r}, {language!r}, known=places)
print(json.dumps({{"first": time.perf_counter() - started, "load": load,
                  "flagged": [word.word for word in flagged]}}))
"""


def cold(language: str) -> dict[str, float]:
    code = _COLD.format(
        vocabulary=VOCABULARY, places=PLACES, language=language, text=STATEMENTS[language]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def warm_ms(checker: SpellChecker, text: str, language: str, *, forget: bool) -> float:
    times = []
    for _ in range(ROUNDS):
        if forget:
            spelling.clear_cache()
        started = time.perf_counter()
        checker.unknown_words(text, language, known=PLACES)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def with_typos(language: str) -> str:
    right, wrong, right_too, wrong_too = TYPOS[language]
    return STATEMENTS[language].replace(right, wrong, 1).replace(right_too, wrong_too, 1)


def main() -> None:
    for language, statement in STATEMENTS.items():
        figures = cold(language)
        print(
            f"cold {language}: first check {figures['first'] * 1000:,.0f} ms "
            f"(dictionaries {figures['load'] * 1000:,.0f} ms), "
            f"{len(statement.split())} words, flagged {figures['flagged']}"
        )
    checker = SpellChecker(VOCABULARY)
    headline = []
    for language in ("de", "en"):
        text = STATEMENTS[language]
        checker.unknown_words(text, language, known=PLACES)  # load outside the timing
        new_words = warm_ms(checker, text, language, forget=True)
        seen_words = warm_ms(checker, text, language, forget=False)
        typos = warm_ms(checker, with_typos(language), language, forget=True)
        flagged = [
            (unknown.word, unknown.suggestions)
            for unknown in checker.unknown_words(with_typos(language), language, known=PLACES)
        ]
        print(
            f"warm {language}: {new_words:.1f} ms new words, {seen_words:.1f} ms words seen "
            f"before, {typos:.0f} ms with two typos {flagged}"
        )
        headline.append(new_words)
    print(f"spelling: {max(headline):.0f} ms per statement")


if __name__ == "__main__":
    main()
