"""The Warn flow's state: per brand its detectors and alert lifecycle, and the blind monitor.

A brand's state is one item (`BRAND#<brand>` / `WARN`) beside its bucket items, so the
evaluator reads the recent buckets and the state in one Query, and writes the state
back with one conditional put (a version fence: two evaluations never both win). The
JSON is compressed: nine series' detectors are about 60 KB as text, 25 KB compressed,
and write units are billed per KB. The evaluator decides how often to write it
(`warn.checkpoint`); when messages were decided the put becomes a transaction with
their outbox entries.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stormwatch.errors import StoreConflict
from stormwatch.model import SeriesCounts, iso
from stormwatch.notify import Delivery
from stormwatch.persistence import keys
from stormwatch.persistence.buckets import BucketStore, add_bucket, decode_bucket
from stormwatch.persistence.health import PollHealthRecord, decode_health, is_health
from stormwatch.persistence.outbox import put_action
from stormwatch.persistence.table import Item, Table, cancellation_reasons, condition_failed

_COMPRESSION_LEVEL = 6


@dataclass(frozen=True, slots=True)
class BrandState:
    """What the evaluator knows of a brand between runs (JSON-ready parts)."""

    detectors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each series' `VolumeDetector.to_state()`, by series (a channel or ALL)."""
    lifecycle: Mapping[str, Any] | None = None
    """`BrandLifecycle.to_state()`."""
    version: int = 0
    """The stored version this was read at; 0 when nothing is stored yet."""


@dataclass(frozen=True, slots=True)
class BrandView:
    """A brand's buckets since a moment and its state, read together."""

    buckets: dict[str, SeriesCounts]
    state: BrandState


@dataclass(frozen=True, slots=True)
class MonitorView:
    """Every poller's health, and which channels monitoring is blind on."""

    health: dict[str, PollHealthRecord]
    blind: Mapping[str, Any] | None
    blind_version: int


class WarnStateStore:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.buckets = BucketStore(table)

    # --- a brand -------------------------------------------------------------------------

    def load_brand(self, brand: str, since: datetime) -> BrandView:
        """The brand's buckets from `since` on, and its state: one Query."""
        series: dict[str, SeriesCounts] = {}
        state = BrandState()
        for item in self.table.query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :since AND :state",
            ExpressionAttributeValues={
                ":pk": {"S": keys.brand_partition(brand)},
                ":since": {"S": keys.bucket_sort_key(since)},
                ":state": {"S": keys.WARN},
            },
            ConsistentRead=True,
        ):
            if item["sk"]["S"] == keys.WARN:
                state = decode_brand_state(item)
            else:
                moment, channels = decode_bucket(item)
                add_bucket(series, moment, channels)
        return BrandView(series, state)

    def load_state(self, brand: str) -> BrandState:
        """The brand's state alone (to acknowledge an alert): one consistent Query of its
        key (`Table.read`), so Query is every role's one read action."""
        item = self.table.read(keys.warn_state(brand))
        return decode_brand_state(item) if item else BrandState()

    def read_buckets(self, brand: str, start: datetime, end: datetime) -> dict[str, SeriesCounts]:
        return self.buckets.read(brand, start, end)

    def save_brand(
        self,
        brand: str,
        state: BrandState,
        messages: Sequence[tuple[str, Delivery]],
        now: datetime,
    ) -> int:
        """Store the brand's state if nobody changed it since it was read at
        `state.version`, with the messages it decided; returns the new version."""
        document = {"detectors": state.detectors, "lifecycle": state.lifecycle}
        put = _state_put(self.table.name, keys.warn_state(brand), document, state.version, now)
        return self._save(put, state.version, messages, now, f"brand {brand}")

    # --- monitoring ----------------------------------------------------------------------

    def monitor(self) -> MonitorView:
        """Every poller's health and the blind monitor's state: one Query."""
        health: dict[str, PollHealthRecord] = {}
        blind: Mapping[str, Any] | None = None
        version = 0
        for item in self.table.query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.MONITOR}},
            ConsistentRead=True,
        ):
            if is_health(item):
                channel, record = decode_health(item)
                health[channel] = record
            elif item["sk"]["S"] == keys.BLIND:
                blind, version = _decode(item), int(item["version"]["N"])
        return MonitorView(health, blind, version)

    def save_blind(
        self,
        state: Mapping[str, Any],
        expected_version: int,
        messages: Sequence[tuple[str, Delivery]],
        now: datetime,
    ) -> int:
        put = _state_put(self.table.name, keys.blind_monitor(), state, expected_version, now)
        return self._save(put, expected_version, messages, now, "the blind monitor")

    # --- writing ---------------------------------------------------------------------------

    def _save(
        self,
        put: dict[str, Any],
        expected_version: int,
        messages: Sequence[tuple[str, Delivery]],
        now: datetime,
        what: str,
    ) -> int:
        from botocore.exceptions import ClientError

        if not messages:
            try:
                self.table.call("put_item", **put)
            except ClientError as error:
                if condition_failed(error):
                    raise StoreConflict(f"{what} changed since it was read") from None
                raise
            return expected_version + 1
        # A message that exists already (the same minute decided again after a lost
        # answer) is not written twice: the transaction is repeated without it.
        pending = list(messages)
        while True:
            actions = [{"Put": put}]
            actions += [
                put_action(self.table.name, key, delivery, now) for key, delivery in pending
            ]
            try:
                self.table.transact(actions)
                return expected_version + 1
            except ClientError as error:
                reasons = cancellation_reasons(error)
                if reasons is None:
                    raise
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise StoreConflict(f"{what} changed since it was read") from None
                known = {
                    index - 1
                    for index, code in enumerate(reasons)
                    if index and code == "ConditionalCheckFailed"
                }
                if not known:
                    raise
                pending = [entry for index, entry in enumerate(pending) if index not in known]


def _state_put(
    table: str, key: Item, document: Mapping[str, Any], expected_version: int, now: datetime
) -> dict[str, Any]:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    put: dict[str, Any] = {
        "TableName": table,
        "Item": {
            **key,
            "state": {"B": zlib.compress(text.encode(), _COMPRESSION_LEVEL)},
            "version": {"N": str(expected_version + 1)},
            "updated_at": {"S": iso(now)},
        },
        "ConditionExpression": (
            "attribute_not_exists(#version)" if expected_version == 0 else "#version = :expected"
        ),
        "ExpressionAttributeNames": {"#version": "version"},
    }
    if expected_version:
        put["ExpressionAttributeValues"] = {":expected": {"N": str(expected_version)}}
    return put


def _decode(item: Item) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(zlib.decompress(item["state"]["B"]))
    return document


def decode_brand_state(item: Item) -> BrandState:
    """A brand's stored state item as the evaluator reads it."""
    document = _decode(item)
    return BrandState(
        detectors=document.get("detectors") or {},
        lifecycle=document.get("lifecycle"),
        version=int(item["version"]["N"]),
    )
