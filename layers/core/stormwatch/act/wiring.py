"""The Act function's adapters, built from its environment, the config and the secret.

The one place that knows which scheduler, publisher and checker goes with which config
key and environment variable; `stormwatch.act.service` sees them only as `ActPorts`.
Everything is built on first need: a status request builds no publisher, a preview no
notifier.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stormwatch.act.approval import Statement
from stormwatch.act.preflight import Checkers
from stormwatch.act.service import ActPorts, ActService
from stormwatch.channels.base import ChannelContext
from stormwatch.channels.publishers.base import Publisher
from stormwatch.channels.schedulers.base import Scheduler
from stormwatch.channels.schedulers.one_time import OneTimeSchedules
from stormwatch.config import Config
from stormwatch.errors import ConfigError
from stormwatch.persistence.table import Table
from stormwatch.runtime import (
    AwsClients,
    Environment,
    load_channel_credentials,
    required_variable,
)

if TYPE_CHECKING:
    from stormwatch.review.store import ReportStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActEnvironment:
    """What the Act and release functions need beyond every function's `Environment`.

    Both park (the queue's settings); each has only its own part of the rest, as its role
    has only its own permissions: a port whose setting is missing fails when asked for."""

    schedule_group: str
    publish_scheduled_arn: str
    queue_scheduler_role_arn: str
    auto_resume_role_arn: str | None
    """The Act function's: its pauses make auto-resume schedules."""
    dead_letter_arn: str | None
    link_networks: tuple[str, ...]
    media_bucket: str | None
    """The release function's: where Instagram's image cards go (the template's
    MediaBucket)."""
    reports_bucket: str | None = None
    """The Act function's: where crisis reports go (the template's ReportsBucket)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ActEnvironment:
        values = os.environ if environ is None else environ

        def required(name: str) -> str:
            return required_variable(values, name)

        networks = values.get("LINK_CHECK_ALLOWED_NETWORKS", "")
        return cls(
            schedule_group=required("SCHEDULE_GROUP"),
            publish_scheduled_arn=required("PUBLISH_SCHEDULED_FUNCTION_ARN"),
            queue_scheduler_role_arn=required("QUEUE_SCHEDULER_ROLE_ARN"),
            auto_resume_role_arn=values.get("AUTO_RESUME_ROLE_ARN") or None,
            dead_letter_arn=values.get("DEAD_LETTER_QUEUE_ARN") or None,
            link_networks=tuple(n.strip() for n in networks.split(",") if n.strip()),
            media_bucket=values.get("MEDIA_BUCKET") or None,
            reports_bucket=values.get("REPORTS_BUCKET") or None,
        )


def _now() -> datetime:
    return datetime.now(UTC)


class SnsAnnouncer:
    """The alerts topic, as the email subscription's filter lets it through."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic = topic_arn

    def announce(self, subject: str, text: str, *, kind: str, subject_id: str) -> str:
        answer = self._client.publish(
            TopicArn=self._topic,
            Subject=subject[:100],
            Message=text,
            MessageAttributes={
                "channel": {"DataType": "String", "StringValue": "email"},
                "kind": {"DataType": "String", "StringValue": kind},
                "statement": {"DataType": "String", "StringValue": subject_id},
                # Below the SMS subscription's threshold: a release is news, not a page.
                "severity": {"DataType": "Number", "StringValue": "1"},
            },
        )
        return f"sent ({answer['MessageId']})"


def act_ports(
    config: Config,
    table: Table,
    environment: Environment,
    clients: AwsClients,
    own_arn: str,
) -> ActPorts:
    """The adapters of one invocation; `own_arn` is the function's ARN (auto-resume
    schedules invoke it)."""
    act_environment = ActEnvironment.from_environ()

    def context(channel: str) -> ChannelContext:
        from stormwatch.channels.http import HttpClient

        channel_config = config.channel(channel)
        return ChannelContext(
            config=channel_config,
            brands=config.brands,
            http=HttpClient(channel, timeout=channel_config.timeout_seconds),
            credentials=lambda: load_channel_credentials(
                clients, environment.channel_secret_name, channel_config.secret_key
            ),
            now=_now,
        )

    enabled = set(config.enabled_channels)

    def schedulers() -> Sequence[Scheduler]:
        from stormwatch.channels.schedulers.queue import QueueScheduler, QueueTarget
        from stormwatch.persistence.queue import QueueStore

        found: list[Scheduler] = []
        settings = config.act.schedulers
        if settings.mastodon and "mastodon" in enabled:
            from stormwatch.channels.schedulers.mastodon import MastodonScheduler

            found.append(MastodonScheduler(context("mastodon")))
        if settings.facebook and "facebook" in enabled:
            from stormwatch.channels.schedulers.facebook import FacebookScheduler

            found.append(FacebookScheduler(context("facebook")))
        if settings.hootsuite.enabled:
            from stormwatch.channels.http import HttpClient
            from stormwatch.channels.schedulers.hootsuite import HootsuiteScheduler

            hootsuite = settings.hootsuite
            found.append(
                HootsuiteScheduler(
                    hootsuite,
                    HttpClient("hootsuite", timeout=10.0),
                    lambda: load_channel_credentials(
                        clients, environment.channel_secret_name, hootsuite.secret_key
                    ),
                    _now,
                )
            )
        target = QueueTarget(
            group=act_environment.schedule_group,
            function_arn=act_environment.publish_scheduled_arn,
            role_arn=act_environment.queue_scheduler_role_arn,
            dead_letter_arn=act_environment.dead_letter_arn,
        )
        found.append(QueueScheduler(QueueStore(table), clients.client("scheduler"), target))
        return found

    def publishers(channels: Sequence[str]) -> Mapping[str, Publisher]:
        from stormwatch.channels.publishers import publisher_for

        return {
            channel: publisher_for(
                channel,
                context(channel),
                language=config.act.languages.get(channel),  # type: ignore[call-overload]
            )
            for channel in channels
            if channel in enabled
        }

    def checkers() -> Checkers:
        from stormwatch.act.card import CardDesigner
        from stormwatch.act.links import HttpLinkChecker
        from stormwatch.act.spelling import SpellChecker, known_words
        from stormwatch.channels.lookup import LOOKUP_CHANNELS, lookup_for
        from stormwatch.channels.lookup.mastodon import instance_limits

        return Checkers(
            links=HttpLinkChecker(allowed_networks=act_environment.link_networks),
            accounts={
                channel: lookup_for(channel, context(channel))
                for channel in LOOKUP_CHANNELS
                if channel in enabled
            },
            spelling=SpellChecker(known_words(config)),
            card=CardDesigner(card_brand(config)) if config.act.instagram == "card" else None,
            mastodon=instance_limits(context("mastodon")) if "mastodon" in enabled else None,
        )

    def announcer() -> SnsAnnouncer:
        alerts, _ops = environment.topics()
        return SnsAnnouncer(clients.client("sns"), alerts)

    def auto_resume() -> OneTimeSchedules:
        if act_environment.auto_resume_role_arn is None:
            raise ConfigError("environment AUTO_RESUME_ROLE_ARN", "required to resume on its own")
        # One-time schedules that invoke this function itself.
        return OneTimeSchedules(
            clients.client("scheduler"),
            act_environment.schedule_group,
            own_arn,
            act_environment.auto_resume_role_arn,
            act_environment.dead_letter_arn,
            description="stormwatch: end this pause on its own",
        )

    return ActPorts(
        schedulers=schedulers,
        publishers=publishers,
        checkers=checkers,
        announcer=announcer,
        auto_resume=auto_resume,
        card_urls=ImageCardUrls(config, lambda: clients.client("s3"), act_environment.media_bucket),
        reports=lambda: report_store(clients, act_environment.reports_bucket),
    )


def report_store(clients: AwsClients, bucket: str | None) -> ReportStore:
    from stormwatch.review.store import ReportStore

    if bucket is None:
        raise ConfigError("environment REPORTS_BUCKET", "required to store crisis reports")
    return ReportStore(clients.client("s3"), bucket)


class ImageCardUrls:
    """Instagram's image card, drawn from the approved text, stored in the media bucket and
    handed to Instagram as a presigned URL (`ActPorts.card_urls`)."""

    def __init__(self, config: Config, s3: Callable[[], Any], bucket: str | None) -> None:
        self._config = config
        self._s3 = s3
        self._bucket = bucket

    def __call__(self, statement: Statement) -> Mapping[str, str]:
        text = statement.texts.get("instagram")
        if text is None or self._config.act.instagram != "card":
            return {}
        from stormwatch.act.card import publish_card

        try:
            if self._bucket is None:
                raise ConfigError("environment MEDIA_BUCKET", "required to draw image cards")
            card = publish_card(
                text,
                brand=card_brand(self._config),
                statement_hash=statement.sha256,
                s3=self._s3(),
                bucket=self._bucket,
            )
        except Exception as error:
            # Without its card Instagram fails ("no image card was given"); the other
            # channels still go out, and releasing again retries Instagram alone.
            logger.warning("instagram: no image card: %s", error)
            return {}
        return {"instagram": card.url}


def card_brand(config: Config) -> str:
    """The name on the image card's band: the config's first brand, the one statements
    speak for (a stack serves one company; its other brands are listened for)."""
    return config.brands[0].name if config.brands else ""


def act_service(clients: AwsClients, own_arn: str) -> tuple[ActService, Config]:
    """The service of one invocation, from the function's environment, and the config it
    was built with (the caller is looked up in it)."""
    from stormwatch.runtime import load_config

    environment = Environment.from_environ()
    config = load_config(clients, environment.config_parameter)
    table = Table(clients.client("dynamodb"), environment.table_name)
    ports = act_ports(config, table, environment, clients, own_arn)
    return ActService(config, table, ports, _now), config
