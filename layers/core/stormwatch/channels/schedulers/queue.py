"""Our own queue as a scheduler: the post in DynamoDB (`persistence.queue`), its time in a
one-time EventBridge Scheduler schedule (``at(...)``, deleted after it ran) that invokes
`publish_scheduled`, which reads crisis mode itself before it sends anything.

Cancelling marks the post cancelled first (a schedule firing meanwhile then finds nothing
to send), then deletes its schedule. Restoring queues it under a new id made from
`restore_key()` with a schedule named after it, both written only if absent, so a retry
makes the same post and the same schedule, never a second one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stormwatch.channels.schedulers.base import ScheduledPost, as_utc
from stormwatch.channels.schedulers.one_time import OneTimeSchedules
from stormwatch.persistence.queue import QueuedPost, QueueState, QueueStore

NAME = "queue"
# The function checks crisis mode when it runs; a minute is enough for a schedule to exist.
MINIMUM_LEAD = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class QueueTarget:
    """Where our one-time schedules live and what they invoke."""

    group: str
    function_arn: str
    role_arn: str
    dead_letter_arn: str | None = None


def schedule_name(post_id: str) -> str:
    return f"post-{post_id}"[:64]


class QueueScheduler:
    name = NAME
    minimum_lead = MINIMUM_LEAD

    def __init__(self, store: QueueStore, scheduler_client: Any, target: QueueTarget) -> None:
        self._store = store
        self._schedules = OneTimeSchedules(
            scheduler_client,
            target.group,
            target.function_arn,
            target.role_arn,
            target.dead_letter_arn,
        )

    def enqueue(
        self,
        post_id: str,
        channel: str,
        text: str,
        at: datetime,
        details: Mapping[str, Any] | None = None,
    ) -> QueuedPost:
        """Queue a post for `channel` at `at` with its schedule (safe to repeat)."""
        post = self._store.add(
            QueuedPost(post_id, channel, text, as_utc(at), details=details or {})
        )
        self._create_schedule(post.id, post.scheduled_at)
        return post

    def scheduled(self) -> Sequence[ScheduledPost]:
        return [
            ScheduledPost(
                scheduler=NAME,
                id=post.id,
                scheduled_at=post.scheduled_at,
                text=post.text,
                details={"channel": post.channel, **post.details},
            )
            for post in self._store.waiting()
        ]

    def cancel(self, post: ScheduledPost) -> None:
        queued = self._store.get(post.id)
        if queued is not None and queued.state is QueueState.QUEUED:
            self._store.advance(queued, QueueState.CANCELLED, note="parked")
        self._delete_schedule(post.id)

    def recreate(self, post: ScheduledPost, at: datetime) -> str:
        details = {k: v for k, v in post.details.items() if k != "channel"}
        restored = self.enqueue(
            post.restore_key(), str(post.details["channel"]), post.text, at, details
        )
        return restored.id

    def find_recreated(self, post: ScheduledPost, at: datetime) -> str | None:
        del at  # the new id is the restore key, whatever the time
        restored = self._store.get(post.restore_key())
        if restored is None or not self._schedule_exists(restored.id):
            return None
        return restored.id

    # --- EventBridge Scheduler -------------------------------------------------------------

    def _create_schedule(self, post_id: str, at: datetime) -> None:
        self._schedules.create(schedule_name(post_id), at, {"post_id": post_id})

    def _delete_schedule(self, post_id: str) -> None:
        self._schedules.delete(schedule_name(post_id))

    def _schedule_exists(self, post_id: str) -> bool:
        return self._schedules.exists(schedule_name(post_id))
