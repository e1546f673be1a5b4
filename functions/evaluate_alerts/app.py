"""Evaluate every brand's mentions once a minute and notify people. Invoked by its
schedule with ``{"scheduled_time": "<aws.scheduler.scheduled-time>"}``: the minute judged
is the scheduled one, so a redelivered invocation judges the same minute again (and
decides nothing twice) - when it is near the clock (`stormwatch.warn.moment`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stormwatch.deadline import Deadline
from stormwatch.errors import ConfigError
from stormwatch.observability import LazyTracer
from stormwatch.runtime import AwsClients, Environment

logger = Logger()
metrics = Metrics()
tracer = LazyTracer()
copy_config_to_registered_loggers(source_logger=logger, include={"stormwatch"})

# Kept back from the Lambda timeout for the blind monitor, sending and the metrics.
RESERVE_SECONDS = 10.0

_clients = AwsClients()


def requested_time(event: Any) -> datetime | None:
    """The minute the event asks for (its schedule's), or None for a manual invocation."""
    value = event.get("scheduled_time") if isinstance(event, dict) else None
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError("event.scheduled_time", f"not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ConfigError("event.scheduled_time", f"needs a time zone: {value!r}")
    return moment.astimezone(UTC)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    from stormwatch.warn.moment import evaluation_moment
    from stormwatch.warn.service import evaluate

    # A run that cannot start is an `AWS/Lambda` `Errors` (free, EvaluateAlertsErrorsAlarm).
    moment = evaluation_moment(requested_time(event), datetime.now(UTC))
    now = moment.at
    if moment.replaced is not None:
        logger.warning(
            "event time too old: the clock's minute is judged instead",
            extra={"scheduled_time": moment.replaced.isoformat(), "judged": now.isoformat()},
        )
    logger.set_correlation_id(f"evaluate-{now:%Y%m%dT%H%M}-{context.aws_request_id}")
    deadline = Deadline.from_context(context, RESERVE_SECONDS)
    report, table = evaluate(Environment.from_environ(), _clients, now, deadline)
    # EMF only what an alarm reads (docs/decisions/0012-dashboard-and-alarms.md), and only
    # when it is not zero: CloudWatch bills a metric by the hours it is sent in ($0.30 a
    # month when sent every hour), and its alarm reads a missing datapoint as all clear.
    # The rest is in the run's log line, which Logs Insights reads.
    for name, value in (
        ("NotificationFailures", len(report.failed)),
        ("EvaluationErrors", len(report.errors)),
        ("UnpolledChannels", len(report.unpolled)),
    ):
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    summary = report.summary()
    # One line a run, quiet or not: the dashboard sums its counts (Logs Insights).
    counts = {
        "dispatched": len(report.dispatched),
        "sent": report.sent,
        "failed": len(report.failed),
        "given_up": len(report.given_up),
        "errors": len(report.errors),
        "blind": len(report.blind),
        "unpolled": len(report.unpolled),
        "deferred": len(report.deferred),
        "reports_not_requested": len(report.reports_not_requested),
        "dynamo_requests": table.stats.requests,
    }
    logger.info("evaluation", extra={"summary": summary, "counts": counts})
    return summary
