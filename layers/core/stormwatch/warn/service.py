"""The Warn flow wired to DynamoDB and SNS: what the evaluator handler (and the demo) call."""

from __future__ import annotations

from datetime import datetime

from stormwatch.notify import SnsNotifier
from stormwatch.runtime import AwsClients, Environment, load_config
from stormwatch.store import DynamoStore
from stormwatch.warn.evaluate import EvaluationReport, Evaluator


def evaluate(environment: Environment, clients: AwsClients, now: datetime) -> EvaluationReport:
    config = load_config(clients, environment.config_parameter)
    alerts_topic, ops_topic = environment.topics()
    store = DynamoStore(clients.client("dynamodb"), environment.table_name)
    notifier = SnsNotifier(clients.client("sns"), alerts_topic, ops_topic)
    return Evaluator(config, store, notifier).run(now)
