"""The Act function: statements, pause and resume, behind an HTTP API whose IAM authorizer
verified the caller. Also invoked by a pause's one-time auto-resume schedule with
``{"action": "auto-resume", "crisis_version": N}``, and asynchronously by the evaluator when
an alert's RESOLVED message went out, with ``{"action": "crisis-report", "alert_id": ...}``
(no HTTP, no caller: the report says it was made when the alert resolved).

    POST /statements/preview   the dry run          GET  /statements        recent ones
    POST /statements           a draft              GET  /statements/{id}   one
    POST /statements/{id}/revise|submit|approve|reject
    POST /pause   POST /resume   GET /status   GET /alerts/{id}/timeline
    POST /alerts/{id}/report   (re)build the crisis report in the reports bucket
    POST /alerts/{id}/acknowledge   (the console's button; `stormwatch ack` shares its rule)

The release (``POST /statements/{id}/release``) is not here: `functions/release_statement`
has it, so only that function's role may publish, draw cards into the media bucket and
tell the alert recipients. Requests and refusals: `stormwatch.act.http`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stormwatch.observability import LazyTracer
from stormwatch.runtime import AwsClients

logger = Logger()
metrics = Metrics()
tracer = LazyTracer()
copy_config_to_registered_loggers(source_logger=logger, include={"stormwatch"})

_clients = AwsClients()


def _service(context: LambdaContext) -> Any:
    from stormwatch.act.wiring import act_service

    return act_service(_clients, context.invoked_function_arn)


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from stormwatch.act.http import STATEMENT_ROUTES, answer
    from stormwatch.act.service import AUTO_RESUME_ACTION
    from stormwatch.review.request import CRISIS_REPORT_ACTION

    if isinstance(event, dict) and event.get("action") == AUTO_RESUME_ACTION:
        service, _config = _service(context)
        result: dict[str, Any] = service.auto_resume(event)
        logger.info("auto-resume", extra={"outcome": result["outcome"]})
        _count(f"AutoResume_{result['outcome']}")
        return result
    if isinstance(event, dict) and event.get("action") == CRISIS_REPORT_ACTION:
        service, _config = _service(context)
        # An error raises: the event goes to the dead-letter queue (EventInvokeConfig), and
        # `stormwatch report` makes the report on demand.
        made: dict[str, Any] = service.report_on_resolve(event)
        logger.info("crisis report made on resolve", extra={"alert_id": made["alert_id"]})
        _count("CrisisReport_on_resolve")
        return made
    return answer(
        event,
        STATEMENT_ROUTES,
        lambda: _service(context),
        request_id=context.aws_request_id,
        count=_count,
    )
