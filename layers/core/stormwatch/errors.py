"""Errors with a clear message for the operator; each says what failed and where."""

from __future__ import annotations

from datetime import datetime


class StormwatchError(Exception):
    """Base of every error stormwatch raises on purpose."""


class ConfigError(StormwatchError):
    """The configuration document is missing or invalid; `key` names the bad entry."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config {key}: {problem}")
        self.key = key
        self.problem = problem


class ChannelError(StormwatchError):
    """A channel call failed; the source's cursor stays where it was."""

    def __init__(self, channel: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{channel}: {message}")
        self.channel = channel
        self.detail = message
        self.status = status


class RateLimited(ChannelError):
    """The channel asked us to slow down; do not call it again before `retry_at`."""

    def __init__(self, channel: str, retry_at: datetime, detail: str = "") -> None:
        super().__init__(channel, f"rate limited until {retry_at.isoformat()} {detail}".rstrip())
        self.retry_at = retry_at


class ChannelUnavailable(ChannelError):
    """Timeout, connection failure or a 5xx: worth trying again next run."""


class MalformedResponse(ChannelError):
    """The channel answered something we cannot read (bad JSON, HTML error page...)."""


class ExpiredPageToken(ChannelError):
    """A saved page token is no longer accepted; the chain resumes by position instead."""


class AuthFailed(ChannelError):
    """Credentials were refused (401/403): an operator has to fix the secret."""


class StoreConflict(StormwatchError):
    """Another run advanced the same cursor first; this run stops for that source."""


class StoreThrottled(StormwatchError):
    """DynamoDB left part of a write unprocessed, again and again; the page is read again."""
