"""Bucket counters: one item per brand and bucket, holding every channel's counts.

A counter attribute is named ``<channel>:<field code>`` (``x:t`` is X's total); a
counter that stayed zero is absent. Codes instead of field names keep an item of eight
busy channels well under the 1 KB of one write unit, which every page's update costs.
The all-channels series is not stored: it is the sum of the channels, made on reading.

Live counting adds to these items from the table's stream of stored mentions
(`persistence.counting`); `import_history` writes whole items from a previous tool's
export, replacing what is there.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from stormwatch.model import ALL_CHANNELS, BucketCounts, BucketKey, SeriesCounts
from stormwatch.persistence import keys
from stormwatch.persistence.table import AttributeValue, Item, Table

RETENTION = timedelta(days=400)
FIELD_CODES = {
    "total": "t",
    "negative": "n",
    "neutral": "u",
    "positive": "p",
    "reach": "r",
    "engagement": "e",
}
_FIELDS_BY_CODE = {code: name for name, code in FIELD_CODES.items()}
_BATCH_WRITE_ITEMS = 25


def counter_attributes(channel: str, counts: BucketCounts) -> dict[str, int]:
    """The counters `counts` adds to a bucket item, zeros left out."""
    return {
        f"{channel}:{FIELD_CODES[name]}": value for name, value in counts.as_dict().items() if value
    }


def add_counts(
    table: str, brand: str, start: datetime, by_channel: Mapping[str, BucketCounts]
) -> dict[str, Any]:
    """The transaction action that adds each channel's `counts` to one bucket item (one
    action an item: a transaction may not touch an item twice)."""
    counters = {
        name: value
        for channel, counts in sorted(by_channel.items())
        for name, value in counter_attributes(channel, counts).items()
    }
    names = {f"#c{i}": name for i, name in enumerate(counters)}
    values: dict[str, AttributeValue] = {
        f":c{i}": {"N": str(value)} for i, value in enumerate(counters.values())
    }
    values[":expires"] = {"N": _expiry(start)}
    adds = ", ".join(f"#c{i} :c{i}" for i in range(len(counters)))
    return {
        "Update": {
            "TableName": table,
            "Key": keys.bucket(brand, start),
            "UpdateExpression": f"ADD {adds} SET #expires = :expires",
            "ExpressionAttributeNames": {**names, "#expires": "expires_at"},
            "ExpressionAttributeValues": values,
        }
    }


def decode_bucket(item: Mapping[str, AttributeValue]) -> tuple[datetime, dict[str, BucketCounts]]:
    """A bucket item's start and its counts per channel (channels with none left out)."""
    start = datetime.strptime(keys.bucket_start_of(item["sk"]["S"]), "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC
    )
    channels: dict[str, BucketCounts] = {}
    for name, value in item.items():
        channel, _, code = name.rpartition(":")
        field = _FIELDS_BY_CODE.get(code)
        if not channel or field is None:
            continue
        counts = channels.get(channel)
        if counts is None:
            counts = channels[channel] = BucketCounts()
        setattr(counts, field, int(value["N"]))
    return start, channels


def add_bucket(
    series: dict[str, SeriesCounts], start: datetime, channels: Mapping[str, BucketCounts]
) -> None:
    """File one decoded bucket into per-series counts, the all-channels sum included."""
    total = BucketCounts()
    for channel, counts in channels.items():
        series.setdefault(channel, {})[start] = counts
        total.merge(counts)
    series.setdefault(ALL_CHANNELS, {})[start] = total


class BucketStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def read(self, brand: str, start: datetime, end: datetime) -> dict[str, SeriesCounts]:
        """The brand's counts in [start, end) per channel and for ALL; a series or a bucket
        with no mention is absent."""
        series: dict[str, SeriesCounts] = {}
        for item in self.table.query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :start AND :end",
            ExpressionAttributeValues={
                ":pk": {"S": keys.brand_partition(brand)},
                ":start": {"S": keys.bucket_sort_key(start)},
                ":end": {"S": keys.bucket_sort_key(end - timedelta(seconds=1))},
            },
        ):
            moment, channels = decode_bucket(item)
            add_bucket(series, moment, channels)
        return series

    def import_history(self, buckets: Mapping[BucketKey, BucketCounts]) -> int:
        """Write counters as they are (history from before stormwatch listened, e.g. a previous
        tool's export), replacing each bucket item; all-channels keys are ignored, that series
        is the channels' sum. Returns the number of bucket items written."""
        items: dict[tuple[str, datetime], Item] = defaultdict(dict)
        for key, counts in sorted(buckets.items()):
            if key.channel == ALL_CHANNELS:
                continue
            item = items[(key.brand, key.start)]
            if not item:
                item.update(keys.bucket(key.brand, key.start))
                item["expires_at"] = {"N": _expiry(key.start)}
            for name, value in counter_attributes(key.channel, counts).items():
                item[name] = {"N": str(value)}
        requests = [{"PutRequest": {"Item": item}} for item in items.values()]
        for first in range(0, len(requests), _BATCH_WRITE_ITEMS):
            pending: dict[str, Any] = {
                self.table.name: requests[first : first + _BATCH_WRITE_ITEMS]
            }
            for attempt in range(8):
                answer = self.table.call("batch_write_item", RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(0.05 * 2**attempt)
            if pending:
                raise RuntimeError("DynamoDB kept refusing part of the import; try again")
        return len(requests)


def _expiry(start: datetime) -> str:
    return str(int((start + RETENTION).timestamp()))
