"""The volume detector on synthetic mention counts: rhythm, storms, shifts, odd input, state."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from stormwatch.config.alerts import VolumeDetectorParams
from stormwatch.config.fields import config_error
from stormwatch.warn.detector import Assessment, VolumeDetector
from tests.helpers import examples

T0 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
BUCKET = timedelta(minutes=5)
PER_DAY = 288


def usual_rate(moment: datetime, base: float = 40.0) -> float:
    """Mentions per bucket on an ordinary day: a daily swell, quieter weekends."""
    hour = moment.hour + moment.minute / 60
    daily = 1.0 + 0.6 * math.sin(2 * math.pi * (hour - 9) / 24)
    return base * daily * (0.7 if moment.weekday() >= 5 else 1.0)


def counts(
    days: float,
    multiplier: Callable[[int], float] = lambda _: 1.0,
    seed: int = 7,
    base: float = 40.0,
) -> Iterator[tuple[datetime, int]]:
    """Overdispersed (gamma-Poisson) counts around `usual_rate` x `multiplier(bucket number)`."""
    rng = random.Random(seed)
    for i in range(int(days * PER_DAY)):
        moment = T0 + i * BUCKET
        mean = rng.gammavariate(20.0, usual_rate(moment, base) * multiplier(i) / 20.0)
        yield moment, _poisson(rng, mean)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, n, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        n += 1
        product *= rng.random()
    return n


def feed(detector: VolumeDetector, series: Iterator[tuple[datetime, int]]) -> list[Assessment]:
    return [detector.observe(moment, count) for moment, count in series]


@pytest.fixture(scope="module")
def warm_state() -> dict[str, object]:
    """Two ordinary weeks learned: the starting point of most scenarios."""
    detector = VolumeDetector()
    feed(detector, counts(14))
    return detector.to_state()


def warm(state: dict[str, object]) -> VolumeDetector:
    return VolumeDetector.from_state(json.loads(json.dumps(state)))


def after_warm(days: float, multiplier: Callable[[int], float] = lambda _: 1.0, seed: int = 8):
    """Counts that continue the warm fortnight; `multiplier` gets the bucket number from then."""
    start = 14 * PER_DAY
    for moment, count in counts(14 + days, lambda i: multiplier(i - start), seed=seed):
        if moment >= T0 + timedelta(days=14):
            yield moment, count


# ------------------------------------------------------------------ warm-up


def test_a_new_series_is_warming_up_and_says_so() -> None:
    # Given a detector that has seen nothing
    detector = VolumeDetector()
    # When the first two days arrive
    assessments = feed(detector, counts(2))
    # Then it never alerts, says it is warming up and that no static threshold is set
    assert all(a.warming_up and a.severity == 0 and a.basis == "none" for a in assessments)
    assert "warming up" in assessments[-1].reason
    assert assessments[-1].expected is not None


def test_warming_up_falls_back_to_the_static_threshold() -> None:
    # Given a young detector with a static threshold of 200 mentions in 15 minutes
    detector = VolumeDetector(VolumeDetectorParams(static_count=200))
    feed(detector, counts(1))
    moment = T0 + timedelta(days=1)
    # When 70, 70 and 70 mentions arrive, then 300 more, then 500 more
    first = [detector.observe(moment + i * BUCKET, 70) for i in range(3)]
    second = detector.observe(moment + 3 * BUCKET, 300)
    third = detector.observe(moment + 4 * BUCKET, 500)
    # Then the static rule judges them: watch at 210, warning at 440, critical at 870
    assert [a.severity for a in first] == [0, 0, 1]
    assert (second.severity, third.severity) == (2, 3)
    assert all(a.basis == "static" and a.warming_up for a in (*first, second, third))


def test_after_a_few_days_the_baseline_takes_over() -> None:
    # Given an ordinary week
    detector = VolumeDetector()
    assessments = feed(detector, counts(7))
    # Then warm-up ends within five days (a partial first day, a day to form, three maxima)
    first_warm = next(i for i, a in enumerate(assessments) if not a.warming_up)
    assert first_warm <= 5 * PER_DAY
    assert assessments[-1].basis == "baseline"
    assert assessments[-1].return_period_days is not None


# ------------------------------------------------------------------ judging


def test_ordinary_weeks_raise_no_alert(warm_state: dict[str, object]) -> None:
    # Given a detector that learned two ordinary weeks
    detector = warm(warm_state)
    # When two more ordinary weeks arrive
    assessments = feed(detector, after_warm(14))
    # Then nothing is unusual
    assert max(a.severity for a in assessments) == 0
    # And in the fourth week the expected level follows the rhythm: hourly factors are
    # off by up to ~15 % where the swell is steepest, and the day-of-week factors (learned
    # per bucket from the first weekend on) add at most a few percent
    ratios = sorted(
        (a.expected or 0.0) / usual_rate(a.bucket_start)
        for a in assessments[7 * PER_DAY :]
        if a.bucket_start.minute == 0
    )
    assert 0.95 < ratios[len(ratios) // 2] < 1.05
    assert ratios[0] > 0.8
    assert ratios[-1] < 1.25


def test_a_storm_is_critical_within_minutes(warm_state: dict[str, object]) -> None:
    # Given a warm detector
    detector = warm(warm_state)
    storm_start = PER_DAY + 150  # day 15, 12:30

    # When mentions jump eightfold for three hours
    def storm(i: int) -> float:
        return 8.0 if storm_start <= i < storm_start + 36 else 1.0

    assessments = feed(detector, after_warm(2, storm))
    # Then the first storm bucket is already critical, and against the usual level
    first = assessments[storm_start]
    assert first.severity == 3
    assert first.expected is not None
    assert 0.7 < first.expected / usual_rate(first.bucket_start) < 1.3
    assert "mentions in" in first.reason
    # And nothing before the storm was unusual
    assert max(a.severity for a in assessments[:storm_start]) == 0


def test_a_storm_does_not_teach_the_baseline(warm_state: dict[str, object]) -> None:
    # Given two warm detectors, one of which lives through a 3-hour eightfold storm
    calm, stormy = warm(warm_state), warm(warm_state)
    storm_start = PER_DAY + 150

    def storm(i: int) -> float:
        return 8.0 if storm_start <= i < storm_start + 36 else 1.0

    calm_next_day = feed(calm, after_warm(3))[storm_start + PER_DAY]
    stormy_next_day = feed(stormy, after_warm(3, storm))[storm_start + PER_DAY]
    # Then a day later the same hour is expected within a few percent of the calm run
    assert calm_next_day.expected is not None
    assert stormy_next_day.expected is not None
    assert stormy_next_day.expected / calm_next_day.expected < 1.05


def test_a_lasting_doubling_becomes_the_new_normal(warm_state: dict[str, object]) -> None:
    # Given a warm detector
    detector = warm(warm_state)
    shift = PER_DAY

    # When the brand's mentions double for good
    assessments = feed(detector, after_warm(8, lambda i: 2.0 if i >= shift else 1.0))
    # Then it is flagged at first
    assert max(a.severity for a in assessments[shift : shift + PER_DAY]) >= 1
    # And after at most three days it is normal again, expected near the doubled level
    settled = assessments[shift + 3 * PER_DAY :]
    assert max(a.severity for a in settled) == 0
    last = settled[-1]
    assert last.expected is not None
    assert 1.6 < last.expected / usual_rate(last.bucket_start) < 2.5


def test_few_mentions_never_alert() -> None:
    # Given a brand that is almost never mentioned, learned for a week
    detector = VolumeDetector()
    feed(detector, counts(7, base=0.05))
    moment = T0 + timedelta(days=7, hours=12)
    # When 4 mentions arrive in a bucket, then 20
    few = detector.observe(moment, 4)
    many = detector.observe(moment + BUCKET, 20)
    # Then 4 is below the 10-mention floor, 20 is an alert
    assert few.severity == 0
    assert "never alerts" in few.reason
    assert many.severity >= 1


def sparse_rate(moment: datetime, base: float) -> float:
    """A sparse channel's rate: quiet nights (a quarter of the mean), busy evenings."""
    hour = (moment.hour + 1) % 24 + moment.minute / 60
    daylight = max(0.0, math.sin(math.pi * (hour - 6) / 18))
    weekend = 0.7 if moment.weekday() >= 5 else 1.0
    return base * (0.25 + 1.35 * math.pow(daylight, 1.5)) * weekend


