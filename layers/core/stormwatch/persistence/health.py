"""Each channel poller's health, and each of its sources': last run, last success,
failures in a row.

A run fails only when every source it tried failed: one feed gone bad does not make the
channel blind while its other feeds are read. Each source's own failures in a row and
last error are attributes of the same item (``source:<key>:failures`` / ``:error``),
written by the same request as the channel's line, so a failing source costs no request
of its own; a source that worked loses them.

One item per channel in the `MONITOR` partition, beside the "monitoring is blind" state,
so the evaluator reads both with one Query (`persistence.warn_state.WarnStateStore.monitor`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from stormwatch.model import iso, parse_iso
from stormwatch.persistence import keys
from stormwatch.persistence.table import AttributeValue, Item, Table

_SOURCE = "source:"
_FAILURES = ":failures"
_ERROR = ":error"
MAX_SOURCE_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class PollHealthRecord:
    last_run_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    first_success_at: datetime | None = None
    # Per source that is failing: its failures in a row and its last error.
    sources: Mapping[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def failing_sources(self) -> tuple[str, ...]:
        return tuple(sorted(self.sources))


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
        source_errors: Mapping[str, str] | None = None,
        working_sources: Sequence[str] = (),
    ) -> set[str]:
        """One line of health per channel (what the silent-source detector reads), and its
        sources': those in `source_errors` failed this run, those in `working_sources` were
        read. Returns the failing sources whose last run had failed with the same error:
        twice in a row the same way."""
        names = {
            "#run": "last_run_at",
            "#success": "last_success_at",
            "#first": "first_success_at",
            "#failures": "consecutive_failures",
            "#mentions": "last_mentions",
            "#error": "last_error",
        }
        values: dict[str, AttributeValue] = {
            ":at": {"S": iso(at)},
            ":mentions": {"N": str(mentions)},
        }
        sets = ["#run = :at", "#mentions = :mentions"]
        adds: list[str] = []
        removes: list[str] = []
        if succeeded:
            sets += ["#success = :at", "#first = if_not_exists(#first, :at)", "#failures = :zero"]
            values[":zero"] = {"N": "0"}
            removes.append("#error")
        else:
            del names["#success"], names["#first"]
            sets.append("#error = :error")
            values[":error"] = {"S": (error or "unknown")[:1000]}
            adds.append("#failures :one")
        source_errors = source_errors or {}
        asked: dict[str, tuple[str, str]] = {}
        for index, (source, problem) in enumerate(sorted(source_errors.items())):
            names[f"#sf{index}"] = f"{_SOURCE}{source}{_FAILURES}"
            error_name = f"{_SOURCE}{source}{_ERROR}"
            names[f"#se{index}"] = error_name
            asked[error_name] = (source, problem[:MAX_SOURCE_ERROR_CHARS])
            values[f":se{index}"] = {"S": asked[error_name][1]}
            adds.append(f"#sf{index} :one")
            sets.append(f"#se{index} = :se{index}")
        for index, source in enumerate(sorted(set(working_sources) - set(source_errors))):
            names[f"#wf{index}"] = f"{_SOURCE}{source}{_FAILURES}"
            names[f"#we{index}"] = f"{_SOURCE}{source}{_ERROR}"
            removes += [f"#wf{index}", f"#we{index}"]
        expression = "SET " + ", ".join(sets)
        if adds:
            values[":one"] = {"N": "1"}
            expression += " ADD " + ", ".join(adds)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        answer = self.table.call(
            "update_item",
            TableName=self.table.name,
            Key=keys.health(channel),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            # The whole item before: UPDATED_OLD may leave out an attribute set to the value it
            # had (moto does), which is exactly the repeat asked about.
            ReturnValues="ALL_OLD",
        )
        old = answer.get("Attributes", {})
        return {
            source
            for name, (source, problem) in asked.items()
            if old.get(name, {}).get("S") == problem
        }


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
        sources=_source_health(item),
    )


def _source_health(item: Item) -> dict[str, tuple[int, str]]:
    sources: dict[str, tuple[int, str]] = {}
    for name, value in item.items():
        if name.startswith(_SOURCE) and name.endswith(_FAILURES) and "N" in value:
            source = name.removeprefix(_SOURCE).removesuffix(_FAILURES)
            problem = item.get(f"{_SOURCE}{source}{_ERROR}", {}).get("S", "")
            sources[source] = (int(value["N"]), problem)
    return sources
