"""The rules that look at a brand's recent buckets and say what is unusual. Pure.

Each rule returns `Finding`s (`stormwatch.warn.vocabulary`: the lifecycle and the messages
read the same ones); the alert lifecycle groups a brand's findings into one
episode. Crisis findings (volume, negative share, static thresholds, velocity) and
"monitoring is blind" findings (a channel gone silent or its poller failing) are kept
apart: a blind source is an ops problem, never reported as a storm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from stormwatch.config.alerts import (
    AlertSettings,
    NegativeShareRule,
    SilenceRule,
    StaticThreshold,
    VelocityRule,
)
from stormwatch.model import BucketCounts
from stormwatch.warn.detector import Assessment
from stormwatch.warn.vocabulary import Finding, Rule


@dataclass(frozen=True, slots=True)
class SeriesWindow:
    """The recent buckets of one series, oldest first, contiguous: a missing bucket is zero.

    The last bucket is the current one, possibly still filling.
    """

    channel: str
    bucket_minutes: int
    buckets: Sequence[tuple[datetime, BucketCounts]]

    def total(self, minutes: int, *, ending_buckets_ago: int = 0) -> BucketCounts:
        count = minutes // self.bucket_minutes
        end = len(self.buckets) - ending_buckets_ago
        summed = BucketCounts()
        for _, counts in self.buckets[max(0, end - count) : max(0, end)]:
            summed.merge(counts)
        return summed

    @property
    def covered_minutes(self) -> int:
        return len(self.buckets) * self.bucket_minutes


def volume(assessment: Assessment, channel: str) -> Finding | None:
    if not assessment.anomalous or assessment.stale:
        return None
    return Finding(
        rule=Rule.VOLUME,
        channel=channel,
        severity=assessment.severity,
        observed=assessment.window_count,
        expected=assessment.window_expected,
        window_minutes=assessment.window_minutes or assessment.bucket_minutes,
        reason=assessment.reason,
        window_severities=assessment.window_severities,
    )


def negative_share(series: SeriesWindow, rule: NegativeShareRule) -> Finding | None:
    window = series.total(rule.window_minutes)
    if window.total < rule.min_mentions:
        return None
    share = window.negative / window.total
    if share < rule.level:
        return None
    return Finding(
        rule=Rule.NEGATIVE_SHARE,
        channel=series.channel,
        severity=rule.severity,
        observed=round(share, 3),
        expected=rule.level,
        window_minutes=rule.window_minutes,
        reason=(
            f"{share:.0%} of {window.total} mentions negative in {rule.window_minutes} min "
            f"(alert at {rule.level:.0%})"
        ),
    )


def velocity(series: SeriesWindow, rule: VelocityRule, *, baseline_trusted: bool) -> Finding | None:
    """Growth over the last window against the one before (see `VelocityRule`)."""
    if baseline_trusted and not rule.once_baseline_trusted:
        return None
    buckets = rule.window_minutes // series.bucket_minutes
    if len(series.buckets) < 2 * buckets:
        return None
    now = series.total(rule.window_minutes).total
    before = series.total(rule.window_minutes, ending_buckets_ago=buckets).total
    if now < rule.min_mentions or now < rule.growth * max(before, 1):
        return None
    return Finding(
        rule=Rule.VELOCITY,
        channel=series.channel,
        severity=rule.severity,
        observed=now,
        expected=float(before),
        window_minutes=rule.window_minutes,
        reason=(
            f"{now} mentions in {rule.window_minutes} min after {before} in the "
            f"{rule.window_minutes} min before ({now / max(before, 1):.1f}x)"
        ),
    )


def static(series: SeriesWindow, thresholds: Sequence[StaticThreshold]) -> list[Finding]:
    found = []
    for threshold in thresholds:
        count = series.total(threshold.window_minutes).total
        if count >= threshold.min_mentions:
            found.append(
                Finding(
                    rule=Rule.STATIC,
                    channel=series.channel,
                    severity=threshold.severity,
                    observed=count,
                    expected=threshold.min_mentions,
                    window_minutes=threshold.window_minutes,
                    reason=(
                        f"{count} mentions in {threshold.window_minutes} min "
                        f"(threshold {threshold.min_mentions})"
                    ),
                )
            )
    return found


@dataclass(frozen=True, slots=True)
class PollHealth:
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None


def silence(
    channel: str,
    health: PollHealth | None,
    quiet: SeriesWindow | None,
    expected_quiet: float | None,
    now: datetime,
    rule: SilenceRule,
) -> Finding | None:
    """Is monitoring blind on `channel`? Its poller keeps failing, or a channel that
    normally has mentions has had none for `quiet_minutes` while its poller says it works."""
    if health is not None and health.consecutive_failures >= rule.failing_runs:
        since = health.last_success_at
        return Finding(
            rule=Rule.FAILING,
            channel=channel,
            severity=1,
            observed=health.consecutive_failures,
            expected=None,
            window_minutes=int((now - since).total_seconds() // 60) if since else 0,
            reason=(
                f"{health.consecutive_failures} polls in a row failed"
                + (f" (last: {health.last_error})" if health.last_error else "")
            ),
        )
    if quiet is None or expected_quiet is None or quiet.covered_minutes < rule.quiet_minutes:
        return None
    seen = quiet.total(rule.quiet_minutes).total
    polled_recently = (
        health is not None
        and health.last_success_at is not None
        and (now - health.last_success_at <= timedelta(minutes=rule.quiet_minutes))
    )
    if seen or expected_quiet < rule.min_expected or not polled_recently:
        return None
    return Finding(
        rule=Rule.SILENT,
        channel=channel,
        severity=1,
        observed=0,
        expected=round(expected_quiet, 1),
        window_minutes=rule.quiet_minutes,
        reason=(
            f"no mentions in {rule.quiet_minutes} min where about {expected_quiet:.0f} are usual, "
            "though the poller succeeds: the query or the credentials may have changed"
        ),
    )


def crisis_findings(
    assessment: Assessment | None,
    window: SeriesWindow,
    settings: AlertSettings,
    brand: str,
    *,
    baseline_trusted: bool,
) -> list[Finding]:
    """Every crisis rule over one series of a brand: the detector's judgement of its
    newest bucket, negative share, velocity and ops' static lines."""
    found = [
        finding
        for finding in (
            volume(assessment, window.channel) if assessment is not None else None,
            negative_share(window, settings.negative_share),
            velocity(window, settings.velocity, baseline_trusted=baseline_trusted),
        )
        if finding is not None
    ]
    found += static(window, settings.static_for(brand, window.channel))
    return found
