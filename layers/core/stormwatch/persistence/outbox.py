"""The outbox: every message the Warn flow decided to send, until SNS has taken it.

A message is written in the same transaction as the state change that decided it (see
`persistence.warn_state`), so a decision is never lost and never made twice; then it is
claimed for a few minutes by the run that sends it (two overlapping runs never both
send it), and marked. A message whose sending failed stays pending with its attempts
counted and its last error kept for ops; one given up is marked failed, and both are
listed by `undelivered` (for `stormwatch status`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stormwatch.model import iso
from stormwatch.notify import Delivery
from stormwatch.persistence import keys
from stormwatch.persistence.table import AttributeValue, Table, condition_failed

RETENTION = timedelta(days=30)
PENDING = "pending"
SENT = "sent"
FAILED = "failed"
REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    key: str
    delivery: Delivery
    attempts: int


@dataclass(frozen=True, slots=True)
class UndeliveredEntry:
    """A message SNS refused at least once: still being tried (`pending`) or given up
    (`failed`), with its last error."""

    key: str
    delivery: Delivery
    attempts: int
    status: str
    last_error: str | None


def put_action(table: str, dispatch_key: str, delivery: Delivery, now: datetime) -> dict[str, Any]:
    """A new pending message, written only if no message with this key exists yet."""
    return {
        "Put": {
            "TableName": table,
            "Item": {
                **keys.outbox(dispatch_key),
                "status": {"S": PENDING},
                "payload": {"S": json.dumps(delivery.as_payload(), sort_keys=True)},
                "attempts": {"N": "0"},
                "created_at": {"S": iso(now)},
                "expires_at": {"N": str(int((now + RETENTION).timestamp()))},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


class Outbox:
    def __init__(self, table: Table) -> None:
        self.table = table

    def pending(self) -> list[OutboxEntry]:
        return [
            OutboxEntry(
                item["sk"]["S"],
                Delivery.from_payload(json.loads(item["payload"]["S"])),
                int(item["attempts"]["N"]),
            )
            for item in self.table.query(
                KeyConditionExpression="pk = :pk",
                FilterExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pk": {"S": keys.OUTBOX},
                    ":pending": {"S": PENDING},
                },
                ConsistentRead=True,
            )
        ]

    def claim(self, dispatch_key: str, now: datetime, lease: timedelta) -> bool:
        """Take a pending message for sending until `now + lease`; False when it is sent
        already or another run holds an unexpired claim. A run that died after claiming
        leaves it to the next run once the lease is over."""
        from botocore.exceptions import ClientError

        try:
            self.table.call(
                "update_item",
                TableName=self.table.name,
                Key=keys.outbox(dispatch_key),
                UpdateExpression="SET #claimed = :until",
                ConditionExpression=(
                    "#status = :pending AND (attribute_not_exists(#claimed) OR #claimed <= :now)"
                ),
                ExpressionAttributeNames={"#status": "status", "#claimed": "claimed_until"},
                ExpressionAttributeValues={
                    ":pending": {"S": PENDING},
                    ":now": {"S": iso(now)},
                    ":until": {"S": iso(now + lease)},
                },
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def add(self, dispatch_key: str, delivery: Delivery, now: datetime) -> bool:
        """A new pending message outside a state change (an SMS's email fallback); False
        when one with this key exists already."""
        return self.table.put_new(
            put_action(self.table.name, dispatch_key, delivery, now)["Put"]["Item"]
        )

    def mark(
        self, dispatch_key: str, *, sent: bool, error: str | None = None, give_up: bool = False
    ) -> None:
        """Sent: done. Not sent: one more attempt counted, the error kept for ops, and the
        claim let go so that the next run tries again at once - or, with `give_up`, never
        again: it is failed."""
        if sent:
            expression = "SET #status = :sent REMOVE #error, #claimed"
            names = {"#status": "status", "#error": "last_error", "#claimed": "claimed_until"}
            values: dict[str, AttributeValue] = {":sent": {"S": SENT}}
        else:
            # Without an error of its own the last one stays (a message given up later).
            kept = ":error" if error is not None else "if_not_exists(#error, :error)"
            expression = f"ADD #attempts :one SET #error = {kept} REMOVE #claimed"
            names = {"#attempts": "attempts", "#error": "last_error", "#claimed": "claimed_until"}
            values = {":one": {"N": "1"}, ":error": {"S": (error or "unknown")[:500]}}
            if give_up:
                expression = expression.replace("SET ", "SET #status = :failed, ")
                names["#status"] = "status"
                values[":failed"] = {"S": FAILED}
        self.table.call(
            "update_item",
            TableName=self.table.name,
            Key=keys.outbox(dispatch_key),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def undelivered(self) -> list[UndeliveredEntry]:
        """Messages SNS refused at least once and that are not sent: being tried again,
        or given up (kept as long as the outbox keeps anything, 30 days)."""
        return [
            UndeliveredEntry(
                item["sk"]["S"],
                Delivery.from_payload(json.loads(item["payload"]["S"])),
                int(item["attempts"]["N"]),
                item["status"]["S"],
                item.get("last_error", {}).get("S"),
            )
            for item in self.table.query(
                KeyConditionExpression="pk = :pk",
                FilterExpression="#status <> :sent AND #attempts > :none",
                ExpressionAttributeNames={"#status": "status", "#attempts": "attempts"},
                ExpressionAttributeValues={
                    ":pk": {"S": keys.OUTBOX},
                    ":sent": {"S": SENT},
                    ":none": {"N": "0"},
                },
                ConsistentRead=True,
            )
        ]

    def refuse(self, dispatch_key: str, reason: str) -> None:
        """Never to be sent (kept, with `reason`, for ops): only a pending message moves."""
        from botocore.exceptions import ClientError

        try:
            self.table.call(
                "update_item",
                TableName=self.table.name,
                Key=keys.outbox(dispatch_key),
                UpdateExpression="SET #status = :refused, #error = :reason",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status", "#error": "last_error"},
                ExpressionAttributeValues={
                    ":refused": {"S": REFUSED},
                    ":pending": {"S": PENDING},
                    ":reason": {"S": reason[:500]},
                },
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
