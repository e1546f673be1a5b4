"""The evaluator against an in-memory store: safe with odd data, idempotent, one brand at a time."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.localconfig import read_document
from stormwatch.config import Config, parse_config
from stormwatch.errors import StoreConflict
from stormwatch.model import ALL_CHANNELS, BucketCounts
from stormwatch.notify import Delivery
from stormwatch.store import Item, OutboxEntry, PollHealthRecord, Versioned
from stormwatch.warn.evaluate import Evaluator

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


class MemoryStore:
    """The store's Warn methods over dictionaries, with the same version fences."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}
        self.outbox: dict[str, dict[str, Any]] = {}
        self.buckets: dict[tuple[str, str, datetime], BucketCounts] = {}
        self.health: dict[str, PollHealthRecord] = {}
        self.broken_brands: set[str] = set()

    @staticmethod
    def _key(key: Item) -> tuple[str, str]:
        return key["pk"]["S"], key["sk"]["S"]

    def load_states(self, keys: Sequence[Item]) -> list[Versioned]:
        found = []
        for key in keys:
            state, version = self.states.get(self._key(key), (None, 0))
            found.append(Versioned(copy.deepcopy(state), version))
        return found

    def save_state(self, key: Item, state: Mapping[str, Any], expected_version: int) -> int:
        _, version = self.states.get(self._key(key), (None, 0))
        if version != expected_version:
            raise StoreConflict("changed")
        self.states[self._key(key)] = (json.loads(json.dumps(state)), version + 1)
        return version + 1

    def save_state_with_outbox(
        self,
        key: Item,
        state: Mapping[str, Any],
        expected_version: int,
        dispatches: Sequence[tuple[str, Mapping[str, Any]]],
        now: datetime,
    ) -> int:
        version = self.save_state(key, state, expected_version)
        for dispatch_key, payload in dispatches:
            self.outbox.setdefault(
                dispatch_key, {"payload": dict(payload), "status": "pending", "attempts": 0}
            )
        return version

    def pending_notifications(self) -> list[OutboxEntry]:
        return [
            OutboxEntry(key, entry["payload"], entry["attempts"])
            for key, entry in self.outbox.items()
            if entry["status"] == "pending"
        ]

    def claim_notification(self, dispatch_key: str, now: datetime, lease: timedelta) -> bool:
        entry = self.outbox[dispatch_key]
        claimed = entry.get("claimed_until")
        if entry["status"] != "pending" or (claimed is not None and claimed > now):
            return False
        entry["claimed_until"] = now + lease
        return True

    def mark_notification(self, dispatch_key: str, *, sent: bool, error: str | None = None) -> None:
        entry = self.outbox[dispatch_key]
        entry.pop("claimed_until", None)
        if sent:
            entry["status"] = "sent"
        else:
            entry["attempts"] += 1

    def read_health(self, channels: Sequence[str]) -> dict[str, PollHealthRecord]:
        return {c: self.health[c] for c in channels if c in self.health}

    def read_buckets(
        self, brand: str, channel: str, start: datetime, end: datetime
    ) -> dict[datetime, BucketCounts]:
        if brand in self.broken_brands:
            raise RuntimeError("throttled reading buckets")
        return {
            moment: counts
            for (b, c, moment), counts in self.buckets.items()
            if b == brand and c == channel and start <= moment < end
        }

    def recent_mentions(
        self, channel: str, start: datetime, end: datetime, *, limit: int = 500
    ) -> list[dict[str, Any]]:
        return []


class Outbox:
    def __init__(self, failing: int = 0) -> None:
        self.sent: list[Delivery] = []
        self.failing = failing

    def send(self, delivery: Delivery) -> str:
        if self.failing:
            self.failing -= 1
            raise ConnectionError("SNS unreachable")
        self.sent.append(delivery)
        return f"m{len(self.sent)}"


@pytest.fixture
def config() -> Config:
    document = read_document()
    return parse_config(document, now=T0)


def _healthy(store: MemoryStore, config: Config, at: datetime) -> None:
    for channel in config.enabled_channels:
        store.health[channel] = PollHealthRecord(at, at, 0, None, first_success_at=at)


def _storm(store: MemoryStore, brand: str, start: datetime, per_bucket: int, buckets: int) -> None:
    for i in range(buckets):
        moment = start + timedelta(minutes=5 * i)
        for channel in ("x", ALL_CHANNELS):
            store.buckets[(brand, channel, moment)] = BucketCounts(
                total=per_bucket, negative=per_bucket * 3 // 4, neutral=per_bucket // 4
            )


def test_an_empty_series_is_judged_calmly(config: Config) -> None:
    # Given no mentions at all, ever / When the evaluator runs
    store = MemoryStore()
    _healthy(store, config, T0)
    report = Evaluator(config, store, Outbox()).run(T0)
    # Then nothing fires and nothing fails; the baseline says it is warming up
    assert report.errors == []
    assert report.dispatched == []
    assert all(outcome.severity == 0 for outcome in report.brands.values())
    assert report.brands["nordwind-air"].warming_up


