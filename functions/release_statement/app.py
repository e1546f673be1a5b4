"""The release: ``POST /statements/{id}/release`` of the Act API (IAM-signed), nothing else.

Crisis mode on, every scheduler parked, each channel's approved text published at once,
the alert recipients told (`ActService.release`). A function of its own so that only its
role may publish, put image cards and notify; no schedule invokes it, only a verified
caller through the API. Requests and refusals: `stormwatch.act.http`.
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
    from stormwatch.act.http import RELEASE_ROUTES, answer

    return answer(
        event,
        RELEASE_ROUTES,
        lambda: _service(context),
        request_id=context.aws_request_id,
        count=_count,
    )
