"""The crisis report made on its own on the local stack: an evaluation that sends an
alert's RESOLVED message invokes the Act function asynchronously (the stack runs it
in-process after the evaluation returned, as Lambda would), which stores the report in
the reports bucket; an evaluation that resolves nothing invokes nothing; the evaluator's
calls stay within its role."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatch

import pytest

from local.stack import LocalStack
from stormwatch.model import bucket_start
from stormwatch.review.request import CRISIS_REPORT_ACTION, MADE_WHEN_RESOLVED
from stormwatch.review.store import report_keys
from stormwatch.warn.lifecycle import ActiveAlert, alert_id_of
from tests.integration.test_act_api import _allowed, _configure
from tests.integration.test_alert_timeline import BRAND, _warn_writes


@pytest.fixture(scope="module")
def act(stack: LocalStack) -> LocalStack:
    _configure(stack)
    return stack


def _evaluate(stack: LocalStack, at: datetime) -> dict[str, object]:
    summary: dict[str, object] = stack.invoke(
        "EvaluateAlertsFunction", {"scheduled_time": at.isoformat()}
    )
    return summary


def test_an_evaluation_that_sends_a_resolved_message_leads_to_the_stored_report(
    act: LocalStack,
) -> None:
    # Given an alert of two hours whose RESOLVED message is decided, not yet sent
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    started = bucket_start(now - timedelta(hours=3), 5)
    alert = ActiveAlert(alert_id_of(BRAND, started), started, 3, 3, started)
    _warn_writes(
        act,
        alert,
        [("started", started + timedelta(minutes=5)), ("resolved", now - timedelta(minutes=1))],
        resolved_at=now - timedelta(minutes=1),
    )
    before = len(act.async_invocations)
    # When the evaluator runs and sends it
    summary = _evaluate(act, now)
    # Then it asked for the alert's report once, and the Act function made it
    assert summary["reports_requested"] == [alert.id]
    assert act.async_invocations[before:] == [
        ("ActFunction", {"action": CRISIS_REPORT_ACTION, "alert_id": alert.id})
    ]
    assert act.async_failures == []
    s3, bucket = act.client("s3"), act.outputs["ReportsBucketName"]
    html_key, json_key = report_keys(alert.id)
    document = json.loads(s3.get_object(Bucket=bucket, Key=json_key)["Body"].read())
    assert document["made_by"] == MADE_WHEN_RESOLVED
    assert document["resolved_at"] is not None
    assert MADE_WHEN_RESOLVED in s3.get_object(Bucket=bucket, Key=html_key)["Body"].read().decode()

    # When the next minute is evaluated (nothing resolves)
    again = _evaluate(act, now + timedelta(minutes=1))
    # Then nothing is invoked
    assert again["reports_requested"] == []
    assert len(act.async_invocations) == before + 1


def test_the_evaluators_calls_are_within_its_role(act: LocalStack) -> None:
    # Given what the evaluator called in this module (moto does not enforce IAM)
    called = act.aws_actions["EvaluateAlertsFunction"]
    assert "lambda:InvokeFunction" in called
    # Then each call is one its role allows
    allowed = _allowed(act, "EvaluateAlertsFunction")
    assert {a for a in called if not any(fnmatch(a, g) for g in allowed)} == set()
