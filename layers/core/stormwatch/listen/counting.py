"""The count-mentions flow: one batch of the table's stream into the bucket counters.

Lambda's event source mapping reads the stream, lets through only the insertions of
mention items (template.yaml's filter) and hands them over per shard, in order; its
tumbling window is what puts the shard's id in the event, which the counter's position
is kept by. (docs/decisions/0020-counting-from-the-stream.md)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stormwatch.errors import ConfigError
from stormwatch.persistence.counting import InsertedMention, StreamCounter, inserted_mention
from stormwatch.persistence.keys import MENTION_PARTITION_PREFIX

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamBatch:
    shard_id: str
    mentions: list[InsertedMention]
    ignored: int
    """Records that are not a mention's insertion (none, with the template's filter)."""
    unreadable: int
    """Mention insertions that could not be read: logged, never counted."""


@dataclass(frozen=True, slots=True)
class CountReport:
    shard_id: str
    counted: int
    already_counted: int
    ignored: int
    unreadable: int
    transactions: int
    by_channel: dict[str, list[int]]
    """Per channel, [counted, of them negative]."""

    def summary(self) -> dict[str, object]:
        return {
            "counted": self.counted,
            "already_counted": self.already_counted,
            "ignored": self.ignored,
            "unreadable": self.unreadable,
            "transactions": self.transactions,
            "by_channel": {
                channel: {"counted": counted, "negative": negative}
                for channel, (counted, negative) in sorted(self.by_channel.items())
            },
        }


def parse_batch(event: Any) -> StreamBatch:
    """The shard and its inserted mentions, in stream order."""
    if not isinstance(event, Mapping):
        raise ConfigError("event", "must be a DynamoDB stream batch")
    shard_id = event.get("shardId")
    if not isinstance(shard_id, str) or not shard_id:
        raise ConfigError(
            "event.shardId",
            "missing: the event source mapping needs a tumbling window "
            "(TumblingWindowInSeconds), which is what puts the shard in the event",
        )
    records = event.get("Records") or []
    mentions: list[InsertedMention] = []
    ignored = unreadable = 0
    for record in records:
        change = record.get("dynamodb") if isinstance(record, Mapping) else None
        if not isinstance(change, Mapping):
            ignored += 1
            continue
        partition = str(change.get("Keys", {}).get("pk", {}).get("S", ""))
        if record.get("eventName") != "INSERT" or not partition.startswith(
            MENTION_PARTITION_PREFIX
        ):
            ignored += 1
            continue
        try:
            mentions.append(
                inserted_mention(str(change.get("SequenceNumber", "")), change.get("NewImage", {}))
            )
        except ValueError as error:
            # Raising would hold the whole shard back, every retry, for good.
            unreadable += 1
            logger.error(
                "a stored mention could not be counted",
                extra={"key": change.get("Keys"), "error": str(error)[:200]},
            )
    return StreamBatch(shard_id, mentions, ignored, unreadable)


def count_batch(event: Any, counter: StreamCounter, now: Callable[[], datetime]) -> CountReport:
    batch = parse_batch(event)
    result = counter.count(batch.shard_id, batch.mentions, now())
    return CountReport(
        shard_id=batch.shard_id,
        counted=result.counted,
        already_counted=result.already_counted,
        ignored=batch.ignored,
        unreadable=batch.unreadable,
        transactions=result.transactions,
        by_channel=result.by_channel,
    )
