"""Crisis mode: the kill switch, one item (`CRISIS` / `MODE`) every publisher of ours reads
at send time.

Reads are consistent: a publisher that reads right after the switch was set must see it.
They are a Query on the item's key with ``ConsistentRead`` rather than a GetItem, so the
functions keep the permissions they have (Query, PutItem, UpdateItem; no GetItem, see
docs/decisions) and the read costs the same half unit.

Setting it is a conditional put (only when it is off or was never set); the item stays
when it is switched off, with when the pause ended, so that `resume` can shift posts by
the pause's length and a re-run of resume still knows it.

A pause that answers an alert names it; switching on and off then also adds the step to
that alert's timeline (`persistence.timeline`) in the same transaction, so the timeline
has each pause and resume once, exactly when the switch moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stormwatch.errors import StormwatchError
from stormwatch.model import iso, parse_iso
from stormwatch.persistence import keys
from stormwatch.persistence.table import Item, Table, cancellation_reasons, condition_failed
from stormwatch.persistence.timeline import PAUSED, RESUMED, TimelineEntry
from stormwatch.persistence.timeline import put_action as timeline_put


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: their verified identity (an IAM principal ARN or cognito:<user>) and the
    contact id the config gives that identity."""

    identity: str
    contact: str


@dataclass(frozen=True, slots=True)
class CrisisMode:
    active: bool
    reason: str = ""
    set_by: Actor | None = None
    since: datetime | None = None
    resume_at: datetime | None = None
    """When it is to be switched off on its own, if whoever set it said so."""
    release_id: str | None = None
    """The release that set it, if one did (a re-run of that release may set it again)."""
    alert_id: str | None = None
    """The alert the pause answers, if whoever set it named one."""
    ended_at: datetime | None = None
    ended_by: Actor | None = None
    version: int = 0
    """0: never set."""


OFF = CrisisMode(active=False)


class CrisisModeAlreadyOn(StormwatchError):
    """Crisis mode is on already (set by somebody else, or by another release)."""

    def __init__(self, current: CrisisMode) -> None:
        who = current.set_by.contact if current.set_by else "somebody"
        since = iso(current.since) if current.since else "?"
        super().__init__(f"crisis mode is already on: set by {who} at {since} ({current.reason})")
        self.current = current


class CrisisStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def read(self) -> CrisisMode:
        """The switch as it is now (a strongly consistent read)."""
        item = self.table.read(keys.crisis_mode())
        return _decode(item) if item is not None else OFF

    def switch_on(
        self,
        *,
        reason: str,
        by: Actor,
        now: datetime,
        resume_at: datetime | None = None,
        release_id: str | None = None,
        alert_id: str | None = None,
    ) -> CrisisMode:
        """Switch it on. When it is on already: the same release re-running gets the switch
        as it is; anybody else gets `CrisisModeAlreadyOn`."""
        from botocore.exceptions import ClientError

        current = self.read()
        if current.active:
            return _same_release(current, release_id)
        mode = CrisisMode(
            active=True,
            reason=reason,
            set_by=by,
            since=now,
            resume_at=resume_at,
            release_id=release_id,
            alert_id=alert_id,
            version=current.version + 1,
        )
        step = None
        if alert_id is not None:
            step = TimelineEntry(
                now,
                PAUSED,
                f"crisis-{mode.version}",
                by.contact,
                {"reason": reason, "resume_at": iso(resume_at) if resume_at else None},
            )
        try:
            self._put(mode, "attribute_not_exists(pk) OR version = :seen", current.version, step)
        except ClientError as error:
            if not _refused(error):
                raise
            # Somebody switched it meanwhile, or our own write landed and its answer was lost.
            return _same_release(self.read(), release_id, mine=mode)
        return mode

    def switch_off(self, *, by: Actor, now: datetime) -> CrisisMode:
        """Switch it off; when it is off already (a re-run), the switch as it is."""
        from botocore.exceptions import ClientError

        current = self.read()
        if not current.active:
            return current
        ended = CrisisMode(
            active=False,
            reason=current.reason,
            set_by=current.set_by,
            since=current.since,
            resume_at=current.resume_at,
            release_id=current.release_id,
            alert_id=current.alert_id,
            ended_at=now,
            ended_by=by,
            version=current.version + 1,
        )
        step = None
        if current.alert_id is not None:
            paused = int((now - current.since).total_seconds()) if current.since else None
            step = TimelineEntry(
                now, RESUMED, f"crisis-{current.version}", by.contact, {"paused_seconds": paused}
            )
        try:
            self._put(ended, "version = :seen", current.version, step)
        except ClientError as error:
            if not _refused(error):
                raise
            return self.read()
        return ended

    def _put(self, mode: CrisisMode, condition: str, seen: int, step: TimelineEntry | None) -> None:
        put = {
            "TableName": self.table.name,
            "Item": _encode(mode),
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {":seen": {"N": str(seen)}},
        }
        if step is None or mode.alert_id is None:
            self.table.call("put_item", **put)
            return
        self.table.transact([{"Put": put}, timeline_put(self.table.name, mode.alert_id, step)])


def _refused(error: Exception) -> bool:
    """The switch's own condition failed (alone, or as the first action of a transaction)."""
    if condition_failed(error):
        return True
    reasons = cancellation_reasons(error) or []
    return bool(reasons) and reasons[0] == "ConditionalCheckFailed"


def _same_release(
    current: CrisisMode, release_id: str | None, mine: CrisisMode | None = None
) -> CrisisMode:
    if (
        mine is not None
        and current.active
        and (current.version, current.set_by, current.release_id)
        == (mine.version, mine.set_by, mine.release_id)
    ):
        return current
    if current.active and release_id is not None and current.release_id == release_id:
        return current
    if not current.active:
        raise StormwatchError("crisis mode changed while it was being switched on; try again")
    raise CrisisModeAlreadyOn(current)


def _encode(mode: CrisisMode) -> Item:
    item: Item = {
        **keys.crisis_mode(),
        "active": {"BOOL": mode.active},
        "reason": {"S": mode.reason},
        "version": {"N": str(mode.version)},
    }
    optional: dict[str, str | None] = {
        "set_by_identity": mode.set_by.identity if mode.set_by else None,
        "set_by_contact": mode.set_by.contact if mode.set_by else None,
        "since": iso(mode.since) if mode.since else None,
        "resume_at": iso(mode.resume_at) if mode.resume_at else None,
        "release_id": mode.release_id,
        "alert_id": mode.alert_id,
        "ended_at": iso(mode.ended_at) if mode.ended_at else None,
        "ended_by_identity": mode.ended_by.identity if mode.ended_by else None,
        "ended_by_contact": mode.ended_by.contact if mode.ended_by else None,
    }
    item.update({name: {"S": value} for name, value in optional.items() if value})
    return item


def _decode(item: Item) -> CrisisMode:
    def text(name: str) -> str | None:
        value: Any = item.get(name, {}).get("S")
        return str(value) if value else None

    def moment(name: str) -> datetime | None:
        value = text(name)
        return parse_iso(value) if value else None

    def actor(prefix: str) -> Actor | None:
        identity, contact = text(f"{prefix}_identity"), text(f"{prefix}_contact")
        return Actor(identity, contact) if identity and contact else None

    return CrisisMode(
        active=bool(item["active"]["BOOL"]),
        reason=text("reason") or "",
        set_by=actor("set_by"),
        since=moment("since"),
        resume_at=moment("resume_at"),
        release_id=text("release_id"),
        alert_id=text("alert_id"),
        ended_at=moment("ended_at"),
        ended_by=actor("ended_by"),
        version=int(item["version"]["N"]),
    )
