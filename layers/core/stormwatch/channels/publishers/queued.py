"""Our own queue's posts, published through the channels' publishers.

A queued post is published once: `act.parking.publish_due` claims it first, and its id
is the publication's key (Mastodon's idempotency key, Bluesky's record key), so a retry
of the same post lands on the first attempt's post where the channel allows it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from stormwatch.channels.base import ChannelContext
from stormwatch.channels.http import HttpClient
from stormwatch.channels.publishers import PublishIntent, publisher_for
from stormwatch.runtime import AwsClients, Environment, load_channel_credentials, load_config


def _utc_now() -> datetime:
    return datetime.now(UTC)


class QueuePublisher:
    """`stormwatch.act.parking.Publisher` over the channel publishers."""

    def __init__(
        self,
        environment: Environment,
        clients: AwsClients,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.environment = environment
        self.clients = clients
        self.now = now

    def publish(self, channel: str, text: str, *, idempotency_key: str) -> str:
        config = load_config(self.clients, self.environment.config_parameter)
        channel_config = config.channel(channel)
        context = ChannelContext(
            config=channel_config,
            brands=config.brands,
            http=HttpClient(channel, timeout=channel_config.timeout_seconds, now=self.now),
            credentials=lambda: load_channel_credentials(
                self.clients, self.environment.channel_secret_name, channel_config.secret_key
            ),
            now=self.now,
        )
        intent = PublishIntent(
            statement_id=f"queue-{idempotency_key}",
            channel=channel,
            text_hash=hashlib.sha256(text.encode()).hexdigest(),
            attempt=1,
            since=self.now(),
        )
        language = next(
            (code for name, code in config.act.languages.items() if name == channel), None
        )
        publisher = publisher_for(channel, context, language=language)
        return publisher.publish(text, intent).post_id


def queue_publisher(environment: Environment, clients: AwsClients) -> QueuePublisher:
    return QueuePublisher(environment, clients)
