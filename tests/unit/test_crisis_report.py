"""The crisis report's model and its HTML, from a hand-made timeline and buckets."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from stormwatch.act.timeline import Step
from stormwatch.channels.schedulers.base import ScheduledPost
from stormwatch.model import (
    ALL_CHANNELS,
    BucketCounts,
    Mention,
    ScoredMention,
    Sentiment,
    SeriesCounts,
)
from stormwatch.persistence.parked import ParkedPost, ParkState
from stormwatch.review.render import report_html
from stormwatch.review.report import CrisisReport, crisis_report

FIRST = datetime(2026, 3, 7, 22, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def buckets(start: datetime, hours: float, total: int, negative: int) -> SeriesCounts:
    return {
        start + i * 5 * MINUTE: BucketCounts(total=total, negative=negative)
        for i in range(int(hours * 12))
    }


def scored(text: str, reach: int, sentiment: Sentiment = Sentiment.NEGATIVE) -> ScoredMention:
    return ScoredMention(
        mention=Mention(
            channel="x",
            id=f"id-{reach}",
            url=f"https://x.example/{reach}",
            author="@someone",
            text=text,
            created_at=FIRST + 30 * MINUTE,
            reach=reach,
            engagement=0,
        ),
        language="en",
        sentiment=sentiment,
        sentiment_score=-0.9,
        brands=("nordwind-air",),
    )


def parked(post_id: str, state: ParkState, at: datetime) -> ParkedPost:
    return ParkedPost(
        ScheduledPost("mastodon", post_id, at + timedelta(hours=1), "Sale!"), state, at
    )


def make_report(mentions: list[ScoredMention] | None = None) -> CrisisReport:
    steps = [
        Step(FIRST, "started", None, {"severity": 2}),
        Step(FIRST + 40 * MINUTE, "acknowledged", "dieter"),
        Step(FIRST + 45 * MINUTE, "paused", "erik", {"reason": "storm"}),
        Step(FIRST + 70 * MINUTE, "released", "erik", {"channel": "x"}),
        Step(FIRST + 71 * MINUTE, "released", "erik", {"channel": "mastodon"}),
        Step(FIRST + 4 * 60 * MINUTE, "resolved", None, {"peak_severity": 3}),
    ]
    # Given a quiet day (x: 10 a bucket, 1 negative), a storm of 4 hours (x: 60, 45
    # negative; mastodon 20, 10 negative) and a calm after (x: 12, 2 negative)
    x = {
        **buckets(FIRST - timedelta(hours=24), 24, 10, 1),
        **buckets(FIRST, 4, 60, 45),
        **buckets(FIRST + timedelta(hours=4), 3, 12, 2),
    }
    mastodon = buckets(FIRST, 4, 20, 10)
    total = {
        moment: BucketCounts(
            total=x.get(moment, BucketCounts()).total + mastodon.get(moment, BucketCounts()).total
        )
        for moment in set(x) | set(mastodon)
    }
    return crisis_report(
        alert_id="nordwind-air-20260307-2200",
        brand="nordwind-air",
        steps=steps,
        alerted_at=FIRST + 12 * MINUTE,
        first_abnormal_at=FIRST,
        series={"x": x, "mastodon": mastodon, ALL_CHANNELS: total},
        mentions=mentions or [],
        parked=[
            parked("1", ParkState.RESTORED, FIRST + 45 * MINUTE),
            parked("2", ParkState.REVIEW, FIRST + 45 * MINUTE),
            parked("0", ParkState.RESTORED, FIRST - timedelta(days=30)),
        ],
        made_at=FIRST + timedelta(hours=8),
        bucket_minutes=5,
    )


def test_durations_count_from_the_first_abnormal_bucket() -> None:
    # When the report is made
    report = make_report()
    # Then each duration is how long the public had been talking
    assert report.time_to_alert == 12 * MINUTE
    assert report.time_to_acknowledge == 40 * MINUTE
    assert report.time_to_statement == 70 * MINUTE  # the first channel's release
    assert report.acknowledged_by == "dieter"
    durations = report.to_json()["durations_seconds"]
    assert durations == {"to_alert": 720, "to_acknowledge": 2400, "to_statement": 4200}


def test_the_timeline_starts_at_the_first_abnormal_bucket_and_names_the_alert() -> None:
    kinds = [m.kind for m in make_report().timeline]
    assert kinds == [
        "first abnormal bucket",
        "alerted",
        "acknowledged",
        "paused",
        "released",
        "released",
        "resolved",
    ]


def test_volume_and_negative_share_before_during_and_after_per_channel() -> None:
    figures = make_report().figures
    x = figures["x"]
    assert (x["before"].mentions, x["before"].negative_share) == (24 * 12 * 10, 0.1)
    assert (x["during"].mentions, x["during"].negative_share) == (4 * 12 * 60, 0.75)
    assert x["during"].per_hour == 720
    assert x["after"].mentions == 3 * 12 * 12
    assert x["after"].negative_share == pytest.approx(2 / 12)
    assert figures["mastodon"]["before"].negative_share is None  # no mention: no share
    assert figures["mastodon"]["during"].negative_share == 0.5
    assert figures[ALL_CHANNELS]["during"].mentions == 4 * 12 * 80


def test_an_open_alert_is_reported_until_now_with_no_after() -> None:
    report = make_report()
    assert report.periods["after"] == (FIRST + timedelta(hours=4), FIRST + timedelta(hours=7))
    open_report = crisis_report(
        alert_id="nordwind-air-20260307-2200",
        brand="nordwind-air",
        steps=[Step(FIRST, "started")],
        alerted_at=None,
        first_abnormal_at=FIRST,
        series={},
        mentions=[],
        parked=[],
        made_at=FIRST + timedelta(hours=1),
        bucket_minutes=5,
    )
    assert open_report.resolved_at is None
    assert open_report.periods["during"] == (FIRST, FIRST + timedelta(hours=1))
    assert open_report.time_to_alert is None
    assert open_report.to_json()["durations_seconds"]["to_statement"] is None


def test_parked_posts_of_the_episode_only() -> None:
    [summary] = make_report().parked
    assert (summary.scheduler, summary.parked, summary.restored, summary.review) == (
        "mastodon",
        2,
        1,
        1,
    )


def test_top_negative_mentions_by_reach_negative_only() -> None:
    report = make_report(
        [scored("meh", 10), scored("awful", 900), scored("great", 5000, Sentiment.POSITIVE)]
    )
    assert [m.text for m in report.top_negative] == ["awful", "meh"]


def test_the_chart_has_a_point_per_chart_bucket_on_a_linear_axis() -> None:
    report = make_report()
    # 24 h before + 4 h + 3 h after = 31 h of 5-minute buckets, folded to at most 120 points
    assert len(report.chart) <= 120
    steps = {b.start - a.start for a, b in zip(report.chart, report.chart[1:], strict=False)}
    assert steps == {report.chart_bucket}
    assert json.loads(json.dumps(report.to_json()))["alert_id"] == report.alert_id


# --- the HTML ------------------------------------------------------------------------------


def test_mention_text_is_escaped_data_never_markup_or_a_template() -> None:
    # Given a top mention carrying markup and template syntax
    report = make_report([scored("<script>alert(1)</script> {{ 7*7 }} {% if 1 %}x{% endif %}", 99)])
    # When the report is rendered
    html = report_html(report)
    # Then it shows as text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html
    assert "49" not in re.sub(r"<svg.*?</svg>", "", html, flags=re.S)


def test_the_page_is_self_contained_with_an_inline_svg_chart() -> None:
    html = report_html(make_report([scored("awful", 123456)]))
    assert "reach 123,456" in html
    assert "<svg" in html
    assert "<polyline" in html
    assert "<style>" in html
    # no script, no external asset: links to mentions are the only URLs
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["'](?!https://x\.example/)""", html)
    assert not re.search(r"url\(", html)
    assert 'name="viewport"' in html
    assert "12 min" in html  # time to alert


