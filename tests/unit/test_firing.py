"""The alert-start rule: when alerts start, escalate and resolve, with cooldown and repeats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from stormwatch.config.alerts import FiringRuleParams
from stormwatch.config.fields import config_error
from stormwatch.warn.firing import (
    FiringEvent,
    FiringEventKind,
    FiringPhase,
    FiringRule,
)
from tests.helpers import examples

T0 = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
BUCKET = timedelta(minutes=5)
STARTED, ESCALATED, RESOLVED, REKINDLED = (
    FiringEventKind.STARTED,
    FiringEventKind.ESCALATED,
    FiringEventKind.RESOLVED,
    FiringEventKind.REKINDLED,
)


@dataclass(frozen=True)
class Judged:
    """The part of a detector assessment the rule reads."""

    bucket_start: datetime
    severity: int
    bucket_minutes: int = 5
    stale: bool = False
    window_minutes: int | None = None
    window_severities: tuple[tuple[int, int], ...] = ()


def windows(at: datetime, short: int, long: int) -> Judged:
    """A bucket judged on a 15-minute and a 12-hour window."""
    return Judged(
        at,
        max(short, long),
        window_minutes=15 if short >= long else 720,
        window_severities=((15, short), (720, long)),
    )


def run(
    severities: list[int], rule: FiringRule | None = None, start: datetime = T0
) -> list[tuple[int, FiringEventKind, int]]:
    """(bucket number, kind, severity) of every event over consecutive buckets."""
    rule = rule or FiringRule()
    events = []
    for i, severity in enumerate(severities):
        event = rule.step(Judged(start + i * BUCKET, severity))
        if event is not None:
            events.append((i, event.kind, event.severity))
    return events


def test_an_alert_starts_on_the_first_unusual_bucket() -> None:
    # Given a quiet series, when one bucket is unusual
    events = run([0, 0, 1, 0])
    # Then an alert starts there
    assert events == [(2, STARTED, 1)]


def test_confirmation_needs_consecutive_buckets() -> None:
    # Given a rule that wants three unusual buckets in a row
    rule = FiringRule(FiringRuleParams(confirm_buckets=3))
    # When two unusual buckets are interrupted, then three follow
    events = run([1, 1, 0, 1, 1, 2], rule)
    # Then it fires on the third of the unbroken run
    assert events == [(5, STARTED, 2)]


def test_a_gap_in_the_buckets_breaks_the_confirmation() -> None:
    rule = FiringRule(FiringRuleParams(confirm_buckets=2))
    assert rule.step(Judged(T0, 1)) is None
    assert rule.phase is FiringPhase.PENDING
    # A bucket 20 minutes later is not the next one: the run starts again
    assert rule.step(Judged(T0 + 4 * BUCKET, 1)) is None
    event = rule.step(Judged(T0 + 5 * BUCKET, 1))
    assert event is not None
    assert event.kind is STARTED


def test_rising_severity_escalates_once_per_level() -> None:
    events = run([1, 2, 2, 1, 3, 3, 2])
    assert events == [(0, STARTED, 1), (1, ESCALATED, 2), (4, ESCALATED, 3)]


def test_an_alert_resolves_after_an_hour_of_normal() -> None:
    # Given an alert at bucket 0, unusual again at bucket 5
    severities = [2, 0, 0, 0, 0, 1] + [0] * 13
    events = run(severities)
    # Then it resolves 60 minutes after the last unusual bucket, reporting the peak
    assert events == [(0, STARTED, 2), (17, RESOLVED, 2)]


def test_a_spike_alert_resolves_on_the_short_windows_while_the_long_one_remembers() -> None:
    # Given an alert raised by a 15-minute spike, whose 12-hour window stays unusual
    rule = FiringRule()
    spike = [windows(T0 + i * BUCKET, 3, 3) for i in range(6)]
    after = [windows(T0 + (6 + i) * BUCKET, 0, 3) for i in range(20)]
    events = [(i, e.kind) for i, j in enumerate(spike + after) if (e := rule.step(j))]
    # Then it resolves an hour after the short window calmed down, not 12 hours later
    assert events == [(0, STARTED), (17, RESOLVED)]


def test_after_resolving_the_long_windows_memory_starts_no_new_alert() -> None:
    # Given a resolved spike alert; the 12-hour window is still unusual for hours
    # (no reopen window: a spike within a day would reopen the same alert, test_episode)
    rule = FiringRule(FiringRuleParams(cooldown_minutes=0, reopen_minutes=0))
    judged = [windows(T0 + i * BUCKET, 3 if i < 6 else 0, 3) for i in range(200)]
    kinds = [e.kind for j in judged if (e := rule.step(j))]
    assert kinds == [STARTED, RESOLVED]
    # When a fresh spike comes while the long window still remembers the first one
    event = rule.step(windows(T0 + 200 * BUCKET, 2, 3))
    # Then that is a new alert
    assert event is not None
    assert event.kind is STARTED


def test_a_slow_burn_alert_is_held_by_the_window_that_raised_it() -> None:
    # Given an alert raised by the 12-hour window alone
    rule = FiringRule()
    judged = [windows(T0 + i * BUCKET, 0, 1 if i < 30 else 0) for i in range(50)]
    events = [(i, e.kind) for i, j in enumerate(judged) if (e := rule.step(j))]
    # Then it resolves an hour after that window is normal again
    assert events == [(0, STARTED), (41, RESOLVED)]


def test_cooldown_holds_back_a_flapping_series() -> None:
    # Given an alert that resolved
    rule = FiringRule(
        FiringRuleParams(resolve_after_minutes=10, cooldown_minutes=60, reopen_minutes=0)
    )
    events = run([1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], rule)
    # Then the same severity within the hour does not page again, but after it does
    assert [kind for _, kind, _ in events] == [STARTED, RESOLVED, STARTED]
    assert events[-1][0] == 14


def test_a_worse_episode_breaks_through_the_cooldown() -> None:
    rule = FiringRule(
        FiringRuleParams(resolve_after_minutes=10, cooldown_minutes=600, reopen_minutes=0)
    )
    events = run([1, 0, 0, 1, 3], rule)
    assert events == [(0, STARTED, 1), (2, RESOLVED, 1), (4, STARTED, 3)]


def test_judging_the_same_bucket_again_sends_nothing_twice() -> None:
    # Given a rule that started an alert on a bucket
    rule = FiringRule()
    first = rule.step(Judged(T0, 2))
    # When the evaluator judges that bucket again (every minute while it fills)
    again = [rule.step(Judged(T0, 2)) for _ in range(3)]
    # Then only the first call started anything
    assert first is not None
    assert first.kind is STARTED
    assert again == [None, None, None]


def test_a_filling_bucket_that_becomes_unusual_starts_the_alert() -> None:
    rule = FiringRule(FiringRuleParams(confirm_buckets=2))
    assert rule.step(Judged(T0, 1)) is None
    assert rule.step(Judged(T0 + BUCKET, 0)) is None
    # The second bucket fills up and becomes unusual on a later evaluation
    event = rule.step(Judged(T0 + BUCKET, 1))
    assert event is not None
    assert event.kind is STARTED


def test_stale_and_older_assessments_are_ignored() -> None:
    rule = FiringRule()
    rule.step(Judged(T0 + 3 * BUCKET, 0))
    assert rule.step(Judged(T0, 3, stale=True)) is None
    assert rule.step(Judged(T0 + BUCKET, 3)) is None
    assert rule.phase is FiringPhase.IDLE


@pytest.mark.parametrize(
    "change",
    [{"confirm_buckets": 0}, {"resolve_after_minutes": 0}, {"cooldown_minutes": -1}],
)
def test_bad_parameters_name_the_key(change: dict[str, int]) -> None:
    (key,) = change
    with pytest.raises(ValidationError) as caught:
        FiringRuleParams(**change)
    assert config_error(caught.value, "alerts.lifecycle").key == f"alerts.lifecycle.{key}"


def test_malformed_state_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="malformed"):
        FiringRule.from_state({"version": 1})


# ------------------------------------------------------------------ properties

steps = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.booleans()),
    min_size=1,
    max_size=120,
)
params = st.builds(
    FiringRuleParams,
    confirm_buckets=st.integers(1, 3),
    resolve_after_minutes=st.sampled_from([5, 15, 60]),
    cooldown_minutes=st.sampled_from([0, 30, 360]),
    reopen_minutes=st.sampled_from([0, 60, 1440]),
)


def _stream(raw: list[tuple[int, int, bool]]) -> list[Judged]:
    """Buckets with gaps (0 = the same bucket again) and any severities."""
    moment = T0
    judged = []
    for gap, severity, stale in raw:
        moment += gap * BUCKET
        judged.append(Judged(moment, severity, stale=stale and gap == 0))
    return judged


@settings(max_examples=examples(150), deadline=None)
@given(raw=steps, rule_params=params)
def test_alerts_never_overlap_and_respect_the_cooldown(
    raw: list[tuple[int, int, bool]], rule_params: FiringRuleParams
) -> None:
    rule = FiringRule(rule_params)
    events: list[FiringEvent] = []
    for judged in _stream(raw):
        event = rule.step(judged)
        if event is not None:
            events.append(event)
    firing = False
    severity = 0
    resolved: FiringEvent | None = None
    for event in events:
        if event.kind is REKINDLED:
            # Only a resolved alert reopens, under its own start, at its peak or above
            assert not firing
            assert resolved is not None
            assert rule_params.reopen_minutes
            assert event.at - resolved.at < timedelta(minutes=rule_params.reopen_minutes)
            assert event.started_at == resolved.started_at
            firing, severity = True, max(event.severity, resolved.severity)
        elif event.kind is STARTED:
            # Never two starts without a resolve in between
            assert not firing
            if resolved is not None and event.at - resolved.at < timedelta(
                minutes=rule_params.cooldown_minutes
            ):
                # Within the cooldown only a more severe episode starts
                assert event.severity > resolved.severity
            firing, severity = True, event.severity
        elif event.kind is ESCALATED:
            assert firing
            assert event.severity > severity
            severity = event.severity
        else:
            assert firing
            assert event.severity == severity
            firing, resolved = False, event
    assert firing == (rule.phase is FiringPhase.FIRING)


@settings(max_examples=examples(100), deadline=None)
@given(raw=steps, split=st.integers(0, 120), rule_params=params)
def test_state_round_trip_gives_the_same_events(
    raw: list[tuple[int, int, bool]], split: int, rule_params: FiringRuleParams
) -> None:
    stream = _stream(raw)
    original = FiringRule(rule_params)
    for judged in stream[:split]:
        original.step(judged)
    restored = FiringRule.from_state(json.loads(json.dumps(original.to_state())), rule_params)
    for judged in stream[split:]:
        assert original.step(judged) == restored.step(judged)
    assert original.to_state() == restored.to_state()
