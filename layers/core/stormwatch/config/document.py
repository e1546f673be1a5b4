"""The whole document: its top-level keys, the brands, sentiment, and the rules that span
sections (a static threshold names a known brand, every window fits the buckets)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from annotated_types import MinLen
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from stormwatch.config.act import PUBLISHING_CHANNELS, ActSettings
from stormwatch.config.alerts import AlertSettings, BucketMinutes
from stormwatch.config.channels import ChannelConfig, Channels
from stormwatch.config.fields import (
    DOCUMENT,
    Between,
    Flag,
    Integer,
    Matching,
    Number,
    Phrase,
    Section,
    Text,
    TimeZoneName,
    config_error,
    problem,
    shown,
)
from stormwatch.config.roster import Contacts, OnCallRoster
from stormwatch.config.urls import channel_urls, url_problem
from stormwatch.errors import ConfigError

SCHEMA_ID: Final = "urn:stormwatch:config:1"
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

# Languages Amazon Comprehend DetectSentiment supports (2026); others use the offline analyzer.
COMPREHEND_LANGUAGES: Final = frozenset(
    {"ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "zh", "zh-TW"}
)


class Brand(Section):
    """A brand stormwatch listens for."""

    id: Annotated[
        Text, Matching(r"^[a-z0-9][a-z0-9-]{0,39}$", "lowercase letters, digits and '-' (max 40)")
    ]
    """Names the brand in keys, alert ids and commands ("nordwind-air")."""
    name: Phrase
    """Shown in messages ("Nordwind Air")."""
    keywords: Annotated[tuple[Phrase, ...], MinLen(1)]
    """Phrases that mention the brand; matched ignoring case and diacritics."""
    exclude: tuple[Phrase, ...] = ()
    """Phrases that mean something else ("kalter Nordwind"): masked before matching."""
    hashtags: Annotated[
        tuple[Phrase, ...], AfterValidator(lambda tags: tuple(tag.lstrip("#") for tag in tags))
    ] = ()
    """Hashtags to follow, with or without the '#'."""


def _comprehend_language(language: str) -> str:
    if language not in COMPREHEND_LANGUAGES:
        raise problem(
            f"Comprehend does not analyse {shown(language)} "
            f"(supported: {', '.join(sorted(COMPREHEND_LANGUAGES))})"
        )
    return language


ComprehendLanguage = Annotated[
    str,
    Strict(),
    AfterValidator(_comprehend_language),
    WithJsonSchema({"type": "string", "enum": sorted(COMPREHEND_LANGUAGES)}),
]


class SentimentConfig(Section):
    """How mentions are scored. The offline analyzer is free; Amazon Comprehend costs about
    $0.0003 a mention, so it is opt-in per language, within a monthly budget."""

    analyzer: Literal["offline", "comprehend"] = "offline"
    comprehend_languages: frozenset[ComprehendLanguage] = frozenset()
    """Languages Comprehend scores when it is the analyzer; others stay offline."""
    comprehend_monthly_budget_usd: Annotated[Number, Between(0.0, 100_000.0)] = 0.0
    """Once spent, the month's remaining mentions fall back to the offline analyzer."""


def _known_version(version: int) -> int:
    if version != 1:
        raise problem(f"this stormwatch reads version 1 documents, got {version}")
    return version


