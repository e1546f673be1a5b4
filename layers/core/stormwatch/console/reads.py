"""What the pages show, read through the Act flow's own stores and service, read-only:
the console's role can read the table and nothing more, and the service's ports (which
would park, publish or schedule) are never made here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NoReturn

from stormwatch.act.service import ActPorts, ActService
from stormwatch.config import Config
from stormwatch.console.chart import Chart, chart_of
from stormwatch.model import ALL_CHANNELS
from stormwatch.persistence.parked import ParkState
from stormwatch.persistence.table import Table
from stormwatch.persistence.warn_state import WarnStateStore

EVIDENCE_WINDOW = timedelta(hours=1)
TOP_MENTIONS = 5


class ReadOnly(RuntimeError):
    """A port of the Act flow was asked for: changes are the Act functions' alone."""


def _refuse(*_: object) -> NoReturn:
    raise ReadOnly("the console changes nothing itself: it invokes the Act functions")


READ_ONLY_PORTS = ActPorts(
    schedulers=_refuse,
    publishers=_refuse,
    checkers=_refuse,
    announcer=_refuse,
    auto_resume=_refuse,
    card_urls=_refuse,
)


def scheduler_names(config: Config) -> Sequence[str]:
    """The schedulers a pause parks, as `act.wiring` makes them (by name only)."""
    settings, enabled = config.act.schedulers, set(config.enabled_channels)
    names: list[str] = [
        n for n in ("mastodon", "facebook") if getattr(settings, n) and n in enabled
    ]
    if settings.hootsuite.enabled:
        names.append("hootsuite")
    return [*names, "queue"]


class ConsoleReads:
    def __init__(self, config: Config, table: Table, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.table = table
        self.clock = clock
        self.service = ActService(config, table, READ_ONLY_PORTS, clock)
        self.warn = WarnStateStore(table)

    def status(self) -> dict[str, Any]:
        crisis = self.service.crisis.read()
        alerts = []
        for brand in self.config.brands:
            alert = (self.warn.load_state(brand.id).lifecycle or {}).get("alert")
            if alert:
                alerts.append({"brand": brand.name, **alert})
        return {
            "crisis": crisis,
            "alerts": alerts,
            "statements": self.service.statements.recent(10),
            "charts": self.charts(),
        }

    def evidence(self, alert_id: str) -> dict[str, Any]:
        """The alert's brand: its last 24 hours per channel and the most-read negative
        mentions of the last hour (what the alert email quotes)."""
        from stormwatch.model import Sentiment
        from stormwatch.persistence.mentions import MentionLedger
        from stormwatch.warn.lifecycle import brand_of_alert

        brand = next((b for b in self.config.brands if b.id == brand_of_alert(alert_id)), None)
        if brand is None:
            return {"brand": None, "charts": [], "mentions": []}
        now = self.clock()
        ledger = MentionLedger(self.table)
        found = [
            item
            for channel in self.config.enabled_channels
            for item in ledger.recent(channel, now - EVIDENCE_WINDOW, now, limit=200)
            if item.sentiment is Sentiment.NEGATIVE and brand.id in item.brands
        ]
        found.sort(key=lambda item: (-item.mention.reach, -item.mention.engagement))
        return {
            "brand": brand.name,
            "charts": self.charts([brand.id]),
            "mentions": [item.mention for item in found[:TOP_MENTIONS]],
        }

    def charts(self, brand_ids: Sequence[str] | None = None) -> list[Chart]:
        bucket = timedelta(minutes=self.config.bucket_minutes)
        now = self.clock()
        end = datetime.fromtimestamp(
            (now.timestamp() // bucket.total_seconds() + 1) * bucket.total_seconds(), now.tzinfo
        )
        charts = []
        for brand in self.config.brands:
            if brand_ids is not None and brand.id not in brand_ids:
                continue
            series = self.warn.read_buckets(brand.id, end - timedelta(hours=24), end)
            for channel in sorted(series, key=lambda c: (c == ALL_CHANNELS, c)):
                label = f"{brand.name} - {'all channels' if channel == ALL_CHANNELS else channel}"
                charts.append(chart_of(label, series[channel], end, bucket))
        return charts

    def parked(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        review: list[dict[str, Any]] = []
        for name in scheduler_names(self.config):
            posts = list(self.service.parked.of(name))
            counts[name] = sum(
                p.state in (ParkState.PARKING, ParkState.PARKED, ParkState.RESTORING) for p in posts
            )
            review += [
                {"scheduler": name, "text": p.post.text, "at": p.post.scheduled_at}
                for p in posts
                if p.state is ParkState.REVIEW
            ]
        return {"crisis": self.service.crisis.read(), "parked": counts, "review": review}
