"""Mentions and the cursors that say where each query resumes.

Exactly-once counting, at one write unit a mention: a page's mentions are written 25 to a
BatchWriteItem, without a condition, and counted from the table's stream
(`persistence.counting`, the count-mentions function), which sees each item's insertion
exactly once. A mention written again - a retry, an overlapping run, two sources finding
the same post, a page read again after a run died before its cursor moved - is a
modification, which the counter never sees. The cursor moves after the writes, only if
nobody else moved it; the update is idempotent (it succeeds again if the cursor already
holds exactly this state), so an update whose answer was lost can be retried without a
false conflict. (docs/decisions/0020-counting-from-the-stream.md, which revised 0001)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from stormwatch.errors import StoreConflict, StoreThrottled
from stormwatch.model import (
    Mention,
    ScoredMention,
    Sentiment,
    bucket_start,
    iso,
    parse_iso,
)
from stormwatch.persistence import keys
from stormwatch.persistence.table import (
    MAX_TRANSACTION_ACTIONS,
    AttributeValue,
    Item,
    Table,
    condition_failed,
)

logger = logging.getLogger(__name__)

# DynamoDB's most items in one BatchWriteItem.
BATCH_WRITE_ITEMS = 25
# How often items DynamoDB left unprocessed (throttling) are sent again before the page
# fails (and is read again by the next run).
MAX_UNPROCESSED_RETRIES = 5

# Caps of a stored mention's fields, in UTF-8 bytes: one hostile entry (an RSS link of
# 450 KB) must not exceed DynamoDB's 400 KB item and fail its whole page, every run.
MAX_TEXT_BYTES = 16_384
MAX_AUTHOR_BYTES = 512
MAX_URL_BYTES = 2_048
# The sort key `<created_at>#<id>` may hold 1,024 bytes; an id longer than this is refused.
MAX_ID_BYTES = 900
# How far ahead of the commit a mention may be dated (clocks differ, posts do not come
# from the future).
MAX_FUTURE = timedelta(days=1)
# A number attribute holds 38 digits; a count beyond this is nonsense, not a fact.
MAX_COUNT = 10**15


@dataclass(frozen=True, slots=True)
class CursorRecord:
    """A source's saved position; `version` fences concurrent runs."""

    state: dict[str, Any] | None
    version: int
    backoff_until: datetime | None = None


@dataclass(slots=True)
class CommitResult:
    stored: int = 0
    """Mentions written: new ones, and ones written again (a page read again after a crash,
    an overlapping run). Only the new ones are counted, by the counter."""
    duplicates: int = 0
    """Repeats within the page, written once."""
    skipped: int = 0
    # Of `stored`, how many are negative: the dashboard's negative share per channel.
    negative: int = 0
    version: int = 0


