"""The alert lifecycle: who hears what, once, in order."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stormwatch.config.alerts import (
    AlertSettings,
    EscalationPolicy,
    EscalationStep,
    FiringRuleParams,
)
from stormwatch.warn.lifecycle import (
    ESCALATION,
    ON_CALL,
    OPS,
    TEAM,
    BlindMonitor,
    BrandLifecycle,
    Dispatch,
)
from stormwatch.warn.vocabulary import AlertEvent, Finding, Rule
from tests.helpers import examples

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
BUCKET = 5
SETTINGS = AlertSettings(
    lifecycle=FiringRuleParams(confirm_buckets=1, resolve_after_minutes=60, cooldown_minutes=360),
    escalation=EscalationPolicy(
        steps=(
            EscalationStep(after_minutes=15, notify="on_call"),
            EscalationStep(after_minutes=30, notify="escalation"),
        ),
        repeat=2,
    ),
)


def _finding(severity: int) -> list[Finding]:
    if severity == 0:
        return []
    return [Finding(Rule.VOLUME, "ALL", severity, 100, 10, 15, "10x usual")]


class Run:
    """A lifecycle driven minute by minute, its state saved and reloaded every time."""

    def __init__(self, **lifecycle: int) -> None:
        self.state: dict[str, object] | None = None
        self.sent: list[Dispatch] = []
        self.settings = SETTINGS.model_copy(
            update={"lifecycle": SETTINGS.lifecycle.model_copy(update=lifecycle)}
        )

    def minute(self, now: datetime, severity: int, count: int = 0) -> list[Dispatch]:
        lifecycle = BrandLifecycle("acme", self.settings, self.state)
        bucket = now - timedelta(minutes=now.minute % BUCKET, seconds=now.second)
        dispatches = lifecycle.evaluate(bucket, BUCKET, now, _finding(severity), count)
        self.state = lifecycle.to_state()
        self.sent.extend(dispatches)
        return dispatches

    def acknowledge(self, by: str, at: datetime) -> None:
        lifecycle = BrandLifecycle("acme", self.settings, self.state)
        assert lifecycle.alert is not None
        lifecycle.acknowledge(lifecycle.alert.id, by, at)
        self.state = lifecycle.to_state()

    def kinds(self) -> list[str]:
        return [f"{d.kind.value}:{d.severity}" for d in self.sent]


def test_a_storm_at_night_pages_escalates_and_ends() -> None:
    # Given a warning that turns critical at 03:10 on a Sunday, nobody answering for 20 min
    run = Run()
    for minute in range(0, 10):
        run.minute(T0 + timedelta(minutes=minute), 2, count=50)
    for minute in range(10, 20):
        run.minute(T0 + timedelta(minutes=minute), 3, count=300)
    started, escalated = run.sent[0], run.sent[1]
    # Then the alert went to the team and whoever is on call, then also to escalation
    assert (started.kind, started.audience) == (AlertEvent.STARTED, (TEAM, ON_CALL))
    assert (escalated.kind, escalated.audience) == (
        AlertEvent.ESCALATED,
        (TEAM, ON_CALL, ESCALATION),
    )
    # And at 15 minutes unacknowledged, the first escalation step paged on-call again
    reminder = [d for d in run.sent if d.kind is AlertEvent.REMINDER]
    assert [d.key.split(":")[1] for d in reminder] == ["reminder-1.1"]
    assert reminder[0].audience == (TEAM, "on_call")
    # When someone acknowledges / Then the team hears it and escalation stops
    run.acknowledge("anna", T0 + timedelta(minutes=20))
    for minute in range(20, 60):
        run.minute(T0 + timedelta(minutes=minute), 3, count=300)
    assert run.kinds().count("acknowledged:3") == 1
    assert len([d for d in run.sent if d.kind is AlertEvent.REMINDER]) == 1
    # When it is quiet for an hour / Then everyone who was told hears it is over, once
    for minute in range(60, 200):
        run.minute(T0 + timedelta(minutes=minute), 0, count=3)
    resolved = [d for d in run.sent if d.kind is AlertEvent.RESOLVED]
    assert len(resolved) == 1
    assert resolved[0].audience == (TEAM, ON_CALL, ESCALATION)
    state = BrandLifecycle("acme", SETTINGS, run.state)
    assert state.alert is None
    assert state.episodes[-1]["peak_count"] == 300
    assert state.episodes[-1]["acknowledged_by"] == "anna"


def test_the_phones_paged_during_an_alert_are_remembered_for_back_to_normal() -> None:
    # Given an alert whose SMS went to the night's phone, then to the escalation's
    run = Run()
    run.minute(T0, 2, count=50)
    for phones in (["+4915100000001"], ["+4915100000001", "+4916000000002"]):
        lifecycle = BrandLifecycle("acme", SETTINGS, run.state)
        lifecycle.note_paged(phones)
        run.state = lifecycle.to_state()
    # When it is over, an hour later (the state saved and read back every minute)
    for minute in range(5, 120, 5):
        run.minute(T0 + timedelta(minutes=minute), 0, count=3)
    # Then "back to normal" names each of them once, in the order they were paged
    (resolved,) = [d for d in run.sent if d.kind is AlertEvent.RESOLVED]
    assert resolved.paged == ("+4915100000001", "+4916000000002")
    # and nothing is noted once no alert is open
    lifecycle = BrandLifecycle("acme", SETTINGS, run.state)
    lifecycle.note_paged(["+4917000000003"])
    assert lifecycle.alert is None


def test_a_watch_alert_emails_and_never_pages() -> None:
    run = Run()
    for minute in range(0, 120):
        run.minute(T0 + timedelta(minutes=minute), 1)
    assert run.sent[0].audience == (TEAM,)
    assert not [d for d in run.sent if d.kind is AlertEvent.REMINDER]


def test_a_flapping_series_does_not_page_again_and_again() -> None:
    # Given a warning that resolves, then flaps back at the same level within the cooldown
    run = Run()
    for minute in range(0, 10):
        run.minute(T0 + timedelta(minutes=minute), 2)
    for minute in range(10, 80):
        run.minute(T0 + timedelta(minutes=minute), 0)
    for cycle in range(4):
        base = 80 + cycle * 40
        for minute in range(base, base + 5):
            run.minute(T0 + timedelta(minutes=minute), 2)
        for minute in range(base + 5, base + 40):
            run.minute(T0 + timedelta(minutes=minute), 0)
    # Then only the first episode was announced: the flap reopened the same alert for the
    # team (decision 0018), which has not been quiet for an hour since
    assert run.kinds().count("started:2") == 1
    assert run.kinds().count("rekindled:2") == 1
    assert len({d.alert_id for d in run.sent}) == 1
    # And a more severe one breaks through: the same alert escalates and pages again
    run.minute(T0 + timedelta(minutes=300), 3)
    assert run.kinds()[-1] == "escalated:3"
    assert run.sent[-1].opens
    assert ON_CALL in run.sent[-1].audience


def test_without_a_reopen_window_the_cooldown_holds_a_flapping_series_back() -> None:
    # Given no reopen window (reopen_minutes 0): a warning that resolves, then flaps back
    run = Run(reopen_minutes=0)
    for minute in range(0, 80):
        run.minute(T0 + timedelta(minutes=minute), 2 if minute < 10 else 0)
    for minute in range(80, 120):
        run.minute(T0 + timedelta(minutes=minute), 2 if minute < 85 else 0)
    # Then the flap within the cooldown starts nothing; a more severe one is a new alert
    run.minute(T0 + timedelta(minutes=300), 3)
    assert [k for k in run.kinds() if not k.startswith("reminder")] == [
        "started:2",
        "resolved:2",
        "started:3",
    ]


def test_evaluating_the_same_minute_twice_sends_nothing_twice() -> None:
    # Given a critical storm evaluated minute by minute, each minute twice
    run = Run()
    for minute in range(0, 40):
        now = T0 + timedelta(minutes=minute)
        run.minute(now, 3)
        # Then the second evaluation of a minute sends nothing
        assert run.minute(now, 3) == []
    # And the first ones sent the alert and its escalation steps, each once
    assert {"started:3", "reminder:3"} <= set(run.kinds())
    assert len({d.key for d in run.sent}) == len(run.sent)


def test_a_blind_channel_goes_to_ops_and_its_recovery_too() -> None:
    monitor = BlindMonitor()
    failing = [Finding(Rule.FAILING, "x", 1, 6, None, 30, "6 polls in a row failed")]
    first = monitor.evaluate(T0, failing)
    again = BlindMonitor(monitor.to_state()).evaluate(T0 + timedelta(minutes=1), failing)
    recovered = monitor.evaluate(T0 + timedelta(minutes=30), [])
    assert [(d.kind, d.audience, d.channel) for d in first] == [(AlertEvent.BLIND, (OPS,), "x")]
    assert again == []
    assert [d.kind for d in recovered] == [AlertEvent.BLIND_RESOLVED]


@settings(max_examples=examples(150), deadline=None)
@given(
    severities=st.lists(st.integers(0, 3), min_size=1, max_size=160),
    repeats=st.lists(st.booleans(), min_size=160, max_size=160),
    acknowledge_at=st.one_of(st.none(), st.integers(0, 159)),
)
def test_lifecycle_properties(
    severities: list[int], repeats: list[bool], acknowledge_at: int | None
) -> None:
    # Given any severity sequence (one per minute), some minutes evaluated twice, maybe an ack
    run = Run()
    acknowledged_minute: int | None = None
    for minute, severity in enumerate(severities):
        now = T0 + timedelta(minutes=minute)
        if minute == acknowledge_at:
            lifecycle = BrandLifecycle("acme", SETTINGS, run.state)
            if lifecycle.alert is not None:
                run.acknowledge("ben", now)
                acknowledged_minute = minute
        run.minute(now, severity)
        if repeats[minute]:
            run.minute(now, severity)
    # And a quiet tail long enough for anything open to resolve
    end = len(severities)
    for minute in range(end, end + 130):
        run.minute(T0 + timedelta(minutes=minute), 0)

    # Then no dispatch is ever produced twice
    keys = Counter(d.key for d in run.sent)
    assert all(count == 1 for count in keys.values()), keys.most_common(3)
    # And every alert that started resolved exactly once, after its start
    by_alert: dict[str, list[Dispatch]] = {}
    for dispatch in run.sent:
        by_alert.setdefault(dispatch.alert_id, []).append(dispatch)
    for alert_id, dispatches in by_alert.items():
        kinds = [d.kind for d in dispatches]
        assert kinds[0] is AlertEvent.STARTED, alert_id
        assert kinds.count(AlertEvent.STARTED) == 1
        assert kinds.count(AlertEvent.RESOLVED) == 1
        assert kinds[-1] is AlertEvent.RESOLVED
        # And escalation steps come in the policy's order, only while unacknowledged
        steps = [d.key.rsplit("-", 1)[1] for d in dispatches if d.kind is AlertEvent.REMINDER]
        assert steps == sorted(steps, key=lambda s: tuple(int(p) for p in s.split(".")))
        acknowledged = [d for d in dispatches if d.kind is AlertEvent.ACKNOWLEDGED]
        if acknowledged:
            after = [
                d for d in dispatches if d.kind is AlertEvent.REMINDER and d.at > acknowledged[0].at
            ]
            assert not after
        if all(d.severity < 2 for d in dispatches):
            assert AlertEvent.REMINDER not in kinds
    if acknowledged_minute is not None:
        assert any(d.kind is AlertEvent.ACKNOWLEDGED for d in run.sent)


def test_the_names_already_stored_still_read_as_the_same_events_and_rules() -> None:
    # Given the names stored before the vocabulary was shared: in lifecycle and blind state,
    # in outbox keys (<alert id>:reminder-1.2) and in the `kind` attribute SNS filters on
    events = ["started", "escalated", "reminder", "acknowledged", "resolved", "blind"]
    crisis_rules = ["volume", "negative share", "static threshold", "velocity"]
    # Then each still reads as what it meant
    assert [AlertEvent(name).name for name in [*events, "blind_resolved"]] == [
        "STARTED", "ESCALATED", "REMINDER", "ACKNOWLEDGED", "RESOLVED", "BLIND", "BLIND_RESOLVED",
    ]  # fmt: skip
    assert not any(Rule(name).blind for name in crisis_rules)
    assert all(Rule(name).blind for name in ["silent source", "failing poller"])
