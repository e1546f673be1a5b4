"""What a crisis report is made of, read from the table: the alert's timeline (Act's
entries, the outbox, the brand's lifecycle), the brand's buckets over the report's window,
the stored mentions of the episode and the parked posts. Reads only (Query, GetItem)."""

from __future__ import annotations

from datetime import UTC, datetime

from stormwatch.act.timeline import RESOLVED, STARTED, alert_timeline
from stormwatch.config import Config
from stormwatch.model import ScoredMention
from stormwatch.persistence.buckets import BucketStore
from stormwatch.persistence.mentions import MentionLedger
from stormwatch.persistence.parked import ParkedPost, ParkedStore
from stormwatch.persistence.table import Table
from stormwatch.persistence.timeline import TimelineStore
from stormwatch.review.report import (
    CrisisReport,
    Stretch,
    UnknownAlert,
    busiest_negative_stretch,
    crisis_report,
    first_abnormal_of,
    report_window,
)
from stormwatch.warn.lifecycle import brand_of_alert

SCHEDULERS = ("mastodon", "facebook", "hootsuite", "queue")
"""Every scheduler a post can be parked from (`channels.schedulers.*.NAME`); one Query each,
so a scheduler switched off since the crisis still shows what it parked."""

MENTION_LIMIT = 500
"""Per channel, of the busiest negative hour (newest first)."""


def _alert_minute(alert_id: str) -> datetime:
    return datetime.strptime(alert_id[-13:], "%Y%m%d-%H%M").replace(tzinfo=UTC)


def read_report(
    table: Table, config: Config, alert_id: str, now: datetime, made_by: str = ""
) -> CrisisReport:
    """The report of `alert_id` as the table has it at `now`."""
    brand = brand_of_alert(alert_id)
    if brand is None or not any(b.id == brand for b in config.brands):
        raise UnknownAlert(f"no alert {alert_id[:80]!r} of a configured brand")
    timelines = TimelineStore(table)
    messages = timelines.outbox_messages(alert_id)
    steps = alert_timeline(
        timelines.entries(alert_id), messages, timelines.lifecycle(brand), alert_id
    )
    first_abnormal_at = first_abnormal_of(steps, _alert_minute(alert_id))
    resolved = next((s.at for s in steps if s.kind == RESOLVED), None)
    start, end = report_window(first_abnormal_at, resolved, now)
    series = BucketStore(table).read(brand, start, end)
    alerted = [m.decided_at for m in messages if m.event == STARTED]
    return crisis_report(
        alert_id=alert_id,
        brand=brand,
        steps=steps,
        alerted_at=min(alerted, default=None),
        first_abnormal_at=first_abnormal_at,
        series=series,
        mentions=_mentions(
            MentionLedger(table),
            brand,
            busiest_negative_stretch(series, (first_abnormal_at, resolved or now)),
        ),
        parked=_parked(ParkedStore(table)),
        made_at=now,
        bucket_minutes=config.bucket_minutes,
        made_by=made_by,
    )


def _mentions(ledger: MentionLedger, brand: str, stretch: Stretch | None) -> list[ScoredMention]:
    """The brand's negative mentions of the busiest negative hour, on the channels that had
    them (none read when the episode had no negative mention)."""
    if stretch is None:
        return []
    found: list[ScoredMention] = []
    for channel in stretch.channels:
        found += ledger.recent(
            channel, stretch.start, stretch.end, limit=MENTION_LIMIT, negative_about=brand
        )
    return found


def _parked(store: ParkedStore) -> list[ParkedPost]:
    return [post for scheduler in SCHEDULERS for post in store.of(scheduler)]