class Config(Section):
    """One stormwatch deployment's configuration: brands, channels, alerts and who is on
    call. Stored as JSON in SSM Parameter Store; `stormwatch config push` validates it
    first."""

    model_config = ConfigDict(title="stormwatch configuration")

    version: Annotated[Integer, AfterValidator(_known_version), WithJsonSchema({"const": 1})] = 1
    """The document format's version."""
    bucket_minutes: BucketMinutes = 5
    """Size of a metrics bucket, in minutes; must divide 60."""
    time_zone: TimeZoneName = "UTC"
    """How times are shown, and the detector's daily and weekly rhythm (an IANA name)."""
    brands: Annotated[tuple[Brand, ...], MinLen(1)]
    """The brands to listen for, each with its own keywords."""
    channels: Channels
    """The channels to listen to; at least one enabled."""
    sentiment: SentimentConfig = Field(default_factory=SentimentConfig)
    """How mentions are scored: offline by default, Amazon Comprehend opt-in."""
    mention_ttl_days: Annotated[Integer, Between(1, 400)] = 30
    """Mentions are kept this long for drill-down."""
    initial_lookback_minutes: Annotated[Integer, Between(0, 7 * 24 * 60)] = 60
    """How far back the very first poll of a query reads."""
    max_mention_age_hours: Annotated[Integer, Between(1, 24 * 400)] = 168
    """Older mentions (late RSS entries...) are skipped."""
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    """Who is told what, when: every key is optional."""
    contacts: Contacts
    """Everyone the Warn flow may reach."""
    roster: OnCallRoster = None
    """Who of the contacts is on call when."""
    act: ActSettings = Field(default_factory=ActSettings)
    """Who may write, approve and release statements; crisis mode and parking."""
    allow_insecure_channel_urls_for_local_testing: Flag = False
    """Only for the local stack's fake channels: accept http:// and loopback hosts as
    channel URLs. Never set it in a deployed document: it lets whoever edits the config
    send channel tokens anywhere."""

    @model_validator(mode="before")
    @classmethod
    def _hand_down_the_buckets(cls, document: Any) -> Any:
        """alerts.volume judges the buckets this document defines: their size and time zone
        are written once, at the top, and handed down to it."""
        if not isinstance(document, Mapping):
            return document
        alerts = document.get("alerts")
        alerts = {} if alerts is None else alerts
        volume = alerts.get("volume") if isinstance(alerts, Mapping) else None
        volume = {} if volume is None else volume
        if not isinstance(alerts, Mapping) or not isinstance(volume, Mapping):
            return document  # and validation names what is not a mapping
        for key, top in _HANDED_DOWN.items():
            if volume.get(key) is not None:
                raise problem(
                    f"unknown key (typo?): the top-level {top!r} says it once for all",
                    "alerts",
                    "volume",
                    key,
                )
        handed = {
            key: document[top] for key, top in _HANDED_DOWN.items() if document.get(top) is not None
        }
        return {**document, "alerts": {**alerts, "volume": {**volume, **handed}}}

    @field_validator("brands")
    @classmethod
    def _ids_unique(cls, brands: tuple[Brand, ...]) -> tuple[Brand, ...]:
        seen: set[str] = set()
        for index, brand in enumerate(brands):
            if brand.id in seen:
                raise problem(f"duplicate brand id {brand.id!r}", index, "id")
            seen.add(brand.id)
        return brands

    @model_validator(mode="after")
    def _alerts_fit_the_document(self) -> Config:
        try:
            self.alerts.check_fits(
                bucket_minutes=self.bucket_minutes,
                brands={brand.id for brand in self.brands},
                channels=set(self.channels),
            )
        except PydanticCustomError as error:
            context = error.context or {}
            raise problem(str(context["problem"]), "alerts", *context.get("at", ())) from None
        return self

    @model_validator(mode="after")
    def _mentions_outlive_the_longest_look_back(self) -> Config:
        # A mention's record is how a later poll knows it was counted; a poll may read a
        # mention up to the longest look-back old, so the record must outlive that.
        kept = self.mention_ttl_days * 24 * 60
        reads_back = max(self.max_mention_age_hours * 60, self.initial_lookback_minutes)
        if kept <= reads_back:
            raise problem(
                f"must exceed the longest look-back ({reads_back // 60} h: "
                "max_mention_age_hours or initial_lookback_minutes), or a mention read "
                "again after its record expired would be counted twice",
                "mention_ttl_days",
            )
        return self

    @model_validator(mode="after")
    def _channel_urls_reach_only_their_channels(self) -> Config:
        if self.allow_insecure_channel_urls_for_local_testing:
            return self
        for url, key, hosts in channel_urls(dict(self.channels), self.act):
            wrong = url_problem(url, hosts)
            if wrong is not None:
                raise problem(wrong, *key)
        return self

    @model_validator(mode="after")
    def _act_names_known_people_and_channels(self) -> Config:
        for index, person in enumerate(self.act.people):
            if person.contact not in self.contacts:
                raise problem(f"no contact {person.contact!r}", "act", "people", index, "contact")
        enabled = set(self.enabled_channels)
        for index, channel in enumerate(self.act.publish_on or ()):
            if channel not in enabled:
                raise problem(
                    f"{channel!r} is not enabled under channels", "act", "publish_on", index
                )
        return self

    @property
    def publishing_channels(self) -> tuple[str, ...]:
        """Where a statement goes out: `act.publish_on`, or every enabled channel that can
        be posted on."""
        if self.act.publish_on is not None:
            return tuple(self.act.publish_on)
        return tuple(name for name in PUBLISHING_CHANNELS if name in self.enabled_channels)

    def channel(self, name: str) -> ChannelConfig:
        try:
            return self.channels[name]
        except KeyError:
            raise ConfigError(f"channels.{name}", "not configured") from None

    @property
    def enabled_channels(self) -> tuple[str, ...]:
        return tuple(name for name, channel in self.channels.items() if channel.enabled)


