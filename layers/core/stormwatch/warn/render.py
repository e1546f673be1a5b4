"""Stage: what people read. A dispatch, its findings and the recent buckets become a
`messages.Notice`, then the email and the SMS, one `Delivery` per route.

Reads what the notice quotes: the most-read negative mentions of the last hour, and for
"back to normal" the totals before and during the episode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from stormwatch.config import Brand, Config
from stormwatch.model import (
    ALL_CHANNELS,
    BucketCounts,
    ScoredMention,
    Sentiment,
    SeriesCounts,
    parse_iso,
)
from stormwatch.notify import EMAIL, OPS_EMAIL, SMS, SMS_TOPIC, Delivery
from stormwatch.warn import messages
from stormwatch.warn.lifecycle import BrandLifecycle, Dispatch
from stormwatch.warn.route import paged, routes
from stormwatch.warn.rules import SeriesWindow
from stormwatch.warn.vocabulary import AlertEvent, Finding

EVIDENCE_WINDOW = timedelta(hours=1)
ACK_COMMAND = "stormwatch ack"
PAUSE_COMMAND = "stormwatch pause --alert"
REPORT_COMMAND = "stormwatch report"
MAX_TOP_MENTIONS = 5


class MentionReader(Protocol):
    def recent(
        self, channel: str, start: datetime, end: datetime, *, limit: int = 500
    ) -> list[ScoredMention]: ...


class BucketReader(Protocol):
    def read_buckets(
        self, brand: str, start: datetime, end: datetime
    ) -> dict[str, SeriesCounts]: ...


class AlertLinks(Protocol):
    def __call__(self, alert_id: str, now: datetime) -> str:
        """A signed link to the alert's page in the console (the full URL)."""
        ...

    def report_url(self, alert_id: str) -> str:
        """The alert's crisis report in the console (the full URL)."""
        ...


