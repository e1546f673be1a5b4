"""The newest-first chain rule, against an in-memory listing with a lower and upper bound."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stormwatch.channels.base import Cursor
from stormwatch.channels.chains import (
    ChainItem,
    ChainPage,
    newest_first_pages,
    position_of_time,
    time_of_position,
)
from stormwatch.errors import ExpiredPageToken
from stormwatch.model import Mention
from tests.helpers import examples

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def _mention(number: int, moment: datetime) -> Mention:
    return Mention("test", f"m{number}", "", "a", "t", moment)


class Listing:
    """A newest-first API: ids grow with time; `lower`/`upper` filter; tokens page."""

    def __init__(self, page_size: int, time_positions: bool, lag: timedelta = timedelta(0)):
        self.items: list[tuple[int, datetime, datetime]] = []  # (id, created, visible from)
        self.page_size = page_size
        self.time_positions = time_positions
        self.lag = lag
        self.now = T0
        self.expired_tokens = False
        self.calls = 0

    def add(self, number: int, created: datetime, visible_after: timedelta = timedelta(0)) -> None:
        self.items.append((number, created, created + visible_after))

    def position(self, number: int, created: datetime) -> str:
        return position_of_time(created) if self.time_positions else str(number)

    def fetch(self, lower: str | None, token: str | None, upper: str | None) -> ChainPage:
        self.calls += 1
        if token is not None and self.expired_tokens:
            raise ExpiredPageToken("test", "token expired")
        visible = [(n, c) for n, c, v in self.items if v <= self.now]
        visible.sort(key=lambda pair: (pair[1], pair[0]), reverse=True)

        def key(position: str) -> tuple[int, str]:
            return (len(position), position)

        if lower is not None and lower != "0":
            visible = [
                (n, c)
                for n, c in visible
                if key(self.position(n, c)) >= key(lower)
                and (self.time_positions or key(self.position(n, c)) > key(lower))
            ]
        if upper is not None:
            visible = [(n, c) for n, c in visible if key(self.position(n, c)) < key(upper)]
        if token:
            # Keyset paging like the real APIs: the token names the last item returned.
            last_created, last_number = token.split("|")
            visible = [
                (n, c) for n, c in visible if (c.isoformat(), n) < (last_created, int(last_number))
            ]
        page = visible[: self.page_size]
        more = len(visible) > self.page_size
        return ChainPage(
            [ChainItem(_mention(n, c), self.position(n, c)) for n, c in page],
            f"{page[-1][1].isoformat()}|{page[-1][0]}" if more else None,
        )


def _drain(
    listing: Listing,
    cursor: Cursor | None,
    start: str,
    overlap: timedelta | None,
    seen: Counter[str],
    stop_after: int | None = None,
) -> Cursor | None:
    for index, page in enumerate(newest_first_pages(cursor, start, listing.fetch, overlap=overlap)):
        for mention in page.mentions:
            seen[mention.id] += 1
        cursor = page.cursor
        if stop_after is not None and index + 1 >= stop_after:
            break
    return cursor


def test_a_chain_cut_short_resumes_instead_of_jumping_to_the_newest() -> None:
    # Given 50 posts, pages of 10, and a run that stops after 2 pages
    listing = Listing(page_size=10, time_positions=False)
    for n in range(1, 51):
        listing.add(n, T0 + timedelta(seconds=n))
    listing.now = T0 + timedelta(minutes=1)
    seen: Counter[str] = Counter()
    cursor = _drain(listing, None, "0", None, seen, stop_after=2)
    assert set(seen) == {f"m{n}" for n in range(31, 51)}
    # When 5 new posts arrive before the next run, which finishes
    listing.now = T0 + timedelta(minutes=5)
    for n in range(51, 56):
        listing.add(n, T0 + timedelta(seconds=100 + n))
    cursor = _drain(listing, cursor, "0", None, seen)
    # Then the old chain was finished first: 1..30 are read, not skipped for 51..55
    assert set(seen) == {f"m{n}" for n in range(1, 51)}
    # And the next run reads exactly the new posts
    _drain(listing, cursor, "0", None, seen)
    assert set(seen) == {f"m{n}" for n in range(1, 56)}
    assert max(seen.values()) == 1


def test_an_expired_token_resumes_below_the_floor() -> None:
    # Given a chain cut short after one page, and its token then expires
    listing = Listing(page_size=10, time_positions=False)
    for n in range(1, 31):
        listing.add(n, T0 + timedelta(seconds=n))
    listing.now = T0 + timedelta(minutes=1)
    seen: Counter[str] = Counter()
    cursor = _drain(listing, None, "0", None, seen, stop_after=1)
    listing.expired_tokens = True
    # When the next run resumes / Then it continues below what it read, nothing twice
    _drain(listing, cursor, "0", None, seen)
    assert set(seen) == {f"m{n}" for n in range(1, 31)}
    assert max(seen.values()) == 1


def test_a_post_indexed_late_inside_the_overlap_is_read_once() -> None:
    # Given time positions with a two-minute overlap
    listing = Listing(page_size=5, time_positions=True)
    for n in range(1, 11):
        listing.add(n, T0 + timedelta(seconds=10 * n))
    listing.now = T0 + timedelta(minutes=3)
    seen: Counter[str] = Counter()
    cursor = _drain(listing, None, position_of_time(T0), timedelta(minutes=2), seen)
    # When a post written 30 s before the newest one shows up in the index only later
    listing.add(99, T0 + timedelta(seconds=70), visible_after=timedelta(minutes=2))
    listing.now = T0 + timedelta(minutes=4)
    _drain(listing, cursor, position_of_time(T0), timedelta(minutes=2), seen)
    # Then it is read, and nothing before it a second time
    assert seen["m99"] == 1
    assert max(seen.values()) == 1


def test_time_positions_round_trip() -> None:
    moment = datetime(2026, 3, 29, 1, 59, 59, 123456, tzinfo=UTC)
    assert time_of_position(position_of_time(moment)) == moment
    assert len(position_of_time(moment)) == len(position_of_time(T0))


@settings(max_examples=examples(40), deadline=None)
@given(
    seed=st.integers(0, 10_000),
    time_positions=st.booleans(),
    page_size=st.integers(1, 7),
)
def test_random_arrivals_and_cuts_read_everything_once(
    seed: int, time_positions: bool, page_size: int
) -> None:
    # Given posts arriving at random while runs stop after a random number of pages
    rng = random.Random(seed)
    listing = Listing(page_size=page_size, time_positions=time_positions)
    overlap = timedelta(minutes=2) if time_positions else None
    start = position_of_time(T0 - timedelta(minutes=1)) if time_positions else "0"
    seen: Counter[str] = Counter()
    cursor: Cursor | None = None
    number = 0
    moment = T0
    for _ in range(40):
        for _ in range(rng.randint(0, 8)):
            number += 1
            moment += timedelta(seconds=rng.randint(1, 20))
            lag = (
                timedelta(seconds=rng.choice([0, 0, 0, 30, 90])) if time_positions else timedelta(0)
            )
            listing.add(number, moment, visible_after=lag)
        listing.now = moment + timedelta(seconds=rng.randint(0, 60))
        listing.expired_tokens = rng.random() < 0.2
        cursor = _drain(listing, cursor, start, overlap, seen, stop_after=rng.randint(1, 3))
    # When the last runs catch up
    listing.now = moment + timedelta(hours=1)
    listing.expired_tokens = False
    for _ in range(200):
        before = cursor
        cursor = _drain(listing, cursor, start, overlap, seen)
        if cursor == before:
            break
    # Then every post was read exactly once
    assert set(seen) == {f"m{n}" for n in range(1, number + 1)}
    assert not [key for key, count in seen.items() if count > 1]
