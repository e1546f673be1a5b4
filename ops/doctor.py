"""`stormwatch doctor`: will a page reach its person? The ways a new AWS account loses
SMS and emails without an error anywhere, each checked through SNS's own API:

- the SMS sandbox: a new account sends SMS only to phone numbers verified in it;
- the monthly SMS spend limit: USD 1 by default; past it SNS drops SMS for the month;
- in the sandbox, whether each roster phone is verified;
- whether each email subscription of the alerts and ops topics is confirmed (until it
  is, SNS delivers nothing to it);
- whether the table's stream reaches the counter (its event source mapping enabled, its
  last batch processed): stored mentions that are not counted never alert anyone.

Each check prints one line, ``OK`` or ``FAIL`` (``WARN`` for what costs no page now)
with what to do. Exit code 1 when a page could be lost, 2 when the stack or its config
could not be read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

MIN_MONTHLY_SPEND_USD = 10.0
"""A storm night pages a few people several times (escalations, reminders, "back to
normal"): a few dozen SMS at about USD 0.11 each to Germany. AWS's default of USD 1 is
nine of them."""
DEFAULT_MONTHLY_SPEND_USD = 1.0
"""What SNS allows when the account never set MonthlySpendLimit."""
PENDING = "PendingConfirmation"
"""The SubscriptionArn SNS lists for a subscription not yet confirmed."""


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    arn: str


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # OK, WARN or FAIL
    subject: str
    text: str

    def line(self) -> str:
        return f"{self.level:5} {self.subject}: {self.text}"


def check_paging(sns: Any, topics: Sequence[Topic], phones: Mapping[str, str], out: TextIO) -> int:
    """Print every check of `sns` (a boto3 SNS client) for the stack's `topics` and the
    roster's `phones` (name -> E.164); 1 when a page could be lost, else 0. The topics'
    SMS subscriptions (the AlertPhone parameter) are phones to verify too."""
    subscribed: dict[str, str] = {}
    subscriptions = list(_subscription_findings(sns, topics, subscribed))
    findings = [*_sms_findings(sns, {**phones, **subscribed}), *subscriptions]
    for finding in findings:
        print(finding.line(), file=out)
    return 1 if any(finding.level == "FAIL" for finding in findings) else 0


def _asked(subject: str, call: Callable[[], Any]) -> tuple[Any, Finding | None]:
    """SNS's answer, or the FAIL line saying it could not be had (a check not made could
    hide a lost page)."""
    try:
        return call(), None
    except Exception as error:  # an access denied or a network error: say which, go on
        reason = " ".join(str(error).split())[:200]
        return None, Finding("FAIL", subject, f"could not check ({reason})")


def _sms_findings(sns: Any, phones: Mapping[str, str]) -> Iterable[Finding]:
    status, failed = _asked("SMS sandbox", sns.get_sms_sandbox_account_status)
    in_sandbox = bool(status and status.get("IsInSandbox"))
    if failed:
        yield failed
    elif in_sandbox:
        yield Finding(
            "FAIL" if phones else "WARN",
            "SMS sandbox",
            "this account is in the SMS sandbox and sends SMS only to verified numbers; "
            "ask AWS to move it out (SNS console > Text messaging (SMS) > Exit SMS sandbox, "
            "about a day), and verify the roster's phones meanwhile (below)",
        )
    else:
        yield Finding("OK", "SMS sandbox", "this account sends SMS to any number")
    if in_sandbox:
        yield from _verified_findings(sns, phones)
    yield _spend_finding(sns)


def _verified_findings(sns: Any, phones: Mapping[str, str]) -> Iterable[Finding]:
    answers, failed = _asked("verified phones", lambda: _sandbox_numbers(sns))
    if failed:
        yield failed
        return
    for name, phone in sorted(phones.items()):
        subject = f"phone of {name} ({phone})"
        state = answers.get(phone)
        if state == "Verified":
            yield Finding("OK", subject, "verified in the SMS sandbox")
        else:
            yield Finding(
                "FAIL",
                subject,
                f"not verified in the SMS sandbox ({(state or 'not added').lower()}): no SMS "
                f"reaches it; aws sns create-sms-sandbox-phone-number --phone-number {phone}, "
                f"then aws sns verify-sms-sandbox-phone-number --phone-number {phone} "
                "--one-time-password <the code it got>",
            )


def _sandbox_numbers(sns: Any) -> dict[str, str]:
    numbers: dict[str, str] = {}
    token: str | None = None
    while True:
        page = sns.list_sms_sandbox_phone_numbers(**({"NextToken": token} if token else {}))
        for entry in page.get("PhoneNumbers", []):
            numbers[str(entry["PhoneNumber"])] = str(entry.get("Status", ""))
        token = page.get("NextToken")
        if not token:
            return numbers


def _spend_finding(sns: Any) -> Finding:
    subject = "SMS spend limit"
    answer, failed = _asked(
        subject, lambda: sns.get_sms_attributes(attributes=["MonthlySpendLimit"])
    )
    if failed:
        return failed
    text = (answer.get("attributes") or {}).get("MonthlySpendLimit")
    try:
        limit = float(text) if text else DEFAULT_MONTHLY_SPEND_USD
    except ValueError:
        return Finding("FAIL", subject, f"SNS answered {text!r}, not an amount")
    shown = f"USD {limit:g} a month" + ("" if text else " (AWS's default)")
    if limit >= MIN_MONTHLY_SPEND_USD:
        return Finding("OK", subject, shown)
    return Finding(
        "FAIL",
        subject,
        f"{shown}: past it SNS drops every SMS until the month ends; raise it to at least "
        f"USD {MIN_MONTHLY_SPEND_USD:g} (aws sns set-sms-attributes --attributes "
        "MonthlySpendLimit=<USD>; above the account's quota, a Service Quotas request first)",
    )


def _subscription_findings(
    sns: Any, topics: Sequence[Topic], sms_subscribers: dict[str, str]
) -> Iterable[Finding]:
    """The email subscriptions' findings; the SMS subscriptions go into `sms_subscribers`."""
    for topic in topics:
        subject = f"{topic.name} topic"
        listed, failed = _asked(subject, functools.partial(_subscriptions, sns, topic.arn))
        if failed:
            yield failed
            continue
        for subscription in listed:
            if subscription.get("Protocol") == "sms":
                name = f"the {topic.name} topic's SMS subscription"
                sms_subscribers[name] = str(subscription.get("Endpoint", "?"))
        emails = [s for s in listed if s.get("Protocol") == "email"]
        if not emails:
            yield Finding(
                "FAIL",
                subject,
                "no email subscription: nobody gets its emails; set AlertEmail and deploy",
            )
        for subscription in emails:
            where = f"{subject} email {subscription.get('Endpoint', '?')}"
            if subscription.get("SubscriptionArn") == PENDING:
                yield Finding(
                    "FAIL",
                    where,
                    "not confirmed, SNS sends it nothing; open the mail 'AWS Notification - "
                    "Subscription Confirmation' there and follow its link (or re-send it: "
                    f"aws sns subscribe --topic-arn {topic.arn} --protocol email "
                    f"--notification-endpoint {subscription.get('Endpoint', '?')})",
                )
            else:
                yield Finding("OK", where, "confirmed")


