"""State shared by every fake channel: the scenario, accepted credentials, faults, a request log."""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.scenario import Post, Scenario


@dataclass(frozen=True, slots=True)
class RecordedExchange:
    """One request and the answer the fake gave, for contract tests."""

    channel: str
    method: str
    path: str
    raw_uri: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    body: bytes
    status: int
    response_headers: Mapping[str, str]
    response_body: bytes
    fault: str | None


@dataclass
class Fault:
    # "status:<code>", "html" (a 502 page), "html200", "bad_json", "truncated", "empty",
    # "slow:<seconds>". The client retries 5xx and timeouts once: arm those with times=2.
    kind: str
    channel: str | None = None
    path_contains: str | None = None
    times: int = 1


class FaultPlan:
    """Faults armed by tests: fixed ones first, then random ones at `random_rate`."""

    RANDOM_KINDS = ("status:429", "status:500", "status:503", "html", "bad_json", "truncated")

    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self._lock = threading.Lock()
        self.random_rate = 0.0
        self._rng = random.Random(0)
        self.fired: list[tuple[str, str]] = []

    def arm(
        self,
        kind: str,
        *,
        channel: str | None = None,
        path_contains: str | None = None,
        times: int = 1,
    ) -> None:
        with self._lock:
            self._armed.append(Fault(kind, channel, path_contains, times))

    def randomly(self, rate: float, seed: int) -> None:
        with self._lock:
            self.random_rate = rate
            self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
            self.random_rate = 0.0

    def take(self, channel: str, path: str) -> str | None:
        with self._lock:
            for fault in self._armed:
                if fault.channel not in (None, channel):
                    continue
                if fault.path_contains and fault.path_contains not in path:
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._armed.remove(fault)
                self.fired.append((channel, fault.kind))
                return fault.kind
            if self.random_rate and self._rng.random() < self.random_rate:
                kind = self._rng.choice(self.RANDOM_KINDS)
                self.fired.append((channel, kind))
                return kind
        return None


@dataclass
class World:
    """Everything the fakes share; `now()` is the wall clock, which the demo moves."""

    scenario: Scenario
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    faults: FaultPlan = field(default_factory=FaultPlan)
    exchanges: list[RecordedExchange] = field(default_factory=list)
    record: bool = True
    # Per-channel scratch space the fakes own (rate-limit windows, sessions, published posts...).
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _by_channel: dict[str, list[Post]] = field(default_factory=dict, repr=False)
    _times: dict[str, list[datetime]] = field(default_factory=dict, repr=False)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def visible_posts(self, channel: str) -> list[Post]:
        """The channel's posts that exist by now, oldest first."""
        with self.lock:
            posts = self._by_channel.get(channel)
            if posts is None:
                posts = self._by_channel[channel] = self.scenario.channel_posts(channel)
                self._times[channel] = [post.created_at for post in posts]
        return posts[: bisect.bisect_right(self._times[channel], self.now())]

    def channel_state(self, channel: str) -> dict[str, Any]:
        with self.lock:
            return self.state.setdefault(channel, {})

    def log(self, exchange: RecordedExchange) -> None:
        if self.record:
            with self.lock:
                self.exchanges.append(exchange)

    def exchanges_of(self, channel: str) -> list[RecordedExchange]:
        with self.lock:
            return [item for item in self.exchanges if item.channel == channel]