def sparse_counts(days: float, base: float, seed: int = 3) -> Iterator[tuple[datetime, int]]:
    """Poisson counts around `sparse_rate`: mostly zeros, now and then a mention or two."""
    rng = random.Random(seed)
    for i in range(int(days * PER_DAY)):
        moment = T0 + i * BUCKET
        yield moment, _poisson(rng, sparse_rate(moment, base))


@pytest.mark.parametrize("base", [0.005, 0.03, 0.3])
def test_a_sparse_series_is_expected_at_its_own_rate(base: float) -> None:
    # Given a sparse Poisson series (about 1.5 to 90 mentions a day: a LinkedIn or RSS channel)
    detector = VolumeDetector()
    # When three weeks arrive bucket by bucket
    assessments = feed(detector, sparse_counts(21, base))
    # Then in the third week each day's expected total stays within 0.4x-2x of the true
    # rate (the multiplicative factor updates this replaced expected up to ~380x here)
    third_week = assessments[14 * PER_DAY :]
    for day in range(7):
        judged = third_week[day * PER_DAY : (day + 1) * PER_DAY]
        expected = sum(a.expected or 0.0 for a in judged)
        true = sum(sparse_rate(a.bucket_start, base) for a in judged)
        assert 0.4 < expected / true < 2.0
    # And no 2-hour stretch expects more than 3x its true rate or, where the truth is a
    # fraction of a mention (a night hour with a few mentions a week: the rhythm is shrunk
    # towards flat), more than one mention
    for start in range(0, len(third_week), 24):
        block = third_week[start : start + 24]
        expected = sum(a.expected or 0.0 for a in block)
        true = sum(sparse_rate(a.bucket_start, base) for a in block)
        assert expected < max(3.0 * true, 1.0)
    # And quiet history raises no alert
    assert max(a.severity for a in assessments) == 0


