"""The bucket rules next to the volume detector: velocity, negative share, static lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stormwatch.config.alerts import NegativeShareRule, StaticThreshold, VelocityRule
from stormwatch.model import ALL_CHANNELS, BucketCounts
from stormwatch.warn.rules import SeriesWindow, negative_share, static, velocity

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def series(totals: list[int], negatives: list[int] | None = None) -> SeriesWindow:
    """Five-minute buckets, oldest first; the last is the current one."""
    negatives = negatives or [0] * len(totals)
    return SeriesWindow(
        ALL_CHANNELS,
        5,
        [
            (T0 + timedelta(minutes=5 * i), BucketCounts(total=total, negative=negative))
            for i, (total, negative) in enumerate(zip(totals, negatives, strict=True))
        ],
    )


# --- velocity ---------------------------------------------------------------------------------


def test_growth_to_four_times_with_enough_mentions_is_velocity_while_warming_up() -> None:
    # Given 10 mentions in a quarter hour, then 45 in the next
    window = series([3, 3, 4, 15, 15, 15])
    # When judged while the series has no trusted baseline
    finding = velocity(window, VelocityRule(), baseline_trusted=False)
    # Then growth alone is a watch, with both numbers in the reason
    assert finding is not None
    assert (finding.severity, finding.observed, finding.expected) == (1, 45, 10.0)
    assert "4.5x" in finding.reason


@pytest.mark.parametrize(
    ("totals", "why"),
    [
        ([3, 3, 4, 10, 10, 10], "30 mentions: below min_mentions 40"),
        ([10, 10, 10, 14, 14, 14], "42 after 30: grew 1.4x only"),
        ([15, 15, 15], "no quarter hour before to compare with"),
    ],
)
def test_small_or_slow_or_unknown_growth_is_not_velocity(totals: list[int], why: str) -> None:
    assert velocity(series(totals), VelocityRule(), baseline_trusted=False) is None, why


def test_once_the_baseline_is_trusted_growth_is_left_to_the_detector() -> None:
    # Given the same quarter hour that is velocity while warming up
    window = series([3, 3, 4, 15, 15, 15])
    # When the baseline is trusted, it is not (the detector's 15-minute window judges it)
    assert velocity(window, VelocityRule(), baseline_trusted=True) is None
    # Unless ops asked for growth alone to page anyway
    rule = VelocityRule(once_baseline_trusted=True)
    assert velocity(window, rule, baseline_trusted=True) is not None


# --- negative share ---------------------------------------------------------------------------


def test_a_mostly_negative_half_hour_with_enough_mentions_is_a_warning() -> None:
    # Given 36 mentions in 30 minutes, 24 of them negative (67 %)
    window = series([6] * 6, [4] * 6)
    finding = negative_share(window, NegativeShareRule())
    assert finding is not None
    assert (finding.severity, finding.observed) == (2, 0.667)
    assert "67% of 36 mentions negative" in finding.reason


def test_a_negative_share_of_few_mentions_means_nothing() -> None:
    # Given 12 mentions, all negative
    assert negative_share(series([2] * 6, [2] * 6), NegativeShareRule()) is None


def test_a_share_below_the_level_is_no_finding() -> None:
    assert negative_share(series([10] * 6, [5] * 6), NegativeShareRule()) is None


# --- static lines -----------------------------------------------------------------------------


def test_each_static_line_reached_is_a_finding_of_its_own_severity() -> None:
    # Given 210 mentions in the last 15 minutes
    window = series([1, 1, 1, 70, 70, 70])
    lines = [
        StaticThreshold(window_minutes=15, min_mentions=200, severity=2),
        StaticThreshold(window_minutes=15, min_mentions=400, severity=3),
        StaticThreshold(window_minutes=30, min_mentions=200, severity=1),
    ]
    found = static(window, lines)
    assert [(f.severity, f.window_minutes, f.observed) for f in found] == [
        (2, 15, 210),
        (1, 30, 213),
    ]
