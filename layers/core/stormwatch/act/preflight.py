"""Pre-flight checks: what must hold for each channel's text before anyone may approve it.

`preflight` runs every check on every channel of a `Rendering` and returns one
`PreflightReport`, whatever was checked:

- static checks, here: the channel's length limits (`counting`), no unfilled placeholder,
  no forbidden term (``act.forbidden_terms``), the language the channel's account posts in
  (``act.languages``), and Instagram's "no text alone" (``act.instagram: skip``);
- the Instagram image card's layout, when a card designer is given (`ImageCards`,
  `stormwatch.act.card.CardDesigner`): the card is drawn from the approved text alone, so
  its layout is shown, and a text that does not fit fails, before anybody approves;
- network checks and spelling, when their checker is given: every link resolves
  (`LinkChecker`), every @mention and #tag names an existing account or tag on that
  channel (`AccountLookup`), no unknown word (`SpellChecker`). They are built elsewhere
  and plug into the small Protocols below.

A check passes, fails, or warns. A warning (an unknown word, a tag nobody has used yet,
a language the detector cannot tell) may be accepted by an approver who has read it; a
failure cannot: the text must change. The report is `ready` when every check of every
channel that is not skipped passed or was accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Protocol

from stormwatch.act.counting import (
    MASTODON_DEFAULT_LIMIT,
    MASTODON_URL_WEIGHT,
    Length,
    channel_lengths,
    find_hashtags,
    find_links,
    find_mentions,
)
from stormwatch.act.statements import Rendering
from stormwatch.config.act import ActSettings
from stormwatch.text import fold

# --- the report --------------------------------------------------------------------------


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"


class PreflightError(ValueError):
    """A pre-flight report cannot do what was asked (accept a failure, an unknown check)."""


Details = Mapping[str, object]
_NO_DETAILS: Final[Details] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Check:
    """One check of one channel's text."""

    name: str
    status: Status
    message: str
    """What a person reads: what was checked and, if it did not pass, what to do."""
    details: Details = _NO_DETAILS
    accepted_by: str | None = None
    """Who accepted this warning (their contact id), if anybody did."""

    @property
    def ok(self) -> bool:
        return self.status is Status.PASSED or (
            self.status is Status.WARNING and self.accepted_by is not None
        )


