"""A DynamoDB client wrapper for the benchmarks: it keeps every request sent, so what
they cost is worked out afterwards, outside the timed part."""

from __future__ import annotations

import time
from typing import Any

from stormwatch.persistence.table import write_units


class RecordingClient:
    """`latency` seconds are added to every request: moto on loopback answers in the same
    process, DynamoDB in a region a few milliseconds away, which is what overlapping
    requests in threads saves."""

    def __init__(self, client: Any, latency: float = 0.0) -> None:
        self.client = client
        self.latency = latency
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        method = getattr(self.client, operation)

        def call(**request: Any) -> Any:
            self.sent.append((operation, request))
            if self.latency:
                time.sleep(self.latency)
            return method(**request)

        return call

    @property
    def requests(self) -> int:
        return len(self.sent)

    @property
    def write_units(self) -> float:
        return sum(write_units(operation, request) for operation, request in self.sent)

    def clear(self) -> None:
        self.sent.clear()
