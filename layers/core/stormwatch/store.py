"""DynamoDB access for the single table: the only module that knows keys and item shapes.

Key families (pk / sk):
- ``MENTION#<channel>#<day>`` / ``<created_at>#<id>``: one item per mention (TTL). The
  day in the partition key keeps a storm from piling every write into one partition.
- ``BUCKET#<brand>#<channel|ALL>`` / ``<bucket start>``: counters, added atomically.
- ``CURSOR#<channel>`` / ``<source key>``: where each query resumes (one Query reads all
  cursors of a channel).
- ``HEALTH#<channel>`` / ``POLL``: last run, last success, consecutive failures.
- ``SERIES#<brand>#<channel|ALL>`` / ``DETECTOR``: the volume detector's state (JSON).
- ``ALERT#<brand>`` / ``STATE``: the brand's alert lifecycle (JSON), version-fenced.
- ``MONITOR`` / ``BLIND``: channels on which monitoring is blind.
- ``OUTBOX`` / ``<key>``: notifications decided but not yet confirmed sent.

Exactly-once counting: a page is committed in one transaction holding the mentions
(each put only if it does not exist yet), the bucket ADDs for exactly those mentions,
and the cursor (only if nobody else moved it). A mention item therefore exists if and
only if it was counted. When a put fails its condition the mention was counted before
(a retry, an overlapping page, two sources finding the same post): it is dropped and
the rest is committed again. The cursor update is idempotent (it succeeds again if the
cursor already holds exactly this state) so a transaction that committed but whose
answer was lost can be retried without a false conflict.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stormwatch.errors import StoreConflict
from stormwatch.model import (
    ALL_CHANNELS,
    BucketCounts,
    BucketKey,
    ScoredMention,
    bucket_start,
    iso,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

# DynamoDB allows 100 actions per transaction.
MAX_TRANSACTION_ITEMS = 100
MAX_CONFLICT_RETRIES = 6
BUCKET_RETENTION = timedelta(days=400)
READ_OPERATIONS = frozenset({"query", "get_item", "batch_get_item"})
COUNTER_FIELDS = ("total", "negative", "neutral", "positive", "reach", "engagement")

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]


def mention_key(channel: str, created_at: datetime, mention_id: str) -> Item:
    moment = iso(created_at)
    return {
        "pk": {"S": f"MENTION#{channel}#{moment[:10]}"},
        "sk": {"S": f"{moment}#{mention_id}"},
    }


def bucket_key(key: BucketKey) -> Item:
    return {"pk": {"S": f"BUCKET#{key.brand}#{key.channel}"}, "sk": {"S": iso(key.start)}}


def cursor_key(channel: str, source: str) -> Item:
    return {"pk": {"S": f"CURSOR#{channel}"}, "sk": {"S": source}}


def health_key(channel: str) -> Item:
    return {"pk": {"S": f"HEALTH#{channel}"}, "sk": {"S": "POLL"}}


def detector_key(brand: str, channel: str) -> Item:
    return {"pk": {"S": f"SERIES#{brand}#{channel}"}, "sk": {"S": "DETECTOR"}}


def alert_state_key(brand: str) -> Item:
    return {"pk": {"S": f"ALERT#{brand}"}, "sk": {"S": "STATE"}}


BLIND_KEY: Item = {"pk": {"S": "MONITOR"}, "sk": {"S": "BLIND"}}
OUTBOX_PK = "OUTBOX"
OUTBOX_RETENTION = timedelta(days=30)


def outbox_key(dispatch_key: str) -> Item:
    return {"pk": {"S": OUTBOX_PK}, "sk": {"S": dispatch_key}}


@dataclass(frozen=True, slots=True)
class Versioned:
    """A JSON state item and the version it was read at (0: not stored yet)."""

    state: dict[str, Any] | None
    version: int


@dataclass(frozen=True, slots=True)
class PollHealthRecord:
    last_run_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    first_success_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    key: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class CursorRecord:
    """A source's saved position; `version` fences concurrent runs."""

    state: dict[str, Any] | None
    version: int
    backoff_until: datetime | None = None


