"""Publish one post of our own queue when its one-time schedule fires, unless crisis mode is
on. Invoked by EventBridge Scheduler with ``{"post_id": "<id>"}``; the schedule is made by
`stormwatch.channels.schedulers.queue` and deleted after it ran."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stormwatch.errors import ConfigError
from stormwatch.observability import LazyTracer
from stormwatch.runtime import AwsClients, Environment

logger = Logger()
metrics = Metrics()
tracer = LazyTracer()
copy_config_to_registered_loggers(source_logger=logger, include={"stormwatch"})

_clients = AwsClients()
_POST_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def parse_post_id(event: Any) -> str:
    post_id = event.get("post_id") if isinstance(event, dict) else None
    if not isinstance(post_id, str) or not _POST_ID.fullmatch(post_id):
        raise ConfigError("event.post_id", f"must be a queued post's id, got {post_id!r}")
    return post_id


def _publisher(environment: Environment) -> Any:
    """The one place publishing is wired: the channel publishers (`publish(text, ...)`, one
    per channel) behind the `stormwatch.act.parking.Publisher` interface."""
    from stormwatch.channels.publishers.queued import queue_publisher

    return queue_publisher(environment, _clients)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    from stormwatch.act.parking import publish_due
    from stormwatch.persistence.crisis import CrisisStore
    from stormwatch.persistence.parked import ParkedStore
    from stormwatch.persistence.queue import QueueStore
    from stormwatch.persistence.table import Table

    post_id = parse_post_id(event)
    logger.set_correlation_id(f"publish-{post_id}-{context.aws_request_id}")
    environment = Environment.from_environ()
    table = Table(_clients.client("dynamodb"), environment.table_name)
    crisis = CrisisStore(table)

    class _Deferred:
        # The publishers are wired only when a post is really sent, not when it is held.
        def publish(self, channel: str, text: str, *, idempotency_key: str) -> str:
            sent: str = _publisher(environment).publish(
                channel, text, idempotency_key=idempotency_key
            )
            return sent

    outcome = publish_due(
        post_id,
        QueueStore(table),
        crisis,
        ParkedStore(table),
        _Deferred(),
        lambda: datetime.now(UTC),
    )
    metrics.add_metric(name=f"QueuedPosts_{outcome}", unit=MetricUnit.Count, value=1)
    logger.info("queued post handled", extra={"post_id": post_id, "outcome": outcome})
    return {"post_id": post_id, "outcome": outcome}
