"""The Act function: statements, pause and resume, behind an HTTP API whose IAM authorizer
verified the caller. Also invoked by a pause's one-time auto-resume schedule with
``{"action": "auto-resume", "crisis_version": N}`` (no HTTP, no caller).

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

    if isinstance(event, dict) and event.get("action") == AUTO_RESUME_ACTION:
        service, _config = _service(context)
        result: dict[str, Any] = service.auto_resume(event)
        logger.info("auto-resume", extra={"outcome": result["outcome"]})
        _count(f"AutoResume_{result['outcome']}")
        return result
    return answer(
        event,
        STATEMENT_ROUTES,
        lambda: _service(context),
        request_id=context.aws_request_id,
        count=_count,
    )
