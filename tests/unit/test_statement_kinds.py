"""The shipped statement kinds: each, in German and English, filled with the facts of a
realistic case, fits every channel's limit and passes every static pre-flight check."""

from __future__ import annotations

from pathlib import Path

import pytest

from stormwatch.act.counting import channel_lengths
from stormwatch.act.preflight import Status, preflight
from stormwatch.act.statements import list_kinds, load_kind, render
from stormwatch.config.act import PUBLISHING_CHANNELS, ActSettings

STATEMENTS = Path(__file__).resolve().parents[2] / "statements"
SHIPPED = ("apology", "correction", "holding", "service-disruption")
LANGUAGES = ("de", "en")

# Facts as a comms team would fill them in on the day, at the long end of what they write:
# if these fit, shorter facts fit too.
CASES: dict[tuple[str, str], dict[str, object]] = {
    ("holding", "de"): {
        "situation": "Seit 6 Uhr heute früh fallen Flüge ab Hamburg aus oder starten mit "
        "mehreren Stunden Verspätung.",
        "next_update": "2026-03-14T16:00:00+01:00",
        "link": "https://www.nordwind-air.de/aktuell/hamburg",
        "help_contact": "unsere Hotline 040 123 456 78 (rund um die Uhr)",
    },
    ("holding", "en"): {
        "situation": "Since 6 am today, flights from Hamburg have been cancelled or delayed "
        "by several hours.",
        "next_update": "2026-03-14T16:00:00+01:00",
        "link": "https://www.nordwind-air.com/news/hamburg",
        "help_contact": "our hotline +49 40 123 456 78 (around the clock)",
    },
    ("apology", "de"): {
        "mistake": "Am Freitagabend haben wir rund 1.200 Kundinnen und Kunden irrtümlich "
        "mitgeteilt, ihr Flug sei storniert.",
        "remedy": "Alle Buchungen gelten unverändert, Sie müssen nichts tun. Wer deshalb "
        "umgebucht hat, bekommt die Kosten von uns erstattet.",
        "link": "https://www.nordwind-air.de/service/storno-mail",
        "signed_by": "Maria Hofmann, Geschäftsführerin",
    },
    ("apology", "en"): {
        "mistake": "On Friday evening we told around 1,200 customers by mistake that their "
        "flight had been cancelled.",
        "remedy": "Every booking is valid and you do not need to do anything. If you "
        "rebooked because of our message, we will refund the cost.",
        "link": "https://www.nordwind-air.com/service/cancellation-email",
        "signed_by": "Maria Hofmann, CEO",
    },
    ("correction", "de"): {
        "claim": "wir würden im Sommer alle Flüge ab Hamburg streichen.",
        "facts": "Unser Sommerflugplan gilt unverändert. Nur die Strecke Hamburg–Split "
        "endet wie geplant am 1. Juni.",
        "source": "https://www.nordwind-air.de/flugplan/sommer",
        "as_of": "2026-03-14T11:30:00+01:00",
    },
    ("correction", "en"): {
        "claim": "that we are cancelling every summer flight from Hamburg.",
        "facts": "Our summer schedule stands as published. Only the Hamburg–Split route "
        "ends on 1 June, as planned since last year.",
        "source": "https://www.nordwind-air.com/schedule/summer",
        "as_of": "2026-03-14T11:30:00+01:00",
    },
    ("service-disruption", "de"): {
        "service": "Online-Check-in und App",
        "since": "2026-03-14T08:15:00+01:00",
        "status": "Unsere Technik hat die Ursache gefunden und stellt das Buchungssystem "
        "gerade Schritt für Schritt wieder her.",
        "workaround": "Bitte checken Sie bis dahin am Schalter am Flughafen ein, ohne Aufpreis.",
        "next_update": "2026-03-14T12:00:00+01:00",
        "link": "https://status.nordwind-air.de",
    },
    ("service-disruption", "en"): {
        "service": "online check-in and the app",
        "since": "2026-03-14T08:15:00+01:00",
        "status": "Our engineers have found the cause and are bringing the booking system "
        "back step by step.",
        "workaround": "Until then, please check in at the airport counters at no extra charge.",
        "next_update": "2026-03-14T12:00:00+01:00",
        "link": "https://status.nordwind-air.com",
    },
}

SETTINGS = ActSettings.model_validate(
    {
        "forbidden_terms": ["no comment", "kein Kommentar", "not our fault"],
        "instagram": "card",
    }
)


def test_the_four_kinds_are_shipped_in_german_and_english() -> None:
    # Given the statements folder / When every kind is listed / Then the four, both languages
    kinds = list_kinds(STATEMENTS)
    assert [kind.name for kind in kinds] == list(SHIPPED)
    for kind in kinds:
        assert set(kind.languages) == set(LANGUAGES), kind.name
        assert any(variable.required for variable in kind.variables), kind.name


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", SHIPPED)
def test_a_filled_kind_fits_every_channel_and_passes_the_static_checks(
    name: str, language: str
) -> None:
    # Given a shipped kind and the facts of a realistic case
    kind = load_kind(STATEMENTS / name)
    # When rendered for every channel and checked, each channel in the kind's language
    rendering = render(kind, language, CASES[name, language])
    settings = SETTINGS.model_copy(
        update={"languages": dict.fromkeys(PUBLISHING_CHANNELS, language)}
    )
    report = preflight(rendering, settings)
    # Then every channel's text fits and every check passed, the facts in it
    assert set(rendering.texts) == set(PUBLISHING_CHANNELS)
    for channel, text in rendering.texts.items():
        for length in channel_lengths(channel, text):
            assert length.fits, (channel, str(length), text)
    assert [(channel, check.name, check.message) for channel, check in report.problems()] == []
    assert report.ready
    assert all(check.status is Status.PASSED for c in report.channels for check in c.checks)
    first_fact = str(next(iter(CASES[name, language].values())))
    assert all(first_fact in text for text in rendering.texts.values())


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", SHIPPED)
def test_no_kind_can_go_out_without_its_facts(name: str, language: str) -> None:
    # Given a shipped kind / When rendered with only its optional facts / Then it refuses,
    # naming a required variable: there is no boilerplate to release as it is
    kind = load_kind(STATEMENTS / name)
    optional = {
        key: value
        for key, value in CASES[name, language].items()
        if not kind.variable(key) or not kind.variable(key).required  # type: ignore[union-attr]
    }
    required = [variable.name for variable in kind.variables if variable.required]
    with pytest.raises(ValueError, match=rf"needs variable '({'|'.join(required)})'"):
        render(kind, language, optional)
