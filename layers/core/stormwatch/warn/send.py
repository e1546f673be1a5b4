"""Stage: the outbox to SNS. Every pending message is claimed, sent and marked.

A claim lasts `SEND_LEASE`: two overlapping runs never both send a message, and a
message whose run died after claiming goes out a few minutes late, not never. A message
SNS refused stays pending, its attempts counted; after `MAX_ATTEMPTS` it is left for
ops (it stays in the outbox with its last error).

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

from stormwatch.notify import SMS, Delivery
from stormwatch.persistence.outbox import OutboxEntry
from stormwatch.warn.vocabulary import AlertEvent

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
SEND_LEASE = timedelta(minutes=5)
"""Far beyond one SNS publish, short enough that a message whose run died goes out a
few minutes late."""


class OutboxPort(Protocol):
    def pending(self) -> list[OutboxEntry]: ...

    def claim(self, dispatch_key: str, now: datetime, lease: timedelta) -> bool: ...

    def mark(self, dispatch_key: str, *, sent: bool, error: str | None = None) -> None: ...

    def refuse(self, dispatch_key: str, reason: str) -> None: ...


class Notifier(Protocol):
    def send(self, delivery: Delivery) -> str: ...


@dataclass(slots=True)
class Sent:
    sent: int = 0
    failed: list[str] = field(default_factory=list)
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
    for entry in outbox.pending():
        if entry.attempts >= MAX_ATTEMPTS:
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
            logger.warning("notification not sent", extra={"key": entry.key, "error": str(error)})
            outbox.mark(entry.key, sent=False, error=str(error))
            result.failed.append(entry.key)
            continue
        outbox.mark(entry.key, sent=True)
        result.sent += 1
        alert = entry.delivery.alert_id
        if entry.delivery.kind == AlertEvent.RESOLVED and alert not in result.resolved:
            result.resolved.append(alert)
    return result
