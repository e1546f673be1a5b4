"""Publishing a statement: one `Publisher` per channel (see `base`).

`publisher_for` builds a channel's publisher from the same `ChannelContext` the read
adapters get; the modules are imported on first use, so a function that publishes on
one channel does not pay for the others at cold start.
"""

from __future__ import annotations

import importlib

from stormwatch.channels.base import ChannelContext
from stormwatch.channels.publishers.base import (
    OutcomeUnknown,
    PublishedPost,
    Publisher,
    PublishError,
    PublishFailed,
    PublishIntent,
)

__all__ = [
    "PUBLISHERS",
    "OutcomeUnknown",
    "PublishError",
    "PublishFailed",
    "PublishIntent",
    "PublishedPost",
    "Publisher",
    "publisher_for",
]

# channel -> (module, class); the class takes the context (and the language where the
# channel records one on the post).
PUBLISHERS: dict[str, tuple[str, str]] = {
    "x": ("x", "XPublisher"),
    "mastodon": ("mastodon", "MastodonPublisher"),
    "bluesky": ("bluesky", "BlueskyPublisher"),
    "facebook": ("facebook", "FacebookPublisher"),
    "linkedin": ("linkedin", "LinkedInPublisher"),
    "instagram": ("instagram", "InstagramPublisher"),
}
_WITH_LANGUAGE = frozenset({"mastodon", "bluesky"})


def publisher_for(
    channel: str, context: ChannelContext, *, language: str | None = None
) -> Publisher:
    """The publisher of `channel`; `language` (``act.languages``) is set on the post where
    the channel records one."""
    try:
        module_name, class_name = PUBLISHERS[channel]
    except KeyError:
        raise ValueError(f"no publisher for channel {channel!r}") from None
    module = importlib.import_module(f"stormwatch.channels.publishers.{module_name}")
    cls = getattr(module, class_name)
    publisher: Publisher = (
        cls(context, language=language) if channel in _WITH_LANGUAGE else cls(context)
    )
    return publisher
