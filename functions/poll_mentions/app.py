"""Poll one channel's mentions into DynamoDB. Invoked by its EventBridge Scheduler schedule
with ``{"channel": "<name>"}``; everything else comes from the config document."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stormwatch.channels.http import Sessions
from stormwatch.deadline import Deadline
from stormwatch.errors import ConfigError
from stormwatch.model import CHANNELS
from stormwatch.observability import LazyTracer
from stormwatch.runtime import AwsClients, Environment

logger = Logger()
metrics = Metrics()
tracer = LazyTracer()
copy_config_to_registered_loggers(source_logger=logger, include={"stormwatch"})

# Kept back from the Lambda timeout for the last commit, metrics and logs.
RESERVE_SECONDS = 5.0

_clients = AwsClients()
_sessions = Sessions()


def parse_channel(event: Any) -> str:
    channel = event.get("channel") if isinstance(event, dict) else None
    if channel not in CHANNELS:
        raise ConfigError("event.channel", f"must be one of {', '.join(CHANNELS)}, got {channel!r}")
    return str(channel)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    from stormwatch.listen.service import poll, utc_now

    try:
        channel = parse_channel(event)
        logger.set_correlation_id(f"poll-{channel}-{context.aws_request_id}")
        logger.append_keys(channel=channel)
        environment = Environment.from_environ()
        deadline = Deadline.from_context(context, RESERVE_SECONDS)
        report, table = poll(channel, environment, _clients, deadline, _sessions)
    except Exception:
        # A run that cannot start (bad event, config, environment) still shows in metrics.
        metrics.add_metric(name="PollInvocationErrors", unit=MetricUnit.Count, value=1)
        raise

    metrics.add_dimension(name="channel", value=channel)
    metrics.add_metric(name="MentionsRead", unit=MetricUnit.Count, value=report.tally.read)
    metrics.add_metric(name="MentionsStored", unit=MetricUnit.Count, value=report.stored)
    metrics.add_metric(name="NegativeMentionsStored", unit=MetricUnit.Count, value=report.negative)
    metrics.add_metric(name="PollErrors", unit=MetricUnit.Count, value=len(report.errors))
    metrics.add_metric(name="DynamoRequests", unit=MetricUnit.Count, value=table.stats.requests)
    newest = report.newest
    if newest is not None:
        lag = (utc_now() - newest).total_seconds()
        metrics.add_metric(name="PollLag", unit=MetricUnit.Seconds, value=max(0.0, lag))
    summary = report.summary()
    logger.info("poll finished", extra={"summary": summary})
    return summary