def test_a_storm_is_announced_once_even_when_the_minute_is_evaluated_twice(
    config: Config,
) -> None:
    # Given a storm of mostly negative mentions on X (no history: the rules that need none fire)
    store = MemoryStore()
    _storm(store, "nordwind-air", T0 - timedelta(minutes=30), per_bucket=60, buckets=7)
    _healthy(store, config, T0 + timedelta(minutes=1))
    outbox = Outbox()
    evaluator = Evaluator(config, store, outbox)
    # When the same minute is evaluated twice
    first = evaluator.run(T0 + timedelta(minutes=1))
    again = evaluator.run(T0 + timedelta(minutes=1))
    # Then the alert started once: one email, the topic SMS, and each on-call phone once
    assert [key.split(":")[1] for key in first.dispatched] == ["started"]
    assert again.dispatched == []
    kinds = sorted((d.medium, d.phone) for d in outbox.sent)
    assert len(kinds) == len(set(kinds))
    assert ("email", "") in kinds
    assert first.brands["nordwind-air"].severity >= 2
    assert first.brands["kolibri-pay"].severity == 0


def test_a_bucket_missing_in_the_middle_or_a_counter_going_back_is_safe(config: Config) -> None:
    # Given buckets with a hole, then a counter that reads lower than before
    store = MemoryStore()
    _healthy(store, config, T0)
    for i in (0, 1, 3, 4):  # bucket 2 is missing: the poller had nothing for it
        store.buckets[("nordwind-air", ALL_CHANNELS, T0 + timedelta(minutes=5 * i))] = BucketCounts(
            total=4, neutral=4
        )
    evaluator = Evaluator(config, store, Outbox())
    evaluator.run(T0 + timedelta(minutes=21))
    store.buckets[("nordwind-air", ALL_CHANNELS, T0 + timedelta(minutes=20))] = BucketCounts(
        total=1, neutral=1
    )
    _healthy(store, config, T0 + timedelta(minutes=22))
    # When the evaluator runs again / Then it judges without error
    report = evaluator.run(T0 + timedelta(minutes=22))
    assert report.errors == []


def test_one_brand_failing_does_not_stop_the_others(config: Config) -> None:
    # Given reading Nordwind Air's buckets fails, and Kolibri Pay has a storm
    store = MemoryStore()
    store.broken_brands.add("nordwind-air")
    _storm(store, "kolibri-pay", T0 - timedelta(minutes=30), per_bucket=80, buckets=7)
    _healthy(store, config, T0 + timedelta(minutes=1))
    report = Evaluator(config, store, Outbox()).run(T0 + timedelta(minutes=1))
    # Then the failure is reported, and Kolibri Pay's alert still went out
    assert any(error.startswith("nordwind-air:") for error in report.errors)
    assert any(key.startswith("kolibri-pay-") for key in report.dispatched)


def test_a_notification_that_could_not_be_sent_is_retried_not_repeated(config: Config) -> None:
    # Given SNS fails for the first two deliveries
    store = MemoryStore()
    _storm(store, "nordwind-air", T0 - timedelta(minutes=30), per_bucket=60, buckets=7)
    _healthy(store, config, T0 + timedelta(minutes=1))
    outbox = Outbox(failing=2)
    evaluator = Evaluator(config, store, outbox)
    first = evaluator.run(T0 + timedelta(minutes=1))
    assert len(first.failed) == 2
    # When the next minute runs / Then the two are sent, and what went out is not sent again
    _healthy(store, config, T0 + timedelta(minutes=2))
    second = evaluator.run(T0 + timedelta(minutes=2))
    assert second.failed == []
    keys = [(d.medium, d.phone, d.kind) for d in outbox.sent]
    assert len(keys) == len(set(keys))
    assert len(outbox.sent) == first.sent + second.sent


def test_a_poller_failing_again_and_again_tells_ops_not_the_crisis_team(config: Config) -> None:
    store = MemoryStore()
    _healthy(store, config, T0)
    store.health["x"] = PollHealthRecord(T0, T0 - timedelta(hours=2), 12, "x: 401 Unauthorized")
    outbox = Outbox()
    report = Evaluator(config, store, outbox).run(T0)
    assert report.blind == ["x"]
    assert [d.medium for d in outbox.sent] == ["ops_email"]
    assert "x" in outbox.sent[0].subject
    assert "401" in outbox.sent[0].text


def test_a_notification_claimed_by_a_run_that_died_goes_out_once_its_lease_is_over(
    config: Config,
) -> None:
    # Given a storm decided at 03:01 by a run killed after claiming its first message
    store = MemoryStore()
    _storm(store, "nordwind-air", T0 - timedelta(minutes=30), per_bucket=60, buckets=7)
    _healthy(store, config, T0 + timedelta(minutes=1))
    with pytest.raises(_Killed):
        Evaluator(config, store, _Dead()).run(T0 + timedelta(minutes=1))
    decided = len(store.outbox)
    assert [k for k, e in store.outbox.items() if "claimed_until" in e] != []

    # When the next minute runs while that claim holds
    outbox = Outbox()
    _healthy(store, config, T0 + timedelta(minutes=2))
    Evaluator(config, store, outbox).run(T0 + timedelta(minutes=2))
    # Then all but the claimed message go out
    assert len(outbox.sent) == decided - 1

    # When a run comes after the lease
    _healthy(store, config, T0 + timedelta(minutes=7))
    Evaluator(config, store, outbox).run(T0 + timedelta(minutes=7))
    # Then the last one goes out too, and nothing went out twice
    assert len(outbox.sent) == len(store.outbox) == decided
    sent = [(d.medium, d.phone, d.kind) for d in outbox.sent]
    assert len(sent) == len(set(sent))
    assert all(entry["status"] == "sent" for entry in store.outbox.values())


class _Dead:
    """A notifier whose Lambda is killed at the first send: after the claim, before SNS."""

    def send(self, delivery: Delivery) -> str:
        raise _Killed


class _Killed(BaseException):
    """Not an Exception: nothing in the evaluator may catch it, as with a killed process."""
