"""Per-channel release records: what a statement's publication on each channel is doing.

One item per statement and channel (`keys.release`), through four states:

    (none) --claim--> publishing --> published      (post id and URL)
                          |    \\--> failed         (the channel refused; error, retryable)
                          \\-------> unknown        (timeout, 5xx: the post may exist)

`claim` is the intent, written with a conditional update before the channel is called:
who, the text's hash, the attempt number, and a claim that expires. Only one run can hold
a channel's claim, so a double click or two overlapping releases cannot both post; the
other sees it claimed. A claim that expired without an outcome (the run crashed between
the intent and the record) counts as `unknown`: the post may exist. The claim tells its
holder when the previous attempt left the post's existence open, so the channel is
looked at (`Publisher.find`) before anything is sent again. Outcomes are written only by
the claim's holder (fenced by the attempt number).

While crisis mode answers an alert, the store is made `on_alert`: a channel turning
published then adds its "released" step to the alert's timeline in the same transaction,
so a retried release (which finds the channel published, or publishes only what failed)
never adds a second entry for a channel.

Reads are a consistent Query of the statement's partition: no GetItem permission needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stormwatch.errors import StormwatchError
from stormwatch.model import iso, parse_iso
from stormwatch.persistence import keys
from stormwatch.persistence.table import (
    AttributeValue,
    Table,
    cancellation_reasons,
    condition_failed,
)
from stormwatch.persistence.timeline import RELEASED, TimelineEntry
from stormwatch.persistence.timeline import put_action as timeline_put

PUBLISHING = "publishing"
PUBLISHED = "published"
FAILED = "failed"
UNKNOWN = "unknown"

_NAMES = {
    "#state": "state",
    "#hash": "text_hash",
    "#attempt": "attempt",
    "#claimed": "claimed_until",
}


class TextChanged(StormwatchError):
    """A channel's record is bound to another text than the one being released."""

    def __init__(self, statement_id: str, channel: str) -> None:
        super().__init__(
            f"statement {statement_id}: {channel} was released with another text; a changed "
            "statement is a new statement"
        )
        self.channel = channel