def test_a_silent_day_on_a_sparse_series_keeps_expectations_sensible() -> None:
    # Given a sparse series (0.1 mention a bucket on average) learned for two weeks
    detector = VolumeDetector()
    feed(detector, sparse_counts(14, 0.1))
    # When a whole day brings no mention at all
    silent = feed(detector, ((T0 + timedelta(days=14) + i * BUCKET, 0) for i in range(PER_DAY)))
    # Then nothing alerts and the expectation neither blows up nor collapses to nothing:
    # it falls with the one-day level memory, to about half the usual rate by the end
    assert max(a.severity for a in silent) == 0
    hours = [silent[i : i + 12] for i in range(0, PER_DAY, 12)]
    ratios = [
        sum(a.expected or 0.0 for a in hour) / sum(sparse_rate(a.bucket_start, 0.1) for a in hour)
        for hour in hours
    ]
    assert max(ratios) < 3.0
    assert min(ratios) > 0.1
    day = sum(a.expected or 0.0 for a in silent)
    assert 0.4 < day / sum(sparse_rate(a.bucket_start, 0.1) for a in silent) < 1.2


def test_a_weekend_is_learned_from_the_first_weekend() -> None:
    # Given a new series with weekends at 70 % of weekdays
    detector = VolumeDetector()
    # When two weeks arrive
    assessments = feed(detector, counts(14))
    # Then in the second week (one weekend seen) every hour is expected within -25 %/+30 %
    ratios = [
        (a.expected or 0.0) / usual_rate(a.bucket_start)
        for a in assessments[7 * PER_DAY :]
        if a.bucket_start.minute == 0
    ]
    assert min(ratios) > 0.75
    assert max(ratios) < 1.3


