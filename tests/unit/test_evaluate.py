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
from stormwatch.model import ALL_CHANNELS, BucketCounts, ScoredMention, SeriesCounts
from stormwatch.notify import Delivery
from stormwatch.persistence.health import PollHealthRecord
from stormwatch.persistence.outbox import OutboxEntry, UndeliveredEntry
from stormwatch.persistence.warn_state import BrandState, BrandView, MonitorView
from stormwatch.warn.evaluate import Evaluator
from stormwatch.warn.send import MAX_ATTEMPTS

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


class MemoryStore:
    """The Warn flow's persistence over dictionaries, with the same version fences: the
    brand states, the buckets, the pollers' health and the outbox."""

    def __init__(self) -> None:
        self.states: dict[str, BrandState] = {}
        self.blind: tuple[dict[str, Any] | None, int] = (None, 0)
        self.outbox: dict[str, dict[str, Any]] = {}
        self.buckets: dict[tuple[str, str, datetime], BucketCounts] = {}
        self.health: dict[str, PollHealthRecord] = {}
        self.broken_brands: set[str] = set()

    # the brand's buckets and state

    def read_buckets(self, brand: str, start: datetime, end: datetime) -> dict[str, SeriesCounts]:
        if brand in self.broken_brands:
            raise RuntimeError("throttled reading buckets")
        series: dict[str, SeriesCounts] = {}
        for (b, channel, moment), counts in sorted(self.buckets.items()):
            if b == brand and start <= moment < end:
                series.setdefault(channel, {})[moment] = counts
                total = series.setdefault(ALL_CHANNELS, {}).setdefault(moment, BucketCounts())
                total.merge(counts)
        return series

    def load_brand(self, brand: str, since: datetime) -> BrandView:
        state = copy.deepcopy(self.states.get(brand, BrandState()))
        return BrandView(self.read_buckets(brand, since, datetime.max.replace(tzinfo=UTC)), state)

    def save_brand(
        self,
        brand: str,
        state: BrandState,
        messages: Sequence[tuple[str, Delivery]],
        now: datetime,
    ) -> int:
        stored = self.states.get(brand, BrandState())
        if stored.version != state.version:
            raise StoreConflict("changed")
        document = json.loads(json.dumps({"d": state.detectors, "l": state.lifecycle}))
        self.states[brand] = BrandState(document["d"], document["l"], state.version + 1)
        self._enqueue(messages)
        return state.version + 1

    # monitoring

    def monitor(self) -> MonitorView:
        state, version = self.blind
        return MonitorView(dict(self.health), copy.deepcopy(state), version)

    def save_blind(
        self,
        state: Mapping[str, Any],
        expected_version: int,
        messages: Sequence[tuple[str, Delivery]],
        now: datetime,
    ) -> int:
        if self.blind[1] != expected_version:
            raise StoreConflict("changed")
        self.blind = (json.loads(json.dumps(state)), expected_version + 1)
        self._enqueue(messages)
        return expected_version + 1

    # mentions for the evidence

    def recent(
        self, channel: str, start: datetime, end: datetime, *, limit: int = 500
    ) -> list[ScoredMention]:
        return []

    # the outbox

    def _enqueue(self, messages: Sequence[tuple[str, Delivery]]) -> None:
        for key, delivery in messages:
            self.outbox.setdefault(key, {"delivery": delivery, "status": "pending", "attempts": 0})

    def pending(self) -> list[OutboxEntry]:
        return [
            OutboxEntry(key, entry["delivery"], entry["attempts"])
            for key, entry in self.outbox.items()
            if entry["status"] == "pending"
        ]

    def claim(self, dispatch_key: str, now: datetime, lease: timedelta) -> bool:
        entry = self.outbox[dispatch_key]
        claimed = entry.get("claimed_until")
        if entry["status"] != "pending" or (claimed is not None and claimed > now):
            return False
        entry["claimed_until"] = now + lease
        return True

    def add(self, dispatch_key: str, delivery: Delivery, now: datetime) -> bool:
        if dispatch_key in self.outbox:
            return False
        self._enqueue([(dispatch_key, delivery)])
        return True

    def mark(
        self, dispatch_key: str, *, sent: bool, error: str | None = None, give_up: bool = False
    ) -> None:
        entry = self.outbox[dispatch_key]
        entry.pop("claimed_until", None)
        if sent:
            entry["status"] = "sent"
        else:
            entry["attempts"] += 1
            if error is not None or "error" not in entry:
                entry["error"] = error or "unknown"
            if give_up:
                entry["status"] = "failed"

    def undelivered(self) -> list[UndeliveredEntry]:
        return [
            UndeliveredEntry(key, e["delivery"], e["attempts"], e["status"], e.get("error"))
            for key, e in self.outbox.items()
            if e["status"] == "failed"
        ]

    def refuse(self, dispatch_key: str, reason: str) -> None:
        entry = self.outbox[dispatch_key]
        if entry["status"] == "pending":
            entry["status"] = "refused"
            entry["error"] = reason


