"""The small interface every channel adapter implements, and what it is given.

An adapter turns a channel's HTTP API into a stream of `Page`s. Each page carries the
mentions it read and the cursor that is valid *once those mentions are committed*:
resuming from that cursor must neither skip a mention nor return one that was not on
or after this page (duplicates at a page boundary are fine: the store deduplicates).
Pages are fetched lazily, so the poll loop can stop between pages when time runs out
and the next run resumes the same chain from the last committed cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from stormwatch.channels.http import HttpClient
from stormwatch.config import Brand, ChannelConfig
from stormwatch.model import Mention

# A cursor is whatever JSON-serialisable state a source needs to resume.
Cursor = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    mentions: Sequence[Mention]
    cursor: Cursor


class MentionSource(Protocol):
    """One query on one channel (e.g. X recent search for a brand) with its own cursor."""

    @property
    def channel(self) -> str: ...

    @property
    def key(self) -> str:
        """Stable name of the query, unique within the channel, e.g. ``search:acme``."""
        ...

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        """Pages of mentions after `cursor`; with no cursor yet, from `start` on.

        Raises `RateLimited`, `ChannelUnavailable`, `MalformedResponse`, `AuthFailed` or
        `ChannelError`; whatever was yielded before stays valid.
        """
        ...


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What an adapter is given. `credentials()` fetches the secret on first use only."""

    config: ChannelConfig
    brands: Sequence[Brand]
    http: HttpClient
    credentials: Callable[[], Mapping[str, str]]
    now: Callable[[], datetime]


def required_credential(credentials: Mapping[str, str], channel: str, name: str) -> str:
    """A credential field, or a clear error naming the field (never its value)."""
    from stormwatch.errors import AuthFailed

    value = credentials.get(name)
    if not isinstance(value, str) or not value:
        raise AuthFailed(channel, f"credentials secret has no {name!r} for this channel")
    return value


def parse_each[T](
    items: list[Any],
    parse: Callable[[Mapping[str, Any]], T],
    *,
    logger: logging.Logger,
    channel: str,
    what: str,
    noun: str,
    label: Callable[[object], str],
) -> list[T]:
    """`items` parsed one by one; one that is not a JSON object, or that `parse` refuses
    (KeyError, TypeError, ValueError), is logged as a malformed `noun` of `what` with its
    `label` (an id: mention text is data, not log content) and skipped, not fatal."""
    parsed: list[T] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise TypeError(f"{noun} is not an object")
            parsed.append(parse(item))
        except (KeyError, TypeError, ValueError) as error:
            logger.warning(
                "%s: skipped a malformed %s %s %s (%s)",
                channel,
                what,
                noun,
                label(item),
                error.__class__.__name__,
            )
    return parsed


def text_field(item: Mapping[str, Any], key: str) -> str:
    """An optional text field of a JSON object, "" when left out; TypeError (a malformed
    item, for `parse_each`) when it is not a string."""
    value = item.get(key, "")
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value
