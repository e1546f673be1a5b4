"""The alert's timeline on the local stack, through the Act function's events: the Warn
flow's steps as the evaluator stores them (lifecycle and outbox), then pause, release
(one channel failing, then retried) and resume, each once, in order, with who."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.stack import LocalStack
from ops.act_commands import print_timeline
from stormwatch.notify import EMAIL, Delivery
from stormwatch.persistence.table import Table
from stormwatch.persistence.warn_state import WarnStateStore
from stormwatch.warn.lifecycle import ActiveAlert, alert_id_of, brand_of_alert
from tests.integration.test_act_api import (
    ANNA,
    BEN,
    PUBLISHED_ON,
    _approved,
    _configure,
    _ok,
    as_,
)

BRAND = "nordwind-air"


@pytest.fixture(scope="module")
def act(stack: LocalStack) -> LocalStack:
    _configure(stack)
    return stack


@pytest.fixture
def world(act: LocalStack) -> Iterator[Any]:
    act.world.faults.clear()
    yield act.world
    act.world.faults.clear()


def _table(stack: LocalStack) -> Table:
    return Table(stack.client("dynamodb"), stack.outputs["TableName"])


def _message(kind: str, alert_id: str, severity: int) -> Delivery:
    return Delivery(EMAIL, severity=severity, brand=BRAND, kind=kind, alert_id=alert_id)


def _warn_writes(
    stack: LocalStack,
    alert: ActiveAlert,
    events: list[tuple[str, datetime]],
    *,
    resolved_at: datetime | None = None,
    version: int = 0,
) -> None:
    """The brand's lifecycle and outbox messages, written as the evaluator writes them."""
    state = alert.as_dict()
    lifecycle: dict[str, Any] = {"firing": {}, "alert": state, "episodes": []}
    if resolved_at is not None:
        lifecycle = {
            "firing": {},
            "alert": None,
            "episodes": [{**state, "resolved_at": resolved_at.isoformat()}],
        }
    store = WarnStateStore(_table(stack))
    from stormwatch.persistence.warn_state import BrandState

    brand = brand_of_alert(alert.id)
    assert brand is not None

    for event, at in events:
        kind = event.split("-", 1)[0]
        store.save_brand(
            brand,
            BrandState(lifecycle=lifecycle, version=version),
            [
                (f"{alert.id}:{event}:email", _message(kind, alert.id, alert.severity)),
                (f"{alert.id}:{event}:sms-topic", _message(kind, alert.id, alert.severity)),
            ],
            at,
        )
        version += 1


def _alert_partitions(stack: LocalStack) -> list[str]:
    items = stack.client("dynamodb").scan(TableName=stack.outputs["TableName"])["Items"]
    return sorted({item["pk"]["S"] for item in items if item["pk"]["S"].startswith("ALERT#")})


def test_given_a_pause_without_an_alert_when_released_and_resumed_then_no_timeline(
    act: LocalStack, world: Any
) -> None:
    # Given a pause for a reason, no alert
    _ok(as_(act, BEN).request("POST", "/pause", {"reason": "a rumour on Reddit"}))
    approved = _approved(act, "A rumour about Hamburg is false.")
    # When a statement is released in it and everything resumed
    path = f"/statements/{approved['id']}/release"
    _ok(as_(act, BEN).request("POST", path, {"sha256": approved["sha256"]}))
    _ok(as_(act, BEN).request("POST", "/resume", {}))
    # Then no alert's timeline was written (the audit log has the steps)
    assert _alert_partitions(act) == []
    assert _ok(as_(act, BEN).request("GET", "/status"))["alert_timeline"] is None


