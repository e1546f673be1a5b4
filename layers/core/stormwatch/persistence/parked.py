"""Parked posts (`PARK#<scheduler>` / `POST#<post id>`): a scheduled post saved whole before
it was cancelled, and how far it got on its way back.

    parking -> parked -> restoring -> restored
                      -> review               (its time passed: never sent on its own)
               restoring -> review            (its time passed while it was being restored)

Every write is conditional on the state it leaves, so a re-run after a crash (or a write
whose answer was lost) finds the item where the first run left it and goes on from
there; nothing is saved twice and no state is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from stormwatch.channels.schedulers.base import ScheduledPost, details_json
from stormwatch.model import iso, parse_iso
from stormwatch.persistence import keys
from stormwatch.persistence.table import Item, Table


class ParkState(StrEnum):
    PARKING = "parking"
    PARKED = "parked"
    RESTORING = "restoring"
    RESTORED = "restored"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class ParkedPost:
    post: ScheduledPost
    state: ParkState
    parked_at: datetime
    restore_at: datetime | None = None
    """The time it is (being) scheduled for again."""
    new_id: str | None = None
    """Its id in the scheduler once restored."""
    note: str = ""
    """Why it went to review, or the last error on its way."""


class ParkedStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def save(self, post: ScheduledPost, now: datetime) -> ParkedPost:
        """Save the post in state `parking`; if it is saved already, the saved one."""
        parked = ParkedPost(post, ParkState.PARKING, now)
        if self.table.put_new(_encode(parked)):
            return parked
        return self._stored(post.scheduler, post.id)

    def get(self, scheduler: str, post_id: str) -> ParkedPost | None:
        item = self.table.read(keys.parked(scheduler, post_id))
        return _decode(item) if item is not None else None

    def _stored(self, scheduler: str, post_id: str) -> ParkedPost:
        stored = self.get(scheduler, post_id)
        if stored is None:
            raise LookupError(f"parked post {scheduler}/{post_id} vanished")
        return stored

    def of(self, scheduler: str) -> Iterator[ParkedPost]:
        """Every post ever parked from `scheduler` (consistent)."""
        for item in self.table.query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.parked_partition(scheduler)}},
            ConsistentRead=True,
        ):
            yield _decode(item)

    def advance(
        self,
        parked: ParkedPost,
        to: ParkState,
        *,
        restore_at: datetime | None = None,
        new_id: str | None = None,
        note: str | None = None,
    ) -> ParkedPost:
        """Move the post on from the state it was read in. If it has moved on already (a
        re-run, or this very write whose answer was lost), the stored one is returned; the
        caller goes on from its state."""
        updated = replace(
            parked,
            state=to,
            restore_at=restore_at if restore_at is not None else parked.restore_at,
            new_id=new_id if new_id is not None else parked.new_id,
            note=note if note is not None else parked.note,
        )
        fields = {
            "restore_at": iso(updated.restore_at) if updated.restore_at else None,
            "new_id": updated.new_id,
            "note": updated.note[:500] if updated.note else None,
        }
        key = keys.parked(parked.post.scheduler, parked.post.id)
        if self.table.move_state(key, parked.state.value, to.value, fields):
            return updated
        return self._stored(parked.post.scheduler, parked.post.id)


def _encode(parked: ParkedPost) -> Item:
    post = parked.post
    item: Item = {
        **keys.parked(post.scheduler, post.id),
        "state": {"S": parked.state.value},
        "scheduler": {"S": post.scheduler},
        "post_id": {"S": post.id},
        "scheduled_at": {"S": iso(post.scheduled_at)},
        "text": {"S": post.text},
        "details": {"S": details_json(post.details)},
        "parked_at": {"S": iso(parked.parked_at)},
    }
    if parked.restore_at is not None:
        item["restore_at"] = {"S": iso(parked.restore_at)}
    if parked.new_id:
        item["new_id"] = {"S": parked.new_id}
    if parked.note:
        item["note"] = {"S": parked.note[:500]}
    return item


def _decode(item: Item) -> ParkedPost:
    def optional(name: str) -> str | None:
        value: Any = item.get(name, {}).get("S")
        return str(value) if value else None

    restore_at = optional("restore_at")
    post = ScheduledPost(
        scheduler=item["scheduler"]["S"],
        id=item["post_id"]["S"],
        scheduled_at=parse_iso(item["scheduled_at"]["S"]),
        text=item["text"]["S"],
        details=json.loads(item["details"]["S"]),
    )
    return ParkedPost(
        post=post,
        state=ParkState(item["state"]["S"]),
        parked_at=parse_iso(item["parked_at"]["S"]),
        restore_at=parse_iso(restore_at) if restore_at else None,
        new_id=optional("new_id"),
        note=optional("note") or "",
    )
