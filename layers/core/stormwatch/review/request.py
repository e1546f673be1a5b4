"""Asking for a crisis report when an alert resolves: the evaluator invokes the Act
function asynchronously (`InvocationType=Event`) with ``{"action": "crisis-report",
"alert_id": ...}``, and does not wait. Lambda queues the event and retries the Act
function on an error; the evaluator's minute is not spent building the report, and its
role needs `lambda:InvokeFunction` on the Act function only."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from stormwatch.errors import ConfigError

CRISIS_REPORT_ACTION: Final = "crisis-report"
MADE_WHEN_RESOLVED: Final = "made when the alert resolved"
"""Who made a report asked for by the evaluator, as the report and the log say it."""


def crisis_report_event(alert_id: str) -> dict[str, str]:
    return {"action": CRISIS_REPORT_ACTION, "alert_id": alert_id}


class LambdaReportRequests:
    """`warn.evaluate.ReportRequests` through Lambda's asynchronous invoke. The client is
    made on the first request: a minute in which nothing resolves makes none."""

    def __init__(self, lambda_client: Callable[[], Any], function_arn: str | None) -> None:
        self._client = lambda_client
        self._function_arn = function_arn

    def request(self, alert_id: str) -> None:
        if not self._function_arn:
            raise ConfigError(
                "environment REPORT_FUNCTION_ARN", "required to ask for crisis reports"
            )
        self._client().invoke(
            FunctionName=self._function_arn,
            InvocationType="Event",
            Payload=json.dumps(crisis_report_event(alert_id)).encode(),
        )
