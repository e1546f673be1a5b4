"""The storm at 3 a.m. on a Sunday, end to end on the local stack: who hears what, and when.

Pollers and the evaluator run on their schedules (moto, fake channels, handlers
in-process) over the scenario's storm, after two quiet weeks of history; Anna, on call
for the night, acknowledges 20 minutes after her first SMS; then the storm dies down.
Everything asserted is what SNS delivered: per subscription (through each filter
policy) and per phone number.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine

from local.demo import run_schedules
from local.history import count_buckets, quiet_history
from local.scenario import Scenario, build_scenario
from local.stack import LocalStack
from ops.cli import acknowledge
from stormwatch.config import CHANNELS
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.table import Table
from stormwatch.warn.messages import gsm7_length, ucs2_length

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ANNA = "+4915112345678"  # on call for the night (example config's rotation)
DIETER = "+4916045678901"  # escalation
TEAM_EMAIL = "stormwatch-dev-alerts email:oncall@stormwatch.example"
FALLBACK_SMS = "stormwatch-dev-alerts sms:+4915112345678"
OPS_EMAIL = "stormwatch-dev-ops email:oncall@stormwatch.example"


@dataclass
class Run:
    scenario: Scenario
    stack: LocalStack
    inbox: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sms: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[datetime, str]] = field(default_factory=list)
    acknowledged_at: datetime | None = None
    repeat_dispatched: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    scenario = build_scenario(volume=0.5, seed=21)
    begin = scenario.storm_start - timedelta(minutes=30)
    parameters = {"PollRate": "rate(5 minutes)", "EvaluateRate": "rate(1 minute)"}
    with (
        open(os.devnull, "w") as quiet,
        LocalStack(scenario=scenario, parameters=parameters, log=quiet) as stack,
    ):
        store = BucketStore(Table(stack.client("dynamodb"), stack.outputs["TableName"]))
        history = quiet_history(scenario.start, 14, volume=0.5, seed=21)
        # The first poll reads an hour back from when polling starts: history stops there.
        history.update(count_buckets(scenario, 5, until=begin - timedelta(hours=2)))
        store.import_history(history)
        result = Run(scenario, stack)

        def tick(moment: datetime, outputs: list[Any]) -> None:
            for output in outputs:
                for key in output.get("dispatched", []):
                    result.events.append((moment, key))
            first_sms = next(
                (m for m, k in result.events if ":started" in k or ":escalated" in k), None
            )
            if (
                result.acknowledged_at is None
                and first_sms
                and moment - first_sms >= timedelta(minutes=20)
            ):
                alert = next(k.split(":")[0] for _, k in result.events if k.startswith("nordwind"))
                acknowledge(stack.outputs["TableName"], alert, "Anna Berg", moment)
                result.acknowledged_at = moment

        run_schedules(
            stack, begin - timedelta(hours=1), scenario.storm_start + timedelta(hours=2), tick
        )
        # The same minute evaluated again (a redelivered schedule) decides nothing new.
        again = scenario.storm_start + timedelta(hours=2)
        with time_machine.travel(again, tick=False):
            output = stack.invoke(
                "EvaluateAlertsFunction", {"scheduled_time": again.strftime("%Y-%m-%dT%H:%M:%SZ")}
            )
            result.repeat_dispatched = output["dispatched"]
        # Much later: the storm is over; pollers catch up, then the evaluator judges.
        later = scenario.storm_start + timedelta(hours=12)
        with time_machine.travel(later, tick=False):
            for _ in range(6):
                for channel in CHANNELS:
                    stack.invoke("PollMentionsFunction", {"channel": channel})
            for minute in range(3):
                moment = later + timedelta(minutes=minute)
                output = stack.invoke(
                    "EvaluateAlertsFunction",
                    {"scheduled_time": moment.strftime("%Y-%m-%dT%H:%M:%SZ")},
                )
                result.events.extend((moment, key) for key in output["dispatched"])
        result.inbox = stack.received()
        result.sms = stack.sms_sent()
        yield result


def _kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [message["attributes"]["kind"] for message in messages]


def test_the_storm_is_announced_within_half_an_hour(run: Run) -> None:
    started = [moment for moment, key in run.events if key.endswith(":started")]
    assert started, run.events
    assert started[0] - run.scenario.storm_start <= timedelta(minutes=30)
    first = run.inbox[TEAM_EMAIL][0]
    assert first["attributes"]["kind"] == "started"
    assert first["subject"].startswith(("[WATCH]", "[WARNING]", "[CRITICAL]"))
    assert len(first["subject"]) <= 100
    assert "stormwatch ack nordwind-air-" in first["message"]


def test_each_subscription_got_only_what_its_filter_lets_through(run: Run) -> None:
    # The team list gets every alert email, never an SMS text
    assert all(m["attributes"]["channel"] == "email" for m in run.inbox[TEAM_EMAIL])
    assert {"started", "acknowledged", "resolved"} <= set(_kinds(run.inbox[TEAM_EMAIL]))
    # The fallback phone gets SMS texts of warnings and criticals only
    assert run.inbox[FALLBACK_SMS]
    for message in run.inbox[FALLBACK_SMS]:
        assert message["attributes"]["channel"] == "sms"
        assert int(message["attributes"]["severity"]) >= 2
    # Ops hear nothing about a storm (and monitoring was never blind here)
    assert run.inbox[OPS_EMAIL] == []


def test_the_person_on_call_at_night_gets_the_sms_in_one_segment(run: Run) -> None:
    to_anna = [text for phone, text in run.sms if phone == ANNA]
    assert to_anna
    for text in to_anna:
        length = gsm7_length(text)
        assert (length is not None and length <= 160) or ucs2_length(text) <= 70, text


def test_nobody_acknowledging_escalates_and_acknowledging_stops_it(run: Run) -> None:
    assert run.acknowledged_at is not None
    reminders = [(m, k) for m, k in run.events if ":reminder-" in k]
    assert reminders, "an unacknowledged warning must page again"
    assert all(moment < run.acknowledged_at for moment, _ in reminders)
    steps = [key.rsplit("-", 1)[1] for _, key in reminders]
    assert steps == sorted(steps)
    assert "acknowledged" in _kinds(run.inbox[TEAM_EMAIL])
    if any(":severity-3" in k or "critical" in k for _, k in run.events):
        assert any(phone == DIETER for phone, _ in run.sms)


def test_evaluating_the_same_minute_again_sends_nothing(run: Run) -> None:
    assert run.repeat_dispatched == []
    keys = [key for _, key in run.events]
    assert len(keys) == len(set(keys))


def test_everyone_hears_when_it_is_over(run: Run) -> None:
    resolved = [m for m in run.inbox[TEAM_EMAIL] if m["attributes"]["kind"] == "resolved"]
    assert len(resolved) == 1
    assert resolved[0]["subject"].startswith("[RESOLVED]")
    assert "Peak" in resolved[0]["message"]
    assert any("RESOLVED" in text for phone, text in run.sms if phone == ANNA)


def test_critical_alerts_say_how_to_pause_as_the_config_says(run: Run) -> None:
    # Given the example config's pause instructions
    config = run.stack.config()
    assert config.alerts is not None
    instructions = config.alerts.pause_instructions
    # Then every critical alert email carries them, and no lesser one does
    critical = [m for m in run.inbox[TEAM_EMAIL] if m["attributes"]["severity"] == "3"]
    assert critical, "the scenario's storm turns critical"
    for message in run.inbox[TEAM_EMAIL]:
        says_pause = f"Pause all scheduled posts now:\n    {instructions}" in message["message"]
        active = message["attributes"]["kind"] in (
            "started",
            "escalated",
            "reminder",
            "acknowledged",
        )
        assert says_pause == (message in critical and active), message["subject"]
    # And every critical SMS tells the person on call to pause
    critical_sms = [text for _, text in run.sms if text.startswith("CRITICAL")]
    assert critical_sms
    assert all("Pause posts" in text for text in critical_sms)
