"""The one configuration document, validated on load.

The document lives in SSM Parameter Store as JSON (ops edit `config/*.yaml` and push
it with `python -m local.configtool push`, which validates first). Every problem is a
`ConfigError` naming the key, e.g. ``channels.facebook.page_id: required``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from stormwatch.errors import ConfigError

if TYPE_CHECKING:
    from stormwatch.warn.roster import Contact, Roster
    from stormwatch.warn.settings import AlertSettings

CHANNELS = ("x", "mastodon", "bluesky", "facebook", "instagram", "linkedin", "reddit", "rss")

# Languages Amazon Comprehend DetectSentiment supports (2026); others use the offline analyzer.
COMPREHEND_LANGUAGES = frozenset(
    {"ar", "de", "en", "es", "fr", "hi", "it", "ja", "ko", "pt", "zh", "zh-TW"}
)

_BRAND_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_HTTP_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Brand:
    id: str
    name: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Feed:
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """Settings of one channel. `options` holds the channel-specific keys, validated."""

    name: str
    enabled: bool
    secret_key: str
    base_url: str
    page_size: int
    timeout_seconds: float
    max_pages_per_run: int
    options: Mapping[str, Any] = field(default_factory=dict)

    def text(self, key: str) -> str:
        return cast(str, self.options[key])

    def optional_text(self, key: str) -> str | None:
        return cast(str | None, self.options.get(key))

    def flag(self, key: str) -> bool:
        return cast(bool, self.options[key])

    def texts(self, key: str) -> tuple[str, ...]:
        return cast(tuple[str, ...], self.options.get(key, ()))

    @property
    def feeds(self) -> tuple[Feed, ...]:
        return cast(tuple[Feed, ...], self.options.get("feeds", ()))


@dataclass(frozen=True, slots=True)
class SentimentConfig:
    analyzer: str = "offline"
    comprehend_languages: frozenset[str] = frozenset()
    comprehend_monthly_budget_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class Config:
    brands: tuple[Brand, ...]
    channels: Mapping[str, ChannelConfig]
    bucket_minutes: int = 5
    mention_ttl_days: int = 30
    initial_lookback_minutes: int = 60
    max_mention_age_hours: int = 168
    sentiment: SentimentConfig = SentimentConfig()
    time_zone: str = "UTC"
    alerts: AlertSettings | None = None
    contacts: Mapping[str, Contact] = field(default_factory=dict)
    roster: Roster | None = None

    def channel(self, name: str) -> ChannelConfig:
        try:
            return self.channels[name]
        except KeyError:
            raise ConfigError(f"channels.{name}", "not configured") from None

    @property
    def enabled_channels(self) -> tuple[str, ...]:
        return tuple(name for name, cfg in self.channels.items() if cfg.enabled)


# --- reading helpers --------------------------------------------------------------


class _Section:
    """A mapping being validated; every accessor reports errors with the full key path."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path or "<document>", f"must be a mapping, got {_kind(data)}")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def _get(self, name: str, default: object, required: bool) -> object:
        self.seen.add(name)
        if name not in self.data or self.data[name] is None:
            if required:
                raise ConfigError(self.key(name), "required")
            return default
        return self.data[name]

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self._get(name, default, required)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(self.key(name), f"must be a non-empty string, got {_kind(value)}")
        return value.strip()

    def optional_text(self, name: str) -> str | None:
        if self.data.get(name) is None:
            self.seen.add(name)
            return None
        return self.text(name)

    def url(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.text(name, default, required=required)
        if not _HTTP_URL.match(value):
            raise ConfigError(self.key(name), f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self._get(name, default, False)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.key(name), f"must be an integer, got {_kind(value)}")
        if not low <= value <= high:
            raise ConfigError(self.key(name), f"must be between {low} and {high}, got {value}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self._get(name, default, False)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(self.key(name), f"must be a number, got {_kind(value)}")
        if not low <= float(value) <= high:
            raise ConfigError(self.key(name), f"must be between {low} and {high}, got {value}")
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self._get(name, default, False)
        if not isinstance(value, bool):
            raise ConfigError(self.key(name), f"must be true or false, got {_kind(value)}")
        return value

    def choice(self, name: str, default: str, allowed: Sequence[str]) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise ConfigError(self.key(name), f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def texts(self, name: str, *, required: bool = False) -> tuple[str, ...]:
        value = self._get(name, [], required)
        if not isinstance(value, list):
            raise ConfigError(self.key(name), f"must be a list of strings, got {_kind(value)}")
        result = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(f"{self.key(name)}[{index}]", "must be a non-empty string")
            result.append(item.strip())
        if required and not result:
            raise ConfigError(self.key(name), "must not be empty")
        return tuple(result)

    def items(self, name: str, *, required: bool = False) -> list[_Section]:
        value = self._get(name, [], required)
        if not isinstance(value, list):
            raise ConfigError(self.key(name), f"must be a list, got {_kind(value)}")
        if required and not value:
            raise ConfigError(self.key(name), "must not be empty")
        return [_Section(item, f"{self.key(name)}[{i}]") for i, item in enumerate(value)]

    def section(self, name: str) -> _Section:
        self.seen.add(name)
        return _Section(self.data.get(name) or {}, self.key(name))

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(self.key(unknown[0]), "unknown key (typo?)")


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return type(value).__name__ if not isinstance(value, str) else repr(value)[:40]


# --- channel-specific options -------------------------------------------------------

Reader = Callable[[_Section], object]


def _feeds(section: _Section) -> tuple[Feed, ...]:
    feeds = []
    for item in section.items("feeds", required=True):
        feeds.append(
            Feed(name=item.text("name", required=True), url=item.url("url", required=True))
        )
        item.reject_unknown()
    return tuple(feeds)


def _numeric_id(name: str) -> Reader:
    def read(section: _Section) -> str:
        value = section._get(name, None, True)
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not text.isdigit():
            raise ConfigError(section.key(name), f"must be a numeric id, got {_kind(value)}")
        return text

    return read


def _optional_numeric_id(name: str) -> Reader:
    def read(section: _Section) -> str | None:
        if section.data.get(name) is None:
            section.seen.add(name)
            return None
        return cast(str, _numeric_id(name)(section))

    return read


# channel -> (default base URL or None when required, default page size, max page size, options)
_CHANNEL_SPECS: dict[str, tuple[str | None, int, int, dict[str, Reader]]] = {
    "x": (
        "https://api.x.com",
        100,
        100,
        {
            "account_id": _optional_numeric_id("account_id"),
            "exclude_retweets": lambda s: s.flag("exclude_retweets", True),
        },
    ),
    "mastodon": (
        None,
        40,
        80,
        {
            "notifications": lambda s: s.flag("notifications", True),
            "search": lambda s: s.flag("search", True),
            "hashtags": lambda s: s.flag("hashtags", True),
        },
    ),
    "bluesky": ("https://bsky.social", 100, 100, {}),
    "facebook": (
        "https://graph.facebook.com",
        100,
        100,
        {
            "page_id": _numeric_id("page_id"),
            "api_version": lambda s: s.text("api_version", "v21.0"),
            "comments": lambda s: s.flag("comments", True),
        },
    ),
    "instagram": (
        "https://graph.facebook.com",
        50,
        50,
        {
            "business_account_id": _numeric_id("business_account_id"),
            "api_version": lambda s: s.text("api_version", "v21.0"),
        },
    ),
    "linkedin": (
        "https://api.linkedin.com",
        50,
        100,
        {
            "organization_id": _numeric_id("organization_id"),
            "api_version": lambda s: s.text("api_version", "202411"),
        },
    ),
    "reddit": (
        "https://oauth.reddit.com",
        100,
        100,
        {
            "auth_url": lambda s: s.url("auth_url", "https://www.reddit.com"),
            "subreddits": lambda s: s.texts("subreddits"),
            "user_agent": lambda s: s.text("user_agent", "stormwatch/0.1 (brand monitoring)"),
        },
    ),
    "rss": ("https://news.google.com", 20, 50, {"feeds": _feeds}),
}


def _channel(name: str, section: _Section) -> ChannelConfig:
    default_base, default_page, max_page, readers = _CHANNEL_SPECS[name]
    options = {key: read(section) for key, read in readers.items()}
    config = ChannelConfig(
        name=name,
        enabled=section.flag("enabled", True),
        secret_key=section.text("secret_key", name),
        base_url=section.url("base_url", default_base, required=default_base is None),
        page_size=section.integer("page_size", default_page, 1, max_page),
        timeout_seconds=section.number("timeout_seconds", 10.0, 1.0, 30.0),
        max_pages_per_run=section.integer("max_pages_per_run", 50, 1, 1000),
        options=options,
    )
    section.reject_unknown()
    return config


def _brand(section: _Section) -> Brand:
    brand_id = section.text("id", required=True)
    if not _BRAND_ID.match(brand_id):
        raise ConfigError(section.key("id"), "must be lowercase letters, digits and '-' (max 40)")
    brand = Brand(
        id=brand_id,
        name=section.text("name", required=True),
        keywords=section.texts("keywords", required=True),
        exclude=section.texts("exclude"),
        hashtags=tuple(tag.lstrip("#") for tag in section.texts("hashtags")),
    )
    section.reject_unknown()
    return brand


def _sentiment(section: _Section) -> SentimentConfig:
    languages = section.texts("comprehend_languages")
    for index, language in enumerate(languages):
        if language not in COMPREHEND_LANGUAGES:
            raise ConfigError(
                f"{section.key('comprehend_languages')}[{index}]",
                f"Comprehend does not analyse {language!r} "
                f"(supported: {', '.join(sorted(COMPREHEND_LANGUAGES))})",
            )
    config = SentimentConfig(
        analyzer=section.choice("analyzer", "offline", ("offline", "comprehend")),
        comprehend_languages=frozenset(languages),
        comprehend_monthly_budget_usd=section.number(
            "comprehend_monthly_budget_usd", 0.0, 0.0, 100_000.0
        ),
    )
    section.reject_unknown()
    return config


def parse_config(document: object, *, now: datetime | None = None) -> Config:
    """Validate a decoded document and build the `Config`; raises `ConfigError`.

    `now` anchors the roster's coverage check (nobody on call at some moment is an error).
    """
    from stormwatch.warn.roster import parse_contacts, parse_roster
    from stormwatch.warn.settings import parse_alerts

    root = _Section(document, "")
    version = root.integer("version", 1, 1, 1)
    del version
    bucket_minutes = root.integer("bucket_minutes", 5, 1, 60)
    if 60 % bucket_minutes:
        raise ConfigError("bucket_minutes", f"must divide 60, got {bucket_minutes}")

    brands = tuple(_brand(item) for item in root.items("brands", required=True))
    seen_ids: set[str] = set()
    for index, brand in enumerate(brands):
        if brand.id in seen_ids:
            raise ConfigError(f"brands[{index}].id", f"duplicate brand id {brand.id!r}")
        seen_ids.add(brand.id)

    channels_section = root.section("channels")
    channels = {}
    for name in CHANNELS:
        if name in channels_section.data:
            channels[name] = _channel(name, channels_section.section(name))
    channels_section.reject_unknown()
    if not any(cfg.enabled for cfg in channels.values()):
        raise ConfigError("channels", "at least one channel must be enabled")

    time_zone = root.text("time_zone", "UTC")
    _check_time_zone("time_zone", time_zone)
    root.seen.update({"alerts", "contacts", "roster"})
    contacts = parse_contacts(root.data.get("contacts") or [])
    roster_section = root.data.get("roster")
    roster = parse_roster(roster_section, contacts, now=now) if roster_section else None
    alerts = parse_alerts(
        root.data.get("alerts"),
        bucket_minutes=bucket_minutes,
        time_zone=time_zone,
        brands=[brand.id for brand in brands],
        channels=list(channels),
    )

    config = Config(
        brands=brands,
        channels=channels,
        bucket_minutes=bucket_minutes,
        mention_ttl_days=root.integer("mention_ttl_days", 30, 1, 400),
        initial_lookback_minutes=root.integer("initial_lookback_minutes", 60, 0, 7 * 24 * 60),
        max_mention_age_hours=root.integer("max_mention_age_hours", 168, 1, 24 * 400),
        sentiment=_sentiment(root.section("sentiment")),
        time_zone=time_zone,
        alerts=alerts,
        contacts=contacts,
        roster=roster,
    )
    root.reject_unknown()
    return config


def _check_time_zone(key: str, name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            key, f"unknown time zone {name!r} (an IANA name like Europe/Berlin)"
        ) from None


def load_config_json(text: str) -> Config:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError("<document>", f"not valid JSON: {error}") from None
    return parse_config(document)
