"""Parking and resuming work every scheduler at once, each one's posts in order: in-memory
schedulers and store, so that what runs when (and on which thread) can be seen."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from stormwatch.act.parking import park_all, resume
from stormwatch.channels.schedulers.base import ScheduledPost
from stormwatch.errors import AuthFailed
from stormwatch.persistence.crisis import Actor, CrisisMode
from stormwatch.persistence.parked import ParkedPost, ParkState

T0 = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
BEN = Actor("arn:aws:iam::123456789012:user/ben", "ben")
NAMES = ("mastodon", "facebook", "hootsuite", "queue")
WAIT = 5.0  # seconds a scheduler waits for the others; only a failing test waits this long


def now() -> datetime:
    return T0


class Journal:
    """What happened, in order, with the thread it happened on."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def add(self, event: str) -> None:
        with self._lock:
            self.events.append((threading.current_thread().name, event))

    def of(self, scheduler: str) -> list[str]:
        return [event for _, event in self.events if event.split()[1].startswith(scheduler)]


class MemoryScheduler:
    """A scheduler holding posts; `meet` makes it wait, at its first listing and its first
    recreate, until every scheduler sharing the barrier got there too."""

    minimum_lead = timedelta(minutes=5)

    def __init__(
        self, name: str, count: int, journal: Journal, meet: threading.Barrier | None = None
    ) -> None:
        self.name = name
        self.journal = journal
        self.meet = meet
        self.waiting = {
            f"{name}-{n}": ScheduledPost(name, f"{name}-{n}", T0 + timedelta(hours=1 + n), f"{n}")
            for n in range(count)
        }
        self.fail_with: BaseException | None = None
        self._met: set[str] = set()

    def _rendezvous(self, where: str) -> None:
        if self.meet is not None and where not in self._met:
            self._met.add(where)
            self.meet.wait(WAIT)

    def scheduled(self) -> list[ScheduledPost]:
        self._rendezvous("list")
        self.journal.add(f"list {self.name}")
        return list(self.waiting.values())

    def cancel(self, post: ScheduledPost) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.journal.add(f"cancel {post.id}")
        self.waiting.pop(post.id, None)

    def recreate(self, post: ScheduledPost, at: datetime) -> str:
        self._rendezvous("recreate")
        self.journal.add(f"recreate {post.id}")
        restored = replace(post, id=f"{post.id}-again", scheduled_at=at)
        self.waiting[restored.id] = restored
        return restored.id

    def find_recreated(self, post: ScheduledPost, at: datetime) -> str | None:
        return None


class MemoryParked:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.posts: dict[tuple[str, str], ParkedPost] = {}
        self._lock = threading.Lock()

    def save(self, post: ScheduledPost, now: datetime) -> ParkedPost:
        with self._lock:
            saved = self.posts.setdefault(
                (post.scheduler, post.id), ParkedPost(post, ParkState.PARKING, now)
            )
        self.journal.add(f"save {post.id}")
        return saved

    def of(self, scheduler: str) -> Iterable[ParkedPost]:
        with self._lock:
            return [p for (name, _), p in sorted(self.posts.items()) if name == scheduler]

    def advance(
        self,
        parked: ParkedPost,
        to: ParkState,
        *,
        restore_at: datetime | None = None,
        new_id: str | None = None,
        note: str | None = None,
    ) -> ParkedPost:
        moved = replace(
            parked,
            state=to,
            restore_at=restore_at or parked.restore_at,
            new_id=new_id or parked.new_id,
            note=note or parked.note,
        )
        with self._lock:
            self.posts[(parked.post.scheduler, parked.post.id)] = moved
        self.journal.add(f"{to.value} {parked.post.id}")
        return moved


class Switch:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def switch_off(self, *, by: Actor, now: datetime) -> CrisisMode:
        self.journal.add("crisis-off all")
        return CrisisMode(active=False, since=T0, ended_at=now, ended_by=by, version=2)


def schedulers(journal: Journal, count: int = 3, *, meet: bool = True) -> list[MemoryScheduler]:
    barrier = threading.Barrier(len(NAMES)) if meet else None
    return [MemoryScheduler(name, count, journal, barrier) for name in NAMES]