def test_zero_counts_throughout_are_fine() -> None:
    # Given a series of zeros only
    detector = VolumeDetector()
    assessments = feed(detector, ((T0 + i * BUCKET, 0) for i in range(6 * PER_DAY)))
    # Then no alert, no crash, a tiny expected level
    assert max(a.severity for a in assessments) == 0
    assert assessments[-1].expected is not None
    assert assessments[-1].expected < 0.01


def test_huge_values_are_critical_not_a_crash(warm_state: dict[str, object]) -> None:
    # Given a warm detector
    detector = warm(warm_state)
    moment = T0 + timedelta(days=14)
    # When an absurd count arrives, and ordinary ones after it
    huge = detector.observe(moment, 10**30)
    later = [detector.observe(moment + i * BUCKET, 40) for i in range(1, 4)]
    # Then it is critical, the count is clamped, and the state stays finite JSON
    assert huge.severity == 3
    assert huge.count == 10**15
    assert all(math.isfinite(a.expected or 0.0) for a in later)
    json.loads(json.dumps(detector.to_state(), allow_nan=False))


# ------------------------------------------------------------------ odd input


def test_a_gap_is_unknown_not_zero(warm_state: dict[str, object]) -> None:
    # Given a warm detector
    detector = warm(warm_state)
    moment = T0 + timedelta(days=14)
    before = [detector.observe(moment + i * BUCKET, 40) for i in range(6)]
    # When 13 hours of buckets are missing, then a bucket arrives
    after = detector.observe(moment + timedelta(hours=13), 45)
    # Then nothing crashes, nothing alerts, and no window counts the missing buckets as zeros
    assert max(a.severity for a in (*before, after)) == 0
    assert after.window_count == 45
    assert after.window_expected is not None
    assert after.expected is not None
    assert after.window_expected == pytest.approx(after.expected)


def test_re_observing_a_bucket_replaces_its_count() -> None:
    # Given two detectors on the same week
    series = list(counts(7))
    once, twice = VolumeDetector(), VolumeDetector()
    feed(once, iter(series))
    feed(twice, iter(series))
    moment = series[-1][0] + BUCKET
    # When one sees the next bucket as 90 then (corrected) 30, the other only 30
    first = twice.observe(moment, 90)
    corrected = twice.observe(moment, 30)
    direct = once.observe(moment, 30)
    # Then the latest count is judged, exactly as if it had been the only one
    assert first.count == 90
    assert corrected == direct
    # And learning uses the final count only
    for detector in (once, twice):
        detector.observe(moment + BUCKET, 35)
    assert once.to_state() == twice.to_state()


def test_judging_the_same_bucket_twice_is_idempotent(warm_state: dict[str, object]) -> None:
    # Given a warm detector and a bucket that is judged every minute while it fills
    detector = warm(warm_state)
    moment = T0 + timedelta(days=14)
    # When the same count is given twice
    first = detector.observe(moment, 300)
    state = detector.to_state()
    second = detector.observe(moment, 300)
    # Then the judgement and the state are the same
    assert first == second
    assert detector.to_state() == state


def test_an_older_bucket_is_ignored_and_says_so(warm_state: dict[str, object]) -> None:
    # Given a warm detector that has seen a bucket
    detector = warm(warm_state)
    moment = T0 + timedelta(days=14)
    detector.observe(moment, 40)
    state = detector.to_state()
    # When an older bucket arrives
    old = detector.observe(moment - 3 * BUCKET, 900)
    # Then it is stale, not judged, and nothing changed
    assert old.stale
    assert old.severity == 0
    assert "ignored" in old.reason
    assert detector.to_state() == state


@pytest.mark.parametrize(
    ("moment", "count", "error"),
    [
        (T0, -1, ValueError),
        (T0, 2.5, TypeError),
        (T0, True, TypeError),
        (T0.replace(tzinfo=None), 3, ValueError),
    ],
)
def test_bad_input_is_a_clear_error(moment: datetime, count: object, error: type) -> None:
    with pytest.raises(error):
        VolumeDetector().observe(moment, count)  # type: ignore[arg-type]


