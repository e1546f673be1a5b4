"""The crisis report: how one alert's episode went, from what Warn and Act recorded. Pure.

The crisis's clock starts at the first abnormal bucket (the alert's `started_at`: the
bucket the detectors first saw out of line, which is also the minute in the alert's id),
not at the alert: what the public saw began then. Every duration counts from there, so
"time to statement" is how long people talked before the brand answered.

Volume and negative share are compared over three periods: `before` (the day before the
first abnormal bucket: the brand's ordinary rhythm), `during` (until back to normal, or
until the report was made for an alert still open) and `after` (a few hours after). The
periods differ in length, so each also gives mentions per hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stormwatch.act.timeline import ACKNOWLEDGED, REKINDLED, RESOLVED, STARTED, Step
from stormwatch.model import ALL_CHANNELS, ScoredMention, Sentiment, SeriesCounts, iso
from stormwatch.persistence.parked import ParkedPost, ParkState
from stormwatch.persistence.timeline import PAUSED, RELEASED

BEFORE = timedelta(hours=24)
AFTER = timedelta(hours=3)
MAX_TOP_MENTIONS = 5
TOP_NEGATIVE_WINDOW = timedelta(hours=1)
"""The top negative mentions are read from the episode's busiest negative hour, as the
alert email reads its last hour: the most-read posts of a storm are where it peaks, and a
long episode's thousands of stored mentions need not all be read for five."""

FIRST_ABNORMAL = "first abnormal bucket"
ALERTED = "alerted"
PERIODS = ("before", "during", "after")


class UnknownAlert(LookupError):
    """The alert id names no brand of the config."""


@dataclass(frozen=True, slots=True)
class Milestone:
    kind: str
    at: datetime
    who: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": iso(self.at),
            "who": self.who,
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """One channel's (or all channels') mentions in one period."""

    mentions: int
    negative: int
    hours: float

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.mentions if self.mentions else None

    @property
    def per_hour(self) -> float:
        return self.mentions / self.hours if self.hours else 0.0

    def to_json(self) -> dict[str, Any]:
        share = self.negative_share
        return {
            "mentions": self.mentions,
            "negative": self.negative,
            "negative_share": round(share, 4) if share is not None else None,
            "hours": round(self.hours, 2),
            "per_hour": round(self.per_hour, 2),
        }


@dataclass(frozen=True, slots=True)
class ChartPoint:
    start: datetime
    per_channel: Mapping[str, int]
    negative: int

    @property
    def total(self) -> int:
        return sum(self.per_channel.values())


@dataclass(frozen=True, slots=True)
class QuotedMention:
    channel: str
    author: str
    text: str
    url: str
    reach: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "author": self.author,
            "text": self.text,
            "url": self.url,
            "reach": self.reach,
            "at": iso(self.at),
        }


@dataclass(frozen=True, slots=True)
class ParkedSummary:
    scheduler: str
    parked: int
    restored: int
    review: int
    """Posts whose time passed while parked: listed for a person, never sent on their own."""
    still_parked: int

    def to_json(self) -> dict[str, Any]:
        return {
            "scheduler": self.scheduler,
            "parked": self.parked,
            "restored": self.restored,
            "review": self.review,
            "still_parked": self.still_parked,
        }