@dataclass(frozen=True, slots=True)
class ReleaseRecord:
    statement_id: str
    channel: str
    state: str
    text_hash: str
    attempt: int
    by: str
    since: datetime
    """When the first attempt's intent was recorded."""
    claimed_until: datetime | None = None
    post_id: str | None = None
    url: str | None = None
    error: str | None = None
    retryable: bool = False

    def claimed_at(self, now: datetime) -> bool:
        return (
            self.state == PUBLISHING and self.claimed_until is not None and self.claimed_until > now
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """This run holds the channel: attempt `attempt` of a publication first intended at
    `since`. `must_find`: an earlier attempt may have posted."""

    attempt: int
    since: datetime
    previous_state: str | None

    @property
    def must_find(self) -> bool:
        return self.previous_state in (UNKNOWN, PUBLISHING)


class ReleaseStore:
    def __init__(self, table: Table, alert_id: str | None = None, by: str | None = None) -> None:
        self.table = table
        self.alert_id = alert_id
        self.by = by
        """The contact releasing, for the alert's timeline."""

    def on_alert(self, alert_id: str | None, by: str) -> ReleaseStore:
        """This store, recording each channel published on `alert_id`'s timeline too."""
        return ReleaseStore(self.table, alert_id, by) if alert_id else self

    def records(self, statement_id: str) -> dict[str, ReleaseRecord]:
        """Every channel's record of the statement, read consistently."""
        items = self.table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :release)",
            ExpressionAttributeValues={
                ":pk": {"S": keys.statement_partition(statement_id)},
                ":release": {"S": keys.RELEASE},
            },
            ConsistentRead=True,
        )
        records = (_record(statement_id, item) for item in items)
        return {record.channel: record for record in records}

    def claim(
        self,
        statement_id: str,
        channel: str,
        text_hash: str,
        by: str,
        now: datetime,
        lease: timedelta,
    ) -> Claim | None:
        """Take the channel for one attempt until `now + lease`; None when it is published
        already or another run holds it. `TextChanged` when it is bound to another text."""
        from botocore.exceptions import ClientError

        try:
            answer = self.table.call(
                "update_item",
                TableName=self.table.name,
                Key=keys.release(statement_id, channel),
                UpdateExpression=(
                    "SET #state = :publishing, #hash = :hash, #by = :by, #claimed = :until, "
                    "#since = if_not_exists(#since, :now), #updated = :now "
                    "ADD #attempt :one REMOVE #error, #retryable"
                ),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#hash = :hash AND (#state IN (:failed, :unknown) "
                    "OR (#state = :publishing AND #claimed <= :now)))"
                ),
                ExpressionAttributeNames={
                    **_NAMES,
                    "#by": "by",
                    "#since": "since",
                    "#updated": "updated_at",
                    "#error": "error",
                    "#retryable": "retryable",
                },
                ExpressionAttributeValues={
                    ":publishing": {"S": PUBLISHING},
                    ":failed": {"S": FAILED},
                    ":unknown": {"S": UNKNOWN},
                    ":hash": {"S": text_hash},
                    ":by": {"S": by},
                    ":now": {"S": iso(now)},
                    ":until": {"S": iso(now + lease)},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            current = self.records(statement_id).get(channel)
            if current is not None and current.text_hash != text_hash:
                raise TextChanged(statement_id, channel) from None
            return None
        old = answer.get("Attributes") or {}
        if not old:
            return Claim(attempt=1, since=parse_iso(iso(now)), previous_state=None)
        return Claim(
            attempt=int(old["attempt"]["N"]) + 1,
            since=parse_iso(old["since"]["S"]),
            previous_state=old["state"]["S"],
        )

    def mark_published(
        self, statement_id: str, channel: str, attempt: int, post_id: str, url: str, now: datetime
    ) -> bool:
        step = None
        if self.alert_id is not None:
            step = TimelineEntry(
                now,
                RELEASED,
                f"{statement_id}#{channel}",
                self.by,
                {"statement": statement_id, "channel": channel, "post_id": post_id, "url": url},
            )
        return self._settle(
            statement_id,
            channel,
            attempt,
            now,
            PUBLISHED,
            {"post_id": {"S": post_id}, "url": {"S": url}},
            step,
        )

    def mark_failed(
        self,
        statement_id: str,
        channel: str,
        attempt: int,
        error: str,
        now: datetime,
        *,
        retryable: bool,
    ) -> bool:
        fields: dict[str, AttributeValue] = {
            "error": {"S": error[:1000]},
            "retryable": {"BOOL": retryable},
        }
        return self._settle(statement_id, channel, attempt, now, FAILED, fields)

    def mark_unknown(
        self, statement_id: str, channel: str, attempt: int, error: str, now: datetime
    ) -> bool:
        fields: dict[str, AttributeValue] = {
            "error": {"S": error[:1000]},
            "retryable": {"BOOL": True},
        }
        return self._settle(statement_id, channel, attempt, now, UNKNOWN, fields)

    def _settle(
        self,
        statement_id: str,
        channel: str,
        attempt: int,
        now: datetime,
        state: str,
        fields: dict[str, AttributeValue],
        step: TimelineEntry | None = None,
    ) -> bool:
        """Record the outcome of attempt `attempt`; False when that attempt no longer holds
        the claim (it expired and another run took the channel)."""
        from botocore.exceptions import ClientError

        names = {"#state": "state", "#attempt": "attempt", "#claimed": "claimed_until"}
        values: dict[str, Any] = {
            ":state": {"S": state},
            ":publishing": {"S": PUBLISHING},
            ":attempt": {"N": str(attempt)},
            ":now": {"S": iso(now)},
        }
        assignments = ["#state = :state", "#updated = :now"]
        names["#updated"] = "updated_at"
        for index, (name, value) in enumerate(fields.items()):
            names[f"#f{index}"] = name
            values[f":f{index}"] = value
            assignments.append(f"#f{index} = :f{index}")
        update = {
            "TableName": self.table.name,
            "Key": keys.release(statement_id, channel),
            "UpdateExpression": "SET " + ", ".join(assignments) + " REMOVE #claimed",
            "ConditionExpression": "#state = :publishing AND #attempt = :attempt",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        try:
            if step is None or self.alert_id is None:
                self.table.call("update_item", **update)
            else:
                self.table.transact(
                    [{"Update": update}, timeline_put(self.table.name, self.alert_id, step)]
                )
        except ClientError as error:
            reasons = cancellation_reasons(error) or []
            if condition_failed(error) or (reasons and reasons[0] == "ConditionalCheckFailed"):
                return False
            raise
        return True


def _text(item: dict[str, AttributeValue], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value and "S" in value else None


def _record(statement_id: str, item: dict[str, AttributeValue]) -> ReleaseRecord:
    claimed = _text(item, "claimed_until")
    retryable = item.get("retryable", {})
    return ReleaseRecord(
        statement_id=statement_id,
        channel=item["sk"]["S"].removeprefix(keys.RELEASE),
        state=item["state"]["S"],
        text_hash=item["text_hash"]["S"],
        attempt=int(item["attempt"]["N"]),
        by=item["by"]["S"],
        since=parse_iso(item["since"]["S"]),
        claimed_until=parse_iso(claimed) if claimed else None,
        post_id=_text(item, "post_id"),
        url=_text(item, "url"),
        error=_text(item, "error"),
        retryable=bool(retryable.get("BOOL", False)),
    )
