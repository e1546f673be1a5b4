"""Stage: the outbox to SNS. Every pending message is claimed, sent and marked.

A claim lasts `SEND_LEASE`: two overlapping runs never both send a message, and a
message whose run died after claiming goes out a few minutes late, not never. A message
SNS refused stays pending, its attempts counted, and is tried again each minute.

A failed page must reach someone (issue 11):
- every refusal is counted in `Sent.failed` (the `NotificationFailures` metric, whose
  alarm mails the ops topic);
- an SMS to a person's phone that SNS refused (the SMS sandbox, the monthly spend
  limit, an opted-out number) is at once followed by an email to the team list that
  says whom it did not reach, why, and what it said: the person on call may not know.
  It is a message of its own in the outbox (`<key>:email-fallback`), so it is sent
  once, and retried like any other;
- after `MAX_ATTEMPTS` the message is given up: marked `failed` with its last error
  (`stormwatch status` lists it), counted in `Sent.given_up` and logged as an error,
  never again skipped in silence.

An SMS goes only to a phone of the config's contacts as the config stands at send time:
the outbox is a table item, and whoever could write one (a poller's role, a hand) must
not be able to make the evaluator text any number it likes (premium-rate numbers cost
money). Such a message is refused, once, and kept with the reason for ops.

The alerts whose RESOLVED message this run sent and marked come back in `Sent.resolved`:
the evaluator asks for their crisis reports then, once per resolved alert rather than per
minute (a retry of a send that died before its mark may ask twice; the report is rebuilt
from the table and stored under the same keys, so twice is the same as once).
"""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from stormwatch.notify import EMAIL, SMS, Delivery
from stormwatch.persistence.outbox import OutboxEntry
from stormwatch.warn.vocabulary import AlertEvent

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
FALLBACK_SUFFIX = ":email-fallback"
FALLBACK_SUBJECT = "[SMS NOT SENT]"
SEND_LEASE = timedelta(minutes=5)
"""Far beyond one SNS publish, short enough that a message whose run died goes out a
few minutes late."""


class OutboxPort(Protocol):
    def pending(self) -> list[OutboxEntry]: ...

    def claim(self, dispatch_key: str, now: datetime, lease: timedelta) -> bool: ...

    def add(self, dispatch_key: str, delivery: Delivery, now: datetime) -> bool: ...

    def mark(
        self, dispatch_key: str, *, sent: bool, error: str | None = None, give_up: bool = False
    ) -> None: ...

    def refuse(self, dispatch_key: str, reason: str) -> None: ...


class Notifier(Protocol):
    def send(self, delivery: Delivery) -> str: ...


@dataclass(slots=True)
class Sent:
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    """Messages that failed their last try in this run (also in `failed`)."""
    resolved: list[str] = field(default_factory=list)
    """Alerts whose RESOLVED message went out in this run, each once (its email and its
    SMS are two messages of one alert)."""
    refused: list[str] = field(default_factory=list)
    """Messages never to be sent: an SMS to a number none of the contacts has."""


def send_pending(
    outbox: OutboxPort, notifier: Notifier, now: datetime, phones: Container[str]
) -> Sent:
    """`phones`: the numbers an SMS may go to (the contacts' phones, read now)."""
    result = Sent()
    queue = outbox.pending()
    while queue:
        entry = queue.pop(0)
        if entry.attempts >= MAX_ATTEMPTS:
            # Left pending by a version that skipped such messages in silence; its last
            # error stays as it was.
            _give_up(outbox, entry, None, result)
            continue
        if entry.delivery.medium == SMS and entry.delivery.phone not in phones:
            logger.warning("SMS refused: not a contact's phone", extra={"key": entry.key})
            outbox.refuse(entry.key, "refused: the number is not a phone of the contacts")
            result.refused.append(entry.key)
            continue
        if not outbox.claim(entry.key, now, SEND_LEASE):
            continue
        try:
            notifier.send(entry.delivery)
        except Exception as error:
            reason = f"{error.__class__.__name__}: {error}"
            logger.warning("notification not sent", extra={"key": entry.key, "error": reason})
            result.failed.append(entry.key)
            if entry.attempts + 1 >= MAX_ATTEMPTS:
                _give_up(outbox, entry, reason, result)
            else:
                outbox.mark(entry.key, sent=False, error=reason)
            if entry.delivery.medium == SMS:
                fallback = _fallback(outbox, entry, reason, now)
                if fallback is not None:
                    queue.insert(0, fallback)
            continue
        outbox.mark(entry.key, sent=True)
        result.sent += 1
        alert = entry.delivery.alert_id
        if entry.delivery.kind == AlertEvent.RESOLVED and alert not in result.resolved:
            result.resolved.append(alert)
    return result


def _fallback(
    outbox: OutboxPort, sms: OutboxEntry, reason: str, now: datetime
) -> OutboxEntry | None:
    """The SMS's email fallback, when this failure is the first to write it (each failure
    tries: the write is idempotent, and one that failed is not lost for good)."""
    fallback = OutboxEntry(sms.key + FALLBACK_SUFFIX, email_instead_of_sms(sms.delivery, reason), 0)
    try:
        return fallback if outbox.add(fallback.key, fallback.delivery, now) else None
    except Exception:  # the other messages are still to be sent
        logger.exception("SMS fallback not written", extra={"key": sms.key})
        return None


def _give_up(outbox: OutboxPort, entry: OutboxEntry, reason: str | None, result: Sent) -> None:
    outbox.mark(entry.key, sent=False, error=reason, give_up=True)
    result.given_up.append(entry.key)
    logger.error(
        "notification given up",
        extra={"key": entry.key, "medium": entry.delivery.medium, "error": reason},
    )


def email_instead_of_sms(sms: Delivery, reason: str) -> Delivery:
    """The email to the team list that tells them an SMS page did not go out."""
    return Delivery(
        medium=EMAIL,
        severity=sms.severity,
        brand=sms.brand,
        kind=sms.kind,
        alert_id=sms.alert_id,
        subject=f"{FALLBACK_SUBJECT} {sms.phone} was not paged: {sms.alert_id}"[:100],
        text=(
            f"SNS refused the SMS to {sms.phone} ({reason}).\n"
            "Whoever has that phone may not know: call them, or take the alert yourself.\n"
            "It is tried again each minute; `stormwatch status` shows pages not delivered, "
            "`stormwatch doctor` the usual causes (SMS sandbox, spend limit).\n\n"
            f"The SMS:\n{sms.text}"
        ),
    )