@dataclass(slots=True)
class CommitResult:
    stored: int = 0
    duplicates: int = 0
    version: int = 0
    transactions: int = 0


@dataclass(slots=True)
class StoreStats:
    """What this store instance asked of DynamoDB (for metrics and the benchmark)."""

    requests: int = 0
    transactions: int = 0
    write_items: int = 0
    retries_after_duplicates: int = 0
    conflicts: int = 0
    consumed_write_units: float = 0.0
    consumed_read_units: float = 0.0
    by_operation: dict[str, int] = field(default_factory=dict)


def aggregate(
    scored: Iterable[ScoredMention], bucket_minutes: int
) -> dict[BucketKey, BucketCounts]:
    """Bucket counters for a batch: brand x channel and brand x all channels."""
    buckets: dict[BucketKey, BucketCounts] = {}
    for item in scored:
        start = bucket_start(item.mention.created_at, bucket_minutes)
        for brand in item.brands:
            for channel in (item.mention.channel, ALL_CHANNELS):
                key = BucketKey(brand, channel, start)
                counts = buckets.get(key)
                if counts is None:
                    counts = buckets[key] = BucketCounts()
                counts.add(item)
    return buckets


class DynamoStore:
    """The table behind the Listen flow; later flows add their own methods here."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self.client = client
        self.table = table_name
        self.stats = StoreStats()

    # --- cursors and health ------------------------------------------------------------

    def load_cursors(self, channel: str) -> dict[str, CursorRecord]:
        records: dict[str, CursorRecord] = {}
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"CURSOR#{channel}"}},
            "ConsistentRead": True,
            "ReturnConsumedCapacity": "TOTAL",
        }
        while True:
            answer = self._call("query", **request)
            for item in answer.get("Items", []):
                records[item["sk"]["S"]] = _cursor_record(item)
            if "LastEvaluatedKey" not in answer:
                return records
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def set_backoff(self, channel: str, source: str, until: datetime, reason: str) -> None:
        """Remember not to call this source before `until`; the cursor state is untouched."""
        self._call(
            "update_item",
            TableName=self.table,
            Key=cursor_key(channel, source),
            UpdateExpression="SET #backoff = :until, #reason = :reason",
            ExpressionAttributeNames={"#backoff": "backoff_until", "#reason": "backoff_reason"},
            ExpressionAttributeValues={":until": {"S": iso(until)}, ":reason": {"S": reason[:500]}},
            ReturnConsumedCapacity="TOTAL",
        )

    def record_poll(
        self, channel: str, at: datetime, *, succeeded: bool, error: str | None, mentions: int
    ) -> None:
        """One line of health per channel: what the silent-source detector reads."""
        names = {
            "#run": "last_run_at",
            "#success": "last_success_at",
            "#first": "first_success_at",
            "#failures": "consecutive_failures",
            "#mentions": "last_mentions",
            "#error": "last_error",
        }
        if succeeded:
            expression = (
                "SET #run = :at, #success = :at, #first = if_not_exists(#first, :at), "
                "#failures = :zero, #mentions = :mentions REMOVE #error"
            )
            values: dict[str, AttributeValue] = {
                ":at": {"S": iso(at)},
                ":zero": {"N": "0"},
                ":mentions": {"N": str(mentions)},
            }
        else:
            expression = "SET #run = :at, #error = :error, #mentions = :mentions ADD #failures :one"
            del names["#success"], names["#first"]
            values = {
                ":at": {"S": iso(at)},
                ":error": {"S": (error or "unknown")[:1000]},
                ":one": {"N": "1"},
                ":mentions": {"N": str(mentions)},
            }
        self._call(
            "update_item",
            TableName=self.table,
            Key=health_key(channel),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnConsumedCapacity="TOTAL",
        )

    # --- the commit ------------------------------------------------------------------

    def commit_page(
        self,
        channel: str,
        source: str,
        expected_version: int,
        cursor_state: Mapping[str, Any],
        scored: Sequence[ScoredMention],
        *,
        bucket_minutes: int,
        mention_ttl_days: int,
        now: datetime,
    ) -> CommitResult:
        """Store `scored`, add them to their buckets and move the cursor, exactly once.

        Raises `StoreConflict` when another run moved the cursor first; the mentions of
        this call that were not committed will be read again from the other run's cursor.
        """
        pending = _unique(scored)
        result = CommitResult(version=expected_version)
        next_version = expected_version + 1
        cursor_update = self._cursor_update(channel, source, expected_version, cursor_state, now)
        # Mentions and their buckets go in chunks that fit one transaction; the cursor
        # moves with the last chunk, so a crash in between re-reads the page and the
        # already stored mentions are recognised as duplicates.
        while True:
            chunk, rest = self._split(pending, bucket_minutes)
            last = not rest
            stored, duplicates = self._commit_chunk(
                chunk, cursor_update if last else None, bucket_minutes, mention_ttl_days, now
            )
            result.stored += stored
            result.duplicates += duplicates
            result.transactions += 1
            if last:
                result.version = next_version
                return result
            pending = rest

    def _split(
        self, pending: list[ScoredMention], bucket_minutes: int
    ) -> tuple[list[ScoredMention], list[ScoredMention]]:
        """The longest prefix whose puts, bucket updates and the cursor fit a transaction."""
        chunk: list[ScoredMention] = []
        keys: set[BucketKey] = set()
        for index, item in enumerate(pending):
            start = bucket_start(item.mention.created_at, bucket_minutes)
            new_keys = {
                BucketKey(brand, channel, start)
                for brand in item.brands
                for channel in (item.mention.channel, ALL_CHANNELS)
            } - keys
            if len(chunk) + 1 + len(keys) + len(new_keys) + 1 > MAX_TRANSACTION_ITEMS:
                return chunk, pending[index:]
            chunk.append(item)
            keys |= new_keys
        return chunk, []

    def _commit_chunk(
        self,
        chunk: list[ScoredMention],
        cursor_update: dict[str, Any] | None,
        bucket_minutes: int,
        mention_ttl_days: int,
        now: datetime,
    ) -> tuple[int, int]:
        from botocore.exceptions import ClientError

        candidates = list(chunk)
        duplicates = 0
        conflicts = 0
        while True:
            actions = [self._mention_put(item, mention_ttl_days, now) for item in candidates]
            actions += [
                self._bucket_update(key, counts, bucket_minutes)
                for key, counts in sorted(aggregate(candidates, bucket_minutes).items())
            ]
            if cursor_update is not None:
                actions.append(cursor_update)
            if not actions:
                return 0, duplicates
            try:
                self._transact(actions)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [
                    r.get("Code", "None") for r in error.response.get("CancellationReasons", [])
                ]
                failed_mentions = {
                    index
                    for index, code in enumerate(reasons[: len(candidates)])
                    if code == "ConditionalCheckFailed"
                }
                cursor_refused = (
                    cursor_update is not None
                    and len(reasons) == len(actions)
                    and reasons[-1] == "ConditionalCheckFailed"
                )
                if cursor_refused:
                    self.stats.conflicts += 1
                    raise StoreConflict("the cursor was moved by another run") from None
                if failed_mentions:
                    duplicates += len(failed_mentions)
                    candidates = [
                        item
                        for index, item in enumerate(candidates)
                        if index not in failed_mentions
                    ]
                    self.stats.retries_after_duplicates += 1
                    continue
                if "TransactionConflict" in reasons and conflicts < MAX_CONFLICT_RETRIES:
                    conflicts += 1
                    time.sleep(0.05 * 2**conflicts)
                    continue
                raise
            return len(candidates), duplicates

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        # No ClientRequestToken: a retry of a transaction that did commit fails its puts'
        # conditions and its cursor update succeeds again, which is already handled.
        self.stats.transactions += 1
        self.stats.write_items += len(actions)
        self._call("transact_write_items", TransactItems=actions, ReturnConsumedCapacity="TOTAL")

    def _mention_put(self, item: ScoredMention, ttl_days: int, now: datetime) -> dict[str, Any]:
        mention = item.mention
        expires = int((mention.created_at + timedelta(days=ttl_days)).timestamp())
        record: Item = {
            **mention_key(mention.channel, mention.created_at, mention.id),
            "channel": {"S": mention.channel},
            "id": {"S": mention.id},
            "url": {"S": mention.url},
            "author": {"S": mention.author},
            "text": {"S": mention.text},
            "language": {"S": item.language},
            "sentiment": {"S": item.sentiment.value},
            "score": {"N": f"{item.sentiment_score:.4f}"},
            "brands": {"SS": sorted(item.brands)},
            "reach": {"N": str(mention.reach)},
            "engagement": {"N": str(mention.engagement)},
            "created_at": {"S": iso(mention.created_at)},
            "fetched_at": {"S": iso(now)},
            "expires_at": {"N": str(expires)},
        }
        return {
            "Put": {
                "TableName": self.table,
                "Item": record,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _bucket_update(
        self, key: BucketKey, counts: BucketCounts, bucket_minutes: int
    ) -> dict[str, Any]:
        values: dict[str, AttributeValue] = {
            f":{name}": {"N": str(value)} for name, value in counts.as_dict().items()
        }
        values[":minutes"] = {"N": str(bucket_minutes)}
        values[":expires"] = {"N": str(int((key.start + BUCKET_RETENTION).timestamp()))}
        adds = ", ".join(f"#{name} :{name}" for name in COUNTER_FIELDS)
        return {
            "Update": {
                "TableName": self.table,
                "Key": bucket_key(key),
                "UpdateExpression": (
                    f"ADD {adds} SET #minutes = if_not_exists(#minutes, :minutes), "
                    "#expires = if_not_exists(#expires, :expires)"
                ),
                "ExpressionAttributeNames": {
                    **{f"#{name}": name for name in COUNTER_FIELDS},
                    "#minutes": "bucket_minutes",
                    "#expires": "expires_at",
                },
                "ExpressionAttributeValues": values,
            }
        }

    def _cursor_update(
        self,
        channel: str,
        source: str,
        expected_version: int,
        state: Mapping[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        encoded = json.dumps(state, sort_keys=True, separators=(",", ":"))
        values: dict[str, AttributeValue] = {
            ":state": {"S": encoded},
            ":next": {"N": str(expected_version + 1)},
            ":now": {"S": iso(now)},
        }
        if expected_version == 0:
            condition = "attribute_not_exists(#version) OR (#version = :next AND #state = :state)"
        else:
            condition = "#version = :expected OR (#version = :next AND #state = :state)"
            values[":expected"] = {"N": str(expected_version)}
        return {
            "Update": {
                "TableName": self.table,
                "Key": cursor_key(channel, source),
                "UpdateExpression": (
                    "SET #state = :state, #version = :next, #updated = :now "
                    "REMOVE #backoff, #reason"
                ),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {
                    "#state": "state",
                    "#version": "version",
                    "#updated": "updated_at",
                    "#backoff": "backoff_until",
                    "#reason": "backoff_reason",
                },
                "ExpressionAttributeValues": values,
            }
        }

    def import_buckets(self, buckets: Mapping[BucketKey, BucketCounts], bucket_minutes: int) -> int:
        """Write bucket counters as they are (history from before stormwatch listened, e.g. a
        previous tool's export), replacing what is there. Not for live counting: that is
        `commit_page`'s job."""
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        **bucket_key(key),
                        **{name: {"N": str(value)} for name, value in counts.as_dict().items()},
                        "bucket_minutes": {"N": str(bucket_minutes)},
                        "expires_at": {"N": str(int((key.start + BUCKET_RETENTION).timestamp()))},
                    }
                }
            }
            for key, counts in sorted(buckets.items())
        ]
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self.table: requests[start : start + 25]}
            for attempt in range(8):
                answer = self._call("batch_write_item", RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(0.05 * 2**attempt)
            if pending:
                raise RuntimeError("DynamoDB kept refusing part of the import; try again")
        return len(requests)

    # --- reads for later flows ---------------------------------------------------------

    def read_buckets(
        self, brand: str, channel: str, start: datetime, end: datetime
    ) -> dict[datetime, BucketCounts]:
        """Counters of [start, end) for brand x channel (or ALL)."""
        pk = f"BUCKET#{brand}#{channel}"
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :start AND :end",
            "ExpressionAttributeValues": {
                ":pk": {"S": pk},
                ":start": {"S": iso(start)},
                ":end": {"S": iso(end - timedelta(seconds=1))},
            },
            "ReturnConsumedCapacity": "TOTAL",
        }
        result: dict[datetime, BucketCounts] = {}
        while True:
            answer = self._call("query", **request)
            for item in answer.get("Items", []):
                moment = datetime.strptime(item["sk"]["S"], "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=UTC
                )
                result[moment] = BucketCounts(
                    **{name: int(item.get(name, {"N": "0"})["N"]) for name in COUNTER_FIELDS}
                )
            if "LastEvaluatedKey" not in answer:
                return result
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    # --- the Warn flow -------------------------------------------------------------------

    def load_states(self, keys: Sequence[Item]) -> list[Versioned]:
        """JSON state items (detectors, lifecycles, the blind monitor) in one round trip."""
        found: dict[tuple[str, str], Versioned] = {}
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {
                self.table: {"Keys": list(keys[start : start + 100]), "ConsistentRead": True}
            }
            while pending:
                answer = self._call(
                    "batch_get_item", RequestItems=pending, ReturnConsumedCapacity="TOTAL"
                )
                for item in answer.get("Responses", {}).get(self.table, []):
                    raw = item.get("state", {}).get("S")
                    found[(item["pk"]["S"], item["sk"]["S"])] = Versioned(
                        json.loads(raw) if raw else None, int(item.get("version", {"N": "0"})["N"])
                    )
                pending = answer.get("UnprocessedKeys") or {}
        return [found.get((key["pk"]["S"], key["sk"]["S"]), Versioned(None, 0)) for key in keys]

    def save_state(self, key: Item, state: Mapping[str, Any], expected_version: int) -> int:
        """Store a JSON state if nobody else changed it since it was read."""
        from botocore.exceptions import ClientError

        try:
            self._transact([self._state_put(key, state, expected_version)])
        except ClientError as error:
            if _cancellation_reasons(error) is not None:
                raise StoreConflict(f"{key['pk']['S']} changed since it was read") from None
            raise
        return expected_version + 1

    def save_state_with_outbox(
        self,
        key: Item,
        state: Mapping[str, Any],
        expected_version: int,
        dispatches: Sequence[tuple[str, Mapping[str, Any]]],
        now: datetime,
    ) -> int:
        """Store a lifecycle state and the notifications it decided, in one transaction.

        An outbox entry that exists already (the same minute evaluated again) is not
        written twice: the whole transaction is retried without it.
        """
        from botocore.exceptions import ClientError

        pending = list(dispatches)
        while True:
            actions = [self._state_put(key, state, expected_version)]
            actions += [
                self._outbox_put(dispatch_key, payload, now) for dispatch_key, payload in pending
            ]
            try:
                self._transact(actions)
                return expected_version + 1
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = [
                    r.get("Code", "None") for r in error.response.get("CancellationReasons", [])
                ]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise StoreConflict(f"{key['pk']['S']} changed since it was read") from None
                known = {
                    i - 1
                    for i, code in enumerate(reasons)
                    if i and code == "ConditionalCheckFailed"
                }
                if not known:
                    raise
                pending = [entry for i, entry in enumerate(pending) if i not in known]

    def pending_notifications(self) -> list[OutboxEntry]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "#status = :pending",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":pk": {"S": OUTBOX_PK}, ":pending": {"S": "pending"}},
            "ConsistentRead": True,
            "ReturnConsumedCapacity": "TOTAL",
        }
        entries: list[OutboxEntry] = []
        while True:
            answer = self._call("query", **request)
            entries += [
                OutboxEntry(
                    item["sk"]["S"], json.loads(item["payload"]["S"]), int(item["attempts"]["N"])
                )
                for item in answer.get("Items", [])
            ]
            if "LastEvaluatedKey" not in answer:
                return entries
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def claim_notification(self, dispatch_key: str, now: datetime, lease: timedelta) -> bool:
        """Take a pending notification for sending until `now + lease`; False when it is
        sent already or another run holds an unexpired claim. Two evaluator runs that
        overlap (a schedule delivered twice) so never both send it; a run that died
        after claiming leaves it to the next run once the lease is over."""
        from botocore.exceptions import ClientError

        try:
            self._call(
                "update_item",
                TableName=self.table,
                Key=outbox_key(dispatch_key),
                UpdateExpression="SET #claimed = :until",
                ConditionExpression=(
                    "#status = :pending AND (attribute_not_exists(#claimed) OR #claimed <= :now)"
                ),
                ExpressionAttributeNames={"#status": "status", "#claimed": "claimed_until"},
                ExpressionAttributeValues={
                    ":pending": {"S": "pending"},
                    ":now": {"S": iso(now)},
                    ":until": {"S": iso(now + lease)},
                },
                ReturnConsumedCapacity="TOTAL",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_notification(self, dispatch_key: str, *, sent: bool, error: str | None = None) -> None:
        """Sent: done. Not sent: one more attempt counted, the error kept for ops."""
        if sent:
            expression = "SET #status = :sent REMOVE #error, #claimed"
            names = {"#status": "status", "#error": "last_error", "#claimed": "claimed_until"}
            values: dict[str, AttributeValue] = {":sent": {"S": "sent"}}
        else:
            # The claim is let go: the next run tries again at once.
            expression = "ADD #attempts :one SET #error = :error REMOVE #claimed"
            names = {"#attempts": "attempts", "#error": "last_error", "#claimed": "claimed_until"}
            values = {":one": {"N": "1"}, ":error": {"S": (error or "unknown")[:500]}}
        self._call(
            "update_item",
            TableName=self.table,
            Key=outbox_key(dispatch_key),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnConsumedCapacity="TOTAL",
        )

    def read_health(self, channels: Sequence[str]) -> dict[str, PollHealthRecord]:
        keys = [health_key(channel) for channel in channels]
        answer = self._call(
            "batch_get_item",
            RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}},
            ReturnConsumedCapacity="TOTAL",
        )
        health = {}
        for item in answer.get("Responses", {}).get(self.table, []):
            channel = item["pk"]["S"].split("#", 1)[1]

            def moment(name: str, item: Item = item) -> datetime | None:
                value = item.get(name, {}).get("S")
                return _parse_key_time(value) if value else None

            health[channel] = PollHealthRecord(
                last_run_at=moment("last_run_at"),
                last_success_at=moment("last_success_at"),
                consecutive_failures=int(item.get("consecutive_failures", {"N": "0"})["N"]),
                last_error=item.get("last_error", {}).get("S"),
                first_success_at=moment("first_success_at"),
            )
        return health

    def recent_mentions(
        self, channel: str, start: datetime, end: datetime, *, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Stored mentions of a channel in [start, end), newest first (for alert evidence)."""
        found: list[dict[str, Any]] = []
        day = start.astimezone(UTC).date()
        while day <= end.astimezone(UTC).date() and len(found) < limit:
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :start AND :end",
                "ExpressionAttributeValues": {
                    ":pk": {"S": f"MENTION#{channel}#{day:%Y-%m-%d}"},
                    ":start": {"S": iso(start)},
                    ":end": {"S": iso(end - timedelta(seconds=1)) + "~"},
                },
                "ScanIndexForward": False,
                "ReturnConsumedCapacity": "TOTAL",
            }
            answer = self._call("query", **request)
            found.extend(
                {
                    "channel": item["channel"]["S"],
                    "id": item["id"]["S"],
                    "url": item["url"]["S"],
                    "author": item["author"]["S"],
                    "text": item["text"]["S"],
                    "sentiment": item["sentiment"]["S"],
                    "brands": list(item.get("brands", {}).get("SS", [])),
                    "reach": int(item["reach"]["N"]),
                    "engagement": int(item["engagement"]["N"]),
                    "created_at": item["created_at"]["S"],
                }
                for item in answer.get("Items", [])
            )
            day += timedelta(days=1)
        return found[:limit]

    def _state_put(
        self, key: Item, state: Mapping[str, Any], expected_version: int
    ) -> dict[str, Any]:
        item: Item = {
            **key,
            "state": {"S": json.dumps(state, sort_keys=True, separators=(",", ":"))},
            "version": {"N": str(expected_version + 1)},
        }
        condition = (
            "attribute_not_exists(#version)" if expected_version == 0 else "#version = :expected"
        )
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#version": "version"},
        }
        if expected_version:
            put["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
        return {"Put": put}

    def _outbox_put(
        self, dispatch_key: str, payload: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": {
                    **outbox_key(dispatch_key),
                    "status": {"S": "pending"},
                    "payload": {"S": json.dumps(payload, sort_keys=True)},
                    "attempts": {"N": "0"},
                    "created_at": {"S": iso(now)},
                    "expires_at": {"N": str(int((now + OUTBOX_RETENTION).timestamp()))},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    # --- plumbing --------------------------------------------------------------------

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        self.stats.requests += 1
        self.stats.by_operation[operation] = self.stats.by_operation.get(operation, 0) + 1
        answer: dict[str, Any] = getattr(self.client, operation)(**request)
        consumed = answer.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = sum(float(entry.get("CapacityUnits", 0) or 0) for entry in entries)
        if operation in READ_OPERATIONS:
            self.stats.consumed_read_units += units
        else:
            self.stats.consumed_write_units += units
        return answer


def _cancellation_reasons(error: Exception) -> list[str] | None:
    """Per-action reason codes of a cancelled transaction; None for any other error."""
    response = getattr(error, "response", {})
    if response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return [reason.get("Code", "None") for reason in response.get("CancellationReasons", [])]


def _parse_key_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _cursor_record(item: Item) -> CursorRecord:
    raw_state = item.get("state", {}).get("S")
    backoff = item.get("backoff_until", {}).get("S")
    return CursorRecord(
        state=json.loads(raw_state) if raw_state else None,
        version=int(item.get("version", {"N": "0"})["N"]),
        backoff_until=(
            datetime.strptime(backoff, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            if backoff
            else None
        ),
    )


def _unique(scored: Sequence[ScoredMention]) -> list[ScoredMention]:
    """One entry per stored key: a page may list the same post twice."""
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for item in scored:
        mention = item.mention
        identity = (mention.channel, iso(mention.created_at), mention.id)
        if identity not in seen:
            seen.add(identity)
            unique.append(item)
    return unique


class ComprehendBudget:
    """A monthly spending cap for Amazon Comprehend, shared by every poller.

    Each batch asks first; the spend is added atomically only while it stays under the
    limit, so concurrent pollers cannot overspend together.
    """

    def __init__(self, store: DynamoStore, monthly_limit_usd: float, now: datetime) -> None:
        self.store = store
        self.limit_micro = int(monthly_limit_usd * 1_000_000)
        self.month = f"{now.astimezone(UTC):%Y-%m}"

    def try_spend(self, usd: float) -> bool:
        from botocore.exceptions import ClientError

        cost = max(1, round(usd * 1_000_000))
        if cost > self.limit_micro:
            return False
        try:
            self.store._call(
                "update_item",
                TableName=self.store.table,
                Key={"pk": {"S": "BUDGET#comprehend"}, "sk": {"S": self.month}},
                UpdateExpression="ADD #spent :cost",
                ConditionExpression="attribute_not_exists(#spent) OR #spent <= :room",
                ExpressionAttributeNames={"#spent": "spent_micro_usd"},
                ExpressionAttributeValues={
                    ":cost": {"N": str(cost)},
                    ":room": {"N": str(self.limit_micro - cost)},
                },
                ReturnConsumedCapacity="TOTAL",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