class MentionLedger:
    """Where the Listen flow writes: cursors and mentions (their counts: `persistence.counting`)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    # --- cursors -----------------------------------------------------------------------

    def load_cursors(self, channel: str) -> dict[str, CursorRecord]:
        return {
            item["sk"]["S"]: _cursor_record(item)
            for item in self.table.query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.cursor_partition(channel)}},
                ConsistentRead=True,
            )
        }

    def set_backoff(self, channel: str, source: str, until: datetime, reason: str) -> None:
        """Remember not to call this source before `until`; the cursor state is untouched."""
        self.table.call(
            "update_item",
            TableName=self.table.name,
            Key=keys.cursor(channel, source),
            UpdateExpression="SET #backoff = :until, #reason = :reason",
            ExpressionAttributeNames={"#backoff": "backoff_until", "#reason": "backoff_reason"},
            ExpressionAttributeValues={":until": {"S": iso(until)}, ":reason": {"S": reason[:500]}},
        )

    # --- the commit --------------------------------------------------------------------

    def store(
        self,
        scored: Sequence[ScoredMention],
        *,
        bucket_minutes: int,
        mention_ttl_days: int,
        now: datetime,
    ) -> CommitResult:
        """Write `scored`, 25 to a request; each is counted from the stream when it is new.

        A mention stored before (a page read again after a crash, an overlapping run, two
        sources finding the same post) is written again, not refused: the stream records
        that as a modification, which the counter never sees. What raises leaves the page
        to be read again: nothing here moves a cursor.
        """
        unique = _unique(scored)
        pending, skipped = _storable(unique, now)
        ttl = mention_ttl_days
        items = [self._mention_item(item, bucket_minutes, ttl, now) for item in pending]
        for start in range(0, len(items), BATCH_WRITE_ITEMS):
            self._write_batch(items[start : start + BATCH_WRITE_ITEMS])
        return CommitResult(
            stored=len(pending),
            duplicates=len(scored) - len(unique),
            skipped=skipped,
            negative=sum(item.sentiment is Sentiment.NEGATIVE for item in pending),
        )

    def move_cursor(
        self,
        channel: str,
        source: str,
        expected_version: int,
        cursor_state: Mapping[str, Any],
        now: datetime,
    ) -> int:
        """Move the cursor past what was stored, if nobody moved it since `expected_version`
        (or it already holds exactly this state: a move whose answer was lost); the new
        version. Raises `StoreConflict` when another run moved it first."""
        from botocore.exceptions import ClientError

        update = self._cursor_update(channel, source, expected_version, cursor_state, now)
        try:
            self.table.call("update_item", **update)
        except ClientError as error:
            if condition_failed(error):
                self.table.stats.conflicts += 1
                raise StoreConflict("the cursor was moved by another run") from None
            raise
        return expected_version + 1

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
        """Store `scored`, then move the cursor past them (never before: a crash in between
        reads the page again)."""
        result = self.store(
            scored, bucket_minutes=bucket_minutes, mention_ttl_days=mention_ttl_days, now=now
        )
        result.version = self.move_cursor(channel, source, expected_version, cursor_state, now)
        return result

    def _write_batch(self, items: list[Item]) -> None:
        """One BatchWriteItem, and again for what DynamoDB left unprocessed (throttled),
        with a growing pause; raises when it stays unprocessed."""
        request: dict[str, Any] = {self.table.name: [{"PutRequest": {"Item": i}} for i in items]}
        for attempt in range(MAX_UNPROCESSED_RETRIES + 1):
            answer = self.table.call("batch_write_item", RequestItems=request)
            request = answer.get("UnprocessedItems") or {}
            if not request:
                return
            if attempt < MAX_UNPROCESSED_RETRIES:
                time.sleep(min(2.0, 0.05 * 2**attempt))
        left = sum(len(entries) for entries in request.values())
        raise StoreThrottled(f"{left} of {len(items)} mentions left unwritten by DynamoDB")

    def _mention_item(
        self, item: ScoredMention, bucket_minutes: int, ttl_days: int, now: datetime
    ) -> Item:
        mention = item.mention
        expires = int((mention.created_at + timedelta(days=ttl_days)).timestamp())
        return {
            **keys.mention(mention.channel, mention.created_at, mention.id),
            "channel": {"S": mention.channel},
            "id": {"S": mention.id},
            "url": {"S": mention.url},
            "author": {"S": mention.author},
            "text": {"S": mention.text},
            "language": {"S": item.language[:35]},
            "sentiment": {"S": item.sentiment.value},
            "score": {"N": f"{item.sentiment_score:.4f}"},
            "brands": {"SS": sorted(item.brands)},
            "reach": {"N": str(min(max(mention.reach, 0), MAX_COUNT))},
            "engagement": {"N": str(min(max(mention.engagement, 0), MAX_COUNT))},
            "created_at": {"S": iso(mention.created_at)},
            # The bucket it counts in, decided here with the config of this run: the
            # counter needs no config, and a change of bucket width never splits a page.
            "bucket": {"S": iso(bucket_start(mention.created_at, bucket_minutes))},
            "fetched_at": {"S": iso(now)},
            "expires_at": {"N": str(expires)},
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
            "TableName": self.table.name,
            "Key": keys.cursor(channel, source),
            "UpdateExpression": (
                "SET #state = :state, #version = :next, #updated = :now REMOVE #backoff, #reason"
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

    # --- reading mentions back -----------------------------------------------------------

    def recent(
        self,
        channel: str,
        start: datetime,
        end: datetime,
        *,
        limit: int = 500,
        negative_about: str | None = None,
    ) -> list[ScoredMention]:
        """Stored mentions of a channel in [start, end), newest first (alert evidence);
        with `negative_about`, only the negative ones of that brand (filtered by DynamoDB:
        a crisis report's thousands of mentions need not all travel)."""
        found: list[ScoredMention] = []
        day = end.astimezone(UTC).date()
        first = start.astimezone(UTC).date()
        only: dict[str, Any] = {}
        if negative_about is not None:
            only = {
                "FilterExpression": "#sentiment = :negative AND contains(#brands, :brand)",
                "ExpressionAttributeNames": {"#sentiment": "sentiment", "#brands": "brands"},
            }
        while day >= first and len(found) < limit:
            values: dict[str, Any] = {
                ":pk": {"S": keys.mention_day(channel, f"{day:%Y-%m-%d}")},
                ":start": {"S": iso(start)},
                ":end": {"S": iso(end - timedelta(seconds=1)) + "~"},
            }
            if negative_about is not None:
                values |= {":negative": {"S": "negative"}, ":brand": {"S": negative_about}}
            items = self.table.query(
                KeyConditionExpression="pk = :pk AND sk BETWEEN :start AND :end",
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
                Limit=limit,
                **only,
            )
            for item in items:
                found.append(scored_mention(item))
                if len(found) >= limit:
                    break
            day -= timedelta(days=1)
        return found


def _storable(scored: Sequence[ScoredMention], now: datetime) -> tuple[list[ScoredMention], int]:
    """The mentions as they can be stored, each within the caps of its fields and able to
    go in one transaction alone; and how many could not be (no usable id), logged and
    skipped so that their neighbours are stored."""
    fitting: list[ScoredMention] = []
    skipped = 0
    for item in scored:
        problem = _unkeyable(item.mention.id)
        if not problem and item.mention.created_at > now + MAX_FUTURE:
            # No post is written tomorrow; a date far ahead (9999) even overflows its TTL.
            problem = f"it is dated {iso(item.mention.created_at)}"
        if problem:
            skipped += 1
            logger.warning(
                "%s: skipped a mention that cannot be stored: %s",
                item.mention.channel,
                problem,
            )
            continue
        fitting.append(_capped(item))
    return fitting, skipped


def _unkeyable(mention_id: str) -> str:
    """Why `mention_id` cannot be part of a key, or "" when it can."""
    if not mention_id:
        return "its id is empty"
    try:
        size = len(mention_id.encode())
    except UnicodeEncodeError:
        return "its id is not valid Unicode"
    return f"its id is {size} bytes long" if size > MAX_ID_BYTES else ""


def _capped(item: ScoredMention) -> ScoredMention:
    mention = item.mention
    url = _valid(mention.url)
    if len(url.encode()) > MAX_URL_BYTES:
        # A link cut short would point somewhere else; none is better.
        logger.warning("%s: mention %s: link too long, not stored", mention.channel, mention.id)
        url = ""
    text = _truncated(_valid(mention.text), MAX_TEXT_BYTES)
    author = _truncated(_valid(mention.author), MAX_AUTHOR_BYTES)
    # One mention's bucket updates must fit the counter's transaction, with its position.
    most = MAX_TRANSACTION_ACTIONS - 1
    brands = item.brands
    if len(brands) > most:
        logger.warning(
            "%s: mention %s counted for its first %d of %d brands (one transaction's worth)",
            mention.channel,
            mention.id,
            most,
            len(brands),
        )
        brands = tuple(sorted(brands)[:most])
    if (url, text, author, brands) == (mention.url, mention.text, mention.author, item.brands):
        return item
    return replace(item, mention=replace(mention, url=url, text=text, author=author), brands=brands)


def _valid(text: str) -> str:
    """`text` with what UTF-8 cannot carry (lone surrogates, which JSON can decode to)
    replaced by "?": DynamoDB's request would fail for the whole page otherwise."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode(errors="replace").decode()
    return text


def _truncated(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` within `max_bytes` of UTF-8, whole characters only."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode(errors="ignore")


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


def _cursor_record(item: Item) -> CursorRecord:
    raw_state = item.get("state", {}).get("S")
    backoff = item.get("backoff_until", {}).get("S")
    return CursorRecord(
        state=json.loads(raw_state) if raw_state else None,
        version=int(item.get("version", {"N": "0"})["N"]),
        backoff_until=parse_iso(backoff) if backoff else None,
    )


def scored_mention(item: Item) -> ScoredMention:
    return ScoredMention(
        mention=Mention(
            channel=item["channel"]["S"],
            id=item["id"]["S"],
            url=item["url"]["S"],
            author=item["author"]["S"],
            text=item["text"]["S"],
            created_at=parse_iso(item["created_at"]["S"]),
            reach=int(item["reach"]["N"]),
            engagement=int(item["engagement"]["N"]),
        ),
        language=item.get("language", {}).get("S", "und"),
        sentiment=Sentiment(item["sentiment"]["S"]),
        sentiment_score=float(item.get("score", {}).get("N", "0")),
        brands=tuple(item.get("brands", {}).get("SS", [])),
    )
