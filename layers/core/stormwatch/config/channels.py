"""The ``channels`` section: one mapping per channel, each with its own keys and defaults.

    channels:
      x: {account_id: "1500000000000000001"}
      mastodon: {base_url: https://mastodon.example}
      facebook: {page_id: "100012345678901"}
      rss:
        feeds:
          - {name: Google Alerts - Nordwind Air, url: https://www.google.com/alerts/feeds/1/2}

A channel that is listed is configured (``enabled: false`` keeps it configured but
silent); its credentials are under `secret_key` in the stage's one secret. Adapters get
a `ChannelConfig`: the common settings, plus the channel's own keys in `options`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, cast

from annotated_types import MinLen
from pydantic import (
    AfterValidator,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from stormwatch.config.fields import (
    Between,
    Flag,
    Integer,
    Matching,
    Number,
    Section,
    Text,
    kind,
    problem,
    read_as,
)
from stormwatch.model import CHANNELS

HttpUrl = Annotated[
    Text,
    StringConstraints(max_length=2048),
    Matching(r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/$.?#][^\s]*$", "an http(s) URL"),
    AfterValidator(lambda url: url.rstrip("/")),
]
"""An http(s) URL, without a trailing slash."""


def _numeric_id(value: object) -> str:
    # An unquoted id is a YAML number; ids are compared and sent as text.
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isdigit():
        raise problem(f"must be a numeric id, got {kind(value)}")
    return text


NumericId = Annotated[
    str,
    PlainValidator(_numeric_id),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "integer", "minimum": 0}]}
    ),
]
"""An account, page or organisation id: digits, quoted or not."""

_CREDENTIALS_KEY = "Key of this channel's credentials in the stage's secret."
_BASE_URL = "The API's root URL."
_PAGE_SIZE = "Mentions asked for per request."


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """Settings of one channel, as adapters use them; `options` holds its own keys."""

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


class ChannelSection(Section):
    """What every channel has; each channel's section adds its own keys and defaults."""

    name: ClassVar[str]
    enabled: Flag = True
    """Poll this channel when its schedule fires (the template's EnabledChannels decides
    which schedules exist)."""
    secret_key: Text
    base_url: HttpUrl
    page_size: Integer
    timeout_seconds: Annotated[Number, Between(1.0, 30.0)] = 10.0
    """Seconds one HTTP request may take."""
    max_pages_per_run: Annotated[Integer, Between(1, 1000)] = 50
    """Pages one poll reads at most; the next poll continues where this one stopped."""

    def runtime(self) -> ChannelConfig:
        common = ChannelSection.model_fields
        return ChannelConfig(
            name=self.name,
            enabled=self.enabled,
            secret_key=self.secret_key,
            base_url=self.base_url,
            page_size=self.page_size,
            timeout_seconds=self.timeout_seconds,
            max_pages_per_run=self.max_pages_per_run,
            options={
                key: getattr(self, key) for key in type(self).model_fields if key not in common
            },
        )


class XChannel(ChannelSection):
    """X (Twitter) API v2: recent search, and the brand account's mentions."""

    name: ClassVar[str] = "x"
    secret_key: Text = Field("x", description=_CREDENTIALS_KEY)
    base_url: HttpUrl = Field("https://api.x.com", description=_BASE_URL)
    page_size: Annotated[Integer, Between(1, 100)] = Field(100, description=_PAGE_SIZE)
    account_id: NumericId | None = None
    """The brand account whose mentions are read too."""
    exclude_retweets: Flag = True
    """Leave retweets out of the search (they repeat a mention already counted)."""


class MastodonChannel(ChannelSection):
    """Mastodon: one instance, the brand account's notifications, search and hashtags."""

    name: ClassVar[str] = "mastodon"
    secret_key: Text = Field("mastodon", description=_CREDENTIALS_KEY)
    base_url: HttpUrl = Field(description="Your instance, e.g. https://mastodon.social.")
    page_size: Annotated[Integer, Between(1, 80)] = Field(40, description=_PAGE_SIZE)
    notifications: Flag = True
    """Read the brand account's mentions."""
    search: Flag = True
    """Search the instance for the brands' keywords."""
    hashtags: Flag = True
    """Read the brands' hashtag timelines."""


class BlueskyChannel(ChannelSection):
    """Bluesky: searchPosts for the brands' keywords and hashtags."""

    name: ClassVar[str] = "bluesky"
    secret_key: Text = Field("bluesky", description=_CREDENTIALS_KEY)
    base_url: HttpUrl = Field("https://bsky.social", description=_BASE_URL)
    page_size: Annotated[Integer, Between(1, 100)] = Field(100, description=_PAGE_SIZE)


