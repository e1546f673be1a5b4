"""Publishing an approved statement on every channel at once, each exactly once.

`publish_everywhere` is the last step of a release, called after the approval and crisis
mode checks (not its business). Each channel's work is independent, so the channels run
in parallel threads and the release takes about as long as its slowest channel.

Exactly once, per channel, whatever fails in between:
1. a conditional claim in the store is the intent, recorded before the channel is called;
   a second release running at the same time finds the channel claimed and leaves it;
2. if an earlier attempt may have posted (its outcome was ambiguous, or its run died
   between the intent and the record), the publisher first looks for the post on the
   account (`Publisher.find`); found, it is recorded and nothing is sent;
3. the post is sent once (Mastodon's idempotency key and Bluesky's record key make even
   a blind retry land on the first post);
4. the outcome is recorded: published, failed (the channel refused: nothing exists), or
   unknown (timeout, 5xx: look again before the next attempt).
A channel that failed does not stop the others: the release is `partial`, and releasing
again works only on the channels not yet published.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from stormwatch.channels.publishers.base import (
    PublishedPost,
    Publisher,
    PublishFailed,
    PublishIntent,
    text_hash,
)
from stormwatch.errors import StormwatchError
from stormwatch.persistence.releases import PUBLISHED, Claim, ReleaseRecord

logger = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)
"""How long a run holds a channel: longer than a publication with its look-up can take
(two requests of at most 10 s each), short enough that a crashed run's channels are
free again soon."""

ChannelStatus = Literal["published", "failed", "unknown", "in_progress"]


class ReleaseRecords(Protocol):
    """What the release needs of `stormwatch.persistence.releases.ReleaseStore`."""

    def records(self, statement_id: str) -> Mapping[str, ReleaseRecord]: ...

    def claim(
        self,
        statement_id: str,
        channel: str,
        text_hash: str,
        by: str,
        now: datetime,
        lease: timedelta,
    ) -> Claim | None: ...

    def mark_published(
        self, statement_id: str, channel: str, attempt: int, post_id: str, url: str, now: datetime
    ) -> bool: ...

    def mark_failed(
        self,
        statement_id: str,
        channel: str,
        attempt: int,
        error: str,
        now: datetime,
        *,
        retryable: bool,
    ) -> bool: ...

    def mark_unknown(
        self, statement_id: str, channel: str, attempt: int, error: str, now: datetime
    ) -> bool: ...


class StaleHash(StormwatchError):
    """The texts to publish are not the ones the caller saw (and the approvers approved)."""


@dataclass(frozen=True, slots=True)
class ChannelResult:
    channel: str
    status: ChannelStatus
    post: PublishedPost | None = None
    error: str | None = None
    retryable: bool = False
    attempt: int = 0
    earlier: bool = False
    """Published by an earlier run (or found on the account), not by this one."""


@dataclass(frozen=True, slots=True)
class ReleaseReport:
    statement_id: str
    results: Mapping[str, ChannelResult]

    @property
    def outcome(self) -> Literal["released", "partial"]:
        published = all(result.status == PUBLISHED for result in self.results.values())
        return "released" if published else "partial"

    @property
    def unfinished(self) -> tuple[str, ...]:
        """Channels a next release works on."""
        return tuple(name for name, result in self.results.items() if result.status != PUBLISHED)


def texts_hash(texts_by_channel: Mapping[str, str]) -> str:
    """SHA-256 over every channel's text, channels in name order, each as
    ``<channel> NUL <text> NUL``: the same texts give the same hash in any order."""
    digest = hashlib.sha256()
    for channel in sorted(texts_by_channel):
        digest.update(channel.encode() + b"\0" + texts_by_channel[channel].encode() + b"\0")
    return digest.hexdigest()


def publish_everywhere(
    statement_id: str,
    texts_by_channel: Mapping[str, str],
    expected_hash: str,
    publishers: Mapping[str, Publisher],
    store: ReleaseRecords,
    clock: Callable[[], datetime],
    *,
    by: str,
    image_urls: Mapping[str, str] | None = None,
    lease: timedelta = DEFAULT_LEASE,
    hash_texts: Callable[[Mapping[str, str]], str] = texts_hash,
) -> ReleaseReport:
    """Publish each channel's text once; the report has every channel's result.

    `expected_hash` is the hash the caller saw (`hash_texts` of the texts); `by` is the
    verified identity releasing; `image_urls` the image cards of channels that post no
    text alone (Instagram).
    """
    if hash_texts(texts_by_channel) != expected_hash:
        raise StaleHash(
            f"statement {statement_id}: the texts changed since they were shown "
            "(hash mismatch); review and release again"
        )
    known = store.records(statement_id)
    done = {
        channel: _already(record)
        for channel, record in known.items()
        if channel in texts_by_channel and record.state == PUBLISHED
    }
    pending = [channel for channel in texts_by_channel if channel not in done]
    results = dict(done)
    if pending:
        release = _ChannelRelease(statement_id, store, clock, by, lease, image_urls or {})
        with ThreadPoolExecutor(max_workers=len(pending), thread_name_prefix="release") as pool:
            futures = {
                channel: pool.submit(
                    release.run, channel, texts_by_channel[channel], publishers.get(channel)
                )
                for channel in pending
            }
            for channel, future in futures.items():
                results[channel] = future.result()
    return ReleaseReport(statement_id, {channel: results[channel] for channel in texts_by_channel})


def _already(record: ReleaseRecord) -> ChannelResult:
    post = PublishedPost(record.channel, record.post_id or "", record.url or "")
    return ChannelResult(record.channel, "published", post, attempt=record.attempt, earlier=True)


@dataclass(frozen=True, slots=True)
class _ChannelRelease:
    statement_id: str
    store: ReleaseRecords
    clock: Callable[[], datetime]
    by: str
    lease: timedelta
    image_urls: Mapping[str, str]

    def run(self, channel: str, text: str, publisher: Publisher | None) -> ChannelResult:
        claim = self.store.claim(
            self.statement_id, channel, text_hash(text), self.by, self.clock(), self.lease
        )
        if claim is None:
            return self._claimed_elsewhere(channel)
        if publisher is None:
            error = f"no publisher for {channel} is configured"
            self._failed(channel, claim, error, retryable=False)
            return ChannelResult(channel, "failed", error=error, attempt=claim.attempt)
        intent = PublishIntent(
            self.statement_id,
            channel,
            text_hash(text),
            claim.attempt,
            claim.since,
            self.image_urls.get(channel),
        )
        if claim.must_find:
            resolved = self._look_for_earlier_post(publisher, text, intent, claim)
            if resolved is not None:
                return resolved
        try:
            post = publisher.publish(text, intent)
        except PublishFailed as refused:
            self._failed(channel, claim, str(refused), retryable=refused.retryable)
            return ChannelResult(
                channel,
                "failed",
                error=str(refused),
                retryable=refused.retryable,
                attempt=claim.attempt,
            )
        except Exception as error:  # whatever happened, the post may exist
            message = str(error) or error.__class__.__name__
            self.store.mark_unknown(
                self.statement_id, channel, claim.attempt, message, self.clock()
            )
            return ChannelResult(
                channel, "unknown", error=message, retryable=True, attempt=claim.attempt
            )
        self._published(channel, claim, post)
        return ChannelResult(channel, "published", post, attempt=claim.attempt)

    def _look_for_earlier_post(
        self, publisher: Publisher, text: str, intent: PublishIntent, claim: Claim
    ) -> ChannelResult | None:
        """The result when an earlier attempt's post is found or cannot be looked for;
        None when it certainly does not exist and this attempt may send."""
        channel = intent.channel
        try:
            found = publisher.find(text, intent)
        except Exception as error:  # any failure leaves the post's existence open
            message = f"could not look for the earlier attempt's post: {error}"
            self.store.mark_unknown(
                self.statement_id, channel, claim.attempt, message, self.clock()
            )
            return ChannelResult(
                channel, "unknown", error=message, retryable=True, attempt=claim.attempt
            )
        if found is None:
            return None
        self._published(channel, claim, found)
        return ChannelResult(channel, "published", found, attempt=claim.attempt, earlier=True)

    def _published(self, channel: str, claim: Claim, post: PublishedPost) -> None:
        recorded = self.store.mark_published(
            self.statement_id, channel, claim.attempt, post.post_id, post.url, self.clock()
        )
        if not recorded:
            logger.warning(
                "release %s: %s published as %s after this run's claim expired",
                self.statement_id,
                channel,
                post.post_id,
            )

    def _failed(self, channel: str, claim: Claim, error: str, *, retryable: bool) -> None:
        self.store.mark_failed(
            self.statement_id, channel, claim.attempt, error, self.clock(), retryable=retryable
        )

    def _claimed_elsewhere(self, channel: str) -> ChannelResult:
        record = self.store.records(self.statement_id).get(channel)
        if record is not None and record.state == PUBLISHED:
            return _already(record)
        until = record.claimed_until.isoformat() if record and record.claimed_until else "?"
        return ChannelResult(
            channel,
            "in_progress",
            error=f"another release is publishing on {channel} (claimed until {until})",
            retryable=True,
            attempt=record.attempt if record else 0,
        )
