"""Each channel poller's health: last run, last success, failures in a row.

A run fails only when every source it tried failed: one feed gone bad does not make the
channel blind while its other feeds are read. Which sources fail is kept beside it
(`failing_sources`); each source's own count and error are on its cursor
(`persistence.mentions.CursorRecord`).

One item per channel in the `MONITOR` partition, beside the "monitoring is blind" state,
so the evaluator reads both with one Query (`persistence.warn_state.WarnStateStore.monitor`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from stormwatch.model import iso, parse_iso
from stormwatch.persistence import keys
from stormwatch.persistence.table import AttributeValue, Item, Table


@dataclass(frozen=True, slots=True)
class PollHealthRecord:
    last_run_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    first_success_at: datetime | None = None
    failing_sources: tuple[str, ...] = ()


class HealthLog:
    def __init__(self, table: Table) -> None:
        self.table = table

    def record_poll(
        self,
        channel: str,
        at: datetime,
        *,
        succeeded: bool,
        error: str | None,
        mentions: int,
        failing_sources: Sequence[str] = (),
    ) -> None:
        """One line of health per channel: what the silent-source detector reads."""
        names = {
            "#run": "last_run_at",
            "#success": "last_success_at",
            "#first": "first_success_at",
            "#failures": "consecutive_failures",
            "#mentions": "last_mentions",
            "#error": "last_error",
            "#failing": "failing_sources",
        }
        values: dict[str, AttributeValue] = {
            ":at": {"S": iso(at)},
            ":mentions": {"N": str(mentions)},
        }
        failing = sorted(set(failing_sources))[:100]
        if failing:
            values[":failing"] = {"SS": failing}
        keep_failing = "#failing = :failing" if failing else ""
        if succeeded:
            expression = (
                "SET #run = :at, #success = :at, #first = if_not_exists(#first, :at), "
                "#failures = :zero, #mentions = :mentions"
                + (f", {keep_failing} REMOVE #error" if failing else " REMOVE #error, #failing")
            )
            values[":zero"] = {"N": "0"}
        else:
            expression = (
                "SET #run = :at, #error = :error, #mentions = :mentions"
                + (f", {keep_failing}" if failing else "")
                + " ADD #failures :one"
                + ("" if failing else " REMOVE #failing")
            )
            del names["#success"], names["#first"]
            values[":error"] = {"S": (error or "unknown")[:1000]}
            values[":one"] = {"N": "1"}
        self.table.call(
            "update_item",
            TableName=self.table.name,
            Key=keys.health(channel),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )


def is_health(item: Item) -> bool:
    return bool(item["pk"]["S"] == keys.MONITOR and item["sk"]["S"].startswith(keys.HEALTH))


def decode_health(item: Item) -> tuple[str, PollHealthRecord]:
    channel = item["sk"]["S"].removeprefix(keys.HEALTH)

    def moment(name: str) -> datetime | None:
        value = item.get(name, {}).get("S")
        return parse_iso(value) if value else None

    return channel, PollHealthRecord(
        last_run_at=moment("last_run_at"),
        last_success_at=moment("last_success_at"),
        consecutive_failures=int(item.get("consecutive_failures", {"N": "0"})["N"]),
        last_error=item.get("last_error", {}).get("S"),
        first_success_at=moment("first_success_at"),
        failing_sources=tuple(sorted(item.get("failing_sources", {}).get("SS", []))),
    )
