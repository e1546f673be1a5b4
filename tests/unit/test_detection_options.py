"""The experimental options of issue 12 (decision 0017): off by default, and what each does."""

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
from stormwatch.warn.firing import EpisodeOptions, FiringEventKind, FiringRule
from tests.unit.test_firing import Judged

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
    assert "episode_last" not in FiringRule().to_state()
    assert "episode_last" in FiringRule(episode=EpisodeOptions(reopen_minutes=60)).to_state()


def events(rule: FiringRule, severities: list[int]) -> list[tuple[int, FiringEventKind]]:
    found = []
    for i, severity in enumerate(severities):
        event = rule.step(Judged(T0 + i * BUCKET, severity))
        if event is not None:
            found.append((i, event.kind))
    return found


# A burst (resolved at bucket 13, after an hour of calm), a rekindled burst at 2 h 10 min
# (bucket 26), and a third at bucket 86: 6 h 5 min after the resolve, 5 h after the second.
REKINDLED = [1, 1] + [0] * 24 + [1] + [0] * 59 + [1]


def test_the_shipped_rule_lets_the_cooldown_end_the_episode() -> None:
    found = events(FiringRule(), REKINDLED)
    assert [i for i, kind in found if kind is FiringEventKind.STARTED] == [0, 86]


def test_a_reopen_window_merges_a_storm_that_rekindles_into_its_episode() -> None:
    rule = FiringRule(episode=EpisodeOptions(reopen_minutes=6 * 60))
    found = events(rule, REKINDLED)
    # Each burst extends the episode: the third comes 5 h after the second, within 6 h.
    assert [i for i, kind in found if kind is FiringEventKind.STARTED] == [0]


def test_a_worse_rekindle_may_still_start_an_alert() -> None:
    severities = [1, 1] + [0] * 24 + [2]
    merged = events(FiringRule(episode=EpisodeOptions(reopen_minutes=360)), severities)
    worse = events(
        FiringRule(episode=EpisodeOptions(reopen_minutes=360, reopen_escalates=True)), severities
    )
    assert [i for i, kind in merged if kind is FiringEventKind.STARTED] == [0]
    assert [i for i, kind in worse if kind is FiringEventKind.STARTED] == [0, 26]
