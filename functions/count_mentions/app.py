"""Count stored mentions into their buckets. Invoked by the event source mapping on the
table's stream with a batch of one shard's mention insertions (template.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from stormwatch.observability import LazyTracer
from stormwatch.runtime import AwsClients, Environment

logger = Logger()
tracer = LazyTracer()
copy_config_to_registered_loggers(source_logger=logger, include={"stormwatch"})

_clients = AwsClients()


def _now() -> datetime:
    return datetime.now(UTC)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    from stormwatch.listen.counting import count_batch
    from stormwatch.persistence.counting import StreamCounter
    from stormwatch.persistence.table import Table

    environment = Environment.from_environ()
    table = Table(_clients.client("dynamodb"), environment.table_name)
    # A failure raises: Lambda retries the batch (the counter adds nothing twice), and the
    # stream's iterator age, alarmed, shows counting held back.
    report = count_batch(event, StreamCounter(table), _now)
    logger.info(
        "mentions counted",
        extra={"summary": report.summary(), "shard": report.shard_id},
    )
    # The tumbling window's state: nothing is carried between batches.
    return {"state": {}}