def _subscriptions(sns: Any, topic_arn: str) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    token: str | None = None
    while True:
        page = sns.list_subscriptions_by_topic(
            TopicArn=topic_arn, **({"NextToken": token} if token else {})
        )
        found.extend(page.get("Subscriptions", []))
        token = page.get("NextToken")
        if not token:
            return found


def check_stack(
    outputs: Mapping[str, str], sns: Any, ssm: Any, lambda_client: Any, out: TextIO
) -> int:
    """The checks for a deployed stack (its CloudFormation outputs): its two topics, the
    phones of the config document it reads, and the counting of stored mentions."""
    # A SecureString (issue 11): the config holds the roster's phone numbers.
    stored = ssm.get_parameter(Name=outputs["ConfigParameterName"], WithDecryption=True)
    text = str(stored["Parameter"]["Value"])
    paging = check_paging(sns, stack_topics(outputs), roster_phones(text), out)
    counting = check_counting(lambda_client, outputs["CountMentionsFunctionName"], out)
    return max(paging, counting)


def check_counting(lambda_client: Any, function_name: str, out: TextIO) -> int:
    """Print whether the table's stream reaches the counter; 1 when it does not."""
    finding = _counting_finding(lambda_client, function_name)
    print(finding.line(), file=out)
    return 1 if finding.level == "FAIL" else 0


def _counting_finding(lambda_client: Any, function_name: str) -> Finding:
    subject = "counting of stored mentions"
    answer, failed = _asked(
        subject, lambda: lambda_client.list_event_source_mappings(FunctionName=function_name)
    )
    if failed:
        return failed
    mappings = answer.get("EventSourceMappings", [])
    if not mappings:
        return Finding(
            "FAIL",
            subject,
            f"no event source mapping invokes {function_name}: mentions are stored but never "
            "counted; deploy the stack again (sam deploy)",
        )
    for mapping in mappings:
        state, uuid = mapping.get("State", "?"), mapping.get("UUID", "?")
        if state not in ("Enabled", "Enabling", "Updating"):
            return Finding(
                "FAIL",
                subject,
                f"the table's stream mapping is {state}: mentions are stored but not counted; "
                f"aws lambda update-event-source-mapping --uuid {uuid} --enabled",
            )
        result = str(mapping.get("LastProcessingResult", ""))
        if result.startswith("PROBLEM"):
            return Finding(
                "FAIL",
                subject,
                f"the counter's last batch failed ({result[:200]}); it is retried until it "
                f"succeeds: see the log group of {function_name}",
            )
    return Finding("OK", subject, "the table's stream reaches the counter")


def roster_phones(config_text: str) -> dict[str, str]:
    """Name -> phone of every contact the config may page by SMS."""
    from stormwatch.config import load_config_json

    config = load_config_json(config_text)
    return {c.name: c.phone for c in config.contacts.values() if c.phone}


def stack_topics(outputs: Mapping[str, str]) -> list[Topic]:
    return [Topic("alerts", outputs["AlertsTopicArn"]), Topic("ops", outputs["OpsTopicArn"])]
