"""The detector options of issue 12 (decision 0018), and what each does. Off by default,
except the spike cap of the long windows (`trim_spikes` with a run hysteresis), which
shipped. The episode (the reopen window) shipped too: `test_episode.py`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from stormwatch.warn.detector import (
    DetectorOptions,
    VolumeDetector,
    _poisson_score,
    _poisson_tail,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BUCKET = timedelta(minutes=5)


def _given_history(
    detector: VolumeDetector, entries: Iterable[tuple[int, int, float | None]]
) -> None:
    """Buckets the detector has judged: (index, count, expected count)."""
    for index, count, expected in list(entries):
        detector._remember(index, count, expected)


def poisson_mid_p(count: int, mean: float) -> float:
    pmf = [math.exp(k * math.log(mean) - mean - math.lgamma(k + 1)) for k in range(count + 1)]
    return 1.0 - sum(pmf) + pmf[count] / 2.0


@pytest.mark.parametrize(("count", "mean"), [(0, 0.5), (3, 0.5), (10, 2.0), (40, 60.0), (90, 60.0)])
def test_the_poisson_tail_is_the_mid_p_upper_tail(count: int, mean: float) -> None:
    assert _poisson_tail(count, mean) == pytest.approx(poisson_mid_p(count, mean), rel=1e-9)


def test_the_poisson_score_grows_with_the_count_and_survives_huge_ones() -> None:
    scores = [_poisson_score(count, 2.0) for count in (0, 2, 5, 10, 50, 5000)]
    assert scores == sorted(scores)
    assert math.isfinite(scores[-1])
    # For large counts it is close to the Anscombe residual.
    anscombe = 2 * math.sqrt(160 + 0.375) - 2 * math.sqrt(120 + 0.125)
    assert _poisson_score(160, 120.0) == pytest.approx(anscombe, abs=0.25)


def test_default_options_save_the_state_they_always_did() -> None:
    detector = VolumeDetector()
    held = VolumeDetector(options=DetectorOptions(hold_hours=24))
    for i in range(30):
        detector.observe(T0 + i * BUCKET, i % 4)
        held.observe(T0 + i * BUCKET, i % 4)
    assert "last_anomalous" not in detector.to_state()
    assert held.to_state()["last_anomalous"] is None


def test_trimming_spikes_caps_each_bucket_of_the_long_windows_only() -> None:
    # Given a detector that trims every spike at 4x the expected count (at least 4 mentions)
    detector = VolumeDetector(options=DetectorOptions(trim_spikes=4, trim_runs=0))
    _given_history(detector, [(i, 2, 0.5) for i in range(100, 111)])
    # When an hour's window holds one spike of 30 among buckets of 2
    total, expected = detector._window_sums(111, 30, 0.5, 12)
    # Then the spike counts 4 in it; the 15-minute window keeps it whole
    assert (total, expected) == (11 * 2 + 4, 6.0)
    assert detector._window_sums(111, 30, 0.5, 3) == (34, 1.5)
    # And off (the detector shipped before) nothing is trimmed
    off = VolumeDetector(options=DetectorOptions(trim_spikes=0))
    _given_history(off, detector._history)
    assert off._window_sums(111, 30, 0.5, 12) == (11 * 2 + 30, 6.0)


def test_trimming_only_isolated_runs_keeps_long_and_ongoing_bursts_whole() -> None:
    # Given a detector that caps only runs of at most 2 buckets above 4x the expected
    detector = VolumeDetector(options=DetectorOptions(trim_spikes=4, trim_runs=2, trim_quiet=0))
    history = [2, 30, 2, 2, 30, 30, 30, 2, 2, 2, 2]  # a spike, then a 3-bucket burst
    _given_history(detector, [(100 + i, c, 0.5) for i, c in enumerate(history)])
    # When the hour's window ends on a calm bucket / Then only the spike is capped
    assert detector._window_sums(111, 2, 0.5, 12) == (sum(history) - 30 + 4 + 2, 6.0)
    # And a spike still under way (the newest bucket) counts whole
    assert detector._window_sums(111, 30, 0.5, 12) == (sum(history) - 30 + 4 + 30, 6.0)


def _hysteresis_detector() -> VolumeDetector:
    return VolumeDetector(
        options=DetectorOptions(trim_spikes=4, trim_runs=3, trim_quiet=2, trim_release=0.5)
    )


def test_a_run_ends_only_after_buckets_well_below_the_cap() -> None:
    # Given a cap of 4 (4x an expected 0.5, at least 4) and runs of at most 3 capped once
    # they have ended in 2 buckets of at most 2 (half the cap)
    detector = _hysteresis_detector()
    # A burst flickering around the cap: above, 3 (below the cap, not well below), above...
    history = [1, 30, 3, 30, 3, 30, 3, 30, 0, 0, 1]
    _given_history(detector, [(100 + i, c, 0.5) for i, c in enumerate(history)])
    # When the hour's window is summed
    total, _ = detector._window_sums(111, 1, 0.5, 12)
    # Then the burst is one run of 7 buckets, longer than 3: it counts whole
    assert total == sum(history) + 1
    # While the first try (a run ends at the first bucket under the cap) caps every piece
    first_try = VolumeDetector(options=DetectorOptions(trim_spikes=4, trim_runs=3, trim_quiet=0))
    _given_history(first_try, detector._history)
    assert first_try._window_sums(111, 1, 0.5, 12)[0] == sum(history) + 1 - 4 * (30 - 4)


def test_a_short_spike_is_capped_once_quiet_has_followed_it() -> None:
    # Given the same options and a spike of two buckets among calm ones
    detector = _hysteresis_detector()
    _given_history(detector, [(100 + i, c, 0.5) for i, c in enumerate([1, 0, 30, 20])])
    # When only one calm bucket has followed it (the newest)
    # Then it is still under way and counts whole
    assert detector._window_sums(104, 1, 0.5, 12)[0] == 1 + 0 + 30 + 20 + 1
    # And once a second calm bucket follows, both of its buckets count 4
    _given_history(detector, [(104, 1, 0.5)])
    assert detector._window_sums(105, 2, 0.5, 12)[0] == 1 + 0 + 4 + 4 + 1 + 2
    # And the 15-minute window keeps it whole
    assert detector._window_sums(105, 2, 0.5, 3)[0] == 20 + 1 + 2


def test_a_run_is_measured_beyond_the_window_edge() -> None:
    # Given a 5-bucket burst, then calm, of which an hour's window sees the last 2 buckets
    history = [0] + [30] * 5 + [0] * 9
    detector = _hysteresis_detector()
    _given_history(detector, [(100 + i, c, 0.5) for i, c in enumerate(history)])
    # When the hour's window (buckets 104-115) is summed
    total, _ = detector._window_sums(115, 0, 0.5, 12)
    # Then it is still a run of 5, longer than 3: the two count whole
    assert total == 2 * 30
    # While the first try saw a run of 2 and capped it
    first_try = VolumeDetector(options=DetectorOptions(trim_spikes=4, trim_runs=3, trim_quiet=0))
    _given_history(first_try, detector._history)
    assert first_try._window_sums(115, 0, 0.5, 12)[0] == 2 * 4


def test_the_longest_windows_can_be_left_untrimmed() -> None:
    # Given a bucket cap for windows of at most an hour
    detector = VolumeDetector(options=DetectorOptions(trim_runs=0, trim_longest=60))
    _given_history(detector, [(i, 2, 0.5) for i in range(100, 147)])
    # When a spike of 30 is summed in the hour's and in the 4-hour window
    # Then the hour counts it 4, the longer window whole
    assert detector._window_sums(147, 30, 0.5, 12)[0] == 11 * 2 + 4
    assert detector._window_sums(147, 30, 0.5, 48)[0] == 47 * 2 + 30


def test_the_shipped_detector_caps_a_short_ended_spike_and_reports_the_whole_count() -> None:
    # Given the shipped detector after eight days of 3-5 mentions a bucket
    detector = VolumeDetector()
    for i in range(288 * 8):
        detector.observe(T0 + i * BUCKET, 3 + (i // 12) % 3)
    assert not detector.warming_up
    now = T0 + 288 * 8 * BUCKET
    # When one bucket spikes to 200, then three buckets are empty (well below the cap)
    spike = detector.observe(now, 200)
    calm = [detector.observe(now + i * BUCKET, 0) for i in range(1, 4)][-1]
    # Then a long window judges the spike capped (at 4x a bucket's expected count, ~16)
    assert calm.window_minutes is not None
    assert calm.window_minutes >= 60
    assert calm.window_judged is not None
    assert calm.window_count - calm.window_judged > 150
    # And the count reported is the whole one, the capped one beside it
    assert calm.reason.startswith(
        f"{calm.window_count} mentions in {calm.window_minutes} min "
        f"(counted as {calm.window_judged}: short spikes capped)"
    )
    # While the spike's own bucket (a run still under way) was judged whole
    assert spike.window_judged is None
    assert spike.severity >= 1


def test_the_quick_sum_without_stored_spikes_judges_as_the_run_walk_does() -> None:
    # Given two shipped detectors over the same eight days of a sparse series with short
    # spikes, one of which always walks the runs (it believes a spike is stored)
    import random

    rng = random.Random(7)
    counts = [rng.choice((0, 0, 0, 1, 1, 2, 3)) for _ in range(8 * 288)]
    for start in range(100, len(counts), 157):
        spike = rng.randint(1, 4)
        counts[start : start + spike] = [rng.randint(8, 25)] * spike
    quick, walking = VolumeDetector(), VolumeDetector()
    walking._above_cap = lambda value, mean: True  # type: ignore[method-assign]
    quick_sums = capped = 0
    for i, count in enumerate(counts):
        moment = T0 + i * BUCKET
        quick_sums += quick._spikes_in_history == 0
        # When each bucket is judged
        judged = quick.observe(moment, count)
        # Then both judge it the same, and the count of stored spikes is what it says
        assert judged == walking.observe(moment, count), i
        assert quick._spikes_in_history == sum(quick._above_cap(c, e) for _, c, e in quick._history)
        capped += judged.window_judged is not None
    # ...over buckets judged by the quick sum and buckets whose spikes were capped
    assert quick_sums > 200
    assert capped > 100
