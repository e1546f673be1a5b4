"""Typed domain records shared by every flow.

Everything here is plain data: no AWS, no HTTP. Times are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime


class Sentiment(enum.StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


@dataclass(frozen=True, slots=True)
class Mention:
    """One post, comment or article that a channel returned for a brand query.

    `id` is the channel's own identifier, unique within the channel; together with
    `channel` and `created_at` it is the mention's identity for deduplication, so an
    adapter must always give the same values for the same post.
    """

    channel: str
    id: str
    url: str
    author: str
    text: str
    created_at: datetime
    language: str | None = None
    reach: int = 0
    engagement: int = 0

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise ValueError(f"{self.channel} mention {self.id}: created_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class ScoredMention:
    """A mention after language detection, sentiment and brand matching."""

    mention: Mention
    language: str
    sentiment: Sentiment
    sentiment_score: float
    brands: tuple[str, ...]


@dataclass(slots=True)
class BucketCounts:
    """Counters of one time bucket; every field is added atomically in the store."""

    total: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    reach: int = 0
    engagement: int = 0

    def add(self, scored: ScoredMention) -> None:
        self.total += 1
        if scored.sentiment is Sentiment.NEGATIVE:
            self.negative += 1
        elif scored.sentiment is Sentiment.POSITIVE:
            self.positive += 1
        else:
            self.neutral += 1
        self.reach += scored.mention.reach
        self.engagement += scored.mention.engagement

    def merge(self, other: BucketCounts) -> None:
        self.total += other.total
        self.negative += other.negative
        self.neutral += other.neutral
        self.positive += other.positive
        self.reach += other.reach
        self.engagement += other.engagement

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "negative": self.negative,
            "neutral": self.neutral,
            "positive": self.positive,
            "reach": self.reach,
            "engagement": self.engagement,
        }


ALL_CHANNELS = "ALL"

CHANNELS = ("x", "mastodon", "bluesky", "facebook", "instagram", "linkedin", "reddit", "rss")
"""Every channel stormwatch reads, one adapter each (`stormwatch.channels.<name>`)."""


@dataclass(frozen=True, slots=True, order=True)
class BucketKey:
    """Which counter a mention adds to: brand x channel (or ALL) x bucket start."""

    brand: str
    channel: str
    start: datetime


def bucket_start(moment: datetime, bucket_minutes: int) -> datetime:
    """The start of the fixed-size bucket (aligned to the epoch) that holds `moment`."""
    seconds = bucket_minutes * 60
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


SeriesCounts = dict[datetime, BucketCounts]
"""One series' counters by bucket start; a bucket with no mention is absent."""


def aggregate(
    scored: Iterable[ScoredMention], bucket_minutes: int
) -> dict[BucketKey, BucketCounts]:
    """Bucket counters of a batch per brand and channel (the all-channels series is their sum)."""
    buckets: dict[BucketKey, BucketCounts] = {}
    for item in scored:
        start = bucket_start(item.mention.created_at, bucket_minutes)
        for brand in item.brands:
            key = BucketKey(brand, item.mention.channel, start)
            counts = buckets.get(key)
            if counts is None:
                counts = buckets[key] = BucketCounts()
            counts.add(item)
    return buckets


def utc(moment: datetime) -> datetime:
    """`moment` in UTC; naive datetimes are rejected rather than guessed."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """Sortable ISO-8601 UTC with a `Z`, second precision: the form stored in keys."""
    return utc(moment).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def parse_iso(text: str) -> datetime:
    """Parse the ISO-8601 variants channels send (`Z`, offsets, fractions)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_iso_or_none(value: object) -> datetime | None:
    """`parse_iso` of a string; None for anything else, or a string that is not a time."""
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None
