"""What the handlers' tracer may put in X-Ray: never a channel's URL."""

from __future__ import annotations

from typing import Any

import pytest

from stormwatch.observability import LazyTracer


class RecordingTracer:
    """Stands in for Powertools' Tracer: records how it was made (making the real one
    patches the process's HTTP libraries for good)."""

    made: list[dict[str, Any]] = []  # noqa: RUF012 - one record per test

    def __init__(self, **settings: Any) -> None:
        self.made.append(settings)

    def capture_lambda_handler(self, **_: Any) -> Any:
        return lambda handler: handler


def test_the_tracer_records_aws_calls_but_no_channel_url(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a handler traced by the LazyTracer (Powertools' Tracer replaced by a recorder)
    import aws_lambda_powertools

    RecordingTracer.made = []
    monkeypatch.setattr(aws_lambda_powertools, "Tracer", RecordingTracer)

    def handle(event: dict[str, Any], context: Any) -> str:
        return "done"

    handler = LazyTracer().capture_lambda_handler(handle)
    # When it is invoked
    assert handler({}, None) == "done"
    # Then the X-Ray SDK patches botocore alone: requests and http.client stay unpatched,
    # so no channel URL - a Google Alerts feed's path is its secret - reaches a trace
    (settings,) = RecordingTracer.made
    assert tuple(settings["patch_modules"]) == ("botocore",)
