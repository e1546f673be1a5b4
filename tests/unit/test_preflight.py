"""Pre-flight checks: the static ones, the checkers that plug in, and the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import pytest

from stormwatch.act.preflight import (
    INSTAGRAM_SKIPPED,
    Checkers,
    PreflightError,
    Status,
    check_channel,
    check_forbidden_terms,
    check_placeholders,
    preflight,
)
from stormwatch.act.statements import Rendering, statement_hash
from stormwatch.config.act import ActSettings

GERMAN = (
    "Wir wissen Bescheid: Seit heute früh fallen Flüge ab Hamburg aus. Wir prüfen das "
    "gerade und melden uns spätestens um 16:00 Uhr wieder. Infos: https://nordwind-air.de/a"
)
ENGLISH = (
    "We know: since this morning, flights from Hamburg have been cancelled. We are looking "
    "into it and will update you by 4 pm. More: https://nordwind-air.com/news"
)
SETTINGS = ActSettings.model_validate(
    {"forbidden_terms": ["no comment", "kein Kommentar", "Pech gehabt"]}
)


def rendering(texts: dict[str, str], language: str = "en") -> Rendering:
    return Rendering(
        kind="holding",
        language=language,
        variables=MappingProxyType({}),
        base=next(iter(texts.values())),
        texts=MappingProxyType(texts),
        sha256=statement_hash(texts, next(iter(texts.values()))),
    )


# --- static checks --------------------------------------------------------------------------


def test_a_text_over_the_channels_limit_fails_with_how_much_is_too_much() -> None:
    report = check_channel("x", "日" * 141, "en", SETTINGS)
    check = report.check("length")
    assert check.status is Status.FAILED
    assert check.message == "282 of 280 weighted characters: 2 too many for x"
    assert not report.ready


def test_bluesky_fails_on_bytes_even_within_its_graphemes() -> None:
    report = check_channel("bluesky", "👨‍👩‍👧‍👦" * 200, "en", SETTINGS)
    assert report.check("length").status is Status.FAILED
    assert "bytes" in report.check("length").message


def test_the_mastodon_limit_is_the_instances() -> None:
    text = "a" * 600
    assert check_channel("mastodon", text, "en", SETTINGS).check("length").status is (Status.FAILED)
    report = check_channel("mastodon", text, "en", SETTINGS, mastodon_limit=1000)
    assert report.check("length").status is Status.PASSED


@dataclass(frozen=True)
class Instance:
    max_characters: int
    url_characters: int = 23
    warning: str | None = None


@pytest.mark.parametrize(("limit", "fits"), [(1000, True), (500, False)])
def test_the_mastodon_limit_comes_from_the_instances_checker(limit: int, fits: bool) -> None:
    # Given an instance allowing `limit` characters / When 600 are checked
    checkers = Checkers(mastodon=Instance(limit))
    report = check_channel("mastodon", "a" * 600, "en", SETTINGS, checkers)
    # Then they fit where the instance allows them
    assert report.length.limit == limit
    assert report.check("length").status is (Status.PASSED if fits else Status.FAILED)


def test_an_instance_without_readable_limits_counts_with_the_defaults_and_says_so() -> None:
    checkers = Checkers(mastodon=Instance(500, 23, "the instance's status limits are unknown"))
    check = check_channel("mastodon", "a" * 400, "en", SETTINGS, checkers).check("length")
    assert check.status is Status.PASSED
    assert check.message == "400/500 characters (the instance's status limits are unknown)"


@pytest.mark.parametrize(
    "text",
    [
        "Next update at {{ next_update }}.",
        "Next update at {% now %}.",
        "Next update at [[time]].",
        "Next update at <insert time>.",
        "Nächstes Update um <UHRZEIT>.",
        "Next update: TODO",
        "Next update: tbd",
        "Call XXX for help",
        "Lorem ipsum dolor sit amet",
    ],
)
def test_an_unfilled_placeholder_fails(text: str) -> None:
    check = check_placeholders(text)
    assert check.status is Status.FAILED
    assert check.message.startswith("unfilled placeholder: ")


@pytest.mark.parametrize(
    "text",
    [
        "Flights <3 hours late are rebooked free of charge.",
        "Today at 16:00 (UTC+1) we update https://nordwind-air.de/a?b=c#d.",
        "Our brand TODOS (Spanish) is not a placeholder, nor is todo-list or xxl.",
        "Mit 100 % Sicherheit: 3 < 4 > 2.",
    ],
)
def test_ordinary_text_has_no_placeholder(text: str) -> None:
    assert check_placeholders(text).status is Status.PASSED


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("We have No Comment at this time.", ["no comment"]),
        ("Dazu gibt es KEIN   Kommentar.", ["kein Kommentar"]),
        ("Tja, pech GEHABT!", ["Pech gehabt"]),
        ("Kein Kommentar, no comment.", ["no comment", "kein Kommentar"]),
    ],
)
def test_a_forbidden_term_fails_ignoring_case_spacing_and_diacritics(
    text: str, found: list[str]
) -> None:
    check = check_forbidden_terms(text, SETTINGS.forbidden_terms)
    assert check.status is Status.FAILED
    assert check.details["terms"] == found


def test_forbidden_terms_match_whole_words_and_fold_diacritics() -> None:
    terms = ["Fehler", "Müll"]
    assert check_forbidden_terms("Fehlerfrei und ohne Mullbinde.", terms).status is (Status.PASSED)
    assert check_forbidden_terms("Das war MULL.", terms).status is Status.FAILED


def test_the_language_must_be_the_channels() -> None:
    settings = SETTINGS.model_copy(update={"languages": {"linkedin": "en", "x": "de"}})
    report = preflight(rendering({"x": GERMAN, "linkedin": GERMAN}, "de"), settings)
    assert report.channel("x").check("language").status is Status.PASSED
    wrong = report.channel("linkedin").check("language")
    assert wrong.status is Status.FAILED
    assert wrong.message == "written in de, but linkedin's account posts in en (act.languages)"


def test_an_undetermined_language_is_a_warning_to_accept() -> None:
    settings = SETTINGS.model_copy(update={"languages": {"x": "de"}})
    report = preflight(rendering({"x": "OK 👍 https://nordwind-air.de/a"}), settings)
    assert report.channel("x").check("language").status is Status.WARNING
    assert not report.ready
    accepted = report.accept("x", "language", by="anna")
    assert accepted.ready
    assert accepted.channel("x").check("language").accepted_by == "anna"


def test_a_channel_without_a_language_takes_any() -> None:
    report = preflight(rendering({"x": GERMAN}, "de"), SETTINGS)
    assert [check.name for check in report.channel("x").checks] == [
        "length",
        "placeholders",
        "forbidden_terms",
    ]


def test_instagram_skip_marks_the_channel_skipped_with_its_reason() -> None:
    settings = SETTINGS.model_copy(update={"instagram": "skip"})
    report = preflight(rendering({"x": ENGLISH, "instagram": "{{ broken }}"}), settings)
    instagram = report.channel("instagram")
    assert instagram.skipped == INSTAGRAM_SKIPPED
    assert instagram.checks == ()
    assert report.ready
    assert report.as_dict()["channels"][1]["skipped"] == INSTAGRAM_SKIPPED  # type: ignore[index]


def test_nothing_to_publish_is_not_ready() -> None:
    settings = SETTINGS.model_copy(update={"instagram": "skip"})
    assert not preflight(rendering({"instagram": ENGLISH}), settings).ready


# --- checkers that plug in -------------------------------------------------------------------
# The fakes are plain dataclasses: mypy checks that they fit the Protocols where they are
# passed to `Checkers`, as the real link checker, lookups and spell checker will be.


@dataclass(frozen=True)
class Link:
    url: str
    ok: bool
    status: int | None
    final_url: str | None
    message: str


@dataclass
class FakeLinks:
    broken: set[str] = field(default_factory=set)
    seen: list[str] = field(default_factory=list)

    def check(self, url: str) -> Link:
        self.seen.append(url)
        if url in self.broken:
            return Link(url, False, 404, None, "404 Not Found")
        return Link(url, True, 200, url, "200 OK")


@dataclass(frozen=True)
class Account:
    handle: str
    found: bool
    display_name: str | None
    message: str


@dataclass(frozen=True)
class Tag:
    tag: str
    found: bool
    message: str


@dataclass
class FakeAccounts:
    accounts: dict[str, str]
    tags: set[str]

    def lookup_account(self, handle: str) -> Account:
        name = self.accounts.get(handle)
        if name is None:
            return Account(handle, False, None, "no such account")
        return Account(handle, True, name, "found")

    def lookup_tag(self, tag: str) -> Tag:
        if tag in self.tags:
            return Tag(tag, True, "in use")
        return Tag(tag, False, "nobody has used it yet")


@dataclass(frozen=True)
class Word:
    word: str
    offset: int
    suggestions: Sequence[str]


class FakeSpelling:
    def unknown_words(self, text: str, language: str) -> list[Word]:
        if language != "en":
            raise ValueError(f"no dictionary for {language!r}")
        return [Word("Hambrug", text.find("Hambrug"), ["Hamburg"])] if "Hambrug" in text else []


class BrokenLookup:
    def lookup_account(self, handle: str) -> Account:
        raise TimeoutError("did not answer within 5 s")

    def lookup_tag(self, tag: str) -> Tag:
        raise TimeoutError("did not answer within 5 s")


def test_a_broken_link_fails_and_working_ones_pass() -> None:
    links = FakeLinks(broken={"https://nordwind-air.com/gone"})
    text = "Read https://nordwind-air.com/news and https://nordwind-air.com/gone."
    report = check_channel("mastodon", text, "en", SETTINGS, Checkers(links=links))
    check = report.check("links")
    assert check.status is Status.FAILED
    assert check.message == "https://nordwind-air.com/gone: 404 Not Found"
    assert links.seen == ["https://nordwind-air.com/news", "https://nordwind-air.com/gone"]


def test_mentions_show_the_accounts_display_name_and_fail_when_unknown() -> None:
    lookup = FakeAccounts({"NordwindAir": "Nordwind Airlines"}, {"Nordwind"})
    checkers = Checkers(accounts={"x": lookup})
    good = check_channel("x", "Updates von @NordwindAir #Nordwind", "de", SETTINGS, checkers)
    assert good.check("mentions").message == "names @NordwindAir (Nordwind Airlines)"
    assert good.check("hashtags").status is Status.PASSED
    bad = check_channel("x", "Fragen an @NordwindAirr #NordwindHilft", "de", SETTINGS, checkers)
    assert bad.check("mentions").status is Status.FAILED
    assert bad.check("mentions").message == "@NordwindAirr: no such account"
    # A new tag may be meant: a warning an approver can accept
    assert bad.check("hashtags").status is Status.WARNING


def test_a_checker_that_breaks_fails_its_check_and_the_others_still_run() -> None:
    checkers = Checkers(accounts={"x": BrokenLookup()})
    report = check_channel("x", "Fragen an @NordwindAir", "de", SETTINGS, checkers)
    assert report.check("mentions").status is Status.FAILED
    assert report.check("mentions").message == (
        "could not check @NordwindAir: did not answer within 5 s"
    )
    assert report.check("length").status is Status.PASSED


def test_unknown_words_are_warnings_with_suggestions_an_approver_may_accept() -> None:
    checkers = Checkers(spelling=FakeSpelling())
    report = preflight(rendering({"x": ENGLISH.replace("Hamburg", "Hambrug")}), SETTINGS, checkers)
    check = report.channel("x").check("spelling")
    assert check.status is Status.WARNING
    assert check.message == "unknown words: Hambrug (-> Hamburg)"
    assert report.problems() == [("x", check)]
    assert report.accept("x", "spelling", by="ben").ready


def test_an_unsupported_spelling_language_is_not_silently_fine() -> None:
    report = preflight(rendering({"x": GERMAN}, "de"), SETTINGS, Checkers(spelling=FakeSpelling()))
    check = report.channel("x").check("spelling")
    assert check.status is Status.WARNING
    assert check.message == "spelling not checked: no dictionary for 'de'"


# --- the report -------------------------------------------------------------------------------


def test_a_failed_check_cannot_be_accepted() -> None:
    report = preflight(rendering({"x": "TODO " + ENGLISH}), SETTINGS)
    assert not report.ready
    with pytest.raises(PreflightError, match="only a warning can be accepted"):
        report.accept("x", "placeholders", by="anna")
    with pytest.raises(PreflightError, match="no check named 'spelling'"):
        report.accept("x", "spelling", by="anna")
    with pytest.raises(PreflightError, match="not checked for 'bluesky'"):
        report.accept("bluesky", "length", by="anna")


def test_the_report_is_bound_to_the_renderings_hash_and_serialises() -> None:
    statement = rendering({"x": ENGLISH, "mastodon": ENGLISH})
    report = preflight(statement, SETTINGS)
    assert report.sha256 == statement.sha256
    assert report.ready
    data = report.as_dict()
    assert data["ready"] is True
    assert [c["channel"] for c in data["channels"]] == ["x", "mastodon"]  # type: ignore[attr-defined]


def test_only_rendered_channels_can_be_checked() -> None:
    with pytest.raises(PreflightError, match="not rendered for 'bluesky'"):
        preflight(rendering({"x": ENGLISH}), SETTINGS, channels=["x", "bluesky"])
