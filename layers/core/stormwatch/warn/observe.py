"""Stage 1 of an evaluation: a brand's buckets through its detectors. Pure.

Each series (all channels, and each channel) has a `VolumeDetector` that carries its
baseline between runs. Observing feeds it the buckets it has not judged yet, up to the
series' *horizon* - the newest bucket that can be judged now - and keeps the recent
buckets as a `SeriesWindow` for the rules. The stored detector state is a checkpoint
that may be up to `CHECKPOINT` of bucket time behind: the buckets since are fed again
from the stored counts, which gives the same judgement as if each had been stored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stormwatch.config.alerts import VolumeDetectorParams
from stormwatch.model import ALL_CHANNELS, BucketCounts, SeriesCounts, bucket_start
from stormwatch.persistence.health import PollHealthRecord
from stormwatch.warn.detector import Assessment, VolumeDetector
from stormwatch.warn.rules import SeriesWindow

logger = logging.getLogger(__name__)

BOOTSTRAP = timedelta(days=14)
"""A new detector learns from up to this much stored history before judging."""
CHECKPOINT = timedelta(hours=1)
"""How far the detectors may run ahead of their stored state: they are stored at least
this often (in bucket time), and whenever the alert lifecycle changes anyway."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One series after this run: its detector, its judgement of the horizon bucket and
    the recent buckets the rules look at."""

    series: str
    detector: VolumeDetector
    assessment: Assessment | None
    window: SeriesWindow
    horizon: datetime
    stored_newest: datetime | None
    """The newest bucket of the stored detector state (None: a new detector)."""


def horizon(
    series: str,
    channels: Sequence[str],
    health: Mapping[str, PollHealthRecord],
    now: datetime,
    settle_minutes: int,
    bucket_minutes: int,
) -> datetime:
    """The newest bucket of a series that can be judged now.

    Mentions reach their bucket when the channel is next polled, minutes after they were
    posted: judging the current bucket would see it empty, and the detector would learn
    it so. A bucket is judged once its channel has been polled after it began (all
    channels, for ALL) - or after `settle_minutes` without a poll, so that one broken
    poller cannot hold every alert back; monitoring that is blind says so separately.
    """
    floor = now - timedelta(minutes=settle_minutes)

    def settled(channel: str) -> datetime:
        record = health.get(channel)
        ran = record.last_run_at if record is not None else None
        return max(ran, floor) if ran is not None else floor

    moment = (
        min(settled(channel) for channel in channels) if series == ALL_CHANNELS else settled(series)
    )
    return bucket_start(min(moment, now), bucket_minutes)


def restore(
    stored: Mapping[str, Any] | None, params: VolumeDetectorParams, not_after: datetime
) -> VolumeDetector:
    """The stored detector, or a new one when there is none, it was made for other
    buckets, windows or time zone (its numbers would mean something else), or it has
    judged a bucket after `not_after`: a time that had not come (every bucket until then
    would look old to it and be ignored, a storm included)."""
    if stored:
        try:
            detector = VolumeDetector.from_state(stored, params)
        except ValueError:
            return VolumeDetector(params)
        newest = detector.newest_bucket
        if newest is None or newest <= not_after:
            return detector
        logger.warning(
            "detector state ahead of the clock: learnt afresh",
            extra={"newest_bucket": newest.isoformat(), "not_after": not_after.isoformat()},
        )
    return VolumeDetector(params)


def first_needed(detector: VolumeDetector, horizon_at: datetime) -> datetime:
    """The oldest bucket this detector must be fed from."""
    newest = detector.newest_bucket
    earliest = horizon_at - BOOTSTRAP
    if newest is not None and newest >= earliest:
        return min(newest, horizon_at)
    return earliest


def observe(
    series: str,
    detector: VolumeDetector,
    counts: SeriesCounts,
    horizon_at: datetime,
    lookback: timedelta,
    first_polled: Sequence[datetime],
) -> Observation:
    """Feed `detector` the buckets it has not judged, up to `horizon_at`, and keep the
    last `lookback` of buckets for the rules. `counts` must cover both ranges.
    `first_polled`: when the series' channels were first read (bucket starts)."""
    bucket = timedelta(minutes=detector.params.bucket_minutes)
    stored_newest = detector.newest_bucket
    current = horizon_at
    if stored_newest is not None and stored_newest > current:
        # Judged further already (the horizon moved back: a poller that ran fell silent).
        current = stored_newest
    earliest = current - BOOTSTRAP
    if stored_newest is not None and stored_newest >= earliest:
        feed_start = stored_newest
    else:
        # Before stormwatch listened nothing is known: those buckets are not zero, they
        # are missing. A new baseline starts at the first data there is.
        known = [moment for moment in counts if moment >= earliest]
        known += list(first_polled)
        feed_start = max(earliest, min(known, default=current))
    assessment = None
    moment = feed_start
    while moment <= current:
        assessment = detector.observe(moment, counts.get(moment, BucketCounts()).total)
        moment += bucket
    rules_start = current - lookback + bucket
    window = SeriesWindow(
        series,
        detector.params.bucket_minutes,
        [
            (rules_start + bucket * i, counts.get(rules_start + bucket * i, BucketCounts()))
            for i in range(int((current - rules_start) / bucket) + 1)
        ],
    )
    return Observation(series, detector, assessment, window, current, stored_newest)


def expected_quiet(observation: Observation, quiet_minutes: int) -> float | None:
    """What the baseline expected over the last `quiet_minutes` (None before a baseline)."""
    detector = observation.detector
    bucket = timedelta(minutes=detector.params.bucket_minutes)
    expected = [
        detector.expected_count(observation.horizon - bucket * i)
        for i in range(quiet_minutes // detector.params.bucket_minutes)
    ]
    return None if None in expected else sum(e or 0.0 for e in expected)


def checkpoint_due(observations: Sequence[Observation], stored_series: set[str]) -> bool:
    """Whether the detectors should be stored now: a series is new (or gone), or one has
    run more than `CHECKPOINT` ahead of its stored state."""
    if {o.series for o in observations} != stored_series:
        return True
    return any(
        o.stored_newest is None or o.horizon - o.stored_newest >= CHECKPOINT for o in observations
    )
