"""Poll one channel's mentions into DynamoDB. Invoked by its EventBridge Scheduler schedule
with ``{"channel": "<name>"}``; everything else comes from the config document."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from stormwatch.channels.http import Sessions
from stormwatch.deadline import Deadline
from stormwatch.errors import ConfigError
from stormwatch.model import CHANNELS
from stormwatch.observability import LazyTracer
from stormwatch.runtime import AwsClients, Environment

logger = Logger()
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
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    from stormwatch.listen.service import poll, utc_now

    # No EMF metric: a run that cannot start or crashes is an `AWS/Lambda` `Errors` (free,
    # alarmed), and a stopped poller is counted by the evaluator (`UnpolledChannels`). What
    # a run did goes into ONE log line, which the dashboard reads with Logs Insights
    # (docs/decisions/0012-dashboard-and-alarms.md): per-channel metrics cost $0.30 each a month.
    channel = parse_channel(event)
    logger.set_correlation_id(f"poll-{channel}-{context.aws_request_id}")
    logger.append_keys(channel=channel)
    environment = Environment.from_environ()
    deadline = Deadline.from_context(context, RESERVE_SECONDS)
    report, table = poll(channel, environment, _clients, deadline, _sessions)

    newest = report.newest
    lag = max(0.0, (utc_now() - newest).total_seconds()) if newest is not None else None
    summary = report.summary()
    logger.info(
        "poll finished",
        extra={
            "summary": summary,
            "negative": report.negative,
            "failed_sources": len(report.errors),
            "first_error": report.errors[0] if report.errors else "",
            "lag_seconds": lag,
            "dynamo_requests": table.stats.requests,
        },
    )
    return summary
