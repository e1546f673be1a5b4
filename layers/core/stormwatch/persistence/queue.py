"""Our own queue (`QUEUE` / `POST#<post id>`): posts we schedule ourselves, each with a
one-time EventBridge Scheduler schedule that invokes `publish_scheduled` at its time.

    queued -> publishing -> published
           -> cancelled            (parked in a crisis; `PARK#queue` holds the saved post)
              publishing -> review (an attempt died mid-way: whether it went out is unknown,
                                    so a person looks instead of a second attempt)

Each write is conditional on the state it leaves: a schedule that fires twice, or fires
while the post is being parked, publishes it at most once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from stormwatch.channels.schedulers.base import details_json
from stormwatch.model import iso, parse_iso
from stormwatch.persistence import keys
from stormwatch.persistence.table import Item, Table


class QueueState(StrEnum):
    QUEUED = "queued"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    CANCELLED = "cancelled"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class QueuedPost:
    id: str
    channel: str
    text: str
    scheduled_at: datetime
    state: QueueState = QueueState.QUEUED
    details: Mapping[str, Any] = field(default_factory=dict)
    published_id: str | None = None
    note: str = ""


class QueueStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, post: QueuedPost) -> QueuedPost:
        """Queue the post; if a post with its id is queued already, the stored one."""
        if self.table.put_new(_encode(post)):
            return post
        return self._stored(post.id)

    def get(self, post_id: str) -> QueuedPost | None:
        item = self.table.read(keys.queued(post_id))
        return _decode(item) if item is not None else None

    def _stored(self, post_id: str) -> QueuedPost:
        stored = self.get(post_id)
        if stored is None:
            raise LookupError(f"queued post {post_id} vanished")
        return stored

    def waiting(self) -> Iterator[QueuedPost]:
        """Every post still queued (consistent)."""
        for item in self.table.query(
            KeyConditionExpression="pk = :pk",
            FilterExpression="#state = :queued",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":pk": {"S": keys.QUEUE},
                ":queued": {"S": QueueState.QUEUED.value},
            },
            ConsistentRead=True,
        ):
            yield _decode(item)

    def claim(self, post: QueuedPost) -> bool:
        """Take a queued post for sending: True only for the one caller that moved it from
        `queued` to `publishing`."""
        return self.table.move_state(
            keys.queued(post.id), QueueState.QUEUED.value, QueueState.PUBLISHING.value
        )

    def advance(
        self,
        post: QueuedPost,
        to: QueueState,
        *,
        published_id: str | None = None,
        note: str | None = None,
    ) -> QueuedPost:
        """Move the post on from the state it was read in; if it moved on already, the
        stored one (the caller goes on from its state)."""
        fields = {
            "published_id": published_id[:500] if published_id else None,
            "note": note[:500] if note else None,
        }
        if not self.table.move_state(keys.queued(post.id), post.state.value, to.value, fields):
            return self._stored(post.id)
        return replace(
            post,
            state=to,
            published_id=published_id or post.published_id,
            note=note if note is not None else post.note,
        )


def _encode(post: QueuedPost) -> Item:
    item: Item = {
        **keys.queued(post.id),
        "state": {"S": post.state.value},
        "channel": {"S": post.channel},
        "text": {"S": post.text},
        "scheduled_at": {"S": iso(post.scheduled_at)},
        "details": {"S": details_json(post.details)},
    }
    if post.published_id:
        item["published_id"] = {"S": post.published_id}
    if post.note:
        item["note"] = {"S": post.note[:500]}
    return item


def _decode(item: Item) -> QueuedPost:
    return QueuedPost(
        id=item["sk"]["S"].removeprefix(keys.POST),
        channel=item["channel"]["S"],
        text=item["text"]["S"],
        scheduled_at=parse_iso(item["scheduled_at"]["S"]),
        state=QueueState(item["state"]["S"]),
        details=json.loads(item["details"]["S"]),
        published_id=item.get("published_id", {}).get("S"),
        note=item.get("note", {}).get("S", ""),
    )
