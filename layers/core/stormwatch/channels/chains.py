"""The cursor rule for APIs that list results newest first (X, Bluesky, Facebook, Reddit...).

A *chain* is one walk from the newest result down to the watermark (what the last
complete walk reached). While a chain is in progress the watermark must not move: if
the walk is cut short (time, rate limit, crash), jumping to the newest position would
skip everything between the last page read and the old watermark. So the cursor keeps
the chain - its top, its next page token, and its floor (the oldest position read so
far) - and the next run resumes it: by token, or, when the token has expired, by
asking for results older than the floor. Only a finished chain moves the watermark
to its top.

Positions are strings that sort by (length, text): numeric ids (X) or fixed-width UTC
timestamps from `position_of_time`. Time-based APIs ("since" filters) are asked from
`watermark - overlap`, because search indexes are eventually consistent and a post may
appear late with an older timestamp; what was already read inside the overlap is
recognised by a short hash kept in the cursor (`recent`), and the store's conditional
write catches anything that slips through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stormwatch.channels.base import Cursor, Page
from stormwatch.errors import ExpiredPageToken
from stormwatch.model import Mention

MAX_RECENT = 200


@dataclass(frozen=True, slots=True)
class ChainItem:
    """One result of a listing. `mention` is None for a result the adapter skips (the
    page's own post, an unreadable item): it still marks how far the chain has read."""

    mention: Mention | None
    position: str
    key: str = ""

    @property
    def identity(self) -> str:
        return self.mention.id if self.mention is not None else self.key


@dataclass(frozen=True, slots=True)
class ChainPage:
    items: list[ChainItem]
    next_token: str | None


# fetch(lower, token, upper) -> one page. `lower`: only results at or after this position
# (None: no bound); `token`: the chain's next-page token; `upper`: only results before this
# position, used to resume a chain whose token was lost.
Fetch = Callable[[str | None, str | None, str | None], ChainPage]


def position_of_time(moment: datetime) -> str:
    """A fixed-width sortable position for a timestamp (microsecond precision)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def time_of_position(position: str) -> datetime:
    return datetime.strptime(position, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _order(position: str) -> tuple[int, str]:
    return (len(position), position)


def _digest(item: ChainItem) -> str:
    return hashlib.blake2b(item.identity.encode(), digest_size=6).hexdigest()


def newest_first_pages(
    cursor: Cursor | None,
    start: str,
    fetch: Fetch,
    *,
    overlap: timedelta | None = None,
) -> Iterator[Page]:
    """Walk one chain and yield its pages with the cursor valid after each.

    `start` is the watermark when there is no cursor yet. `overlap` is None for id
    positions (ids never arrive late) and a duration for time positions.
    """
    state: dict[str, Any] = dict(cursor) if cursor else {"watermark": start, "recent": []}
    walk = _Walk(state, overlap)
    token = walk.token
    upper = walk.resume_bound() if walk.in_progress and token is None else None
    while True:
        try:
            page = fetch(walk.lower, token, upper)
        except ExpiredPageToken:
            if token is None or walk.floor is None:
                raise
            token, upper = None, walk.resume_bound()
            page = fetch(walk.lower, token, upper)
        fresh, reached_bottom = walk.take(page.items, resumed_below_floor=upper is not None)
        # An empty page with a next token is not the end: APIs return those (everything on
        # it filtered or deleted), and stopping would move the watermark over unread pages.
        done = reached_bottom or page.next_token is None
        if done:
            yield Page(fresh, walk.finished())
            return
        token, upper = page.next_token, None
        yield Page(fresh, walk.in_progress_cursor(token))


class _Walk:
    """The state of one chain while it is walked."""

    def __init__(self, state: dict[str, Any], overlap: timedelta | None) -> None:
        self.overlap = overlap
        self.watermark: str = state["watermark"]
        self.recent: dict[str, str] = dict(state.get("recent", []))
        self.lower = _lower_bound(self.watermark, overlap)
        chain = state.get("chain") or {}
        self.in_progress = bool(chain)
        self.top: str | None = chain.get("top")
        self.top_recent: dict[str, str] = dict(chain.get("top_recent", []))
        self.token: str | None = chain.get("token")
        self.floor: str | None = chain.get("floor")
        self.floor_ids: set[str] = set(chain.get("floor_ids", []))

    def resume_bound(self) -> str | None:
        """Where a chain without a token resumes: below its floor. Time filters are usually
        coarse (Facebook's are whole seconds), so a second is added and what was already
        read above the floor is skipped again in `take`."""
        if self.floor is None or self.overlap is None:
            return self.floor
        return position_of_time(time_of_position(self.floor) + timedelta(seconds=1))

    def take(
        self, items: list[ChainItem], *, resumed_below_floor: bool
    ) -> tuple[list[Mention], bool]:
        fresh: list[Mention] = []
        reached_bottom = False
        for item in items:
            position = _order(item.position)
            digest = _digest(item)
            if self.overlap is None:
                # Ids are exact: the watermark itself and everything older was read.
                if position <= _order(self.watermark):
                    reached_bottom = True
                    continue
            else:
                if position < _order(self.lower):
                    reached_bottom = True
                    continue
                if digest in self.recent:
                    continue
                if (
                    resumed_below_floor
                    and self.floor is not None
                    and (
                        position > _order(self.floor)
                        or (position == _order(self.floor) and digest in self.floor_ids)
                    )
                ):
                    continue
            if item.mention is not None:
                fresh.append(item.mention)
        self._extend(items)
        return fresh, reached_bottom

    def _extend(self, items: list[ChainItem]) -> None:
        if not items:
            return
        newest = max((item.position for item in items), key=_order)
        oldest = min((item.position for item in items), key=_order)
        if self.top is None or _order(newest) > _order(self.top):
            self.top = newest
        if self.floor is None or _order(oldest) < _order(self.floor):
            self.floor = oldest
            self.floor_ids = set()
        self.floor_ids |= {_digest(i) for i in items if i.position == self.floor}
        if self.overlap is not None and self.top is not None:
            near_top = _order(_lower_bound(self.top, self.overlap))
            for item in items:
                if _order(item.position) >= near_top:
                    self.top_recent[_digest(item)] = item.position

    def in_progress_cursor(self, token: str | None) -> Cursor:
        return {
            "watermark": self.watermark,
            "recent": sorted(self.recent.items()),
            "chain": {
                "top": self.top,
                "top_recent": _capped(self.top_recent),
                "token": token,
                "floor": self.floor,
                "floor_ids": sorted(self.floor_ids),
            },
        }

    def finished(self) -> Cursor:
        return _finished(self.watermark, self.top, self.recent, self.top_recent, self.overlap)


def without_page_token(cursor: Cursor | None) -> Cursor | None:
    """`cursor` with its chain's page token dropped, so the chain resumes below its floor;
    None when it holds no token. For a cursor that failed the same way twice in a row: a
    token the channel refuses in a shape the adapter does not know would fail every run."""
    chain = cursor.get("chain") if cursor else None
    if not cursor or not isinstance(chain, dict) or not chain.get("token"):
        return None
    return {**cursor, "chain": {**chain, "token": None}}


def _lower_bound(watermark: str, overlap: timedelta | None) -> str:
    if overlap is None:
        return watermark
    return position_of_time(time_of_position(watermark) - overlap)


def _finished(
    watermark: str,
    top: str | None,
    recent: dict[str, str],
    top_recent: dict[str, str],
    overlap: timedelta | None,
) -> Cursor:
    new_watermark = top if top is not None and _order(top) > _order(watermark) else watermark
    if overlap is None:
        return {"watermark": new_watermark, "recent": []}
    # Late arrivals read inside the overlap must be remembered even when nothing newer
    # than the watermark came: the next chain asks for the same window again.
    keep_from = _order(_lower_bound(new_watermark, overlap))
    merged = {
        digest: position
        for digest, position in {**recent, **top_recent}.items()
        if _order(position) >= keep_from
    }
    return {"watermark": new_watermark, "recent": _capped(merged)}


def _capped(recent: dict[str, str]) -> list[tuple[str, str]]:
    newest = sorted(recent.items(), key=lambda pair: _order(pair[1]), reverse=True)[:MAX_RECENT]
    return sorted(newest)
