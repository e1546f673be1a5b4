"""Nothing lost, nothing twice: the scenario polled through faults at every step.

For 500 randomised poll cycles across the whole scenario, every HTTP call to a channel
and every DynamoDB call may fail, the pollers' and the counter's (which counts the stored
mentions from the table's stream, after each run): the channel answers 429/5xx/HTML/broken JSON, the
connection times out before or after the request reached the server, a write fails
before it is applied or after (its answer lost), the Lambda is killed outright (an
exception no handler catches), it gets too little time, or two runs of the same channel
overlap. Then faults stop, polling catches up, and every bucket counter must equal the
scenario's ground truth exactly.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
import time_machine
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from local.demo import ground_truth, stored_buckets
from local.scenario import Scenario, build_scenario
from local.stack import LocalStack
from stormwatch.config import CHANNELS

# A killed invocation never reaches its metrics, and Powertools says so.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

CYCLES = 500
# botocore's own call, before the injection wraps it.
_REAL_CALL: list[Any] = []
POLL = "PollMentionsFunction"
WRITES = {"BatchWriteItem", "TransactWriteItems", "UpdateItem", "PutItem"}
READS = {"Query", "GetItem", "GetParameter", "GetSecretValue"}


class LambdaKilled(BaseException):
    """The runtime ending the invocation mid-way: no `except Exception` catches it."""


class Faults:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.active = False
        self.http_rate = 0.08
        self.write_rate = 0.08
        # The counter's transactions are few (one a batch of the stream): at the writes'
        # rate a kind of their faults would now and then not occur at all.
        self.counter_rate = 0.25
        self.read_rate = 0.02
        self.fired: Counter[str] = Counter()

    def rate_for(self, operation: str) -> float:
        if operation == "TransactWriteItems":
            return self.counter_rate
        return self.write_rate if operation in WRITES else self.read_rate

    def roll(self, rate: float) -> str | None:
        with self.lock:
            if not self.active or self.rng.random() >= rate:
                return None
            return self.rng.choice(("before", "before", "after", "after", "kill"))

    def note(self, what: str) -> None:
        with self.lock:
            self.fired[what] += 1


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario(volume=0.1, seed=5)


def _inject(monkeypatch: pytest.MonkeyPatch, faults: Faults, channel_port: int) -> None:
    real_send = requests.adapters.HTTPAdapter.send

    def send(self: requests.adapters.HTTPAdapter, request: Any, **kwargs: Any) -> Any:
        if f":{channel_port}/" not in (request.url or ""):
            return real_send(self, request, **kwargs)
        fault = faults.roll(faults.http_rate)
        if fault == "before":
            faults.note("http timeout before the request")
            raise requests.ConnectTimeout("injected: connect timed out")
        if fault == "kill":
            faults.note("killed during an HTTP call")
            raise LambdaKilled
        response = real_send(self, request, **kwargs)
        if fault == "after":
            faults.note("http timeout after the server answered")
            raise requests.ReadTimeout("injected: read timed out")
        return response

    real_call = BaseClient._make_api_call  # type: ignore[attr-defined]
    _REAL_CALL[:] = [real_call]

    def call(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        rate = faults.rate_for(operation)
        if operation not in WRITES | READS:
            return real_call(self, operation, params)
        unprocessed = _throttled(self, operation, params, faults)
        if unprocessed is not None:
            return unprocessed
        fault = faults.roll(rate)
        error = {"Error": {"Code": "InternalServerError", "Message": "injected"}}
        if fault == "before":
            faults.note(f"{operation} failed before it was applied")
            raise ClientError(error, operation)  # type: ignore[arg-type]
        if fault == "kill":
            faults.note(f"killed before {operation}")
            raise LambdaKilled
        answer = real_call(self, operation, params)
        if fault == "after":
            faults.note(f"{operation} applied, answer lost")
            raise ClientError(error, operation)  # type: ignore[arg-type]
        return answer

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    monkeypatch.setattr(BaseClient, "_make_api_call", call)


def _throttled(client: BaseClient, operation: str, params: dict[str, Any], faults: Faults) -> Any:
    """DynamoDB throttling part of a BatchWriteItem, now and then, and surely the first time
    one of two items or more is written (the random draws' order follows the threads, so
    a rare fault must not depend on it): the first half is written, the rest handed back
    as unprocessed (None: no such fault this time)."""
    if operation != "BatchWriteItem":
        return None
    (table, entries), *_ = params["RequestItems"].items()
    half = len(entries) // 2
    kind = "BatchWriteItem left items unprocessed"
    if not half or not faults.active:
        return None
    if faults.fired[kind] and faults.roll(faults.write_rate) != "after":
        return None
    faults.note(kind)
    real_call = _REAL_CALL[0]
    real_call(client, "BatchWriteItem", {**params, "RequestItems": {table: entries[:half]}})
    return {"UnprocessedItems": {table: entries[half:]}}


def _invoke(stack: LocalStack, channel: str, budget: float, outcomes: Counter[str]) -> None:
    try:
        stack.invoke(POLL, {"channel": channel}, budget_seconds=budget)
        outcomes["returned"] += 1
    except LambdaKilled:
        outcomes["killed"] += 1
    except Exception:  # the invocation failed; Lambda would record the error and move on
        outcomes["raised"] += 1


def _catch_up(stack: LocalStack, rounds: int = 60) -> None:
    """Poll every channel until a whole round stores nothing new."""
    quiet = 0
    for _ in range(rounds):
        stored = sum(stack.invoke(POLL, {"channel": channel})["stored"] for channel in CHANNELS)
        quiet = quiet + 1 if stored == 0 else 0
        if quiet == 2:
            return
    raise AssertionError("polling did not settle")


@pytest.fixture(scope="module")
def faulty_run(scenario: Scenario) -> Iterator[tuple[LocalStack, Faults, Counter[str]]]:
    monkeypatch = pytest.MonkeyPatch()
    faults = Faults(seed=20261122)
    outcomes: Counter[str] = Counter()
    with open(os.devnull, "w") as quiet, LocalStack(scenario=scenario, log=quiet) as stack:
        # The function's environment stays set, so overlapping invocations share it safely.
        assert stack.deployment is not None
        for name, value in stack.deployment.function_environment(POLL).items():
            monkeypatch.setenv(name, value)
        stack.world.faults.randomly(0.06, seed=7)
        # Retry pauses are real sleeps in production; here they would only make the run slow.
        monkeypatch.setattr(time, "sleep", lambda seconds: None)
        port = int(stack.channels.base_url.rsplit(":", 1)[1])
        _inject(monkeypatch, faults, port)
        rng = random.Random(99)
        step = (scenario.end - scenario.start) / CYCLES
        with time_machine.travel(scenario.start, tick=False) as clock:
            faults.active = True
            for cycle in range(CYCLES):
                clock.move_to(scenario.start + step * (cycle + 1))
                for channel in rng.sample(CHANNELS, len(CHANNELS)):
                    budget = rng.choice((60.0, 60.0, 60.0, 7.0, 5.5))
                    if rng.random() < 0.04:
                        twin = threading.Thread(
                            target=_invoke, args=(stack, channel, 60.0, outcomes)
                        )
                        twin.start()
                        _invoke(stack, channel, budget, outcomes)
                        twin.join()
                        outcomes["overlapping runs"] += 1
                    else:
                        _invoke(stack, channel, budget, outcomes)
            faults.active = False
            stack.world.faults.clear()
            # Long enough for every back-off to expire, then catch up.
            clock.move_to(scenario.end + timedelta(hours=2))
            _catch_up(stack)
        yield stack, faults, outcomes
    monkeypatch.undo()


def test_faults_of_every_kind_were_injected(
    faulty_run: tuple[LocalStack, Faults, Counter[str]],
) -> None:
    stack, faults, outcomes = faulty_run
    kinds = " ".join(faults.fired)
    for expected in (
        "http timeout before",
        "http timeout after",
        "killed during an HTTP",
        # the pollers' writes of mentions and their cursor moves
        "BatchWriteItem failed before",
        "BatchWriteItem applied, answer lost",
        "killed before BatchWriteItem",
        "BatchWriteItem left items unprocessed",
        "UpdateItem",
        "Query",
        # the counter's transactions of bucket increments and the shard's position
        "TransactWriteItems failed before",
        "TransactWriteItems applied, answer lost",
        "killed before TransactWriteItems",
    ):
        assert expected in kinds, f"no fault of kind {expected!r}: {faults.fired}"
    # The counter failed on some batches; the stream handed them over again until counted
    assert stack.streams is not None
    assert len(stack.streams.failures()) >= 5
    server_faults = Counter(kind for _, kind in stack.world.faults.fired)
    assert {"status:429", "status:500", "html", "bad_json", "truncated"} <= set(server_faults)
    assert outcomes["killed"] > 20
    assert outcomes["raised"] > 20
    assert outcomes["overlapping runs"] > 20
    assert outcomes["returned"] > CYCLES * len(CHANNELS) / 2


def test_every_bucket_equals_the_ground_truth(
    faulty_run: tuple[LocalStack, Faults, Counter[str]], scenario: Scenario
) -> None:
    stack, _, _ = faulty_run
    brands = sorted({brand for post in scenario.posts for brand in post.brands})
    stored = stored_buckets(stack, scenario, brands)
    truth = ground_truth(scenario, 5)
    assert truth
    assert sum(c.total for (b, ch, _), c in truth.items() if ch == "ALL") == len(
        [p for p in scenario.posts for _ in p.brands]
    )
    wrong = {
        key: (stored.get(key), expected)
        for key, expected in truth.items()
        if stored.get(key) is None
        or (stored[key].total, stored[key].reach, stored[key].engagement)
        != (expected.total, expected.reach, expected.engagement)
    }
    extra = set(stored) - set(truth)
    if wrong or extra:
        missing, surplus = _stored_against_posts(stack, scenario)
        pytest.fail(
            f"{len(wrong)} buckets differ, e.g. {list(wrong.items())[:3]}; {len(extra)} extra; "
            f"posts not stored: {missing[:10]}; stored but not a post or twice: {surplus[:10]}"
        )
    assert not extra, f"buckets the scenario has no mention for: {sorted(extra)[:3]}"
    for counts in stored.values():
        assert counts.negative + counts.neutral + counts.positive == counts.total


def _mention_items(stack: LocalStack, scenario: Scenario) -> list[dict[str, Any]]:
    """Every mention item the stack holds for the scenario's days, as DynamoDB gives them."""
    client = stack.client("dynamodb")
    items: list[dict[str, Any]] = []
    for channel in CHANNELS:
        day = scenario.start - timedelta(days=1)
        while day <= scenario.end + timedelta(days=1):
            pages = client.get_paginator("query").paginate(
                TableName=stack.outputs["TableName"],
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"MENTION#{channel}#{day:%Y-%m-%d}"}},
            )
            for page in pages:
                items.extend(page["Items"])
            day += timedelta(days=1)
    return items


