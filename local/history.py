"""Quiet weeks before the scenario, so the volume baseline knows the brand's rhythm.

A deployment that has listened for a while has weeks of buckets; the scenario starts on
a Saturday. These are the same generator's posts (no storm) for the days before it,
counted into buckets and imported with `BucketStore.import_history` - what an operator
does with a previous tool's export.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from local.scenario import Scenario, build_scenario
from stormwatch.listen.language import detect_language
from stormwatch.listen.sentiment import OfflineAnalyzer
from stormwatch.model import BucketCounts, BucketKey, Mention, ScoredMention, aggregate
from stormwatch.text import clean_text


def quiet_history(
    before: datetime,
    days: int,
    *,
    volume: float,
    seed: int,
    bucket_minutes: int = 5,
    until: datetime | None = None,
) -> dict[BucketKey, BucketCounts]:
    """Bucket counters of `days` quiet days ending at `before` (or at `until`)."""
    hours = days * 24
    start = before - timedelta(hours=hours)
    history = build_scenario(
        seed=seed + 1000,
        start=start,
        hours=hours,
        storm_offset=timedelta(days=10_000),
        volume=volume,
    )
    return count_buckets(history, bucket_minutes, until=until)


def count_buckets(
    scenario: Scenario, bucket_minutes: int, *, until: datetime | None = None
) -> dict[BucketKey, BucketCounts]:
    """The scenario's posts about a brand, scored and counted as the poll path counts them."""
    posts = [p for p in scenario.posts if p.brands and (until is None or p.created_at < until)]
    mentions = [
        Mention(
            post.channel,
            str(post.seq),
            "",
            post.author,
            clean_text(post.text),
            post.created_at,
            reach=post.reach,
            engagement=post.engagement,
        )
        for post in posts
    ]
    languages = [detect_language(m.text, p.lang) for m, p in zip(mentions, posts, strict=True)]
    labels = OfflineAnalyzer().analyze(
        [(m.text, language) for m, language in zip(mentions, languages, strict=True)]
    )
    scored = [
        ScoredMention(mention, language, label, score, post.brands)
        for mention, language, (label, score), post in zip(
            mentions, languages, labels, posts, strict=True
        )
    ]
    return aggregate(scored, bucket_minutes)