class FacebookChannel(ChannelSection):
    """A Facebook page: its feed, posts it is tagged in, and their comments."""

    name: ClassVar[str] = "facebook"
    secret_key: Text = Field("facebook", description=_CREDENTIALS_KEY)
    base_url: HttpUrl = Field("https://graph.facebook.com", description=_BASE_URL)
    page_size: Annotated[Integer, Between(1, 100)] = Field(100, description=_PAGE_SIZE)
    page_id: NumericId
    """The brand's page."""
    api_version: Text = "v21.0"
    """Graph API version."""
    comments: Flag = True
    """Read the comments under the page's posts too."""


class InstagramChannel(ChannelSection):
    """An Instagram business account: posts it is tagged in, and hashtag searches."""

    name: ClassVar[str] = "instagram"
    secret_key: Text = Field("instagram", description=_CREDENTIALS_KEY)
    base_url: HttpUrl = Field("https://graph.facebook.com", description=_BASE_URL)
    page_size: Annotated[Integer, Between(1, 50)] = Field(50, description=_PAGE_SIZE)
    business_account_id: NumericId
    """The brand's Instagram business account."""
    api_version: Text = "v21.0"
    """Graph API version."""


class LinkedinChannel(ChannelSection):
    """A LinkedIn organisation: its @-mentions and the comments on its posts."""

    name: ClassVar[str] = "linkedin"
    secret_key: Text = Field("linkedin", description=_CREDENTIALS_KEY)
    base_url: HttpUrl = Field("https://api.linkedin.com", description=_BASE_URL)
    page_size: Annotated[Integer, Between(1, 100)] = Field(50, description=_PAGE_SIZE)
    organization_id: NumericId
    """The brand's organisation."""
    api_version: Text = "202411"
    """Sent as the LinkedIn-Version header."""


class RedditChannel(ChannelSection):
    """Reddit: search over all of Reddit, and new comments in chosen subreddits."""

    name: ClassVar[str] = "reddit"
    secret_key: Text = Field("reddit", description=_CREDENTIALS_KEY)
    base_url: HttpUrl = Field("https://oauth.reddit.com", description=_BASE_URL)
    page_size: Annotated[Integer, Between(1, 100)] = Field(100, description=_PAGE_SIZE)
    auth_url: HttpUrl = "https://www.reddit.com"
    """Where the app's OAuth token comes from."""
    subreddits: tuple[Text, ...] = ()
    """Subreddits whose new comments are read (search covers all of Reddit)."""
    user_agent: Text = "stormwatch/0.1 (brand monitoring)"
    """Reddit asks every client to name itself."""


class Feed(Section):
    """One RSS or Atom feed."""

    name: Text
    """Shown in reports and errors instead of the URL (which may hold a token)."""
    url: HttpUrl


class RssChannel(ChannelSection):
    """RSS and Atom feeds: blogs, news, Google Alerts."""

    name: ClassVar[str] = "rss"
    secret_key: Text = Field("rss", description=_CREDENTIALS_KEY)
    base_url: HttpUrl = Field("https://news.google.com", description=_BASE_URL)
    page_size: Annotated[Integer, Between(1, 50)] = Field(20, description=_PAGE_SIZE)
    feeds: Annotated[tuple[Feed, ...], MinLen(1)]
    """The feeds to read."""


class ChannelsDocument(Section):
    """The channels stormwatch listens to; at least one enabled."""

    x: XChannel | None = None
    mastodon: MastodonChannel | None = None
    bluesky: BlueskyChannel | None = None
    facebook: FacebookChannel | None = None
    instagram: InstagramChannel | None = None
    linkedin: LinkedinChannel | None = None
    reddit: RedditChannel | None = None
    rss: RssChannel | None = None

    @model_validator(mode="before")
    @classmethod
    def _unset_empty_keys(cls, data: Any) -> Any:
        # Here a channel written without a value (`bluesky:`) is listed, so configured
        # with its defaults, as `bluesky: {}` is.
        if isinstance(data, Mapping):
            return {key: {} if value is None else value for key, value in data.items()}
        return data


def _configured(document: ChannelsDocument, _info: ValidationInfo) -> dict[str, ChannelConfig]:
    channels: dict[str, ChannelConfig] = {}
    for name in CHANNELS:
        section: ChannelSection | None = getattr(document, name)
        if section is not None:
            channels[name] = section.runtime()
    if not any(channel.enabled for channel in channels.values()):
        raise problem("at least one channel must be enabled")
    return channels


Channels = Annotated[Mapping[str, ChannelConfig], read_as(ChannelsDocument, _configured)]
"""The document's `channels`, read as each configured channel's `ChannelConfig`."""
