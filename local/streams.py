"""Lambda's side of a DynamoDB stream event source mapping, for the local stack.

On AWS, Lambda's poller reads the table's stream, drops what the mapping's filter does not
match, and invokes the function with batches of one shard's records, in order, one batch
at a time; a batch that fails is handed over again, and nothing after it, until it
succeeds (the template's `MaximumRetryAttempts: -1`). Locally the stack calls `deliver`
after each invocation it runs, so a poll's mentions are counted before the next step of a
scenario, as they would be within the mapping's batching window on AWS.

The poller is AWS's part, like moto itself: it reads moto's shard in-process (its reads
are free on AWS, and a round trip per invocation would only slow the tests), and drops
the records every mapping has read, as the stream's 24-hour retention would.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.stack import LocalStack


@dataclass
class Mapping:
    logical_id: str
    function: str
    table_name: str
    stream_arn: str
    batch_size: int
    window_seconds: int
    patterns: list[dict[str, Any]]
    position: int | None = None
    """The sequence number of the last record read (handed over or filtered out)."""
    failures: list[str] = field(default_factory=list)


class StreamDelivery:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.mappings = _mappings(stack)
        self._lock = threading.RLock()
        self.invocations = 0
        self.automatic = True
        """Deliver after each invocation the stack runs; off, the caller delivers when it
        wants a batching window to end (bench.cost: once per minute of a scenario, so a
        round of polls is one batch, as the mapping's 20-second window makes it on AWS)."""

    def deliver(self) -> None:
        """Hand each mapping's new records to its function until none is left, or a batch
        fails (it is handed over again at the next delivery)."""
        with self._lock:
            for mapping in self.mappings:
                self._deliver(mapping)

    def failures(self) -> list[str]:
        return [failure for mapping in self.mappings for failure in mapping.failures]

    def _deliver(self, mapping: Mapping) -> None:
        shard = _shard(mapping.table_name)
        if shard is None:
            return
        first = shard.starting_sequence_number
        start = first if mapping.position is None else mapping.position + 1
        records = [item.to_json() for item in shard.items[start - first :]]
        batch: list[dict[str, Any]] = []
        for record in records:
            sequence = int(record["dynamodb"]["SequenceNumber"])
            if _matches_any(mapping.patterns, record):
                batch.append(_lambda_record(record, mapping.stream_arn))
            if len(batch) == mapping.batch_size or (record is records[-1]):
                if batch and not self._invoke(mapping, shard.id, batch):
                    return
                mapping.position = sequence
                batch = []
        self._forget_read(shard)

    def _invoke(self, mapping: Mapping, shard_id: str, batch: list[dict[str, Any]]) -> bool:
        now = datetime.now(UTC)
        window = timedelta(seconds=mapping.window_seconds or 1)
        start = datetime.fromtimestamp(
            now.timestamp() // window.total_seconds() * window.total_seconds(), UTC
        )
        event = {
            "Records": batch,
            "shardId": shard_id,
            "eventSourceARN": mapping.stream_arn,
            "window": {"start": _iso(start), "end": _iso(start + window)},
            "state": {},
            "isFinalInvokeForWindow": False,
            "isWindowTerminatedEarly": False,
        }
        self.invocations += 1
        assert self.stack.deployment is not None
        properties = self.stack.deployment.template["Resources"][mapping.function]["Properties"]
        try:
            self.stack._invoke_now(mapping.function, event, float(properties.get("Timeout", 60)))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:
            mapping.failures.append(f"{type(error).__name__}: {error}")
            return False
        return True

    def _forget_read(self, shard: Any) -> None:
        read = [m.position for m in self.mappings if m.position is not None]
        if len(read) < len(self.mappings) or not read:
            return
        keep_from = min(read) + 1
        drop = keep_from - shard.starting_sequence_number
        if drop > 0:
            del shard.items[:drop]
            shard.starting_sequence_number += drop


def _mappings(stack: LocalStack) -> list[Mapping]:
    deployment = stack.deployment
    assert deployment is not None
    found = []
    for logical_id, resource in deployment.template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        if logical_id not in deployment.resources:
            continue  # its condition is false
        properties = json.loads(deployment.resources[logical_id].attributes["Properties"])
        function = stack._function_named(str(properties["FunctionName"]))
        if function is None:
            raise ValueError(f"{logical_id}: no function {properties['FunctionName']!r}")
        stream_arn = str(properties["EventSourceArn"])
        patterns = [
            json.loads(item["Pattern"])
            for item in (properties.get("FilterCriteria") or {}).get("Filters", [])
        ]
        found.append(
            Mapping(
                logical_id=logical_id,
                function=function,
                table_name=stream_arn.split(":table/", 1)[1].split("/", 1)[0],
                stream_arn=stream_arn,
                batch_size=int(properties.get("BatchSize", 100)),
                window_seconds=int(properties.get("TumblingWindowInSeconds", 0)),
                patterns=patterns,
            )
        )
    return found


def _shard(table_name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    from local.provision import ACCOUNT_ID, REGION

    return dynamodb_backends[ACCOUNT_ID][REGION].get_table(table_name).stream_shard


def _lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as Lambda's event carries it (the creation time in epoch seconds)."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = float(int(created.timestamp()))
    return {**record, "dynamodb": change, "eventSourceARN": stream_arn}


def _matches_any(patterns: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """Lambda's event filtering: no filter lets everything through; a record passes when
    any pattern matches it."""
    return not patterns or any(_matches(pattern, record) for pattern in patterns)


def _matches(pattern: Any, value: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            key in value and _matches(inner, value[key]) for key, inner in pattern.items()
        )
    if isinstance(pattern, list):
        return any(_matches_option(option, value) for option in pattern)
    raise ValueError(f"a filter pattern's leaf must be a list of options, got {pattern!r}")


def _matches_option(option: Any, value: Any) -> bool:
    if isinstance(option, dict):
        if set(option) == {"prefix"}:
            return isinstance(value, str) and value.startswith(option["prefix"])
        raise ValueError(f"filter rule {option!r} is not supported by the local stack")
    return bool(option == value)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
