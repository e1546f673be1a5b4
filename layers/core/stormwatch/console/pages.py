"""The pages: Jinja2 with autoescape on every template, so mention and statement text is
always data, never markup or a template."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from stormwatch.console.chart import HEIGHT, WIDTH

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from stormwatch.warn.messages.layout import count

    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Counts read as the alert email writes them (12,345), not as Python prints them.
    environment.filters["count"] = count
    return environment


def render(page: str, **values: Any) -> str:
    return str(
        _environment().get_template(f"{page}.html").render(width=WIDTH, height=HEIGHT, **values)
    )


def preview_body(shown: dict[str, Any]) -> dict[str, Any]:
    """The dry run's request for a stored statement: its texts exactly as stored."""
    return {key: shown[key] for key in ("kind", "language", "base", "texts", "variables")}


def statement_view(shown: dict[str, Any], preview: dict[str, Any] | None = None) -> dict[str, Any]:
    """`ActService.show`'s answer with each channel's text, its lengths as the channel
    counts them and, from the Act function's dry run of the same texts (`preview`, when
    it ran and its hash is the statement's), each pre-flight check."""
    from stormwatch.act.counting import channel_lengths

    checked: dict[str, Any] = {}
    if preview is not None and preview.get("sha256") == shown["sha256"]:
        checked = {c["channel"]: c for c in preview.get("channels", [])}
    channels = []
    for channel, text in shown["texts"].items():
        if channel in checked:
            channels.append(
                {
                    "channel": channel,
                    "text": text,
                    "lengths": checked[channel].get("lengths", []),
                    "checks": checked[channel].get("checks", []),
                }
            )
            continue
        try:
            lengths = [
                {"used": n.used, "limit": n.limit, "unit": n.unit}
                for n in channel_lengths(channel, text)
            ]
        except ValueError:
            lengths = []
        channels.append({"channel": channel, "text": text, "lengths": lengths, "checks": []})
    return {**shown, "channels": channels, "checked": bool(checked)}
