"""Channel adapters: one module per channel, imported only when its channel is polled."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from stormwatch.model import CHANNELS

if TYPE_CHECKING:
    from stormwatch.channels.base import ChannelContext, MentionSource


def mention_sources(channel: str, context: ChannelContext) -> list[MentionSource]:
    """The sources (one per query) that read `channel`'s mentions for the configured brands."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    module = importlib.import_module(f"stormwatch.channels.{channel}")
    sources: list[MentionSource] = module.mention_sources(context)
    return sources
