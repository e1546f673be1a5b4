"""What every publisher implements, and the two ways a publication can go wrong.

A publication is one statement's text on one channel. The release records its intent
before the call and its outcome after it (`stormwatch.persistence.releases`), so what a
publisher must tell apart is whether the post *may exist*:

- `PublishFailed`: the channel said no (4xx, 429, refused credentials) - nothing was
  posted, and trying again cannot double-post;
- `OutcomeUnknown`: a timeout, a 5xx, a connection lost after the request left, an
  answer we cannot read - the post may exist. Before any retry, `find` looks for it on
  the account (or, where the channel has one, the idempotency key makes the retry safe).

Publishers send each request once (`single_shot`): the shared client's quiet retry of a
timeout is right for reading and wrong for posting on a channel without idempotency.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from stormwatch.channels.http import HttpClient
from stormwatch.errors import (
    AuthFailed,
    ChannelError,
    ChannelUnavailable,
    MalformedResponse,
    RateLimited,
)


@dataclass(frozen=True, slots=True)
class PublishIntent:
    """One channel's publication of one statement, as recorded before the call.

    `key` is the same for every attempt of this publication, so a channel's idempotency
    key (Mastodon) or record key (Bluesky) makes a retry land on the first attempt's post.
    `since` is when the first attempt was recorded: `find` looks at nothing older.
    """

    statement_id: str
    channel: str
    text_hash: str
    attempt: int
    since: datetime
    image_url: str | None = None

    @property
    def key(self) -> str:
        return f"stormwatch-{self.statement_id}-{self.channel}-{self.text_hash[:16]}"


@dataclass(frozen=True, slots=True)
class PublishedPost:
    channel: str
    post_id: str
    url: str


class PublishError(ChannelError):
    """A publication that did not (certainly) succeed; `retryable`: worth another try
    without an operator changing anything first."""

    def __init__(
        self, channel: str, message: str, *, retryable: bool, status: int | None = None
    ) -> None:
        super().__init__(channel, message, status=status)
        self.retryable = retryable


class PublishFailed(PublishError):
    """The channel refused: no post was made."""


class OutcomeUnknown(PublishError):
    """The post may or may not exist: resolve with `find` (or the idempotency key)
    before trying again."""

    def __init__(self, channel: str, message: str, *, status: int | None = None) -> None:
        super().__init__(channel, message, retryable=True, status=status)


class Publisher(Protocol):
    """One channel's account, able to post a statement and to look for it afterwards."""

    @property
    def channel(self) -> str: ...

    def publish(self, text: str, intent: PublishIntent) -> PublishedPost:
        """Post `text`; raises `PublishFailed` or `OutcomeUnknown`."""
        ...

    def find(self, text: str, intent: PublishIntent) -> PublishedPost | None:
        """The post of `intent` if it exists on the account, None if it certainly does not;
        raises `ChannelError` when the channel cannot tell right now."""
        ...


def text_hash(text: str) -> str:
    """SHA-256 of one channel's text, hex: what a release record is bound to."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def single_shot(http: HttpClient) -> HttpClient:
    """A client like `http` (its session, timeout, deadline, clock) that sends each
    request exactly once."""
    return HttpClient(
        http.channel,
        timeout=http.timeout,
        deadline=http.deadline,
        session=http.session,
        retries=0,
        max_bytes=http.max_bytes,
        user_agent=http.user_agent,
        now=http.now,
    )


@contextmanager
def sending(channel: str) -> Iterator[None]:
    """Around the request that creates a post: the client's errors as publication errors.

    The client raises `ChannelUnavailable` for timeouts, lost connections and 5xx alike;
    any of them may have reached the channel, so all are ambiguous. An unreadable 2xx is
    ambiguous too: the post was most likely made.
    """
    try:
        yield
    except PublishError:
        raise
    except RateLimited as error:
        raise PublishFailed(channel, error.detail, retryable=True, status=429) from None
    except AuthFailed as error:
        raise PublishFailed(channel, error.detail, retryable=False, status=error.status) from None
    except (ChannelUnavailable, MalformedResponse) as error:
        raise OutcomeUnknown(channel, error.detail, status=error.status) from None
    except ChannelError as error:
        raise PublishFailed(channel, error.detail, retryable=False, status=error.status) from None
