"""The audit log: one item per event, appended, never changed.

Each event is written with ``attribute_not_exists`` on its own key, so nothing overwrites
an entry; the functions' roles may put items but no role of ours deletes them (the table
has point-in-time recovery besides). An event records who (the verified identity and the
person the config names for it), what, on which statement or scheduler, and when.
Partitioned by UTC day, so a day's events are one Query in time order.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stormwatch.model import parse_iso
from stormwatch.persistence import keys
from stormwatch.persistence.table import Table

RETENTION = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    action: str
    """e.g. statement.submitted, statement.approved, crisis.on, park.done, release.channel"""
    identity: str
    """The verified identity that acted (an IAM ARN, cognito:<user>), or a function's name."""
    contact: str
    subject: str
    """What it concerns: a statement id, a scheduler, `crisis-mode`."""
    details: Mapping[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: secrets.token_hex(6))


def put_action(table: str, event: AuditEvent) -> dict[str, Any]:
    """The transaction action that appends `event` (and fails rather than overwrite)."""
    return {
        "Put": {
            "TableName": table,
            "Item": {
                **keys.audit(event.at, event.event_id),
                "action": {"S": event.action},
                "identity": {"S": event.identity},
                "contact": {"S": event.contact},
                "subject": {"S": event.subject},
                "details": {"S": json.dumps(dict(event.details), ensure_ascii=False)},
                "expires_at": {"N": str(int((event.at + RETENTION).timestamp()))},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


class AuditLog:
    def __init__(self, table: Table) -> None:
        self.table = table

    def append(self, event: AuditEvent) -> None:
        self.table.call("put_item", **put_action(self.table.name, event)["Put"])

    def day(self, day: str) -> list[AuditEvent]:
        """Every event of one UTC day (`YYYY-MM-DD`), oldest first."""
        return [
            AuditEvent(
                at=parse_iso(item["sk"]["S"].rsplit("#", 1)[0]),
                action=item["action"]["S"],
                identity=item["identity"]["S"],
                contact=item["contact"]["S"],
                subject=item["subject"]["S"],
                details=json.loads(item["details"]["S"]),
                event_id=item["sk"]["S"].rsplit("#", 1)[1],
            )
            for item in self.table.query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.audit_partition(day)}},
            )
        ]
