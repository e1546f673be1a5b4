"""The crisis report as one self-contained HTML page: inline CSS, an inline SVG chart drawn
here, no script and no external asset, so it opens from an S3 link or a file on a phone.

Jinja2 with autoescape: mention texts, names and channel names are data, escaped, never a
template. The page's Content-Security-Policy (a meta element) allows nothing but its own
style element, by hash, so even a mention that escaped escaping could run nothing.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from stormwatch.model import ALL_CHANNELS
from stormwatch.review.report import PERIODS, CrisisReport
from stormwatch.warn.messages.layout import count

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).parent / "templates"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")
NEGATIVE_COLOUR = "#d62728"

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP = 44, 12, 12
VOLUME_BOTTOM = 190
SHARE_TOP, SHARE_BOTTOM = 215, 270


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    colour: str
    points: str
    """SVG `points`: numbers only, made here."""


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    volume: tuple[Line, ...]
    share: Line
    peak: int
    ticks: tuple[tuple[float, str], ...]
    """x position and the hour it marks (UTC)."""
    episode: tuple[float, float]
    """x from the first abnormal bucket to back to normal."""
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    volume_top: int = TOP
    volume_bottom: int = VOLUME_BOTTOM
    share_top: int = SHARE_TOP
    share_bottom: int = SHARE_BOTTOM


def chart(report: CrisisReport) -> Chart:
    points = report.chart
    start = points[0].start if points else report.first_abnormal_at
    end = points[-1].start + report.chart_bucket if points else report.made_at
    span = max((end - start).total_seconds(), 1.0)

    def x(moment_seconds: float) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * moment_seconds / span, 1)

    def x_of(point_start: datetime) -> float:
        middle = point_start + report.chart_bucket / 2
        return x((middle - start).total_seconds())

    def y(value: float, top: int, bottom: int) -> float:
        return round(bottom - (bottom - top) * value, 1)

    peak = max((max(p.per_channel.values(), default=0) for p in points), default=0) or 1
    volume = []
    for index, channel in enumerate(report.channels):
        coordinates = " ".join(
            f"{x_of(p.start)},{y(p.per_channel.get(channel, 0) / peak, TOP, VOLUME_BOTTOM)}"
            for p in points
        )
        volume.append(Line(channel, PALETTE[index % len(PALETTE)], coordinates))
    share = " ".join(
        f"{x_of(p.start)},{y(p.negative / p.total, SHARE_TOP, SHARE_BOTTOM)}"
        for p in points
        if p.total
    )
    hours = max(int(span // 3600), 1)
    every = next(h for h in (1, 2, 3, 6, 12, 24, 48) if hours / h <= 8 or h == 48)
    first_tick = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    ticks = []
    moment = first_tick
    while moment < end:
        if moment.hour % every == 0:
            ticks.append((x((moment - start).total_seconds()), f"{moment:%H:%M}"))
        moment += timedelta(hours=1)
    episode_end = report.resolved_at or report.made_at
    return Chart(
        WIDTH,
        HEIGHT,
        tuple(volume),
        Line("negative share", NEGATIVE_COLOUR, share),
        peak,
        tuple(ticks),
        (
            x((report.first_abnormal_at - start).total_seconds()),
            x((min(episode_end, end) - start).total_seconds()),
        ),
    )


def duration(value: timedelta | None) -> str:
    if value is None:
        return "not yet"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


@cache
def _environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["duration"] = duration
    environment.filters["share"] = share
    environment.filters["count"] = count
    return environment


def _style_hash(css: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()


def report_html(report: CrisisReport) -> str:
    environment = _environment()
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    return environment.get_template("report.html.j2").render(
        report=report,
        chart=chart(report),
        css=css,
        style_hash=_style_hash(css),
        periods=PERIODS,
        all_channels=ALL_CHANNELS,
        channels=[*report.channels, ALL_CHANNELS],
    )
