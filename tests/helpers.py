"""Plain helpers the channel tests share: configs and contexts pointed at the fakes, one
channel's fake on its own, and reading a source the way the poll loop does."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.fakechannels.registry import fake_module
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import World
from local.localconfig import localize, read_document
from local.scenario import Scenario
from stormwatch.channels import mention_sources
from stormwatch.channels.base import ChannelContext, Cursor, MentionSource
from stormwatch.channels.http import HttpClient
from stormwatch.config import Config, parse_config
from stormwatch.deadline import Deadline
from stormwatch.errors import RateLimited
from stormwatch.model import Mention

# Hypothesis: `dev` (the default) tries a fifth of the examples, quick enough to run at
# every change; `ci` (HYPOTHESIS_PROFILE=ci, what `make test` runs) tries each property's
# full count. Both are registered in tests/conftest.py.
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
DEV_SHARE = 5


def examples(thorough: int) -> int:
    """How many examples a property tries: `thorough` under the `ci` profile, a fifth of
    it (at least 10) under `dev`."""
    return thorough if HYPOTHESIS_PROFILE == "ci" else max(10, thorough // DEV_SHARE)


def example_config(
    channel_url: Callable[[str], str],
    channel: str | None = None,
    *,
    brands: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> Config:
    """The example configuration with `settings` for `channel` (and `brands` instead of its
    own), pointed at the fake server's `channel_url` like the local stack does."""
    document = read_document()
    if settings:
        if channel is None:
            raise ValueError("settings need the channel they are for")
        document["channels"][channel].update(settings)
    if brands is not None:
        document["brands"] = brands
    return parse_config(localize(document, channel_url))


def context_for(
    config: Config,
    channel: str,
    credentials: Callable[[], dict[str, str]],
    *,
    http: HttpClient | None = None,
    deadline: Deadline | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ChannelContext:
    """The context an adapter gets in Lambda; `http` defaults to a client with the channel's
    configured timeout, bound to `deadline`."""
    channel_config = config.channel(channel)
    if http is None:
        http = HttpClient(
            channel, timeout=channel_config.timeout_seconds, deadline=deadline, now=now
        )
    return ChannelContext(
        config=channel_config, brands=config.brands, http=http, credentials=credentials, now=now
    )


def start_fake(scenario: Scenario, channel: str) -> FakeChannelServer:
    """One channel's fake on a server of its own, in a world that accepts its credentials.
    The caller stops it."""
    module = fake_module(channel)
    world = World(scenario=scenario, credentials={channel: dict(module.CREDENTIALS)})
    return FakeChannelServer(world, [module.make_fake()]).start()


def source_of(context: ChannelContext, key: str) -> MentionSource:
    """The source with this key among those the context's channel builds."""
    return next(s for s in mention_sources(context.config.name, context) if s.key == key)


def read_pages(
    source: MentionSource, cursor: Cursor | None, start: datetime, pages: int | None = None
) -> tuple[list[Mention], Cursor | None]:
    """The mentions of one run from `cursor` on (all pages, or the first `pages`) and the
    cursor of its last page, committed page by page as the poll loop does."""
    mentions: list[Mention] = []
    for index, page in enumerate(source.pages(cursor, start)):
        mentions.extend(page.mentions)
        cursor = page.cursor
        if pages is not None and index + 1 >= pages:
            break
    return mentions, cursor


def read_until_limited(
    source: MentionSource, cursor: Cursor | None, start: datetime
) -> tuple[list[Mention], Cursor | None, RateLimited]:
    """What a run read before the adapter stopped for a rate limit, and the limit."""
    mentions: list[Mention] = []
    try:
        for page in source.pages(cursor, start):
            mentions.extend(page.mentions)
            cursor = page.cursor
    except RateLimited as limited:
        return mentions, cursor, limited
    raise AssertionError("the source was not rate limited")


COUNTING_STACKS: list[Any] = []
"""The integration tests' shared local stack (tests/integration/conftest.py)."""


def count_stream() -> None:
    """Let the shared local stack hand the table's new stream records to the counter, as
    Lambda would a moment after a write: bucket counts come from the stream
    (docs/decisions/0020-counting-from-the-stream.md). Tests that write mentions through
    the ledger directly call this before they read buckets."""
    for stack in COUNTING_STACKS:
        stack.streams.deliver()
