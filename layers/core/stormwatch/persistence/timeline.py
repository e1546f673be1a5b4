"""An alert's timeline: the Act flow's steps on it, and what the Warn flow stored about it.

The Act flow's steps (paused, released on a channel, resumed) are items of their own
(`keys.timeline_entry`), each written in the same transaction as the step's own write
(the crisis-mode switch, a channel's release record turning published), so a step is on
the timeline exactly when it happened, and a re-run that changes nothing adds nothing.

The Warn flow's steps are not written again: the outbox keeps every message decided for
the alert (its kind, when it was decided; 30 days), and the brand's lifecycle keeps the
open alert and its last episodes (started, acknowledged by whom and when, resolved).
Reading both costs two Queries and one more for the Act steps; the evaluator's hot path
is untouched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stormwatch.model import parse_iso
from stormwatch.persistence import keys
from stormwatch.persistence.table import Table
from stormwatch.persistence.warn_state import decode_brand_state

RETENTION = timedelta(days=400)
"""As long as the audit log: a crisis is reviewed months later."""

PAUSED = "paused"
RELEASED = "released"
RESUMED = "resumed"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str
    subject: str
    """What it concerns: the crisis mode's version, `<statement id>#<channel>`."""
    who: str | None = None
    """The contact the config names for the verified identity that acted."""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message the evaluator decided about the alert (one per route)."""

    event: str
    """The dispatch's event: `started`, `escalated-severity-3`, `reminder-1.2`, ..."""
    kind: str
    severity: int
    decided_at: datetime


def put_action(table: str, alert_id: str, entry: TimelineEntry) -> dict[str, Any]:
    """The transaction action that adds `entry` (and fails rather than overwrite)."""
    item = {
        **keys.timeline_entry(alert_id, entry.at, entry.kind, entry.subject),
        "kind": {"S": entry.kind},
        "subject": {"S": entry.subject},
        "details": {"S": json.dumps(dict(entry.details), ensure_ascii=False)},
        "expires_at": {"N": str(int((entry.at + RETENTION).timestamp()))},
    }
    if entry.who:
        item["who"] = {"S": entry.who}
    return {
        "Put": {
            "TableName": table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


class TimelineStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def entries(self, alert_id: str) -> list[TimelineEntry]:
        """The Act flow's steps on the alert, oldest first."""
        return [
            TimelineEntry(
                at=parse_iso(item["sk"]["S"].split("#", 1)[0]),
                kind=item["kind"]["S"],
                subject=item["subject"]["S"],
                who=item.get("who", {}).get("S"),
                details=json.loads(item["details"]["S"]),
            )
            for item in self.table.query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.alert_timeline_partition(alert_id)}},
                ConsistentRead=True,
            )
        ]

    def outbox_messages(self, alert_id: str) -> list[OutboxMessage]:
        """Every message decided about the alert still in the outbox (sent or not)."""
        prefix = keys.alert_outbox_prefix(alert_id)
        messages = []
        for item in self.table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :alert)",
            ExpressionAttributeValues={":pk": {"S": keys.OUTBOX}, ":alert": {"S": prefix}},
            ProjectionExpression="sk, payload, created_at",
        ):
            payload = json.loads(item["payload"]["S"])
            messages.append(
                OutboxMessage(
                    event=item["sk"]["S"].removeprefix(prefix).split(":", 1)[0],
                    kind=str(payload["kind"]),
                    severity=int(payload["severity"]),
                    decided_at=parse_iso(item["created_at"]["S"]),
                )
            )
        return messages

    def lifecycle(self, brand: str) -> Mapping[str, Any] | None:
        """The brand's alert lifecycle (`BrandLifecycle.to_state()`), if it has one."""
        item = self.table.read(keys.warn_state(brand))
        return decode_brand_state(item).lifecycle if item else None
