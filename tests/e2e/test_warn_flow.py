"""The storm in the night, end to end on the local stack: who hears what, and when - on
any date.

Pollers and the evaluator run on their schedules (moto, fake channels, handlers
in-process) over the scenario's storm, after a quiet week of history; the person on
call acknowledges 20 minutes after their first SMS; then the storm dies down.
Everything asserted is what SNS delivered: per subscription (through each filter
policy) and per phone number.

No date is fixed. Each night is found from the run's clock: last weekend's storm; the
same story with the clock a year ahead; the storm in the night Berlin's clocks change
(it starts half an hour before the change, so the alert lives across it); and the storm
on the next 29 February. Who should be paged is worked out here from the example
roster's own words (`expected_on_call`), not asked of the code under test.

The evaluator is deployed to run every minute; here it runs every minute from ten
minutes into the storm until two minutes after the first SMS (when the alert starts and
who is paged is timed to the minute), and every five minutes, with the pollers, before and
after: the minutes in between decide nothing the tests look at, and each costs as much as
any other. The history is a week, not the demo's two: the baseline is trusted after three
days, and the first evaluation reads and learns all of it.
The nights share one deployment (`LocalStack.reset` between them); each night is a class,
so that `--dist loadscope` can give the nights to different workers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from local.demo import Firing, schedule_firings
from local.history import count_buckets, quiet_history
from local.iam import refused_calls
from local.localconfig import read_document
from local.scenario import Scenario, build_scenario, default_start, start_for_storm
from local.stack import LocalStack
from ops.cli import acknowledge
from stormwatch.config import CHANNELS, parse_config
from stormwatch.console.links import LINK
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.table import Table
from stormwatch.warn.messages import gsm7_length, ucs2_length
from tests.granted import assert_seen

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

TEAM_EMAIL = "stormwatch-dev-alerts email:oncall@stormwatch.example"
FALLBACK_SMS = "stormwatch-dev-alerts sms:+4915112345678"
OPS_EMAIL = "stormwatch-dev-ops email:oncall@stormwatch.example"
ROSTER = read_document()["roster"]
CONTACTS = {contact["id"]: contact for contact in read_document()["contacts"]}
BERLIN = ZoneInfo(ROSTER["time_zone"])
POLL_EVERY = timedelta(minutes=5)
ACKNOWLEDGE_AFTER = timedelta(minutes=20)


# --- the nights, found from the run's clock ---------------------------------------------------


@dataclass(frozen=True)
class Night:
    name: str
    clock: datetime  # the run's clock when it starts: stack, config and roster see it
    start: datetime  # the scenario's start; its storm begins 27 hours later


def last_weekend(now: datetime) -> Night:
    return Night("last weekend", now, default_start(now))


def a_year_ahead(now: datetime) -> Night:
    ahead = now + timedelta(days=365)
    return Night("a year ahead", ahead, default_start(ahead))


def clocks_change(now: datetime) -> Night:
    """The next time Berlin's clocks change; the storm begins half an hour before."""
    change = next_offset_change(now, BERLIN)
    return Night(
        "the night the clocks change", now, start_for_storm(change - timedelta(minutes=30))
    )


def leap_day(now: datetime) -> Night:
    """The storm at 03:00 UTC on the next 29 February."""
    year = now.year
    while not _is_leap(year) or datetime(year, 2, 29, 3, tzinfo=UTC) <= now:
        year += 1
    return Night("29 February", now, start_for_storm(datetime(year, 2, 29, 3, tzinfo=UTC)))


