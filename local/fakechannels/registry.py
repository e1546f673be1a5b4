"""Which fake serves which channel.

Each fake module provides:
- ``make_fake() -> ChannelFake``: the routes and error bodies of the channel's real API;
- ``CREDENTIALS: dict[str, str]``: what the fake accepts (the local stack stores it in
  Secrets Manager under the channel's ``secret_key``);
- ``mention_id(post) -> str``: the `Mention.id` the adapter must produce for a post.

The parts of a channel's API that only the Act flow uses live beside it, one package per
concern, so each stays small: ``local.fakechannels.<concern>.<channel>`` provides
``rules() -> list[Rule]``, mounted under the channel's prefix like its own rules (and may
use the channel module's helpers). Services that are no listening channel (Hootsuite, a
scheduler) are fakes of their own, named in `SERVICES`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from werkzeug.routing import Rule

from local.fakechannels.server import ChannelFake
from stormwatch.config import CHANNELS

# Act's parts of the channels' APIs: looking accounts up, publishing, scheduled posts.
EXTENSIONS = ("lookup", "publishing", "scheduling")

# Modules (below local.fakechannels) of fakes that serve no listening channel.
SERVICES: tuple[str, ...] = ("scheduling.hootsuite",)


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


def extension_rules(channel: str) -> list[Rule]:
    """The rules of every extension module of `channel` that exists."""
    rules: list[Rule] = []
    for concern in EXTENSIONS:
        name = f"local.fakechannels.{concern}.{channel}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name in (name, f"local.fakechannels.{concern}"):
                continue
            raise
        rules.extend(module.rules())
    return rules


class _Extended:
    """A channel's fake with its extensions' rules mounted beside its own."""

    def __init__(self, fake: ChannelFake) -> None:
        self._fake = fake
        self.name = fake.name
        self.error_response = fake.error_response

    def rules(self) -> list[Rule]:
        # Extensions first: a rule of theirs for one method (POST /{page}/feed) must win
        # over the channel's own rule for the same path that takes any method.
        return [*extension_rules(self.name), *self._fake.rules()]


def all_fakes() -> list[ChannelFake]:
    """Every channel's fake with its extensions, and every service's fake."""
    fakes: list[ChannelFake] = [
        _Extended(fake_module(channel).make_fake()) for channel in available_channels()
    ]
    fakes.extend(
        importlib.import_module(f"local.fakechannels.{service}").make_fake() for service in SERVICES
    )
    return fakes