# alerts.volume key -> the top-level key it is handed down from
_HANDED_DOWN: Final = {"bucket_minutes": "bucket_minutes", "timezone": "time_zone"}


def parse_config(
    document: object, *, now: datetime | None = None, check_coverage: bool = True
) -> Config:
    """Validate a decoded document and build the `Config`; raises `ConfigError`.

    `now` anchors the roster's coverage check: nobody on call at some moment of the next
    weeks is an error. That is a check for whoever writes the document (`stormwatch config
    check`/`push`); the functions read it with `check_coverage=False` (`load_config_json`).
    """
    context = {"now": now, "check_coverage": check_coverage}
    try:
        return Config.model_validate(document, context=context)
    except ValidationError as error:
        raise config_error(error) from None


def load_config_json(text: str) -> Config:
    """The document as the functions read it from SSM: validated like any other, except
    that the roster's coverage of the coming weeks is not checked again. It was checked
    when the document was pushed; a gap that comes closer since is answered by the
    escalation contacts (`Roster.on_call`), where refusing the document would stop every
    poller and the evaluator with it."""
    return parse_config(document_from_json(text), check_coverage=False)


MAX_DEPTH: Final = 20
"""Far deeper than the document goes (about 6 levels); a deeper one is a slip or an attack."""
MAX_NUMBER_CHARACTERS: Final = 40


def document_from_json(text: str) -> Any:
    """A JSON text as a document: a one-line error, never a hang or a traceback, for a
    number of thousands of digits or a nesting thousands deep."""
    try:
        document = json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float)
    except json.JSONDecodeError as error:
        raise ConfigError(
            DOCUMENT, f"not valid JSON ({error.msg}, line {error.lineno} column {error.colno})"
        ) from None
    except RecursionError:
        raise ConfigError(DOCUMENT, f"nested deeper than {MAX_DEPTH} levels") from None
    check_depth(document)
    return document


def _bounded_int(text: str) -> int:
    _bounded_number(text)
    return int(text)


def _bounded_float(text: str) -> float:
    _bounded_number(text)
    return float(text)


def _bounded_number(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARACTERS:
        raise ConfigError(
            DOCUMENT, f"a number of {len(text.lstrip('-'))} digits: at most {MAX_NUMBER_CHARACTERS}"
        )


def check_depth(document: Any) -> None:
    """Refuse a document nested deeper than `MAX_DEPTH` (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(DOCUMENT, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, Mapping):
            pending.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            pending.extend((child, depth + 1) for child in value)


def config_schema() -> dict[str, Any]:
    """The document's JSON Schema (draft 2020-12), descriptions from the field docs.

    `config/schema.json` is a copy (`stormwatch config schema`), so editors check a
    config file as it is typed.
    """
    schema = Config.model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema}