def test_park_works_every_scheduler_at_once_each_in_order_saving_before_cancelling() -> None:
    # Given four schedulers that each wait at their listing until all four are listing
    # (one after another, the first would wait in vain and fail its listing)
    journal = Journal()
    all_of_them = schedulers(journal)

    # When everything is parked
    report = park_all(all_of_them, MemoryParked(journal), now)

    # Then every scheduler was worked on a thread of its own, and counted on its own
    assert report.complete
    assert report.counts() == dict.fromkeys(NAMES, 3)
    assert list(report.schedulers) == list(NAMES)
    assert {thread for thread, _ in journal.events} == {f"park {name}" for name in NAMES}
    # And within one scheduler its posts went in listing order, each saved before cancelled
    for name in NAMES:
        expected = [f"list {name}"]
        for n in range(3):
            expected += [f"save {name}-{n}", f"cancel {name}-{n}", f"parked {name}-{n}"]
        assert journal.of(name) == expected
    assert all(not scheduler.waiting for scheduler in all_of_them)


def test_a_scheduler_that_fails_stops_only_itself_and_its_error_is_reported() -> None:
    # Given a Hootsuite whose token is refused
    journal = Journal()
    all_of_them = schedulers(journal, meet=False)
    all_of_them[2].fail_with = AuthFailed("hootsuite", "token refused")
    store = MemoryParked(journal)

    # When everything is parked
    report = park_all(all_of_them, store, now)

    # Then the others are parked whole; Hootsuite reports why, its first post saved
    assert not report.complete
    assert report.schedulers["hootsuite"].error is not None
    assert "token refused" in report.schedulers["hootsuite"].error
    assert report.counts() == {"mastodon": 3, "facebook": 3, "hootsuite": 0, "queue": 3}
    assert [p.state for p in store.of("hootsuite")] == [ParkState.PARKING]


class RunEnded(BaseException):
    """The runtime ending the invocation: no `except Exception` catches it."""


def test_a_run_ended_in_one_scheduler_ends_the_call_once_the_others_are_done() -> None:
    # Given a run that is ended while Facebook cancels its first post
    journal = Journal()
    all_of_them = schedulers(journal, meet=False)
    all_of_them[1].fail_with = RunEnded()
    store = MemoryParked(journal)

    # When everything is parked, it ends as the run was ended
    with pytest.raises(RunEnded):
        park_all(all_of_them, store, now)

    # And the other schedulers' posts are parked, not left half-way; Facebook's first is
    # saved, so a re-run finishes it
    for name in ("mastodon", "hootsuite", "queue"):
        assert [p.state for p in store.of(name)] == [ParkState.PARKED] * 3
    assert [p.state for p in store.of("facebook")] == [ParkState.PARKING]
    all_of_them[1].fail_with = None
    again = park_all(all_of_them, store, now)
    assert again.complete
    assert again.counts() == {"mastodon": 0, "facebook": 3, "hootsuite": 0, "queue": 0}
    assert all(p.state is ParkState.PARKED for p in store.posts.values())


def test_resume_ends_crisis_mode_first_then_restores_every_scheduler_at_once() -> None:
    # Given every scheduler's posts parked
    journal = Journal()
    store = MemoryParked(journal)
    park_all(schedulers(journal, meet=False), store, now)
    journal.events.clear()

    # When resume runs with four schedulers that each wait at their first recreate for the
    # other three
    report = resume(schedulers(journal, count=0), store, Switch(journal), by=BEN, now=now)

    # Then crisis mode went off before anything was restored, on the caller's thread
    assert journal.events[0] == (threading.current_thread().name, "crisis-off all")
    # And every scheduler was restored on its own thread, its posts in order
    assert report.complete
    assert {name: r.restored for name, r in report.schedulers.items()} == dict.fromkeys(NAMES, 3)
    for name in NAMES:
        restores = [e for e in journal.of(name) if e.startswith("recreate")]
        assert restores == [f"recreate {name}-{n}" for n in range(3)]
        assert {t for t, e in journal.events if e.endswith(f" {name}-0")} == {f"resume {name}"}