@dataclass(frozen=True, slots=True)
class ChannelReport:
    channel: str
    text: str
    lengths: tuple[Length, ...]
    """Every limit the channel sets, its main one first."""
    checks: tuple[Check, ...]
    skipped: str | None = None
    """Why the statement does not go out on this channel (then nothing was checked)."""

    @property
    def length(self) -> Length:
        return self.lengths[0]

    @property
    def ready(self) -> bool:
        return self.skipped is not None or all(check.ok for check in self.checks)

    def check(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise PreflightError(f"{self.channel}: no check named {name!r}")


@dataclass(frozen=True, slots=True)
class PreflightReport:
    """Every channel's checks of one rendering (the one with hash `sha256`)."""

    sha256: str
    channels: tuple[ChannelReport, ...]

    @property
    def ready(self) -> bool:
        """Every check of every channel passed or was accepted, and something goes out."""
        return any(report.skipped is None for report in self.channels) and all(
            report.ready for report in self.channels
        )

    def channel(self, channel: str) -> ChannelReport:
        for report in self.channels:
            if report.channel == channel:
                return report
        raise PreflightError(f"the statement is not checked for {channel!r}")

    def problems(self) -> list[tuple[str, Check]]:
        """(channel, check) of every check that is neither passed nor accepted."""
        return [
            (report.channel, check)
            for report in self.channels
            if report.skipped is None
            for check in report.checks
            if not check.ok
        ]

    def accept(self, channel: str, check: str, by: str) -> PreflightReport:
        """This report with `channel`'s warning `check` accepted by `by`.

        Only a warning can be accepted: a failed check means the text must change.
        """
        target = self.channel(channel).check(check)
        if target.status is not Status.WARNING:
            raise PreflightError(
                f"{channel}: {check!r} {target.status.value}; only a warning can be accepted"
            )
        reports = tuple(
            replace(
                report,
                checks=tuple(
                    replace(item, accepted_by=by) if item.name == check else item
                    for item in report.checks
                ),
            )
            if report.channel == channel
            else report
            for report in self.channels
        )
        return replace(self, channels=reports)

    def as_dict(self) -> dict[str, object]:
        """The report as plain JSON-able data (the dry run shows it, the item keeps it)."""
        return {
            "sha256": self.sha256,
            "ready": self.ready,
            "channels": [
                {
                    "channel": report.channel,
                    "text": report.text,
                    "skipped": report.skipped,
                    "lengths": [
                        {"used": n.used, "limit": n.limit, "unit": n.unit} for n in report.lengths
                    ],
                    "checks": [
                        {
                            "name": check.name,
                            "status": check.status.value,
                            "message": check.message,
                            "details": dict(check.details),
                            "accepted_by": check.accepted_by,
                        }
                        for check in report.checks
                    ],
                }
                for report in self.channels
            ],
        }


# --- what the network checks and the spell checker plug into ----------------------------


class LinkResult(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def status(self) -> int | None: ...
    @property
    def final_url(self) -> str | None: ...
    @property
    def message(self) -> str: ...


class LinkChecker(Protocol):
    """Whether a link resolves (2xx or 3xx, redirects followed)."""

    def check(self, url: str) -> LinkResult: ...


class AccountMatch(Protocol):
    @property
    def handle(self) -> str: ...
    @property
    def found(self) -> bool: ...
    @property
    def display_name(self) -> str | None: ...
    @property
    def message(self) -> str: ...


class TagMatch(Protocol):
    @property
    def tag(self) -> str: ...
    @property
    def found(self) -> bool: ...
    @property
    def message(self) -> str: ...


class AccountLookup(Protocol):
    """Accounts and tags on one channel, looked up through its API."""

    def lookup_account(self, handle: str) -> AccountMatch: ...

    def lookup_tag(self, tag: str) -> TagMatch: ...


class UnknownWord(Protocol):
    @property
    def word(self) -> str: ...
    @property
    def offset(self) -> int: ...
    @property
    def suggestions(self) -> Sequence[str]: ...


class SpellChecker(Protocol):
    """Words of `text` its dictionary for `language` (plus brands and vocabulary) lacks.

    An unsupported language raises `ValueError`, which the report shows as a warning:
    "not checked" is never "all fine".
    """

    def unknown_words(self, text: str, language: str) -> Sequence[UnknownWord]: ...


class CardPlan(Protocol):
    @property
    def left_out(self) -> Sequence[str]: ...
    @property
    def line_count(self) -> int: ...
    @property
    def font_size(self) -> int: ...
    def describe(self) -> str: ...


class InstanceLimits(Protocol):
    """How a Mastodon instance counts a status (``GET /api/v2/instance``); `warning` says
    why its defaults stand in for figures the instance did not give."""

    @property
    def max_characters(self) -> int: ...
    @property
    def url_characters(self) -> int: ...
    @property
    def warning(self) -> str | None: ...


class ImageCards(Protocol):
    """How a text goes on Instagram's image card; `ValueError` when it cannot."""

    def layout(self, text: str) -> CardPlan: ...


@dataclass(frozen=True)
class Checkers:
    """The checks that need the network or a dictionary; each is skipped when absent."""

    links: LinkChecker | None = None
    accounts: Mapping[str, AccountLookup] = field(default_factory=dict)
    """Channel -> its lookup."""
    spelling: SpellChecker | None = None
    card: ImageCards | None = None
    """Lays out Instagram's image card (with ``act.instagram: card``)."""
    mastodon: InstanceLimits | None = None
    """The Mastodon instance's own status limits (else Mastodon's defaults, 500 and 23)."""


# --- the static checks ----------------------------------------------------------------------

LENGTH: Final = "length"
PLACEHOLDERS: Final = "placeholders"
FORBIDDEN_TERMS: Final = "forbidden_terms"
LANGUAGE: Final = "language"
LINKS: Final = "links"
MENTIONS: Final = "mentions"
HASHTAGS: Final = "hashtags"
SPELLING: Final = "spelling"
IMAGE_CARD: Final = "image_card"

_PLACEHOLDER = re.compile(
    r"\{\{|\}\}|\{%|%\}|\{#|#\}"  # template syntax left over, or pasted in
    r"|\[\[[^\]\n]{0,80}\]\]"  # [[date]]
    r"|<[A-Za-z_ÄÖÜäöü][^<>\n]{0,60}>"  # <insert date>, <DATUM>
    r"|(?<![\w-])(?:TODO|TBD|TBC|FIXME|XXX+)(?![\w-])"  # not in "todo-list"
    r"|\blorem\s+ipsum\b",
    re.IGNORECASE,
)


def check_length(channel: str, text: str, lengths: Sequence[Length]) -> Check:
    too_long = [length for length in lengths if not length.fits]
    details = {"lengths": [str(length) for length in lengths]}
    if too_long:
        worst = too_long[0]
        return Check(
            LENGTH,
            Status.FAILED,
            f"{worst.used} of {worst.limit} {worst.unit}: {worst.over} too many for {channel}",
            details,
        )
    return Check(LENGTH, Status.PASSED, f"{lengths[0]}", details)


def check_placeholders(text: str) -> Check:
    found = sorted({match.group(0) for match in _PLACEHOLDER.finditer(text)})
    if found:
        return Check(
            PLACEHOLDERS,
            Status.FAILED,
            f"unfilled placeholder: {', '.join(found)}",
            {"placeholders": found},
        )
    return Check(PLACEHOLDERS, Status.PASSED, "no placeholder left")


def _term_pattern(term: str) -> re.Pattern[str]:
    words = fold(term).split()
    return re.compile(r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + r"(?!\w)")


def check_forbidden_terms(text: str, terms: Iterable[str]) -> Check:
    """Whole words and phrases of `terms` in `text`, ignoring case and diacritics."""
    folded = fold(text)
    found = [term for term in terms if fold(term).split() and _term_pattern(term).search(folded)]
    if found:
        return Check(
            FORBIDDEN_TERMS,
            Status.FAILED,
            f"forbidden by act.forbidden_terms: {', '.join(repr(term) for term in found)}",
            {"terms": found},
        )
    return Check(FORBIDDEN_TERMS, Status.PASSED, "no forbidden term")


def check_language(channel: str, text: str, expected: str) -> Check:
    """The text is in `expected`, the language of the channel's account."""
    from stormwatch.listen.language import UNDETERMINED, detect_language

    spans = find_links(text, channel) + find_mentions(text, channel)
    prose = text
    for span in sorted(spans, key=lambda span: span.start, reverse=True):
        prose = prose[: span.start] + " " + prose[span.end :]
    detected = detect_language(prose)
    details = {"expected": expected, "detected": detected}
    if detected == expected:
        return Check(LANGUAGE, Status.PASSED, f"written in {expected}", details)
    if detected == UNDETERMINED:
        return Check(
            LANGUAGE,
            Status.WARNING,
            f"cannot tell the language; {channel}'s account posts in {expected}",
            details,
        )
    return Check(
        LANGUAGE,
        Status.FAILED,
        f"written in {detected}, but {channel}'s account posts in {expected} (act.languages)",
        details,
    )


# --- the checks through the checkers -----------------------------------------------------


def _failed_to_check(name: str, what: str, error: Exception) -> Check:
    # A checker that breaks must not pass the text silently, nor stop the other checks.
    return Check(name, Status.FAILED, f"could not check {what}: {error}", {"error": str(error)})


def check_links(channel: str, text: str, checker: LinkChecker) -> Check:
    results = {}
    broken = []
    for span in find_links(text, channel):
        try:
            result = checker.check(span.text)
        except Exception as error:
            return _failed_to_check(LINKS, span.text, error)
        results[span.text] = {
            "ok": result.ok,
            "status": result.status,
            "final_url": result.final_url,
            "message": result.message,
        }
        if not result.ok:
            broken.append(f"{span.text}: {result.message}")
    if broken:
        return Check(LINKS, Status.FAILED, "; ".join(broken), {"links": results})
    message = f"{len(results)} link(s) resolve" if results else "no link"
    return Check(LINKS, Status.PASSED, message, {"links": results})


def check_mentions(channel: str, text: str, lookup: AccountLookup) -> Check:
    accounts: dict[str, object] = {}
    missing = []
    for span in find_mentions(text, channel):
        handle = span.text[1:]
        try:
            match = lookup.lookup_account(handle)
        except Exception as error:
            return _failed_to_check(MENTIONS, span.text, error)
        accounts[span.text] = {"found": match.found, "display_name": match.display_name}
        if not match.found:
            missing.append(f"{span.text}: {match.message}")
    if missing:
        return Check(MENTIONS, Status.FAILED, "; ".join(missing), {"accounts": accounts})
    names = ", ".join(
        f"{mention} ({detail['display_name']})"  # type: ignore[index]
        for mention, detail in accounts.items()
    )
    message = f"names {names}" if accounts else "no mention"
    return Check(MENTIONS, Status.PASSED, message, {"accounts": accounts})


def check_hashtags(channel: str, text: str, lookup: AccountLookup) -> Check:
    tags: dict[str, object] = {}
    unknown = []
    for span in find_hashtags(text, channel):
        try:
            match = lookup.lookup_tag(span.text[1:])
        except Exception as error:
            return _failed_to_check(HASHTAGS, span.text, error)
        tags[span.text] = {"found": match.found, "message": match.message}
        if not match.found:
            unknown.append(f"{span.text}: {match.message}")
    if unknown:
        # A tag nobody has used yet can be meant (a new campaign); a person decides.
        return Check(HASHTAGS, Status.WARNING, "; ".join(unknown), {"tags": tags})
    return Check(HASHTAGS, Status.PASSED, f"{len(tags)} tag(s) in use", {"tags": tags})


def check_spelling(text: str, language: str, checker: SpellChecker) -> Check:
    try:
        unknown = checker.unknown_words(text, language)
    except ValueError as error:
        return Check(SPELLING, Status.WARNING, f"spelling not checked: {error}")
    except Exception as error:
        return _failed_to_check(SPELLING, "the spelling", error)
    if unknown:
        words = {item.word: list(item.suggestions) for item in unknown}
        flagged = ", ".join(
            f"{word} (-> {', '.join(hints[:3])})" if hints else word
            for word, hints in words.items()
        )
        return Check(SPELLING, Status.WARNING, f"unknown words: {flagged}", {"words": words})
    return Check(SPELLING, Status.PASSED, f"no unknown word ({language})")


def check_image_card(text: str, cards: ImageCards) -> Check:
    try:
        plan = cards.layout(text)
    except ValueError as error:
        return Check(IMAGE_CARD, Status.FAILED, str(error))
    except Exception as error:
        return _failed_to_check(IMAGE_CARD, "the image card", error)
    details = {"lines": plan.line_count, "font_size": plan.font_size}
    if plan.left_out:
        # The caption keeps them; a person decides whether the card reads well without.
        left_out = " ".join(plan.left_out)
        return Check(
            IMAGE_CARD,
            Status.WARNING,
            f"{plan.describe()}; not on the card (its font has no glyph): {left_out}",
            {**details, "left_out": list(plan.left_out)},
        )
    return Check(IMAGE_CARD, Status.PASSED, plan.describe(), details)


# --- the whole run --------------------------------------------------------------------------

INSTAGRAM_SKIPPED: Final = (
    "Instagram posts no text alone, and act.instagram is 'skip': no image card is made"
)


def check_channel(
    channel: str,
    text: str,
    language: str,
    settings: ActSettings,
    checkers: Checkers = Checkers(),
    *,
    mastodon_limit: int = MASTODON_DEFAULT_LIMIT,
) -> ChannelReport:
    """Every check of one channel's text, in a fixed order (static ones first)."""
    url_weight = MASTODON_URL_WEIGHT
    instance_warning = None
    if checkers.mastodon is not None:
        mastodon_limit = checkers.mastodon.max_characters
        url_weight = checkers.mastodon.url_characters
        instance_warning = checkers.mastodon.warning
    lengths = channel_lengths(
        channel, text, mastodon_limit=mastodon_limit, mastodon_url_weight=url_weight
    )
    if channel == "instagram" and settings.instagram == "skip":
        return ChannelReport(channel, text, lengths, (), skipped=INSTAGRAM_SKIPPED)
    length = check_length(channel, text, lengths)
    if channel == "mastodon" and instance_warning:
        # Counted all the same, against Mastodon's defaults; the approver sees why.
        length = replace(
            length,
            message=f"{length.message} ({instance_warning})",
            details={**length.details, "instance": instance_warning},
        )
    checks = [
        length,
        check_placeholders(text),
        check_forbidden_terms(text, settings.forbidden_terms),
    ]
    expected = settings.languages.get(channel)  # type: ignore[call-overload]
    if expected is not None:
        checks.append(check_language(channel, text, expected))
    if checkers.links is not None:
        checks.append(check_links(channel, text, checkers.links))
    lookup = checkers.accounts.get(channel)
    if lookup is not None:
        checks.append(check_mentions(channel, text, lookup))
        checks.append(check_hashtags(channel, text, lookup))
    if checkers.spelling is not None:
        checks.append(check_spelling(text, language, checkers.spelling))
    if channel == "instagram" and checkers.card is not None:
        checks.append(check_image_card(text, checkers.card))
    return ChannelReport(channel, text, lengths, tuple(checks))


def preflight(
    rendering: Rendering,
    settings: ActSettings,
    checkers: Checkers = Checkers(),
    *,
    channels: Iterable[str] | None = None,
    mastodon_limit: int = MASTODON_DEFAULT_LIMIT,
) -> PreflightReport:
    """Every check of every channel of `rendering` (or of `channels`, a subset of it)."""
    wanted = list(rendering.texts) if channels is None else list(channels)
    missing = [channel for channel in wanted if channel not in rendering.texts]
    if missing:
        raise PreflightError(f"the statement was not rendered for {missing[0]!r}")
    reports = tuple(
        check_channel(
            channel,
            rendering.texts[channel],
            rendering.language,
            settings,
            checkers,
            mastodon_limit=mastodon_limit,
        )
        for channel in wanted
    )
    return PreflightReport(rendering.sha256, reports)
