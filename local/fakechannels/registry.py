"""Which fake serves which channel.

Each fake module provides:
- ``make_fake() -> ChannelFake``: the routes and error bodies of the channel's real API;
- ``CREDENTIALS: dict[str, str]``: what the fake accepts (the local stack stores it in
  Secrets Manager under the channel's ``secret_key``);
- ``mention_id(post) -> str``: the `Mention.id` the adapter must produce for a post.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from stormwatch.config import CHANNELS


def fake_module(channel: str) -> ModuleType:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return importlib.import_module(f"local.fakechannels.{channel}")


def available_channels() -> tuple[str, ...]:
    """Channels whose fake exists (all of them once the stack is complete)."""
    found = []
    for channel in CHANNELS:
        try:
            fake_module(channel)
        except ModuleNotFoundError:
            continue
        found.append(channel)
    return tuple(found)