class Renderer:
    def __init__(
        self,
        config: Config,
        mentions: MentionReader,
        buckets: BucketReader,
        links: AlertLinks | None = None,
    ) -> None:
        self.config = config
        self.links = links
        self.settings = config.alerts
        self.mentions = mentions
        self.buckets = buckets
        self.bucket = timedelta(minutes=config.bucket_minutes)

    def deliveries(
        self,
        brand: Brand,
        dispatch: Dispatch,
        crisis: Sequence[Finding],
        windows: Mapping[str, SeriesWindow],
        lifecycle: BrandLifecycle,
        now: datetime,
    ) -> list[tuple[str, Delivery]]:
        """One message per route of `dispatch`, keyed for the outbox."""
        notice = self.notice(brand, dispatch, crisis, windows, lifecycle, now)
        email = messages.email(notice)
        text = messages.sms(notice)
        base = Delivery(
            EMAIL,
            severity=dispatch.severity,
            brand=brand.id,
            kind=dispatch.kind.value,
            alert_id=dispatch.alert_id,
        )
        made = []
        for route in routes(dispatch, self.config.roster, now):
            if route.medium == EMAIL:
                delivery = replace(base, subject=email.subject, text=email.body)
            elif route.medium == SMS_TOPIC:
                delivery = replace(base, medium=SMS_TOPIC, text=text)
            else:
                delivery = replace(base, medium=SMS, text=text, phone=route.phone)
            made.append((route.key(dispatch), delivery))
        return made

    def notice(
        self,
        brand: Brand,
        dispatch: Dispatch,
        crisis: Sequence[Finding],
        windows: Mapping[str, SeriesWindow],
        lifecycle: BrandLifecycle,
        now: datetime,
    ) -> messages.Notice:
        started = dispatch.started_at or now
        findings = sorted(crisis, key=lambda f: (-f.severity, f.channel != ALL_CHANNELS))
        minutes = int(EVIDENCE_WINDOW.total_seconds() // 60)
        channel_counts = sorted(
            (
                messages.ChannelCount(name, window.total(minutes).total)
                for name, window in windows.items()
                if name != ALL_CHANNELS and window.total(minutes).total
            ),
            key=lambda count: -count.mentions,
        )
        acknowledged = None
        alert = lifecycle.alert
        if dispatch.kind is AlertEvent.ACKNOWLEDGED and alert and alert.acknowledged_at:
            acknowledged = messages.Acknowledgement(
                alert.acknowledged_by or "?", alert.acknowledged_at
            )
        escalation = None
        if dispatch.kind is AlertEvent.REMINDER:
            step = int(dispatch.key.rsplit("-", 1)[1].split(".")[1])
            escalation = messages.Escalation(
                step,
                len(self.settings.escalation.steps),
                paged(dispatch.audience, self.config.roster, now),
            )
        resolution = None
        if dispatch.kind is AlertEvent.RESOLVED:
            resolution = self._resolution(brand, lifecycle, started, now)
        return messages.Notice(
            brand_name=brand.name,
            brand_id=brand.id,
            alert_id=dispatch.alert_id,
            kind=dispatch.kind,
            severity=max(1, min(3, dispatch.severity)),
            started_at=started,
            now=now,
            time_zone=self.config.time_zone,
            findings=findings,
            channels=channel_counts,
            top_negative=self._top_negative(brand, channel_counts, now),
            ack_command=f"{ACK_COMMAND} {dispatch.alert_id}",
            pause_command=f"{PAUSE_COMMAND} {dispatch.alert_id}",
            pause_instructions=self.settings.pause_instructions or "",
            console_link=self._link(dispatch, now),
            report_command=f"{REPORT_COMMAND} {dispatch.alert_id}" if dispatch.alert_id else "",
            report_link=(
                self.links.report_url(dispatch.alert_id)
                if self.links is not None and dispatch.alert_id
                else ""
            ),
            previous_severity=dispatch.previous_severity,
            escalation=escalation,
            acknowledged=acknowledged,
            resolution=resolution,
        )

    def _link(self, dispatch: Dispatch, now: datetime) -> str:
        if self.links is None or not dispatch.alert_id:
            return ""
        active = (
            AlertEvent.STARTED,
            AlertEvent.ESCALATED,
            AlertEvent.REMINDER,
            AlertEvent.REKINDLED,
        )
        if dispatch.kind not in active:
            return ""
        return self.links(dispatch.alert_id, now)

    def _top_negative(
        self, brand: Brand, channels: Sequence[messages.ChannelCount], now: datetime
    ) -> list[messages.TopMention]:
        """The most-read negative mentions of the busiest channels in the last hour."""
        found: list[ScoredMention] = []
        for count in channels[:4]:
            found.extend(
                item
                for item in self.mentions.recent(count.channel, now - EVIDENCE_WINDOW, now)
                if item.sentiment is Sentiment.NEGATIVE and brand.id in item.brands
            )
        found.sort(key=lambda item: (-item.mention.reach, -item.mention.engagement))
        return [
            messages.TopMention(
                item.mention.channel,
                item.mention.author,
                item.mention.text,
                item.mention.url,
                item.mention.reach,
            )
            for item in found[:MAX_TOP_MENTIONS]
        ]

    def _resolution(
        self, brand: Brand, lifecycle: BrandLifecycle, started: datetime, now: datetime
    ) -> messages.Resolution:
        episode = lifecycle.episodes[-1] if lifecycle.episodes else {}
        duration = now - started
        read = self.buckets.read_buckets(brand.id, started - duration, now + self.bucket)
        series = read.get(ALL_CHANNELS, {})
        return messages.Resolution(
            duration=duration,
            peak_at=parse_iso(episode["peak_at"]) if episode.get("peak_at") else started,
            peak_count=int(episode.get("peak_count", 0)),
            before=_totals(counts for start, counts in series.items() if start < started),
            during=_totals(counts for start, counts in series.items() if start >= started),
            peak_bucket_minutes=self.config.bucket_minutes,
        )

    # --- ops: monitoring is blind ----------------------------------------------------------

    def blind(self, dispatch: Dispatch, findings: Sequence[Finding], now: datetime) -> Delivery:
        """The ops email that monitoring of a channel went blind, or is back."""
        if dispatch.kind is AlertEvent.BLIND:
            finding = next(f for f in findings if f.channel == dispatch.channel)
            notice = messages.Notice(
                brand_name="stormwatch",
                brand_id="ops",
                alert_id=dispatch.alert_id,
                kind=AlertEvent.BLIND,
                severity=1,
                started_at=now - timedelta(minutes=finding.window_minutes),
                now=now,
                time_zone=self.config.time_zone,
                findings=[finding],
            )
            email = messages.email(notice)
        else:
            email = messages.read_again_email(dispatch.channel, dispatch.reason)
        return Delivery(
            OPS_EMAIL,
            severity=1,
            brand="",
            kind=dispatch.kind.value,
            alert_id=dispatch.alert_id,
            subject=email.subject,
            text=email.body,
        )


def _totals(buckets: Iterable[BucketCounts]) -> messages.Totals:
    total = BucketCounts()
    for counts in buckets:
        total.merge(counts)
    share = total.negative / total.total if total.total else 0.0
    return messages.Totals(total.total, share)
