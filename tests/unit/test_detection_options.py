"""The experimental detector options of issue 12 (decision 0018): off by default, and what
each does. The episode (the reopen window) shipped: `test_episode.py`."""

from __future__ import annotations

import math
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
    # Given a detector that trims spikes at 4x the expected count (at least 4 mentions)
    detector = VolumeDetector(options=DetectorOptions(trim_spikes=4))
    detector._history.extend((i, 2, 0.5) for i in range(100, 111))
    # When an hour's window holds one spike of 30 among buckets of 2
    total, expected = detector._window_sums(111, 30, 0.5, 12)
    # Then the spike counts 4 in it; the 15-minute window keeps it whole
    assert (total, expected) == (11 * 2 + 4, 6.0)
    assert detector._window_sums(111, 30, 0.5, 3) == (34, 1.5)
    # And off (the shipped detector) nothing is trimmed
    assert VolumeDetector()._window_sums(111, 30, 0.5, 3) == (30, 0.5)


def test_trimming_only_isolated_runs_keeps_long_and_ongoing_bursts_whole() -> None:
    # Given a detector that caps only runs of at most 2 buckets above 4x the expected
    detector = VolumeDetector(options=DetectorOptions(trim_spikes=4, trim_runs=2))
    history = [2, 30, 2, 2, 30, 30, 30, 2, 2, 2, 2]  # a spike, then a 3-bucket burst
    detector._history.extend((100 + i, c, 0.5) for i, c in enumerate(history))
    # When the hour's window ends on a calm bucket / Then only the spike is capped
    assert detector._window_sums(111, 2, 0.5, 12) == (sum(history) - 30 + 4 + 2, 6.0)
    # And a spike still under way (the newest bucket) counts whole
    assert detector._window_sums(111, 30, 0.5, 12) == (sum(history) - 30 + 4 + 30, 6.0)