def evaluator_on(config: Config, store: MemoryStore, notifier: Any) -> Evaluator:
    return Evaluator(config, store, store, store, notifier)


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
        store.buckets[(brand, "x", moment)] = BucketCounts(
            total=per_bucket, negative=per_bucket * 3 // 4, neutral=per_bucket // 4
        )


def test_an_empty_series_is_judged_calmly(config: Config) -> None:
    # Given no mentions at all, ever / When the evaluator runs
    store = MemoryStore()
    _healthy(store, config, T0)
    report = evaluator_on(config, store, Outbox()).run(T0)
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
    evaluator = evaluator_on(config, store, outbox)
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
        store.buckets[("nordwind-air", "x", T0 + timedelta(minutes=5 * i))] = BucketCounts(
            total=4, neutral=4
        )
    evaluator = evaluator_on(config, store, Outbox())
    evaluator.run(T0 + timedelta(minutes=21))
    store.buckets[("nordwind-air", "x", T0 + timedelta(minutes=20))] = BucketCounts(
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
    report = evaluator_on(config, store, Outbox()).run(T0 + timedelta(minutes=1))
    # Then the failure is reported, and Kolibri Pay's alert still went out
    assert any(error.startswith("nordwind-air:") for error in report.errors)
    assert any(key.startswith("kolibri-pay-") for key in report.dispatched)


def test_a_notification_that_could_not_be_sent_is_retried_not_repeated(config: Config) -> None:
    # Given SNS fails for the first two deliveries
    store = MemoryStore()
    _storm(store, "nordwind-air", T0 - timedelta(minutes=30), per_bucket=60, buckets=7)
    _healthy(store, config, T0 + timedelta(minutes=1))
    outbox = Outbox(failing=2)
    evaluator = evaluator_on(config, store, outbox)
    first = evaluator.run(T0 + timedelta(minutes=1))
    assert len(first.failed) == 2
    # When the next minute runs / Then the two are sent, and what went out is not sent again
    _healthy(store, config, T0 + timedelta(minutes=2))
    second = evaluator.run(T0 + timedelta(minutes=2))
    assert second.failed == []
    keys = [(d.medium, d.phone, d.kind) for d in outbox.sent]
    assert len(keys) == len(set(keys))
    assert len(outbox.sent) == first.sent + second.sent


class RefusingSms(Outbox):
    """SNS refusing every SMS to a phone, as in its sandbox or past the spend limit."""

    def send(self, delivery: Delivery) -> str:
        if delivery.medium == "sms":
            raise RuntimeError("AuthorizationError: phone number not verified (SMS sandbox)")
        return super().send(delivery)


def test_an_sms_sns_keeps_refusing_goes_to_the_team_by_email_and_is_given_up_visibly(
    config: Config,
) -> None:
    # Given a storm that pages the person on call, and SNS refusing every SMS to a phone
    store = MemoryStore()
    _storm(store, "nordwind-air", T0 - timedelta(minutes=30), per_bucket=60, buckets=7)
    notifier = RefusingSms()
    evaluator = evaluator_on(config, store, notifier)
    # When the evaluator runs minute after minute, past the last try
    reports = []
    for minute in range(1, MAX_ATTEMPTS + 3):
        _healthy(store, config, T0 + timedelta(minutes=minute))
        reports.append(evaluator.run(T0 + timedelta(minutes=minute)))
        if minute == 1:
            sent_in_the_first_minute = list(notifier.sent)
    sms = [key for key, entry in store.outbox.items() if entry["delivery"].medium == "sms"]
    assert sms
    assert set(reports[0].failed) >= set(sms)
    # Then in the first minute the team list is told by email whom the SMS did not reach,
    # and why; once per SMS
    fallbacks = [d for d in notifier.sent if d.subject.startswith("[SMS NOT SENT]")]
    assert len(fallbacks) == len(sms)
    assert all(fallback in sent_in_the_first_minute for fallback in fallbacks)
    assert {d.medium for d in fallbacks} == {"email"}
    phone = store.outbox[sms[0]]["delivery"].phone
    assert any(phone in d.text and "sandbox" in d.text for d in fallbacks)
    # And after its last try the SMS is given up in the open: counted in that run, no
    # longer pending, kept with its error for `stormwatch status`
    assert set(reports[MAX_ATTEMPTS - 1].given_up) == set(sms)
    assert set(reports[MAX_ATTEMPTS - 1].failed) >= set(sms)
    assert all(store.outbox[key]["status"] == "failed" for key in sms)
    assert {entry.key for entry in store.undelivered()} == set(sms)
    assert reports[-1].failed == reports[-1].given_up == []


def test_a_message_left_pending_after_its_last_try_is_given_up_not_skipped(
    config: Config,
) -> None:
    # Given a message an earlier version left pending after its ten tries
    store = MemoryStore()
    _healthy(store, config, T0)
    delivery = Delivery("sms", 2, "nordwind-air", "started", "a", text="x", phone="+4915112345678")
    left = {"delivery": delivery, "status": "pending", "attempts": 10, "error": "Throttled"}
    store.outbox["a:started:sms"] = left
    notifier = Outbox()
    # When the evaluator runs / Then it is given up in the open, its last error kept, and
    # it is not sent again
    report = evaluator_on(config, store, notifier).run(T0)
    assert report.given_up == ["a:started:sms"]
    assert (left["status"], left["error"]) == ("failed", "Throttled")
    assert notifier.sent == []


def test_state_stored_by_an_evaluation_ahead_of_its_time_does_not_blind_the_next(
    config: Config,
) -> None:
    # Given a brand's state stored by an evaluation a day ahead (an earlier version let
    # an event's time through; the handler now refuses it)
    store = MemoryStore()
    ahead = T0 + timedelta(days=1)
    _healthy(store, config, ahead)
    evaluator = evaluator_on(config, store, Outbox())
    evaluator.run(ahead)
    # When a storm comes at the real time, 150 mentions per 5 minutes, 80 % negative
    for i in range(12):
        store.buckets[("nordwind-air", "x", T0 - timedelta(minutes=55 - 5 * i))] = BucketCounts(
            total=150, negative=120, neutral=30
        )
    _healthy(store, config, T0 + timedelta(minutes=1))
    report = evaluator.run(T0 + timedelta(minutes=1))
    # Then it is judged: the state from a time that has not come is not trusted
    outcome = report.brands["nordwind-air"]
    assert outcome.severity >= 2, outcome
    assert outcome.findings
    assert [key.split(":")[1] for key in report.dispatched] == ["started"]


def test_a_poller_failing_again_and_again_tells_ops_not_the_crisis_team(config: Config) -> None:
    store = MemoryStore()
    _healthy(store, config, T0)
    store.health["x"] = PollHealthRecord(T0, T0 - timedelta(hours=2), 12, "x: 401 Unauthorized")
    outbox = Outbox()
    report = evaluator_on(config, store, outbox).run(T0)
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
        evaluator_on(config, store, _Dead()).run(T0 + timedelta(minutes=1))
    decided = len(store.outbox)
    assert [k for k, e in store.outbox.items() if "claimed_until" in e] != []

    # When the next minute runs while that claim holds
    outbox = Outbox()
    _healthy(store, config, T0 + timedelta(minutes=2))
    evaluator_on(config, store, outbox).run(T0 + timedelta(minutes=2))
    # Then all but the claimed message go out
    assert len(outbox.sent) == decided - 1

    # When a run comes after the lease
    _healthy(store, config, T0 + timedelta(minutes=7))
    evaluator_on(config, store, outbox).run(T0 + timedelta(minutes=7))
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


class _Budget:
    def __init__(self, allows: bool) -> None:
        self.allowed = allows

    def allows(self, seconds: float) -> bool:
        return self.allowed


def _history(store: MemoryStore, brand: str, days: int) -> None:
    for i in range(days * 288):
        store.buckets[(brand, "x", T0 - timedelta(minutes=5 * (i + 1)))] = BucketCounts(
            total=3 + i % 4, neutral=3 + i % 4
        )


def test_brands_that_must_learn_their_history_wait_when_time_is_short(config: Config) -> None:
    # Given two brands with four days of stored history and no state yet
    store = MemoryStore()
    for brand in ("nordwind-air", "kolibri-pay"):
        _history(store, brand, days=4)
    _healthy(store, config, T0)
    # When an evaluation has no time left for learning
    report = evaluator_on(config, store, Outbox()).run(T0, _Budget(allows=False))
    # Then both wait for a later minute, without an error and without a half-made state
    assert report.deferred == ["nordwind-air", "kolibri-pay"]
    assert report.errors == []
    assert store.states == {}
    # When the next minute has time / Then both learn, are judged and stored
    report = evaluator_on(config, store, Outbox()).run(T0 + timedelta(minutes=1), _Budget(True))
    assert report.deferred == []
    assert set(report.brands) == {"nordwind-air", "kolibri-pay"}
    assert all(state.version == 1 for state in store.states.values())
    # And from then on they are judged in the first pass, even with no time to learn
    report = evaluator_on(config, store, Outbox()).run(T0 + timedelta(minutes=2), _Budget(False))
    assert (report.deferred, sorted(report.brands)) == ([], ["kolibri-pay", "nordwind-air"])


def test_a_quiet_minute_writes_nothing_and_the_detectors_are_checkpointed_hourly(
    config: Config,
) -> None:
    # Given a brand evaluated once (its state stored)
    store = MemoryStore()
    _history(store, "nordwind-air", days=4)
    _healthy(store, config, T0)
    evaluator_on(config, store, Outbox()).run(T0)
    stored = store.states["nordwind-air"].version
    # When quiet minutes follow, buckets arriving as usual
    versions = []
    for minute in range(1, 75):
        moment = T0 + timedelta(minutes=minute)
        store.buckets[("nordwind-air", "x", moment - timedelta(minutes=moment.minute % 5))] = (
            BucketCounts(total=4, neutral=4)
        )
        _healthy(store, config, moment)
        evaluator_on(config, store, Outbox()).run(moment)
        versions.append(store.states["nordwind-air"].version)
    # Then the state was written once within the first 65 minutes (the hourly checkpoint),
    # never in between
    assert versions[58] == stored
    assert versions[70] == stored + 1


def test_everyone_paged_in_the_night_hears_it_is_over_when_the_desk_has_taken_over(
    config: Config,
) -> None:
    # Given a storm at 03:00 on a Sunday, paged by SMS to whoever is on call that night
    store = MemoryStore()
    _storm(store, "nordwind-air", T0 - timedelta(minutes=30), per_bucket=60, buckets=7)
    _healthy(store, config, T0 + timedelta(minutes=1))
    outbox = Outbox()
    evaluator_on(config, store, outbox).run(T0 + timedelta(minutes=1))
    assert config.roster is not None
    night = set(config.roster.on_call(T0).phones)
    assert night
    assert night <= {d.phone for d in outbox.sent if d.medium == "sms" and d.kind == "started"}
    # When it is over on Monday morning, when the desk is on call
    monday = T0 + timedelta(hours=30)  # Mon 09:00 UTC, 10:00 in Berlin
    desk = set(config.roster.on_call(monday).phones)
    assert desk
    assert not desk & night
    _healthy(store, config, monday)
    evaluator_on(config, store, outbox).run(monday)
    # Then the night's person hears it too, not only whoever is on call now
    told = {d.phone for d in outbox.sent if d.medium == "sms" and d.kind == "resolved"}
    assert night | desk <= told


def test_an_sms_to_a_number_not_on_the_roster_is_never_sent(config: Config) -> None:
    # Given an outbox message for a premium-rate number that no contact has, written by
    # hand (anyone who can write an item of the table could), beside a genuine one
    store = MemoryStore()
    _healthy(store, config, T0)
    stranger = "+19005550100"
    anna = config.contacts["anna"].phone or ""
    for key, phone in (("forged:started:sms", stranger), ("real:started:sms", anna)):
        delivery = Delivery("sms", 3, "nordwind-air", "started", key, text="CRITICAL", phone=phone)
        store._enqueue([(key, delivery)])
    outbox = Outbox()
    # When the evaluator sends what is pending
    report = evaluator_on(config, store, outbox).run(T0)
    # Then only the roster's number got an SMS; the forged one is refused, kept for ops
    # with the reason, and not counted as a notification that failed
    assert [d.phone for d in outbox.sent] == [anna]
    assert report.refused == ["forged:started:sms"]
    assert report.failed == []
    assert store.outbox["forged:started:sms"]["status"] == "refused"
