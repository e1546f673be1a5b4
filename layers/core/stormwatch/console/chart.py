"""The Status page's chart: mentions and negative share per bucket over the last 24 hours,
drawn as inline SVG on the server (no script runs in the console)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from stormwatch.model import BucketCounts

WIDTH, HEIGHT = 320, 80
MIN_MENTIONS_FOR_SHARE = 5  # status.html says so
"""A bucket with fewer mentions draws no share: one negative post of one is not "100 %"."""


@dataclass(frozen=True, slots=True)
class Chart:
    channel: str
    total: int
    negative_share: float | None
    volume_points: str
    """A polyline's points: mentions per bucket, scaled to the channel's busiest bucket."""
    negative_path: str
    """An SVG path's data: negative share per bucket (0 at the bottom, 100 % at the top),
    broken where a bucket has fewer than MIN_MENTIONS_FOR_SHARE mentions."""
    peak: int


def _points(values: list[float], top: float) -> str:
    if not values:
        return ""
    step = WIDTH / max(1, len(values) - 1)
    scale = (HEIGHT - 2) / top if top else 0.0
    return " ".join(f"{i * step:.1f},{HEIGHT - 1 - v * scale:.1f}" for i, v in enumerate(values))


def _path(values: list[float | None], top: float) -> str:
    """Like _points, as path data; a None starts a new segment after the gap."""
    step = WIDTH / max(1, len(values) - 1)
    scale = (HEIGHT - 2) / top if top else 0.0
    commands: list[str] = []
    drawing = False
    for i, value in enumerate(values):
        if value is None:
            drawing = False
            continue
        commands.append(f"{'L' if drawing else 'M'}{i * step:.1f},{HEIGHT - 1 - value * scale:.1f}")
        drawing = True
    return " ".join(commands)


def chart_of(
    channel: str,
    series: Mapping[datetime, BucketCounts],
    end: datetime,
    bucket: timedelta,
    span: timedelta = timedelta(hours=24),
) -> Chart:
    """`series` is one channel's buckets; missing buckets had no mention."""
    count = int(span / bucket)
    starts = [end - span + bucket * i for i in range(count)]
    totals = [float(series[s].total) if s in series else 0.0 for s in starts]
    shares: list[float | None] = [
        series[s].negative / series[s].total
        if s in series and series[s].total >= MIN_MENTIONS_FOR_SHARE
        else None
        for s in starts
    ]
    total = sum(c.total for c in series.values())
    negative = sum(c.negative for c in series.values())
    peak = int(max(totals, default=0.0))
    return Chart(
        channel=channel,
        total=total,
        negative_share=negative / total if total else None,
        volume_points=_points(totals, float(peak)),
        negative_path=_path(shares, 1.0),
        peak=peak,
    )
