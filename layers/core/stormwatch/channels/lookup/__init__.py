"""Looking up accounts and tags on the channels a statement goes out on.

One module per publishing channel, each exposing ``make_lookup(context) -> AccountLookup``
built on the channel's read adapter (its auth, rate-limit reading and `HttpClient`), and
imported only when its channel is checked.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from stormwatch.channels.lookup.base import AccountMatch, Outcome, TagMatch

if TYPE_CHECKING:
    from stormwatch.channels.base import ChannelContext

__all__ = ["LOOKUP_CHANNELS", "AccountLookup", "AccountMatch", "Outcome", "TagMatch", "lookup_for"]

LOOKUP_CHANNELS = ("x", "mastodon", "bluesky", "facebook", "linkedin", "instagram")


class AccountLookup(Protocol):
    """Asks one channel whether a handle or a hashtag names what the statement means.

    Neither method raises for the channel's answers (404, 429, timeouts, malformed bodies):
    each becomes a match with a message saying what happened.
    """

    def lookup_account(self, handle: str) -> AccountMatch: ...

    def lookup_tag(self, tag: str) -> TagMatch: ...


def lookup_for(channel: str, context: ChannelContext) -> AccountLookup:
    """The lookup of `channel`, talking to it through `context`."""
    if channel not in LOOKUP_CHANNELS:
        raise ValueError(f"no account lookup for channel {channel!r}")
    module = importlib.import_module(f"stormwatch.channels.lookup.{channel}")
    lookup: AccountLookup = module.make_lookup(context)
    return lookup
