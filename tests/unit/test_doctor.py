"""`stormwatch doctor`: each way a new account silently loses pages is named, with what to
do, and the exit code says whether a page could be lost. SNS answers as its API does
(shapes from the botocore model); the template-made topics on moto are in
tests/integration/test_ops.py."""

from __future__ import annotations

import io
from typing import Any

import pytest

from ops.doctor import Topic, check_counting, check_paging

ALERTS = Topic("alerts", "arn:aws:sns:eu-central-1:123456789012:stormwatch-prod-alerts")
OPS = Topic("ops", "arn:aws:sns:eu-central-1:123456789012:stormwatch-prod-ops")
PHONES = {"Anna Berg": "+4915112345678", "Dieter Vogt": "+4916045678901"}


class NewAccountSns:
    """A new account's SMS settings: in the sandbox, the default spend limit, one roster
    phone verified, the alerts topic's email subscription not confirmed yet."""

    def __init__(self) -> None:
        self.in_sandbox = True
        self.spend_limit: str | None = None
        self.verified = {"+4915112345678": "Verified", "+4916045678901": "Pending"}
        self.pending_email = True

    def get_sms_sandbox_account_status(self) -> dict[str, Any]:
        return {"IsInSandbox": self.in_sandbox}

    def get_sms_attributes(self, attributes: list[str]) -> dict[str, Any]:
        limit = {"MonthlySpendLimit": self.spend_limit} if self.spend_limit else {}
        return {"attributes": limit}

    def list_sms_sandbox_phone_numbers(self, **_: Any) -> dict[str, Any]:
        return {"PhoneNumbers": [{"PhoneNumber": p, "Status": s} for p, s in self.verified.items()]}

    def list_subscriptions_by_topic(self, TopicArn: str, **_: Any) -> dict[str, Any]:
        arn = (
            "PendingConfirmation"
            if self.pending_email and TopicArn == ALERTS.arn
            else (f"{TopicArn}:5f1c")
        )
        subscriptions = [
            {"SubscriptionArn": arn, "Protocol": "email", "Endpoint": "oncall@x.example"}
        ]
        if TopicArn == ALERTS.arn:  # the AlertPhone parameter's subscription
            subscriptions.append(
                {
                    "SubscriptionArn": f"{TopicArn}:9a2e",
                    "Protocol": "sms",
                    "Endpoint": "+4930901820",
                }
            )
        return {"Subscriptions": subscriptions}


def _doctor(sns: NewAccountSns) -> tuple[int, str]:
    out = io.StringIO()
    code = check_paging(sns, [ALERTS, OPS], PHONES, out)
    return code, out.getvalue()


def test_a_new_account_is_told_each_way_a_page_would_be_lost_and_what_to_do() -> None:
    # Given a new account / When the doctor checks it
    code, printed = _doctor(NewAccountSns())
    lines = printed.splitlines()
    # Then each problem is one line saying what is wrong and what to do; exit code 1
    assert code == 1
    assert any(
        line.startswith("FAIL  SMS sandbox:") and "Exit SMS sandbox" in line for line in lines
    )
    assert any(
        line.startswith("FAIL  phone of Dieter Vogt (+4916045678901): not verified")
        and "verify-sms-sandbox-phone-number" in line
        for line in lines
    )
    assert "OK    phone of Anna Berg (+4915112345678): verified in the SMS sandbox" in lines
    assert any(
        line.startswith("FAIL  phone of the alerts topic's SMS subscription (+4930901820): not")
        for line in lines
    )
    assert any(
        line.startswith("FAIL  SMS spend limit: USD 1 a month") and "MonthlySpendLimit" in line
        for line in lines
    )
    assert any(
        line.startswith("FAIL  alerts topic email oncall@x.example: not confirmed")
        for line in lines
    )
    assert "OK    ops topic email oncall@x.example: confirmed" in lines


def test_an_account_ready_to_page_is_ok() -> None:
    # Given an account out of the sandbox, with a spend limit for a storm night, confirmed
    sns = NewAccountSns()
    sns.in_sandbox, sns.spend_limit, sns.pending_email = False, "50", False
    # When the doctor checks it / Then every line is OK and the exit code 0
    code, printed = _doctor(sns)
    assert code == 0, printed
    assert all(line.startswith("OK") for line in printed.splitlines())


def test_a_check_sns_cannot_answer_says_so_and_counts_as_a_problem() -> None:
    # Given an identity without sns:GetSMSSandboxAccountStatus
    sns = NewAccountSns()
    sns.in_sandbox, sns.spend_limit, sns.pending_email = False, "50", False

    def denied() -> dict[str, Any]:
        raise PermissionError("AuthorizationError: not authorized to GetSMSSandboxAccountStatus")

    sns.get_sms_sandbox_account_status = denied  # type: ignore[method-assign]
    # When the doctor checks / Then that check fails in one line with the reason
    code, printed = _doctor(sns)
    assert code == 1
    assert "FAIL  SMS sandbox: could not check (AuthorizationError: not authorized" in printed


FAILED = "Function call failed"


class _Lambda:
    def __init__(self, mappings: list[dict[str, str]] | Exception) -> None:
        self.mappings = mappings

    def list_event_source_mappings(self, FunctionName: str) -> dict[str, object]:
        if isinstance(self.mappings, Exception):
            raise self.mappings
        return {"EventSourceMappings": self.mappings}


@pytest.mark.parametrize(
    ("mappings", "code", "says"),
    [
        ([{"UUID": "u1", "State": "Enabled", "LastProcessingResult": "OK"}], 0, "OK    counting"),
        (
            [{"UUID": "u1", "State": "Enabled", "LastProcessingResult": "No records processed"}],
            0,
            "reaches the counter",
        ),
        (
            [{"UUID": "u1", "State": "Disabled", "LastProcessingResult": "OK"}],
            1,
            "update-event-source-mapping --uuid u1 --enabled",
        ),
        (
            [
                {
                    "UUID": "u1",
                    "State": "Enabled",
                    "LastProcessingResult": "PROBLEM: Function call failed",
                }
            ],
            1,
            f"last batch failed (PROBLEM: {FAILED})",
        ),
        ([], 1, "no event source mapping invokes stormwatch-prod-count-mentions"),
        (RuntimeError("AccessDenied"), 1, "could not check (AccessDenied)"),
    ],
)
def test_the_doctor_says_whether_stored_mentions_are_counted(
    mappings: list[dict[str, str]] | Exception, code: int, says: str
) -> None:
    # Given the counter's event source mappings as Lambda lists them
    out = io.StringIO()
    # When the doctor checks them / Then one line says whether the stream reaches the
    # counter, and what to do when it does not
    assert check_counting(_Lambda(mappings), "stormwatch-prod-count-mentions", out) == code
    assert says in out.getvalue()
