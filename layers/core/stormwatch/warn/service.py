"""The Warn flow wired to DynamoDB and SNS: what the evaluator handler (and the demo) call."""

from __future__ import annotations

import os
from collections.abc import Mapping
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
        config,
        WarnStateStore(table),
        MentionLedger(table),
        Outbox(table),
        notifier,
        links=console_links(clients, [brand.id for brand in config.brands]),
        reports=reports,
    )
    return evaluator.run(now, deadline), table


class ConsoleLinks:
    """Signed links to an alert's page, with the console's key (read when first needed)."""

    def __init__(
        self, clients: AwsClients, console_url: str, secret_name: str, brands: list[str]
    ) -> None:
        self.clients = clients
        self.console_url = console_url.rstrip("/")
        self.secret_name = secret_name
        self.brands = brands

    def __call__(self, alert_id: str, now: datetime) -> str:
        from stormwatch.console.links import alert_link

        key = str(self.clients.secrets().get(self.secret_name, max_age=300)).encode()
        return self.console_url + alert_link(key, alert_id, self.brands, now)

    def report_url(self, alert_id: str) -> str:
        """The report's page: a plain link (it opens after sign-in, as often as needed)."""
        return f"{self.console_url}/alerts/{alert_id}/report"


def console_links(
    clients: AwsClients, brands: list[str], environ: Mapping[str, str] | None = None
) -> ConsoleLinks | None:
    """The links when the stack has a console URL (template parameter ConsoleUrl), else
    None: the messages then carry the commands alone."""
    values = os.environ if environ is None else environ
    url, secret = values.get("CONSOLE_URL", ""), values.get("CONSOLE_SECRET_NAME", "")
    return ConsoleLinks(clients, url, secret, brands) if url and secret else None
