"""The episode (decision 0018): a storm that flares up again within a day of its last
unusual bucket reopens the same alert: an update for the team, a page only when worse."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from stormwatch.act.timeline import Step, alert_timeline
from stormwatch.config.alerts import FiringRuleParams
from stormwatch.notify import EMAIL, SMS_TOPIC
from stormwatch.persistence.timeline import OutboxMessage
from stormwatch.review.report import CrisisReport, crisis_report
from stormwatch.warn.firing import FiringEventKind, FiringRule
from stormwatch.warn.lifecycle import ON_CALL, TEAM, BrandLifecycle, Dispatch
from stormwatch.warn.messages import email, sms
from stormwatch.warn.route import routes
from stormwatch.warn.vocabulary import AlertEvent
from tests.unit.test_firing import Judged
from tests.unit.test_lifecycle import SETTINGS, T0, Run, _finding
from tests.unit.test_messages import notice

MINUTE = timedelta(minutes=1)


def storm(run: Run, start: int, minutes: int, severity: int, quiet: int = 90) -> None:
    """`minutes` of `severity` from minute `start`, then `quiet` calm minutes, 5 at a time."""
    for minute in range(start, start + minutes, 5):
        run.minute(T0 + minute * MINUTE, severity, count=100 * severity)
    for minute in range(start + minutes, start + minutes + quiet, 5):
        run.minute(T0 + minute * MINUTE, 0, count=3)


def of(run: Run, kind: AlertEvent) -> list[Dispatch]:
    return [d for d in run.sent if d.kind is kind]


def test_a_rekindle_within_a_day_reopens_the_same_alert_as_an_update_for_the_team() -> None:
    # Given a warning that resolved ("back to normal")
    run = Run()
    storm(run, 0, 20, 2)
    assert [d.kind for d in run.sent if d.kind is not AlertEvent.REMINDER] == [
        AlertEvent.STARTED,
        AlertEvent.RESOLVED,
    ]
    # When the storm flares up again at the same level 10 hours later
    storm(run, 10 * 60, 20, 2)
    # Then the same alert reopened: the team hears it, nobody is paged, no new alert
    rekindled = of(run, AlertEvent.REKINDLED)
    assert len(rekindled) == 1
    assert rekindled[0].alert_id == of(run, AlertEvent.STARTED)[0].alert_id
    assert (rekindled[0].audience, rekindled[0].quiet, rekindled[0].opens) == ((TEAM,), True, False)
    assert len(of(run, AlertEvent.STARTED)) == 1
    assert [route.medium for route in routes(rekindled[0], None, T0)] == [EMAIL]
    # And its second "back to normal" is a message of its own, for the team only
    resolved = of(run, AlertEvent.RESOLVED)
    assert [d.key.split(":")[1] for d in resolved] == ["resolved", "resolved-r1"]
    assert resolved[1].audience == (TEAM,)
    # And no reminder pages anyone about the reopened alert
    assert all(":reminder-r" not in d.key for d in run.sent)
    closed = BrandLifecycle("acme", SETTINGS, run.state).episodes
    assert [(e["id"], e["rekindles"]) for e in closed] == [(rekindled[0].alert_id, 1)]


def test_a_worse_rekindle_pages_on_call_and_restarts_the_escalation() -> None:
    # Given a watch-level episode that resolved
    run = Run()
    storm(run, 0, 20, 1)
    # When it comes back as a warning 3 hours later and nobody acknowledges
    storm(run, 3 * 60, 40, 2, quiet=0)
    # Then the same alert reopened as a page: on call hears it and it counts as a new one
    [rekindled] = of(run, AlertEvent.REKINDLED)
    assert rekindled.alert_id == of(run, AlertEvent.STARTED)[0].alert_id
    assert (rekindled.audience, rekindled.opens, rekindled.previous_severity) == (
        (TEAM, ON_CALL),
        True,
        1,
    )
    assert SMS_TOPIC in [route.medium for route in routes(rekindled, None, T0)]
    # And the escalation policy runs again from the rekindle (15 minutes later)
    reminders = of(run, AlertEvent.REMINDER)
    assert [d.key.split(":")[1] for d in reminders][:2] == ["reminder-r1-1.1", "reminder-r1-1.2"]
    assert reminders[0].at == T0 + (3 * 60 + 15) * MINUTE
    # And a further rise of the paged alert escalates it without starting the policy over
    storm(run, 3 * 60 + 40, 5, 3, quiet=0)
    assert [d.kind for d in run.sent[-1:]] == [AlertEvent.ESCALATED]
    assert not run.sent[-1].opens
    assert len({d.key for d in run.sent}) == len(run.sent)


def test_a_quiet_rekindle_that_grows_worse_than_its_peak_pages_again() -> None:
    # Given a warning that resolved and came back as a watch (the team's update)
    run = Run()
    storm(run, 0, 20, 2)
    storm(run, 5 * 60, 10, 1, quiet=0)
    # When the reopened alert turns critical
    run.minute(T0 + (5 * 60 + 10) * MINUTE, 3, count=400)
    # Then that escalation pages on call again
    escalated = run.sent[-1]
    assert (escalated.kind, escalated.severity, escalated.opens) == (AlertEvent.ESCALATED, 3, True)
    assert ON_CALL in escalated.audience


def test_after_a_day_of_quiet_a_new_storm_is_a_new_alert() -> None:
    # Given an episode whose last unusual bucket is 24 hours and 5 minutes ago
    run = Run()
    storm(run, 0, 20, 2)
    last_unusual = 15
    # When a storm comes then
    storm(run, last_unusual + 24 * 60 + 5, 20, 2)
    # Then it is a new alert with an id of its own, not a rekindle
    started = of(run, AlertEvent.STARTED)
    assert len(started) == 2
    assert started[0].alert_id != started[1].alert_id
    assert not of(run, AlertEvent.REKINDLED)


def test_each_rekindle_extends_the_window() -> None:
    # Given bursts 20 hours apart, for three days
    rule = FiringRule(FiringRuleParams(resolve_after_minutes=60))
    kinds = []
    for burst in range(4):
        start = T0 + burst * timedelta(hours=20)
        for i in range(16):
            event = rule.step(Judged(start + i * 5 * MINUTE, 2 if i < 2 else 0))
            if event is not None:
                kinds.append(event.kind)
    # Then it is one episode: started once, rekindled three times
    assert kinds.count(FiringEventKind.STARTED) == 1
    assert kinds.count(FiringEventKind.REKINDLED) == 3


def test_a_reopened_alert_survives_its_state_saved_and_read_back() -> None:
    # Given a reopened alert's lifecycle, saved as JSON and read back
    run = Run()
    storm(run, 0, 20, 2)
    storm(run, 4 * 60, 10, 2, quiet=0)
    saved = json.loads(json.dumps(run.state))
    restored = BrandLifecycle("acme", SETTINGS, saved)
    # Then it is the same open alert, rekindled once, and saves the same state again
    assert restored.alert is not None
    assert (restored.alert.rekindles, restored.alert.rekindled_at) == (1, T0 + 4 * 60 * MINUTE)
    assert restored.to_state() == saved


def test_state_stored_before_the_episode_still_loads() -> None:
    # Given a lifecycle stored by the previous version (firing state 2, no episode fields)
    old = {
        "firing": {
            "version": 2,
            "last_bucket": "2026-11-22T04:00:00+00:00",
            "streak_start": None,
            "streak_last": None,
            "firing_since": None,
            "severity": 0,
            "last_unusual": "2026-11-22T03:10:00+00:00",
            "resolved_at": "2026-11-22T04:10:00+00:00",
            "resolved_peak": 2,
            "trigger_minutes": None,
            "awaiting_calm": False,
        },
        "alert": None,
        "episodes": [
            {
                "id": "acme-20261122-0300",
                "started_at": "2026-11-22T03:00:00+00:00",
                "severity": 2,
                "peak_severity": 2,
                "peak_at": "2026-11-22T03:00:00+00:00",
                "resolved_at": "2026-11-22T04:10:00+00:00",
            }
        ],
    }
    lifecycle = BrandLifecycle("acme", SETTINGS, old)
    # When a storm comes after the cooldown, 8 hours later
    later = T0 + 8 * 60 * MINUTE
    dispatches = lifecycle.evaluate(later, 5, later, _finding(2), 200)
    # Then it starts an alert (that episode cannot reopen: its start was not kept)
    assert [d.kind for d in dispatches] == [AlertEvent.STARTED]
    assert lifecycle.to_state()["firing"]["version"] == 3


def test_the_rekindled_email_says_it_is_the_same_episode() -> None:
    # Given a rekindle not worse than the peak, and one worse
    quiet = notice(AlertEvent.REKINDLED, severity=2, previous_severity=3)
    worse = notice(AlertEvent.REKINDLED, severity=3, previous_severity=2)
    # Then the team's update says so and pages nobody; the worse one says it is worse
    assert email(quiet).subject.startswith("[REKINDLED]")
    assert "same episode" in email(quiet).body
    assert "nobody is paged" in email(quiet).body
    assert email(worse).subject.startswith("[CRITICAL]")
    assert "worse than before" in email(worse).body
    assert "Back, worse than watch" in sms(
        notice(AlertEvent.REKINDLED, severity=2, previous_severity=1)
    )


def test_the_timeline_and_report_of_a_reopened_alert_end_at_its_last_resolve() -> None:
    alert_id = "acme-20261122-0300"
    decided = [
        ("started", T0),
        ("resolved", T0 + 80 * MINUTE),
        ("rekindled-r1", T0 + 10 * 60 * MINUTE),
    ]
    messages = [OutboxMessage(event, event.split("-")[0], 2, at) for event, at in decided]
    record = {
        "id": alert_id,
        "started_at": T0.isoformat(),
        "severity": 2,
        "peak_severity": 2,
        "peak_at": T0.isoformat(),
        "rekindles": 1,
    }
    lifecycle = {"alert": record, "episodes": []}
    # When the reopened alert is still open, the report has it open
    steps = alert_timeline([], messages, lifecycle, alert_id)
    assert [s.kind for s in steps] == ["started", "resolved", "rekindled"]
    assert report(alert_id, steps, T0 + 11 * 60 * MINUTE).resolved_at is None
    # When it resolved again, the report ends at the last resolve
    closed = {**record, "resolved_at": (T0 + 12 * 60 * MINUTE).isoformat()}
    steps = alert_timeline([], messages, {"alert": None, "episodes": [closed]}, alert_id)
    assert [s.kind for s in steps] == ["started", "resolved", "rekindled", "resolved"]
    assert report(alert_id, steps, T0 + 13 * 60 * MINUTE).resolved_at == T0 + 12 * 60 * MINUTE


def report(alert_id: str, steps: list[Step], made_at: datetime) -> CrisisReport:
    return crisis_report(
        alert_id=alert_id,
        brand="acme",
        steps=steps,
        alerted_at=T0,
        first_abnormal_at=T0,
        series={},
        mentions=[],
        parked=[],
        made_at=made_at,
        bucket_minutes=5,
    )
