"""What a lookup answers, and how a channel's failures become answers instead of crashes.

A pre-flight check asks each channel whether the accounts and tags a statement names exist
there. Every question gets an answer a person can act on: found (with the display name, so
the approver sees *who* is meant), not found, not checked (the channel offers no way to
look, and says why), or failed (rate limited, unreachable, unreadable). "Found" is only
ever said after the channel said so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from stormwatch.errors import (
    AuthFailed,
    ChannelError,
    ChannelUnavailable,
    MalformedResponse,
    RateLimited,
)

logger = logging.getLogger(__name__)

Outcome = Literal["found", "not_found", "not_checked", "failed"]


@dataclass(frozen=True, slots=True)
class AccountMatch:
    """Whether `handle` names an account on `channel`, and whose it is."""

    channel: str
    handle: str
    found: bool
    display_name: str | None
    account_id: str | None
    url: str | None
    message: str
    outcome: Outcome = "found"
    retry_at: datetime | None = None
    """When a rate-limited lookup may be tried again."""


@dataclass(frozen=True, slots=True)
class TagMatch:
    """Whether `tag` (without ``#``) is in use on `channel`; `uses` when the channel counts."""

    channel: str
    tag: str
    found: bool
    uses: int | None
    url: str | None
    message: str
    outcome: Outcome = "found"
    retry_at: datetime | None = None


def account_found(
    channel: str,
    handle: str,
    *,
    display_name: str,
    account_id: str,
    url: str | None,
    shown_as: str,
) -> AccountMatch:
    # Display names are the account owner's text: shown quoted, never interpreted.
    return AccountMatch(
        channel,
        handle,
        True,
        display_name,
        account_id,
        url,
        f"{shown_as} is {display_name!r}",
        "found",
    )


def account_not_found(channel: str, handle: str, message: str) -> AccountMatch:
    return AccountMatch(channel, handle, False, None, None, None, message, "not_found")


def account_not_checked(channel: str, handle: str, reason: str) -> AccountMatch:
    return AccountMatch(channel, handle, False, None, None, None, reason, "not_checked")


def tag_found(
    channel: str, tag: str, *, uses: int | None, url: str | None, message: str
) -> TagMatch:
    return TagMatch(channel, tag, True, uses, url, message, "found")


def tag_not_found(channel: str, tag: str, message: str, *, url: str | None = None) -> TagMatch:
    return TagMatch(channel, tag, False, 0, url, message, "not_found")


def tag_not_checked(channel: str, tag: str, reason: str) -> TagMatch:
    return TagMatch(channel, tag, False, None, None, reason, "not_checked")


def failure_message(error: ChannelError) -> tuple[str, datetime | None]:
    """What a person reads when the channel could not answer, and when to try again."""
    if isinstance(error, RateLimited):
        at = error.retry_at.astimezone(UTC).strftime("%H:%M:%S UTC")
        return f"rate limited, retry after {at}", error.retry_at
    if isinstance(error, AuthFailed):
        return f"credentials refused, an operator must fix them: {_detail(error)}", None
    if isinstance(error, MalformedResponse):
        return f"unreadable answer: {_detail(error)}", None
    if isinstance(error, ChannelUnavailable):
        return f"did not answer: {_detail(error)}", None
    return f"request failed: {_detail(error)}", None


def _detail(error: ChannelError) -> str:
    text = str(error)
    prefix = f"{error.channel}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def guarded_account(channel: str, handle: str, look: Callable[[], AccountMatch]) -> AccountMatch:
    """`look()`, with a channel error turned into a failed match that says what happened."""
    try:
        return look()
    except ChannelError as error:
        message, retry_at = failure_message(error)
        logger.warning("%s: account lookup failed: %s", channel, message)
        return AccountMatch(
            channel,
            handle,
            False,
            None,
            None,
            None,
            f"could not look up {handle!r}: {message}",
            "failed",
            retry_at,
        )


def guarded_tag(channel: str, tag: str, look: Callable[[], TagMatch]) -> TagMatch:
    """`look()`, with a channel error turned into a failed match that says what happened."""
    try:
        return look()
    except ChannelError as error:
        message, retry_at = failure_message(error)
        logger.warning("%s: tag lookup failed: %s", channel, message)
        return TagMatch(
            channel,
            tag,
            False,
            None,
            None,
            f"could not look up #{tag}: {message}",
            "failed",
            retry_at,
        )


def bare_handle(handle: str) -> str:
    """The handle as written in a statement, without its leading ``@`` and spaces."""
    return handle.strip().removeprefix("@")


def bare_tag(tag: str) -> str:
    return tag.strip().removeprefix("#").removeprefix("＃")