def test_an_empty_episode_still_renders() -> None:
    report = crisis_report(
        alert_id="nordwind-air-20260307-2200",
        brand="nordwind-air",
        steps=[],
        alerted_at=None,
        first_abnormal_at=FIRST,
        series={},
        mentions=[],
        parked=[],
        made_at=FIRST + timedelta(minutes=10),
        bucket_minutes=5,
    )
    html = report_html(report)
    assert "<svg" in html
    assert "not yet" in html


def test_the_top_negative_mentions_are_read_from_the_busiest_negative_hour() -> None:
    # Given an episode of 4 hours: x steadily negative (2 a bucket), and mastodon with a
    # burst of 30 negative a bucket in its third hour; reddit negative only before it
    from stormwatch.review.report import busiest_negative_stretch

    during = (FIRST, FIRST + timedelta(hours=4))
    burst = FIRST + timedelta(hours=2, minutes=10)
    series = {
        ALL_CHANNELS: buckets(FIRST, 4, 40, 32),
        "x": buckets(FIRST, 4, 10, 2),
        "mastodon": buckets(burst, 0.5, 40, 30),
        "reddit": buckets(FIRST - timedelta(hours=2), 1, 5, 5),
    }
    # When the stretch to read is chosen
    stretch = busiest_negative_stretch(series, during)
    # Then it is an hour holding the whole burst, on mastodon then x (reddit had none in it)
    assert stretch is not None
    assert stretch.end - stretch.start == timedelta(hours=1)
    assert stretch.start <= burst < burst + timedelta(minutes=30) <= stretch.end
    assert stretch.channels == ("mastodon", "x")
    # ...and an episode without a negative mention reads none
    calm = {"x": buckets(FIRST, 4, 10, 0)}
    assert busiest_negative_stretch(calm, during) is None


def test_the_stretch_ends_with_the_episode() -> None:
    from stormwatch.review.report import busiest_negative_stretch

    # Given an episode of 30 minutes, all negative
    during = (FIRST, FIRST + timedelta(minutes=30))
    stretch = busiest_negative_stretch({"x": buckets(FIRST, 2, 10, 10)}, during)
    # Then the stretch is the episode, not an hour beyond it
    assert stretch is not None
    assert (stretch.start, stretch.end) == during