def test_an_empty_series_has_a_state() -> None:
    # Given a detector that never saw a bucket
    detector = VolumeDetector()
    # Then its state round-trips and it is warming up
    again = VolumeDetector.from_state(json.loads(json.dumps(detector.to_state())))
    assert again.warming_up
    assert again.to_state() == detector.to_state()


# ------------------------------------------------------------------ parameters and state


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"bucket_minutes": 7}, "bucket_minutes"),
        ({"windows_minutes": (15, 62)}, "windows_minutes"),
        ({"windows_minutes": ()}, "windows_minutes"),
        ({"watch_return_days": 100.0}, "watch_return_days"),
        ({"level_half_life_hours": 0.0}, "level_half_life_hours"),
        ({"warmup_days": 1}, "warmup_days"),
        ({"static_count": 0}, "static_count"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_bad_parameters_name_the_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        VolumeDetectorParams(**change)
    assert config_error(caught.value, "alerts.volume").key == f"alerts.volume.{key}"


def test_state_stays_small(warm_state: dict[str, object]) -> None:
    # Given four weeks of history (all lists in the state are bounded: windows, 28 maxima)
    detector = warm(warm_state)
    feed(detector, after_warm(14))
    # Then the JSON state is far below the 20 KB budget
    assert len(json.dumps(detector.to_state())) < 20_000


def test_state_made_with_other_windows_is_refused(warm_state: dict[str, object]) -> None:
    other = VolumeDetectorParams(windows_minutes=(15, 60))
    with pytest.raises(ValueError, match="windows"):
        VolumeDetector.from_state(warm_state, other)
    with pytest.raises(ValueError, match="malformed"):
        VolumeDetector.from_state({"version": 1})


@pytest.mark.parametrize("version", [1, 2])
def test_a_state_of_an_older_baseline_starts_afresh(
    warm_state: dict[str, object], version: int
) -> None:
    # Given the state of an earlier baseline (its factors and maxima mean something else)
    old = {**warm_state, "version": version}
    # When it is restored
    detector = VolumeDetector.from_state(old)
    # Then the detector starts afresh, so the evaluator replays stored buckets into it
    assert detector.newest_bucket is None
    assert detector.warming_up
    assert detector.expected_count(T0) is None
    # And an unknown version is refused
    with pytest.raises(ValueError, match="version"):
        VolumeDetector.from_state({**warm_state, "version": 99})


def test_local_time_zone_is_accepted() -> None:
    # Given a detector that reads hours in Berlin time
    detector = VolumeDetector(VolumeDetectorParams(timezone="Europe/Berlin"))
    # When a few days arrive (with a daylight-saving change in between)
    start = datetime(2026, 3, 27, tzinfo=UTC)
    last = [detector.observe(start + i * BUCKET, 10) for i in range(4 * PER_DAY)][-1]
    # Then bucket starts are reported in UTC
    assert last.bucket_start.tzinfo == UTC


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 400), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    split=st.integers(0, 40),
)
def test_state_round_trip_changes_nothing(
    warm_state: dict[str, object], steps: list[tuple[int, int, bool]], split: int
) -> None:
    # Given a warm detector and any stream of buckets (gaps, repeats, bursts, zeros)
    original = warm(warm_state)
    moment = T0 + timedelta(days=14)
    stream: list[tuple[datetime, int]] = []
    for gap, count, repeat in steps:
        moment += gap * BUCKET if not repeat else timedelta(0)
        stream.append((moment, count))
    # When the state is saved to JSON and restored part-way
    for moment, count in stream[:split]:
        original.observe(moment, count)
    restored = VolumeDetector.from_state(json.loads(json.dumps(original.to_state())))
    # Then both judge every later bucket identically and end in the same state
    for moment, count in stream[split:]:
        assert original.observe(moment, count) == restored.observe(moment, count)
    assert original.to_state() == restored.to_state()
