"""Bucket counters from the table's stream: each stored mention counted exactly once.

The pollers write each mention without counting it (`persistence.mentions`); DynamoDB's
stream holds each insertion once, in order within its shard, and Lambda hands a shard's
inserted mentions to the count-mentions function in batches, one at a time, again after
a failure.
A batch's bucket increments go in one transaction with the shard's *position* - the last
stream record counted - which moves only forward: a batch retried after a crash, or
after a transaction whose answer was lost, finds its records behind the position and
adds nothing twice. (docs/decisions/0020-counting-from-the-stream.md)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from stormwatch.model import BucketCounts, ScoredMention, Sentiment, iso, parse_iso
from stormwatch.persistence import keys
from stormwatch.persistence.buckets import add_counts
from stormwatch.persistence.mentions import scored_mention
from stormwatch.persistence.table import (
    MAX_TRANSACTION_ACTIONS,
    AttributeValue,
    Table,
    cancellation_reasons,
)

logger = logging.getLogger(__name__)

# Stream sequence numbers are decimal strings of 21 to 40 digits; padded, they compare as
# strings in a condition expression.
SEQUENCE_DIGITS = 40
# A shard lives 24 hours and its records as long: its position is kept a little longer.
POSITION_RETENTION = timedelta(days=3)
MAX_CONFLICT_RETRIES = 6


@dataclass(frozen=True, slots=True)
class InsertedMention:
    """A mention as its insertion came through the stream."""

    sequence: str
    """The stream record's sequence number, zero-padded to `SEQUENCE_DIGITS`."""
    scored: ScoredMention
    bucket: datetime


@dataclass(slots=True)
class CountResult:
    counted: int = 0
    already_counted: int = 0
    transactions: int = 0
    by_channel: dict[str, list[int]] = field(default_factory=dict)
    """Per channel, the mentions counted now and how many of them are negative: exact,
    where a poll's report counts what it wrote (a post two sources found, twice)."""


def padded_sequence(sequence: str) -> str:
    if not sequence.isdigit() or len(sequence) > SEQUENCE_DIGITS:
        raise ValueError(f"not a stream sequence number: {sequence[:80]!r}")
    return sequence.zfill(SEQUENCE_DIGITS)


class StreamCounter:
    """Adds a shard's inserted mentions to their buckets, each once."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def count(
        self, shard_id: str, inserted: Sequence[InsertedMention], now: datetime
    ) -> CountResult:
        """Count `inserted` (one shard's records, in stream order) unless counted before."""
        from botocore.exceptions import ClientError

        result = CountResult()
        pending = list(inserted)
        conflicts = 0
        while pending:
            chunk, rest = _split(pending)
            try:
                self.table.transact(self._actions(shard_id, chunk, now))
            except ClientError as error:
                reasons = cancellation_reasons(error)
                if reasons is None:
                    raise
                if reasons[-1] == "ConditionalCheckFailed":
                    # Counted before (a retried batch, or this very transaction whose
                    # answer was lost): go on after the position.
                    position = self.position(shard_id)
                    behind = [item for item in pending if item.sequence <= position]
                    result.already_counted += len(behind)
                    pending = [item for item in pending if item.sequence > position]
                    continue
                if "TransactionConflict" in reasons and conflicts < MAX_CONFLICT_RETRIES:
                    # Another shard's batch is adding to the same bucket right now.
                    conflicts += 1
                    time.sleep(0.05 * 2**conflicts)
                    continue
                raise
            result.counted += len(chunk)
            result.transactions += 1
            for item in chunk:
                tally = result.by_channel.setdefault(item.scored.mention.channel, [0, 0])
                tally[0] += 1
                tally[1] += item.scored.sentiment is Sentiment.NEGATIVE
            pending = rest
        return result

    def position(self, shard_id: str) -> str:
        """The last sequence number of the shard counted (padded), or "" for none."""
        item = self.table.read(keys.counted_position(shard_id))
        return str(item["sequence"]["S"]) if item else ""

    def _actions(
        self, shard_id: str, chunk: Sequence[InsertedMention], now: datetime
    ) -> list[dict[str, object]]:
        by_bucket: dict[tuple[str, datetime], dict[str, BucketCounts]] = {}
        for item in chunk:
            channel = item.scored.mention.channel
            for brand in item.scored.brands:
                channels = by_bucket.setdefault((brand, item.bucket), {})
                channels.setdefault(channel, BucketCounts()).add(item.scored)
        actions: list[dict[str, object]] = [
            add_counts(self.table.name, brand, start, channels)
            for (brand, start), channels in sorted(by_bucket.items())
        ]
        values: dict[str, AttributeValue] = {
            ":first": {"S": chunk[0].sequence},
            ":last": {"S": chunk[-1].sequence},
            ":now": {"S": iso(now)},
            ":expires": {"N": str(int((now + POSITION_RETENTION).timestamp()))},
        }
        actions.append(
            {
                "Update": {
                    "TableName": self.table.name,
                    "Key": keys.counted_position(shard_id),
                    "UpdateExpression": (
                        "SET #sequence = :last, #updated = :now, #expires = :expires"
                    ),
                    "ConditionExpression": "attribute_not_exists(#sequence) OR #sequence < :first",
                    "ExpressionAttributeNames": {
                        "#sequence": "sequence",
                        "#updated": "updated_at",
                        "#expires": "expires_at",
                    },
                    "ExpressionAttributeValues": values,
                }
            }
        )
        return actions


def _split(pending: list[InsertedMention]) -> tuple[list[InsertedMention], list[InsertedMention]]:
    """The longest prefix whose bucket updates and the position fit one transaction; never
    empty, since the pollers store no mention with more brands than that."""
    buckets: set[tuple[str, datetime]] = set()
    for index, item in enumerate(pending):
        grown = buckets | {(brand, item.bucket) for brand in item.scored.brands}
        if index and len(grown) + 1 > MAX_TRANSACTION_ACTIONS:
            return pending[:index], pending[index:]
        buckets = grown
    return pending, []


def inserted_mention(sequence: str, image: dict[str, AttributeValue]) -> InsertedMention:
    """A stream record's new image as the counter needs it; ValueError when it is not a
    stored mention (the stream's filter lets only those through)."""
    try:
        scored = scored_mention(image)
        bucket = parse_iso(image["bucket"]["S"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a stored mention: {type(error).__name__}: {error}") from None
    brands = sorted(scored.brands)[: MAX_TRANSACTION_ACTIONS - 1]
    if len(brands) < len(scored.brands):
        scored = replace(scored, brands=tuple(brands))
    return InsertedMention(padded_sequence(sequence), scored, bucket)
