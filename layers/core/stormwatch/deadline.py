"""How much of the Lambda's time is left, so work stops before the runtime kills it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class TimeBudget(Protocol):
    """What the poll loop asks of its time limit (a `Deadline`, or a test's stand-in)."""

    def allows(self, seconds: float) -> bool: ...


class HasRemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Deadline:
    """A point in monotonic time; `reserve` seconds are kept back for committing and logging."""

    def __init__(self, seconds: float, reserve: float = 0.0) -> None:
        self._expires = time.monotonic() + seconds - reserve

    @classmethod
    def from_context(cls, context: HasRemainingTime, reserve: float) -> Deadline:
        return cls(context.get_remaining_time_in_millis() / 1000.0, reserve)

    def remaining(self) -> float:
        return max(0.0, self._expires - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def allows(self, seconds: float) -> bool:
        """True when `seconds` more work still fits."""
        return self.remaining() > seconds

    @contextmanager
    def capped(self, seconds: float) -> Iterator[None]:
        """At most `seconds` more while the block runs (one source's share of a poll); the
        HTTP client bound to this deadline ends its requests with it."""
        saved = self._expires
        self._expires = min(saved, time.monotonic() + max(0.0, seconds))
        try:
            yield
        finally:
            self._expires = saved