def test_given_no_pause_when_a_release_names_its_alert_then_the_alert_shows_pause_and_release(
    act: LocalStack, world: Any
) -> None:
    # Given an open alert and no pause: the lead releases straight away
    started = (datetime.now(UTC) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    # (the other brand's: the next test writes Nordwind's state from its first version)
    alert = ActiveAlert(alert_id_of("kolibri-pay", started), started, 3, 3, started)
    _warn_writes(act, alert, [("started", started + timedelta(minutes=3))])
    approved = _approved(act, "Since 6 am, flights from Hamburg are delayed.")
    # When the release names the alert it answers
    path = f"/statements/{approved['id']}/release"
    body = {"sha256": approved["sha256"], "alert_id": alert.id}
    released = _ok(as_(act, BEN).request("POST", path, body))
    # Then crisis mode answers that alert, and its timeline has the pause and each channel
    assert released["outcome"] == "released"
    status = _ok(as_(act, BEN).request("GET", "/status"))
    assert status["crisis"]["alert_id"] == alert.id
    kinds = [
        step["kind"]
        for step in _ok(as_(act, BEN).request("GET", f"/alerts/{alert.id}/timeline"))["steps"]
    ]
    assert kinds[:2] == ["started", "paused"]
    assert kinds.count("released") == len(PUBLISHED_ON)
    # ...and a malformed alert id is refused before anything is released
    other = _approved(act, "Flights from Hamburg leave on time again.")
    refused = as_(act, BEN).request(
        "POST",
        f"/statements/{other['id']}/release",
        {"sha256": other["sha256"], "alert_id": "not an alert"},
    )
    assert refused.status == 400
    _ok(as_(act, BEN).request("POST", "/resume", {}))


def test_given_an_alert_when_paused_released_twice_and_resumed_then_its_timeline_has_each_once(
    act: LocalStack, world: Any
) -> None:
    now = datetime.now(UTC)
    started = (now - timedelta(minutes=40)).replace(second=0, microsecond=0)
    alert = ActiveAlert(alert_id_of(BRAND, started), started, 2, 2, started)
    # Given the Warn flow's steps: started, escalated, acknowledged by anna
    _warn_writes(act, alert, [("started", started + timedelta(minutes=3))])
    alert.severity = alert.peak_severity = 3
    _warn_writes(act, alert, [("escalated-severity-3", now - timedelta(minutes=30))], version=1)
    alert.acknowledged_by, alert.acknowledged_at = "anna", now - timedelta(minutes=20)
    _warn_writes(act, alert, [("acknowledged", now - timedelta(minutes=19))], version=2)
    ben = as_(act, BEN)

    # When Ben pauses for it, releases with LinkedIn failing, releases again, and resumes
    _ok(ben.request("POST", "/pause", {"alert_id": alert.id, "reason": "delays"}))
    approved = _approved(act, "Since 6 am, flights from Hamburg are delayed.")
    path, seen = f"/statements/{approved['id']}/release", {"sha256": approved["sha256"]}
    world.faults.arm("status:403", channel="linkedin", path_contains="/rest/posts")
    assert _ok(ben.request("POST", path, seen))["outcome"] == "partial"
    assert _ok(ben.request("POST", path, seen))["outcome"] == "released"
    assert _ok(ben.request("POST", path, seen))["outcome"] == "released"
    status = _ok(ben.request("GET", "/status"))
    _ok(ben.request("POST", "/resume", {}))
    # ...and the alert resolves afterwards
    _warn_writes(
        act, alert, [("resolved", datetime.now(UTC))], resolved_at=datetime.now(UTC), version=3
    )

    timeline = _ok(ben.request("GET", f"/alerts/{alert.id}/timeline"))

    # Then the steps are in time order, with who, each once
    steps = timeline["steps"]
    kinds = [step["kind"] for step in steps]
    assert kinds[:4] == ["started", "escalated", "acknowledged", "paused"]
    assert kinds[-2:] == ["resumed", "resolved"]
    released = [step for step in steps if step["kind"] == "released"]
    assert sorted(step["details"]["channel"] for step in released) == sorted(PUBLISHED_ON)
    assert released[-1]["details"]["channel"] == "linkedin"
    assert all(step["who"] == "ben" and step["details"]["url"] for step in released)
    assert [s["at"] for s in steps] == sorted(s["at"] for s in steps)
    assert steps[0]["at"] == started.isoformat().replace("+00:00", "Z")
    assert steps[2]["who"] == "anna"
    assert steps[3]["who"] == "ben"
    assert steps[3]["details"]["reason"] == "delays (alert " + alert.id + ")"
    assert steps[1]["details"]["severity"] == 3
    assert next(s for s in steps if s["kind"] == "resumed")["who"] == "ben"
    # ...and status showed the crisis's alert timeline while it lasted
    assert status["crisis"]["alert_id"] == alert.id
    assert [s["kind"] for s in status["alert_timeline"]["steps"]][:4] == kinds[:4]
    # ...which `stormwatch status` prints, a line a step
    printed = io.StringIO()
    print_timeline(timeline, printed)
    lines = printed.getvalue().splitlines()
    assert lines[0] == f"alert {alert.id}:"
    assert "acknowledged by anna" in lines[3]
    assert any("released by ben  linkedin http" in line for line in lines)


def test_given_a_malformed_alert_id_when_its_timeline_is_asked_then_400(act: LocalStack) -> None:
    answer = as_(act, BEN).request("GET", "/alerts/Not_An_Id!/timeline")
    assert answer.status == 400
    assert "not an alert id" in answer.error


@pytest.mark.parametrize("function", ["ActFunction", "ReleaseStatementFunction"])
def test_every_aws_call_of_the_timeline_steps_is_one_the_functions_role_allows(
    act: LocalStack, function: str
) -> None:
    # Given what each handler called in this module (moto does not enforce IAM)
    called = act.aws_actions[function]
    # Then each call is one its own role in the template allows
    assert act.deployment is not None
    policies = act.deployment.template["Resources"][f"{function}Role"]["Properties"]["Policies"]
    allowed = {
        action
        for policy in policies
        for statement in policy["PolicyDocument"]["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert called <= allowed, called - allowed


def test_given_an_open_alert_when_acknowledged_through_the_api_then_the_first_one_stands(
    act: LocalStack,
) -> None:
    # Given the brand's open alert, nobody has taken it yet
    started = datetime(2026, 11, 22, 3, 5, tzinfo=UTC)
    alert = ActiveAlert(alert_id_of(BRAND, started), started, 3, 3, started)
    _warn_writes(act, alert, [("started", started)], version=_version(act))
    # When Ben acknowledges it as the console's button does, and Anna a moment later
    taken = _ok(as_(act, BEN).request("POST", f"/alerts/{alert.id}/acknowledge", {"by": "x"}))
    _ok(as_(act, ANNA).request("POST", f"/alerts/{alert.id}/acknowledge", {}))
    # Then the alert is Ben's (the verified caller, never the body), and stays his
    assert taken["acknowledged_by"] == "Ben Kraus"
    lifecycle = WarnStateStore(_table(act)).load_state(BRAND).lifecycle
    assert lifecycle is not None
    assert lifecycle["alert"]["acknowledged_by"] == "Ben Kraus"
    # ...an alert that is not the open one is refused with a message
    other = as_(act, BEN).request("POST", "/alerts/nordwind-air-20200101-0000/acknowledge", {})
    assert other.status == 409
    assert "is not open for nordwind-air" in other.error
    assert as_(act, BEN).request("POST", "/alerts/NOPE/acknowledge", {}).status == 400


def _version(stack: LocalStack) -> int:
    return WarnStateStore(_table(stack)).load_state(BRAND).version