def _stored_against_posts(stack: LocalStack, scenario: Scenario) -> tuple[list[str], list[str]]:
    """Posts with no mention item, and mention items that are no post or a post twice."""
    from local.fakechannels.registry import fake_module

    stored: Counter[tuple[str, str]] = Counter()
    keys: dict[tuple[str, str], list[str]] = {}
    for item in _mention_items(stack, scenario):
        identity = (item["channel"]["S"], item["id"]["S"])
        stored[identity] += 1
        keys.setdefault(identity, []).append(item["sk"]["S"])
    expected = {
        (post.channel, fake_module(post.channel).mention_id(post)): post
        for post in scenario.posts
        if post.brands
    }
    missing = [f"{c}:{i}@{p.created_at}" for (c, i), p in expected.items() if (c, i) not in stored]
    surplus = [
        f"{c}:{i} stored {n}x at {keys[(c, i)]}"
        for (c, i), n in stored.items()
        if n > 1 or (c, i) not in expected
    ]
    return missing, surplus


def test_sentiment_counts_are_those_of_the_stored_mentions_scored_once(
    faulty_run: tuple[LocalStack, Faults, Counter[str]], scenario: Scenario
) -> None:
    # Given the faulty run's mention items, each a post stored once (the test above), and
    # the analyzer the pollers use
    from stormwatch.listen.sentiment import OfflineAnalyzer
    from stormwatch.model import ALL_CHANNELS, bucket_start

    stack, _, _ = faulty_run
    brands = sorted({brand for post in scenario.posts for brand in post.brands})
    stored = stored_buckets(stack, scenario, brands)
    items = _mention_items(stack, scenario)
    # When each stored text is scored again, and the items are tallied per bucket
    labels = OfflineAnalyzer().analyze([(i["text"]["S"], i["language"]["S"]) for i in items])
    tally: dict[tuple[str, str, Any], Counter[str]] = {}
    for item, (label, _) in zip(items, labels, strict=True):
        # Then each mention carries the label a run without faults gives its text
        assert item["sentiment"]["S"] == label.value, item["id"]["S"]
        start = bucket_start(datetime.fromisoformat(item["created_at"]["S"]), 5)
        for brand in item["brands"]["SS"]:
            for channel in (item["channel"]["S"], ALL_CHANNELS):
                tally.setdefault((brand, channel, start), Counter())[label.value] += 1
    # ...and every bucket's split is its mentions' labels: none scored twice, none lost
    split = {
        key: {"negative": c.negative, "neutral": c.neutral, "positive": c.positive}
        for key, c in stored.items()
        if key[2] >= scenario.start
    }
    expected = {
        key: {name: counts[name] for name in ("negative", "neutral", "positive")}
        for key, counts in tally.items()
        if key[2] >= scenario.start
    }
    assert split == expected