def next_offset_change(after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after `after` at which `zone`'s UTC offset changes (to the minute)."""
    day = after.replace(minute=0, second=0, microsecond=0)
    while (
        day.astimezone(zone).utcoffset() == (day + timedelta(days=1)).astimezone(zone).utcoffset()
    ):
        day += timedelta(days=1)
    moment = day
    while moment.astimezone(zone).utcoffset() == day.astimezone(zone).utcoffset():
        moment += timedelta(minutes=1)
    return moment


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# --- who should be paged: the example roster, read here ---------------------------------------


def expected_on_call(moment: datetime) -> str:
    """The contact id the example roster puts on call at `moment`: an override, else the
    desk in business hours on a working day that is no holiday, else the weekly rotation
    (handover Monday 09:00 local, in the listed order from its start date)."""
    local = moment.astimezone(BERLIN).replace(tzinfo=None)
    for override in ROSTER.get("overrides", []):
        if _wall(override["start"]) <= local < _wall(override["end"]):
            return str(override["contact"])
    holidays = {h if isinstance(h, str) else h["date"] for h in ROSTER.get("holidays", [])}
    hours = ROSTER["business_hours"]
    if (
        local.strftime("%a").lower() in hours["days"]
        and local.date().isoformat() not in holidays
        and time.fromisoformat(hours["start"]) <= local.time() < time.fromisoformat(hours["end"])
    ):
        return str(hours["contacts"][0])
    (rotation,) = ROSTER["rotations"]
    assert (rotation["cadence"], rotation["handover"]) == ("weekly", "mon 09:00"), rotation
    first = datetime.combine(date.fromisoformat(rotation["start_date"]), time(9, 0))
    assert first.weekday() == 0, "the example rotation starts on a Monday"
    weeks = (local - first) // timedelta(weeks=1)
    return str(rotation["order"][weeks % len(rotation["order"])])


def _wall(text: str) -> datetime:
    return datetime.fromisoformat(text)


def phone_of(contact: str) -> str:
    return str(CONTACTS[contact]["phone"])


DIETER = phone_of(ROSTER["escalation"][0])  # the escalation contact


# --- one night's run --------------------------------------------------------------------------


@dataclass
class Run:
    night: Night
    scenario: Scenario
    stack: LocalStack
    inbox: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sms: list[tuple[datetime, str, str]] = field(default_factory=list)
    events: list[tuple[datetime, str]] = field(default_factory=list)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    repeat_dispatched: list[str] = field(default_factory=list)
    evaluations: list[datetime] = field(default_factory=list)

    @property
    def storm(self) -> datetime:
        return self.scenario.storm_start

    def collect(self, moment: datetime) -> None:
        """The SMS sent so far, with the minute they went out. (The inbox is read once,
        at the end, after the simulated clock has stopped: see `_play`.)"""
        sent = self.stack.sms_sent()
        self.sms.extend((moment, phone, text) for phone, text in sent[len(self.sms) :])

    def first_sms(self) -> datetime | None:
        return next((moment for moment, _, _ in self.sms), None)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """One deployment for every night (each starts from `LocalStack.reset`)."""
    parameters = {"PollRate": "rate(5 minutes)", "EvaluateRate": "rate(1 minute)"}
    with (
        open(os.devnull, "w") as quiet,
        LocalStack(scenario=build_scenario(volume=0.01), parameters=parameters, log=quiet) as up,
    ):
        yield up


def _play(stack: LocalStack, night: Night) -> Run:
    scenario = build_scenario(volume=0.3, seed=21, start=night.start)
    storm = scenario.storm_start
    first_poll = storm - 2 * POLL_EVERY
    stack.reset(scenario)
    store = BucketStore(Table(stack.client("dynamodb"), stack.outputs["TableName"]))
    history = quiet_history(scenario.start, 7, volume=0.3, seed=21)
    # The first poll reads an hour back (initial_lookback_minutes): history stops there.
    lookback = timedelta(minutes=stack.config().initial_lookback_minutes)
    history.update(count_buckets(scenario, 5, until=first_poll - lookback))
    store.import_history(history)
    result = Run(night, scenario, stack)
    firings = schedule_firings(stack)
    (evaluator,) = [f for f in firings if f.function == "EvaluateAlertsFunction"]
    assert evaluator.every == timedelta(minutes=1)
    polls = [f for f in firings if f.function == "PollMentionsFunction"]
    assert {f.every for f in polls} == {POLL_EVERY}

    with time_machine.travel(first_poll, tick=False) as clock:
        moment = first_poll
        while moment <= _active_until(result):
            clock.move_to(moment)
            _tick(result, [*polls, evaluator], moment, first_poll)
            moment += timedelta(minutes=1)
        # The last minute evaluated, again (a redelivered schedule): nothing new is decided.
        again = result.evaluations[-1]
        clock.move_to(again)
        result.repeat_dispatched = stack.invoke("EvaluateAlertsFunction", _input(evaluator, again))[
            "dispatched"
        ]
        # Much later: the storm is over; pollers catch up, then the evaluator judges.
        later = storm + timedelta(hours=12)
        clock.move_to(later)
        for _ in range(6):
            stored = [
                stack.invoke("PollMentionsFunction", {"channel": channel})["stored"]
                for channel in CHANNELS
            ]
            if not any(stored):
                break
        for minute in range(3):
            moment = later + timedelta(minutes=minute)
            clock.move_to(moment)
            output = stack.invoke("EvaluateAlertsFunction", _input(evaluator, moment))
            result.events.extend((moment, key) for key in output["dispatched"])
            result.collect(moment)
    # What each subscription received, read now that the simulated clock has stopped: for
    # last weekend's storm, days after it was sent (SQS's default retention of four days,
    # measured on the real clock, used to drop it all by then).
    result.inbox = stack.received()
    return result


def _active_until(result: Run) -> datetime:
    """Until an hour and five minutes after the alert began (its escalation steps end
    after an hour), or two hours after the storm began if no alert started."""
    started = [moment for moment, key in result.events if key.endswith(":started")]
    if not started:
        return result.storm + timedelta(hours=2)
    return min(started[0] + timedelta(minutes=65), result.storm + timedelta(hours=2))


def _evaluates_now(result: Run, moment: datetime, first_poll: datetime) -> bool:
    """Every minute from ten minutes into the storm (no alert window is shorter than
    fifteen minutes) until two minutes after the first SMS; every five minutes, with the
    pollers, before and after."""
    if (moment - first_poll) % POLL_EVERY == timedelta(0):
        return True
    first_sms = result.first_sms()
    return moment >= result.storm + timedelta(minutes=10) and (
        first_sms is None or moment <= first_sms + timedelta(minutes=2)
    )


def _tick(result: Run, firings: list[Firing], moment: datetime, first_poll: datetime) -> None:
    stack = result.stack
    outputs = []
    for firing in firings:
        if firing.function == "EvaluateAlertsFunction":
            if not _evaluates_now(result, moment, first_poll):
                continue
            result.evaluations.append(moment)
        elif (moment - first_poll) % firing.every:
            continue
        outputs.append(stack.invoke(firing.function, _input(firing, moment)))
    for output in outputs:
        result.events.extend((moment, key) for key in output.get("dispatched", []))
    result.collect(moment)
    first_sms = result.first_sms()
    if result.acknowledged_at is None and first_sms and moment - first_sms >= ACKNOWLEDGE_AFTER:
        alert = next(k.split(":")[0] for _, k in result.events if k.startswith("nordwind"))
        # Whoever got the first SMS takes it, as the SMS says.
        person = CONTACTS[expected_on_call(first_sms)]["name"]
        acknowledge(stack.outputs["TableName"], alert, person, moment)
        result.acknowledged_at, result.acknowledged_by = moment, person


def _input(firing: Firing, moment: datetime) -> dict[str, Any]:
    """The schedule's input with its scheduled-time placeholder filled in, as the
    Scheduler sends it."""
    return {
        key: value.replace("<aws.scheduler.scheduled-time>", f"{moment:%Y-%m-%dT%H:%M:%SZ}")
        if isinstance(value, str)
        else value
        for key, value in firing.event.items()
    }


def _kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [message["attributes"]["kind"] for message in messages]


def _alert_id(run: Run) -> str:
    ids = {key.split(":")[0] for _, key in run.events if key.startswith("nordwind-air-")}
    assert len(ids) == 1, ids
    return ids.pop()


def _started_at(run: Run) -> datetime:
    """When the alert's episode began, as its id says (UTC)."""
    stamp = _alert_id(run).removeprefix("nordwind-air-")
    return datetime.strptime(stamp, "%Y%m%d-%H%M").replace(tzinfo=UTC)


# --- what every night must show ---------------------------------------------------------------


class WarnFlow:
    """The tests every night runs; a subclass per night says which night (`find_night`)."""

    @staticmethod
    def find_night(now: datetime) -> Night:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def run(cls, stack: LocalStack) -> Run:
        night = cls.find_night(datetime.now(UTC))
        with time_machine.travel(night.clock, tick=True):
            return _play(stack, night)

    def test_nothing_is_announced_before_the_storm_and_it_is_within_twenty_minutes(
        self, run: Run
    ) -> None:
        started = [moment for moment, key in run.events if key.endswith(":started")]
        assert started, run.events
        # Polled every 5 minutes (the template's PollRate): the storm is caught within 20
        assert run.storm <= started[0] <= run.storm + timedelta(minutes=20), started[0] - run.storm
        assert all(moment >= run.storm for moment, _ in run.events)
        first = run.inbox[TEAM_EMAIL][0]
        assert first["attributes"]["kind"] == "started"
        assert first["subject"].startswith(("[WATCH]", "[WARNING]", "[CRITICAL]"))
        assert len(first["subject"]) <= 100
        assert f"stormwatch ack {_alert_id(run)}" in first["message"]

    def test_the_alert_is_named_and_dated_in_utc_and_shown_in_the_rosters_time(
        self, run: Run
    ) -> None:
        # Given the alert's start, from its id (UTC)
        started = _started_at(run)
        assert run.storm <= started <= run.storm + timedelta(minutes=30)
        # Then the first email gives it in Berlin's time of that instant, with the zone's name
        # and UTC beside it (on the night the clocks change, the offset of that side)
        local = started.astimezone(BERLIN)
        day = f"{local.day} {local:%b %Y, %H:%M}"
        stamp = f"{day} {local.tzname()} ({started:%H:%M} UTC)"
        assert stamp in run.inbox[TEAM_EMAIL][0]["message"]

    def test_each_subscription_got_only_what_its_filter_lets_through(self, run: Run) -> None:
        # The team list gets every alert email, never an SMS text
        assert run.inbox[TEAM_EMAIL]
        assert all(m["attributes"]["channel"] == "email" for m in run.inbox[TEAM_EMAIL])
        assert {"started", "acknowledged", "resolved"} <= set(_kinds(run.inbox[TEAM_EMAIL]))
        # The fallback phone gets SMS texts of warnings and criticals only
        assert run.inbox[FALLBACK_SMS]
        for message in run.inbox[FALLBACK_SMS]:
            assert message["attributes"]["channel"] == "sms"
            assert int(message["attributes"]["severity"]) >= 2
        # Ops hear nothing about a storm (and monitoring was never blind here)
        assert run.inbox[OPS_EMAIL] == []

    def test_the_person_on_call_at_that_local_time_gets_the_sms_in_one_segment(
        self, run: Run
    ) -> None:
        # Given who the roster puts on call when the first SMS went out
        first_sms = run.first_sms()
        assert first_sms is not None
        on_call = phone_of(expected_on_call(first_sms))
        # Then the first SMS went to them, and every SMS fits one segment
        assert on_call in {phone for moment, phone, _ in run.sms if moment == first_sms}
        for _, _, text in run.sms:
            length = gsm7_length(text)
            assert (length is not None and length <= 160) or ucs2_length(text) <= 70, text

    def test_it_turns_critical_and_the_escalation_contact_is_paged_then(self, run: Run) -> None:
        # The scenario's storm turns critical: the dispatch key says so ("escalated") or the
        # alert started critical
        escalated = [m for m, key in run.events if key.endswith(":escalated-severity-3")]
        (started,) = [m for m, key in run.events if key.endswith(":started")]
        (announced,) = [e for e in run.inbox[TEAM_EMAIL] if e["attributes"]["kind"] == "started"]
        began_critical = [started] if announced["attributes"]["severity"] == "3" else []
        assert escalated or began_critical, run.events
        became_critical = min(escalated + began_critical)
        # ...and Dieter, the escalation contact, is paged by SMS that minute
        assert any(phone == DIETER and moment == became_critical for moment, phone, _ in run.sms)

    def test_nobody_acknowledging_escalates_and_acknowledging_stops_it(self, run: Run) -> None:
        assert run.acknowledged_at is not None
        reminders = [(m, k) for m, k in run.events if ":reminder-" in k]
        assert reminders, "an unacknowledged warning must page again"
        assert all(moment < run.acknowledged_at for moment, _ in reminders)
        # Steps come in the policy's order ("1.2" before "1.10": compared as numbers)
        steps = [
            tuple(int(part) for part in key.rsplit("-", 1)[1].split(".")) for _, key in reminders
        ]
        assert steps == sorted(steps)
        assert len(set(steps)) == len(steps)
        # The evaluator ran past the moments the next steps were due: none came
        policy_end = _started_at(run) + timedelta(minutes=60)
        assert max(run.evaluations) > policy_end
        # And the team hears who took it
        acknowledged = [
            m for m in run.inbox[TEAM_EMAIL] if m["attributes"]["kind"] == "acknowledged"
        ]
        assert len(acknowledged) == 1
        assert f"acknowledged by {run.acknowledged_by}" in acknowledged[0]["subject"]

    def test_evaluating_the_same_minute_again_sends_nothing(self, run: Run) -> None:
        assert run.repeat_dispatched == []
        keys = [key for _, key in run.events]
        assert keys
        assert len(keys) == len(set(keys))

    def test_everyone_hears_when_it_is_over(self, run: Run) -> None:
        resolved = [m for m in run.inbox[TEAM_EMAIL] if m["attributes"]["kind"] == "resolved"]
        assert len(resolved) == 1
        assert resolved[0]["subject"].startswith("[RESOLVED]")
        assert "Peak" in resolved[0]["message"]
        # By SMS: whoever is on call when it resolves, (it was critical) the escalation, and
        # everyone paged while it lasted - the night's person on call too, when the day's
        # desk has taken over by then
        (resolved_at,) = [moment for moment, key in run.events if key.endswith(":resolved")]
        told = {
            phone for moment, phone, text in run.sms if moment == resolved_at and "RESOLVED" in text
        }
        paged = {phone for moment, phone, _ in run.sms if moment < resolved_at}
        first_sms = run.first_sms()
        assert first_sms is not None
        assert phone_of(expected_on_call(first_sms)) in paged
        assert told == {phone_of(expected_on_call(resolved_at)), DIETER} | paged

    def test_critical_alerts_name_the_pause_command_and_the_configs_note(self, run: Run) -> None:
        # Given the example config's own note on pausing
        config = run.stack.config()
        assert config.alerts is not None
        note = config.alerts.pause_instructions
        assert note
        # Then every critical alert email names the pause command of its own alert, says
        # what it does, and adds the note; no lesser one does
        critical = [m for m in run.inbox[TEAM_EMAIL] if m["attributes"]["severity"] == "3"]
        assert critical, "the scenario's storm turns critical"
        command = f"stormwatch pause --alert {_alert_id(run)}"
        for message in run.inbox[TEAM_EMAIL]:
            says_pause = f"Pause all scheduled posts now:\n    {command}\n" in message["message"]
            active = message["attributes"]["kind"] in (
                "started",
                "escalated",
                "reminder",
                "acknowledged",
            )
            assert says_pause == (message in critical and active), message["subject"]
            if says_pause:
                assert "`stormwatch resume` restores them" in message["message"]
                assert f"Your team's note: {note}" in message["message"]
        # And every critical SMS of the open alert carries the console's signed link whole
        # (its buttons acknowledge and pause; the commands stay in the email)
        assert run.stack.deployment is not None
        console = run.stack.deployment.function_environment("EvaluateAlertsFunction")["CONSOLE_URL"]
        critical_sms = [text for _, _, text in run.sms if text.startswith("CRITICAL")]
        assert critical_sms
        for text in critical_sms:
            (link,) = [line for line in text.splitlines() if line.startswith("Open: ")]
            assert LINK.match(link.removeprefix(f"Open: {console}/l/")), text
        # ...and the "back to normal" email links the crisis report and names its command
        alert_id = _alert_id(run)
        resolved = [m for m in run.inbox[TEAM_EMAIL] if m["attributes"]["kind"] == "resolved"]
        assert resolved
        for message in resolved:
            lines = [line.strip() for line in message["message"].splitlines()]
            assert f"{console}/alerts/{alert_id}/report" in lines
            assert f"stormwatch report {alert_id}" in lines

    def test_every_aws_call_of_a_function_is_one_its_role_allows(self, run: Run) -> None:
        # Given what each handler called over the night (moto does not enforce IAM)
        called = run.stack.aws_actions
        assert {"PollMentionsFunction", "CountMentionsFunction", "EvaluateAlertsFunction"} <= set(
            called
        )
        assert "dynamodb:TransactWriteItems" not in set().union(*called.values())
        # Then each call is one the function's role in the template allows, each DynamoDB
        # one on a partition its role's LeadingKeys allow
        assert run.stack.deployment is not None
        template = run.stack.deployment.template
        for function, actions in called.items():
            partitions = run.stack.table_partitions.get(function, set())
            refused = refused_calls(template, function, actions, partitions)
            assert not refused, f"{function} calls what its role does not allow: {refused}"
        # ...and what their roles are granted for use is used (tests/granted.py)
        for function in ("PollMentionsFunction", "CountMentionsFunction", "EvaluateAlertsFunction"):
            assert_seen(function, called[function])


class TestLastWeekend(WarnFlow):
    @staticmethod
    def find_night(now: datetime) -> Night:
        return last_weekend(now)

    def test_the_storm_is_last_weekend_sunday_3am_utc(self, run: Run) -> None:
        assert (run.storm.weekday(), run.storm.time()) == (6, time(3, 0))
        assert timedelta(hours=21) <= datetime.now(UTC) - run.storm < timedelta(days=8)


class TestAYearAhead(WarnFlow):
    @staticmethod
    def find_night(now: datetime) -> Night:
        return a_year_ahead(now)

    def test_the_clock_and_the_storm_are_a_year_ahead(self, run: Run) -> None:
        assert abs(run.night.clock - datetime.now(UTC) - timedelta(days=365)) < timedelta(hours=1)
        assert (run.storm.weekday(), run.storm.time()) == (6, time(3, 0))
        assert timedelta(hours=21) <= run.night.clock - run.storm < timedelta(days=8)


class TestTheNightTheClocksChange(WarnFlow):
    @staticmethod
    def find_night(now: datetime) -> Night:
        return clocks_change(now)

    def test_the_clocks_change_half_an_hour_into_the_storm(self, run: Run) -> None:
        before = run.storm.astimezone(BERLIN)
        after = (run.storm + timedelta(hours=1)).astimezone(BERLIN)
        assert before.utcoffset() != after.utcoffset()
        assert (before.weekday(), after.weekday()) == (6, 6)

    def test_messages_give_each_moment_in_the_offset_of_its_side_of_the_change(
        self, run: Run
    ) -> None:
        # Given the alert started before the change and was acknowledged after it
        change = next_offset_change(run.storm, BERLIN)
        assert run.acknowledged_at is not None
        assert _started_at(run) < change < run.acknowledged_at
        # Then the emails name both zones, each with its own UTC offset
        zones = {run.storm.astimezone(BERLIN).tzname(), change.astimezone(BERLIN).tzname()}
        said = " ".join(m["message"] for m in run.inbox[TEAM_EMAIL])
        assert all(f" {zone} (" in said for zone in zones), zones


class TestLeapDay(WarnFlow):
    @staticmethod
    def find_night(now: datetime) -> Night:
        return leap_day(now)

    def test_the_storm_is_on_29_february(self, run: Run) -> None:
        assert (run.storm.month, run.storm.day, run.storm.time()) == (2, 29, time(3, 0))
        assert _alert_id(run).startswith(f"nordwind-air-{run.storm.year}0229-")


# --- the oracle itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-22 04:20", "anna"),  # Sunday night, week of 16 Nov: the README's story
        ("2026-11-23 08:59", "anna"),
        ("2026-11-23 09:00", "comms-desk"),
        ("2026-11-23 18:00", "ben"),
        ("2026-12-25 12:00", "ben"),  # Christmas: the override (Ben swaps with Carla)
        ("2026-12-28 03:00", "carla"),
        ("2028-02-29 04:00", "ben"),  # a Tuesday night, 112 weeks on: the second in line
    ],
)
def test_the_roster_reading_here_agrees_with_the_roster(local: str, expected: str) -> None:
    # Given a local time in the example roster's zone
    moment = datetime.fromisoformat(local).replace(tzinfo=BERLIN)
    # Then this module's reading and the roster itself name the same person
    config = parse_config(read_document())
    assert config.roster is not None
    assert expected_on_call(moment) == expected
    assert [c.id for c in config.roster.on_call(moment).contacts] == [expected]


def test_offset_changes_are_found_to_the_minute() -> None:
    after = datetime(2026, 10, 1, tzinfo=UTC)
    assert next_offset_change(after, BERLIN) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert next_offset_change(datetime(2026, 10, 26, tzinfo=UTC), BERLIN) == datetime(
        2027, 3, 28, 1, 0, tzinfo=UTC
    )
    assert re.fullmatch(r"\d{4}-02-29", f"{leap_day(after).start + timedelta(hours=27):%Y-%m-%d}")