@dataclass(frozen=True, slots=True)
class CrisisReport:
    alert_id: str
    brand: str
    made_at: datetime
    first_abnormal_at: datetime
    alerted_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    paused_at: datetime | None
    statement_at: datetime | None
    resolved_at: datetime | None
    timeline: tuple[Milestone, ...]
    periods: Mapping[str, tuple[datetime, datetime]]
    figures: Mapping[str, Mapping[str, PeriodFigures]]
    """Per channel (and `ALL`), per period."""
    chart: tuple[ChartPoint, ...]
    chart_bucket: timedelta
    top_negative: tuple[QuotedMention, ...]
    parked: tuple[ParkedSummary, ...]
    made_by: str = ""
    """Who asked for it ("on demand by anna@...", or `review.request.MADE_WHEN_RESOLVED`)."""

    def _since_first(self, moment: datetime | None) -> timedelta | None:
        return moment - self.first_abnormal_at if moment is not None else None

    @property
    def time_to_alert(self) -> timedelta | None:
        return self._since_first(self.alerted_at)

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self._since_first(self.acknowledged_at)

    @property
    def time_to_statement(self) -> timedelta | None:
        return self._since_first(self.statement_at)

    @property
    def channels(self) -> list[str]:
        """The channels with mentions, busiest first (`ALL` not among them)."""
        busy = [c for c in self.figures if c != ALL_CHANNELS]
        return sorted(busy, key=lambda c: (-sum(f.mentions for f in self.figures[c].values()), c))

    def to_json(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return iso(value) if value is not None else None

        def seconds(value: timedelta | None) -> int | None:
            return int(value.total_seconds()) if value is not None else None

        return {
            "alert_id": self.alert_id,
            "brand": self.brand,
            "made_at": iso(self.made_at),
            "made_by": self.made_by,
            "first_abnormal_at": iso(self.first_abnormal_at),
            "alerted_at": moment(self.alerted_at),
            "acknowledged_at": moment(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "paused_at": moment(self.paused_at),
            "statement_at": moment(self.statement_at),
            "resolved_at": moment(self.resolved_at),
            "durations_seconds": {
                "to_alert": seconds(self.time_to_alert),
                "to_acknowledge": seconds(self.time_to_acknowledge),
                "to_statement": seconds(self.time_to_statement),
            },
            "timeline": [m.to_json() for m in self.timeline],
            "periods": {
                name: {"start": iso(start), "end": iso(end)}
                for name, (start, end) in self.periods.items()
            },
            "figures": {
                channel: {period: f.to_json() for period, f in by_period.items()}
                for channel, by_period in self.figures.items()
            },
            "chart": {
                "bucket_minutes": int(self.chart_bucket.total_seconds() // 60),
                "points": [
                    {
                        "start": iso(p.start),
                        "per_channel": dict(p.per_channel),
                        "negative": p.negative,
                    }
                    for p in self.chart
                ],
            },
            "top_negative": [m.to_json() for m in self.top_negative],
            "parked": [p.to_json() for p in self.parked],
        }


def report_window(
    first_abnormal_at: datetime, resolved_at: datetime | None, made_at: datetime
) -> tuple[datetime, datetime]:
    """The buckets a report reads: from a day before the episode to a few hours after."""
    end = min((resolved_at or made_at) + AFTER, made_at)
    return first_abnormal_at - BEFORE, max(end, first_abnormal_at)


def first_abnormal_of(steps: Sequence[Step], alert_minute: datetime) -> datetime:
    """The alert's first bucket from its lifecycle; the minute in its id when the lifecycle
    has forgotten the episode (it keeps the last 20)."""
    started = next((s for s in steps if s.kind == STARTED), None)
    return started.at if started is not None else alert_minute


def crisis_report(
    *,
    alert_id: str,
    brand: str,
    steps: Sequence[Step],
    alerted_at: datetime | None,
    first_abnormal_at: datetime,
    series: Mapping[str, SeriesCounts],
    mentions: Iterable[ScoredMention],
    parked: Iterable[ParkedPost],
    made_at: datetime,
    bucket_minutes: int,
    made_by: str = "",
) -> CrisisReport:
    """The report of one alert. `steps` is its timeline (`act.timeline.alert_timeline`),
    `alerted_at` when the first alert message was decided (the outbox's `started`),
    `series` the brand's buckets over `report_window`, `mentions` the stored mentions of
    the episode, `parked` every parked post (those parked during the episode count)."""

    def first(kind: str) -> Step | None:
        return next((s for s in steps if s.kind == kind), None)

    acknowledged, paused, released = first(ACKNOWLEDGED), first(PAUSED), first(RELEASED)
    # A reopened alert (decision 0018) resolved once per round: the episode ended at the
    # last resolve, unless it rekindled after it (then it is still open).
    resolved = next((s for s in reversed(steps) if s.kind in (RESOLVED, REKINDLED)), None)
    if resolved is not None and resolved.kind != RESOLVED:
        resolved = None
    resolved_at = resolved.at if resolved else None
    end_of_episode = resolved_at or made_at
    periods = {
        "before": (first_abnormal_at - BEFORE, first_abnormal_at),
        "during": (first_abnormal_at, max(end_of_episode, first_abnormal_at)),
        "after": (end_of_episode, min(end_of_episode + AFTER, made_at)),
    }
    timeline = [Milestone(FIRST_ABNORMAL, first_abnormal_at)]
    if alerted_at is not None:
        timeline.append(Milestone(ALERTED, alerted_at))
    timeline += [Milestone(s.kind, s.at, s.who, s.details) for s in steps if s.kind != STARTED]
    timeline.sort(key=lambda m: m.at)
    window = report_window(first_abnormal_at, resolved_at, made_at)
    return CrisisReport(
        alert_id=alert_id,
        brand=brand,
        made_at=made_at,
        first_abnormal_at=first_abnormal_at,
        alerted_at=alerted_at,
        acknowledged_at=acknowledged.at if acknowledged else None,
        acknowledged_by=acknowledged.who if acknowledged else None,
        paused_at=paused.at if paused else None,
        statement_at=released.at if released else None,
        resolved_at=resolved_at,
        timeline=tuple(timeline),
        periods=periods,
        figures=_figures(series, periods),
        chart=_chart(series, *window, bucket_minutes),
        chart_bucket=_chart_bucket(window, bucket_minutes),
        top_negative=_top_negative(mentions, brand, periods["during"]),
        parked=_parked(parked, first_abnormal_at, made_at),
        made_by=made_by,
    )


def _figures(
    series: Mapping[str, SeriesCounts], periods: Mapping[str, tuple[datetime, datetime]]
) -> dict[str, dict[str, PeriodFigures]]:
    figures: dict[str, dict[str, PeriodFigures]] = {}
    names = sorted(set(series) | {ALL_CHANNELS})
    for channel in names:
        counts = series.get(channel, {})
        figures[channel] = {}
        for period, (start, end) in periods.items():
            inside = [c for moment, c in counts.items() if start <= moment < end]
            figures[channel][period] = PeriodFigures(
                mentions=sum(c.total for c in inside),
                negative=sum(c.negative for c in inside),
                hours=max((end - start).total_seconds(), 0) / 3600,
            )
    return figures


MAX_CHART_POINTS = 120
"""A phone's width: more points than pixels per point say nothing more."""


def _chart_bucket(window: tuple[datetime, datetime], bucket_minutes: int) -> timedelta:
    bucket = timedelta(minutes=bucket_minutes)
    buckets = max(int((window[1] - window[0]) / bucket), 1)
    return bucket * max(-(-buckets // MAX_CHART_POINTS), 1)


def _chart(
    series: Mapping[str, SeriesCounts], start: datetime, end: datetime, bucket_minutes: int
) -> tuple[ChartPoint, ...]:
    """Counts per chart bucket (several stored buckets each on a long window), empty ones
    included so the chart's time axis is linear."""
    step = _chart_bucket((start, end), bucket_minutes)
    channels = [c for c in series if c != ALL_CHANNELS]
    points = []
    moment = start
    while moment < end:
        following = moment + step
        per_channel: dict[str, int] = {}
        negative = 0
        for channel in channels:
            inside = [c for at, c in series[channel].items() if moment <= at < following]
            per_channel[channel] = sum(c.total for c in inside)
            negative += sum(c.negative for c in inside)
        points.append(ChartPoint(moment, per_channel, negative))
        moment = following
    return tuple(points)


@dataclass(frozen=True, slots=True)
class Stretch:
    """Where to read the top negative mentions: [start, end) on these channels."""

    start: datetime
    end: datetime
    channels: tuple[str, ...]


def busiest_negative_stretch(
    series: Mapping[str, SeriesCounts],
    during: tuple[datetime, datetime],
    width: timedelta = TOP_NEGATIVE_WINDOW,
) -> Stretch | None:
    """The `width` of the episode with the most negative mentions (all channels; the
    earliest of equals), and the channels that had negative ones in it, most first; None
    when the episode had no negative mention at all. From the buckets: no mention read."""
    negative = _negative_by_bucket(series, during)
    if not negative:
        return None
    moments = sorted(negative)
    # A window starting at each bucket; prefix sums make the episode one pass, however long.
    totals = [0]
    for moment in moments:
        totals.append(totals[-1] + sum(negative[moment].values()))
    best, best_sum, last = moments[0], -1, 0
    for first, start in enumerate(moments):
        last = max(last, first)
        while last < len(moments) and moments[last] < start + width:
            last += 1
        if totals[last] - totals[first] > best_sum:
            best, best_sum = start, totals[last] - totals[first]
    channels: dict[str, int] = {}
    for moment in moments:
        if best <= moment < best + width:
            for channel, count in negative[moment].items():
                channels[channel] = channels.get(channel, 0) + count
    start = best
    return Stretch(
        start,
        min(start + width, during[1]),
        tuple(sorted(channels, key=lambda c: (-channels[c], c))),
    )


def _negative_by_bucket(
    series: Mapping[str, SeriesCounts], during: tuple[datetime, datetime]
) -> dict[datetime, dict[str, int]]:
    """Negative mentions per bucket of the episode and channel (buckets with some only)."""
    negative: dict[datetime, dict[str, int]] = {}
    for channel, counts in series.items():
        if channel == ALL_CHANNELS:
            continue
        for moment, bucket in counts.items():
            if bucket.negative and during[0] <= moment < during[1]:
                negative.setdefault(moment, {})[channel] = bucket.negative
    return negative


def _top_negative(
    mentions: Iterable[ScoredMention], brand: str, during: tuple[datetime, datetime]
) -> tuple[QuotedMention, ...]:
    """The most-read negative mentions of the episode (of those read: its busiest negative
    hour, `busiest_negative_stretch`), as the alert email picks them."""
    found = [
        m
        for m in mentions
        if m.sentiment is Sentiment.NEGATIVE
        and brand in m.brands
        and during[0] <= m.mention.created_at < during[1]
    ]
    found.sort(key=lambda m: (-m.mention.reach, -m.mention.engagement, m.mention.id))
    return tuple(
        QuotedMention(
            m.mention.channel,
            m.mention.author,
            m.mention.text,
            m.mention.url,
            m.mention.reach,
            m.mention.created_at,
        )
        for m in found[:MAX_TOP_MENTIONS]
    )


def _parked(
    posts: Iterable[ParkedPost], since: datetime, until: datetime
) -> tuple[ParkedSummary, ...]:
    by_scheduler: dict[str, list[ParkedPost]] = {}
    for post in posts:
        if since <= post.parked_at <= until:
            by_scheduler.setdefault(post.post.scheduler, []).append(post)
    return tuple(
        ParkedSummary(
            scheduler=name,
            parked=len(found),
            restored=sum(p.state is ParkState.RESTORED for p in found),
            review=sum(p.state is ParkState.REVIEW for p in found),
            still_parked=sum(
                p.state in (ParkState.PARKING, ParkState.PARKED, ParkState.RESTORING) for p in found
            ),
        )
        for name, found in sorted(by_scheduler.items())
    )
