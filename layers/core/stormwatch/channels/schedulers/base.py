"""The small interface every scheduler adapter implements for parking and restoring posts.

No scheduler offers "pause everything", so parking a post is: save it whole (the domain,
`stormwatch.act.parking`), then `cancel` it here; restoring is `recreate`. A recreate whose
outcome is unknown (a timeout after the request left, a crash before its answer was
recorded) is resolved with `find_recreated` before anything is sent again, because most
schedulers have no idempotency key.

`ScheduledPost.details` holds whatever else the scheduler needs to recreate the post
exactly as it was (visibility, media ids, profile ids, language...), JSON-ready, in the
scheduler's own terms: the domain stores it and hands it back without reading it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from stormwatch.channels.http import HttpClient
from stormwatch.errors import ChannelError


@dataclass(frozen=True, slots=True)
class ScheduledPost:
    """A post waiting in a scheduler, with everything needed to schedule it again."""

    scheduler: str
    id: str
    scheduled_at: datetime
    text: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def restore_key(self) -> str:
        """The same for every attempt to restore this post: the idempotency key where a
        scheduler has one, and what our own queue names the restored post by."""
        digest = hashlib.sha256(f"{self.scheduler}\0{self.id}".encode()).hexdigest()
        return f"stormwatch-restore-{digest[:32]}"


class TooSoon(ChannelError):
    """The scheduler refuses the time: too near (inside its minimum lead time) or too far."""


class Scheduler(Protocol):
    """One scheduler (Mastodon's scheduled statuses, a Facebook Page, Hootsuite, our queue)."""

    @property
    def name(self) -> str: ...

    @property
    def minimum_lead(self) -> timedelta:
        """How far ahead a post must be scheduled (Mastodon: 5 minutes, Facebook: 10)."""
        ...

    def scheduled(self) -> Sequence[ScheduledPost]:
        """Every post waiting to go out, all pages (windows) of the listing.

        Raises `RateLimited`, `ChannelUnavailable`, `MalformedResponse`, `AuthFailed` or
        `ChannelError`; a malformed single item is skipped with a warning.
        """
        ...

    def cancel(self, post: ScheduledPost) -> None:
        """Take the post out of the scheduler. A post that is gone already counts as
        cancelled: the caller saved it before, and a re-run must be able to finish."""
        ...

    def recreate(self, post: ScheduledPost, at: datetime) -> str:
        """Schedule the post again at `at`; its new id. `TooSoon` when the scheduler refuses
        the time. Sent with `post.restore_key()` as idempotency key where there is one."""
        ...

    def find_recreated(self, post: ScheduledPost, at: datetime) -> str | None:
        """The id of the post `recreate(post, at)` made, if an earlier attempt made it."""
        ...


def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def same_moment(left: datetime, right: datetime) -> bool:
    """Equal to the second: schedulers keep scheduled times at whole seconds (or coarser)."""
    return abs(as_utc(left) - as_utc(right)) < timedelta(seconds=1)


def recreated_among(
    waiting: Iterable[ScheduledPost], post: ScheduledPost, at: datetime, *, same: str = ""
) -> str | None:
    """The id of the waiting post that is `post` recreated for `at`: the same text at the
    same moment (and the same `details[same]`, where a scheduler serves several accounts)."""
    for candidate in waiting:
        if (
            candidate.text == post.text
            and same_moment(candidate.scheduled_at, at)
            and (not same or candidate.details.get(same) == post.details.get(same))
        ):
            return candidate.id
    return None


def item_label(item: object) -> str:
    """How a listed item is named in a log line about it: its id, if it has one."""
    value = item.get("id") if isinstance(item, dict) else None
    return value[:64] if isinstance(value, str) else "<no id>"


def details_json(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def without_retries(http: HttpClient) -> HttpClient:
    """`http` that sends each request once: a POST that timed out may have been made, and
    sending it again would make it twice. Parking's re-run looks for it first instead."""
    single = copy.copy(http)
    single.retries = 0
    return single
