"""The Listen flow wired to its adapters: what the poll handler (and the demo) call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from stormwatch.channels import mention_sources
from stormwatch.channels.base import ChannelContext
from stormwatch.channels.http import HttpClient, Sessions
from stormwatch.config import Config
from stormwatch.deadline import Deadline
from stormwatch.listen.poll import PollReport, poll_channel
from stormwatch.listen.scoring import MentionScorer
from stormwatch.listen.sentiment import ComprehendAnalyzer, OfflineAnalyzer, SentimentAnalyzer
from stormwatch.persistence.budgets import MonthlyBudget
from stormwatch.persistence.health import HealthLog
from stormwatch.persistence.mentions import MentionLedger
from stormwatch.persistence.table import Table
from stormwatch.runtime import AwsClients, Environment, load_channel_credentials, load_config


def utc_now() -> datetime:
    return datetime.now(UTC)


def sentiment_analyzer(
    config: Config, clients: AwsClients, table: Table, now: datetime
) -> SentimentAnalyzer:
    offline = OfflineAnalyzer()
    sentiment = config.sentiment
    if sentiment.analyzer != "comprehend" or not sentiment.comprehend_languages:
        return offline
    return ComprehendAnalyzer(
        client=clients.client("comprehend"),
        languages=sentiment.comprehend_languages,
        budget=MonthlyBudget(table, "comprehend", sentiment.comprehend_monthly_budget_usd, now),
        fallback=offline,
    )


def poll(
    channel: str,
    environment: Environment,
    clients: AwsClients,
    deadline: Deadline,
    sessions: Sessions,
    now: Callable[[], datetime] = utc_now,
) -> tuple[PollReport, Table]:
    """Poll one channel once: config, credentials, adapters, scoring, store; the table
    comes back with its request counts for the handler's metrics."""
    config = load_config(clients, environment.config_parameter)
    channel_config = config.channel(channel)
    table = Table(clients.client("dynamodb"), environment.table_name)
    context = ChannelContext(
        config=channel_config,
        brands=config.brands,
        http=HttpClient(
            channel,
            timeout=channel_config.timeout_seconds,
            deadline=deadline,
            session=sessions.get(channel),
            now=now,
        ),
        credentials=lambda: load_channel_credentials(
            clients, environment.channel_secret_name, channel_config.secret_key
        ),
        now=now,
    )
    scorer = MentionScorer(config, sentiment_analyzer(config, clients, table, now()))
    report = poll_channel(
        channel,
        mention_sources(channel, context),
        MentionLedger(table),
        HealthLog(table),
        scorer,
        config,
        deadline,
        now,
    )
    return report, table
