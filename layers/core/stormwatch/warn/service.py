"""The Warn flow wired to DynamoDB and SNS: what the evaluator handler (and the demo) call."""

from __future__ import annotations

from datetime import datetime

from stormwatch.deadline import TimeBudget
from stormwatch.notify import SnsNotifier
from stormwatch.persistence.mentions import MentionLedger
from stormwatch.persistence.outbox import Outbox
from stormwatch.persistence.table import Table
from stormwatch.persistence.warn_state import WarnStateStore
from stormwatch.review.request import LambdaReportRequests
from stormwatch.runtime import AwsClients, Environment, load_config
from stormwatch.warn.evaluate import EvaluationReport, Evaluator


def evaluate(
    environment: Environment, clients: AwsClients, now: datetime, deadline: TimeBudget
) -> tuple[EvaluationReport, Table]:
    """One evaluation; the table comes back with its request counts for the metrics."""
    config = load_config(clients, environment.config_parameter)
    alerts_topic, ops_topic = environment.topics()
    table = Table(clients.client("dynamodb"), environment.table_name)
    notifier = SnsNotifier(clients.client("sns"), alerts_topic, ops_topic)
    reports = LambdaReportRequests(
        lambda: clients.client("lambda"), environment.report_function_arn
    )
    evaluator = Evaluator(
        config, WarnStateStore(table), MentionLedger(table), Outbox(table), notifier, reports
    )
    return evaluator.run(now, deadline), table
