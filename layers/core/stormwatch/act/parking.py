"""Parking every scheduled post in a crisis, and bringing them back when it is over.

Park, per post: save it whole (state `parking`, written only if absent), cancel it in its
scheduler, mark it `parked`. A crash between any two steps leaves a saved post that a
re-run finishes: still listed -> the save finds it and cancelling goes on; no longer
listed (cancelled before the crash) -> it is finished from the store. So each post ends
parked exactly once, and none is cancelled before it was saved.

Resume: crisis mode off first (a restored post of our own queue whose time comes while
it is still on would be held, not sent), then per parked post: its time (kept, or shifted
by the pause's length, `act.resume`); a time already past, or inside the scheduler's
minimum lead, sends it to review (never sent on its own); else the intent is recorded
(`restoring`, with the time), the scheduler is asked whether an earlier attempt made it
already, and only if not is it recreated, then marked `restored` with its new id.

The schedulers are worked at once, each in a thread of its own named after the step and
the scheduler (``park mastodon``), its posts one after another in its listing's order: in
a crisis the wall time is the slowest scheduler's, not the sum. A scheduler's posts are
kept apart from the others' (their own items, their own listing), so how the threads
interleave changes nothing a re-run relies on.

One scheduler failing (down, throttled, token refused) does not stop the others; one
post failing does not stop the rest of its scheduler. A re-run picks up what failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from stormwatch.channels.schedulers.base import ScheduledPost, Scheduler, TooSoon
from stormwatch.errors import AuthFailed, RateLimited
from stormwatch.persistence.crisis import Actor, CrisisMode
from stormwatch.persistence.parked import ParkedPost, ParkState
from stormwatch.persistence.queue import QueuedPost, QueueState

logger = logging.getLogger(__name__)

ResumePolicy = Literal["keep_time", "shift_by_pause"]
Clock = Callable[[], datetime]


class ParkedPosts(Protocol):
    """Where parked posts are kept (`persistence.parked.ParkedStore`)."""

    def save(self, post: ScheduledPost, now: datetime) -> ParkedPost: ...

    def of(self, scheduler: str) -> Iterable[ParkedPost]: ...

    def advance(
        self,
        parked: ParkedPost,
        to: ParkState,
        *,
        restore_at: datetime | None = None,
        new_id: str | None = None,
        note: str | None = None,
    ) -> ParkedPost: ...


class CrisisSwitch(Protocol):
    """The kill switch (`persistence.crisis.CrisisStore`)."""

    def switch_off(self, *, by: Actor, now: datetime) -> CrisisMode: ...


# Errors after which the scheduler's other posts would only fail the same way.
_STOPS_THE_SCHEDULER = (RateLimited, AuthFailed)


@dataclass(slots=True)
class SchedulerParkReport:
    scheduler: str
    found: int = 0
    """Posts the scheduler listed."""
    parked: int = 0
    """Parked by this run (finishing an earlier run's saved posts too)."""
    already_parked: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    """Post id -> why; the post is saved and a re-run finishes it."""
    error: str | None = None
    """Why the scheduler could not be listed or was given up, if it was."""

    @property
    def complete(self) -> bool:
        return self.error is None and not self.failed


@dataclass(frozen=True, slots=True)
class ParkReport:
    schedulers: dict[str, SchedulerParkReport]

    @property
    def complete(self) -> bool:
        return all(report.complete for report in self.schedulers.values())

    def counts(self) -> dict[str, int]:
        """Posts parked so far per scheduler (this run's and earlier runs')."""
        return {name: r.parked + r.already_parked for name, r in self.schedulers.items()}


@dataclass(slots=True)
class SchedulerResumeReport:
    scheduler: str
    restored: int = 0
    already_restored: int = 0
    review: list[ParkedPost] = field(default_factory=list)
    """Posts whose time passed: listed for a person, never sent on their own."""
    failed: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.error is None and not self.failed


@dataclass(frozen=True, slots=True)
class ResumeReport:
    crisis: CrisisMode
    pause: timedelta
    schedulers: dict[str, SchedulerResumeReport]

    @property
    def complete(self) -> bool:
        return all(report.complete for report in self.schedulers.values())

    @property
    def review(self) -> list[ParkedPost]:
        return [post for report in self.schedulers.values() for post in report.review]


# --- every scheduler at once ----------------------------------------------------------------


def _at_once[Report](
    step: str, schedulers: Sequence[Scheduler], work: Callable[[Scheduler], Report]
) -> dict[str, Report]:
    """`work(scheduler)` for every scheduler at once, one thread each, named
    ``<step> <scheduler>`` so that a log line says whose it is; the reports by name, in
    the schedulers' order.

    `work` reports a scheduler's own failures itself. Anything that still escapes it (the
    run being ended, a bug) is raised here once the other schedulers are done: their posts
    are then parked or restored rather than left half-way."""
    reports: dict[str, Report] = {}
    escaped: list[BaseException] = []

    def run(scheduler: Scheduler) -> None:
        try:
            reports[scheduler.name] = work(scheduler)
        except BaseException as error:  # re-raised below, on the caller's thread
            escaped.append(error)

    threads = [
        threading.Thread(target=run, args=(scheduler,), name=f"{step} {scheduler.name}")
        for scheduler in schedulers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if escaped:
        raise escaped[0]
    return {scheduler.name: reports[scheduler.name] for scheduler in schedulers}


# --- park ------------------------------------------------------------------------------------


def park_all(schedulers: Sequence[Scheduler], store: ParkedPosts, now: Clock) -> ParkReport:
    """Save, then cancel, every post waiting in every scheduler (the schedulers at once)."""
    return ParkReport(_at_once("park", schedulers, lambda s: _park_scheduler(s, store, now)))


def _park_scheduler(scheduler: Scheduler, store: ParkedPosts, now: Clock) -> SchedulerParkReport:
    report = SchedulerParkReport(scheduler.name)
    # Saved by an earlier run and perhaps cancelled already: finished below if not listed.
    try:
        unfinished = [p for p in store.of(scheduler.name) if p.state is ParkState.PARKING]
        listed = list(scheduler.scheduled())
    except Exception as error:
        report.error = f"listing failed: {error}"
        logger.warning("%s: %s", scheduler.name, report.error)
        return report
    report.found = len(listed)
    listed_ids = {post.id for post in listed}
    work: list[ScheduledPost | ParkedPost] = [
        *listed,
        *(saved for saved in unfinished if saved.post.id not in listed_ids),
    ]
    for item in work:
        post_id = item.id if isinstance(item, ScheduledPost) else item.post.id
        try:
            saved = store.save(item, now()) if isinstance(item, ScheduledPost) else item
            if saved.state is not ParkState.PARKING:
                # Listed again although parked: its cancel did not hold; cancel it again.
                scheduler.cancel(saved.post)
                report.already_parked += 1
                continue
            scheduler.cancel(saved.post)
            store.advance(saved, ParkState.PARKED)
            report.parked += 1
        except _STOPS_THE_SCHEDULER as error:
            report.error = str(error)
            break
        except Exception as error:
            report.failed[post_id] = str(error)[:300]
    return report


# --- resume ----------------------------------------------------------------------------------


def resume(
    schedulers: Sequence[Scheduler],
    store: ParkedPosts,
    crisis: CrisisSwitch,
    *,
    by: Actor,
    now: Clock,
    policy: ResumePolicy = "keep_time",
) -> ResumeReport:
    """End crisis mode, then restore every parked post, the schedulers at once (safe to run
    again after a crash)."""
    mode = crisis.switch_off(by=by, now=now())
    pause = timedelta(0)
    if mode.since is not None and mode.ended_at is not None:
        pause = max(timedelta(0), mode.ended_at - mode.since)
    shift = pause if policy == "shift_by_pause" else timedelta(0)
    reports = _at_once(
        "resume", schedulers, lambda s: _resume_scheduler(s, store, shift, mode, now)
    )
    return ResumeReport(mode, pause, reports)


def _resume_scheduler(
    scheduler: Scheduler,
    store: ParkedPosts,
    shift: timedelta,
    mode: CrisisMode,
    now: Clock,
) -> SchedulerResumeReport:
    report = SchedulerResumeReport(scheduler.name)
    try:
        saved = list(store.of(scheduler.name))
    except Exception as error:
        report.error = f"reading parked posts failed: {error}"
        return report
    for parked in saved:
        try:
            final = _restore(scheduler, store, parked, shift, now)
        except _STOPS_THE_SCHEDULER as error:
            report.error = str(error)
            break
        except Exception as error:
            report.failed[parked.post.id] = str(error)[:300]
            continue
        if final.state is ParkState.REVIEW:
            this_pause = mode.since is None or final.parked_at >= mode.since
            if this_pause or parked.state is not ParkState.REVIEW:
                report.review.append(final)
        elif parked.state is ParkState.RESTORED:
            report.already_restored += 1
        elif final.state is ParkState.RESTORED:
            report.restored += 1
    return report


def _restore(
    scheduler: Scheduler,
    store: ParkedPosts,
    parked: ParkedPost,
    shift: timedelta,
    now: Clock,
) -> ParkedPost:
    """Take one parked post as far as it goes: restored, or in review."""
    if parked.state is ParkState.PARKING:
        # Parking never finished: it may still be waiting in the scheduler. Finish it.
        scheduler.cancel(parked.post)
        parked = store.advance(parked, ParkState.PARKED)
    # Only a post found half-restored can have been made by an earlier attempt; looking for
    # it costs a listing, so a post this run starts restoring skips the look.
    earlier_attempt = parked.state is ParkState.RESTORING
    if parked.state is ParkState.PARKED:
        target = parked.post.scheduled_at + shift
        if target < now() + scheduler.minimum_lead:
            return store.advance(parked, ParkState.REVIEW, note="its time passed during the pause")
        parked = store.advance(parked, ParkState.RESTORING, restore_at=target)
    if parked.state is not ParkState.RESTORING:
        return parked
    target = parked.restore_at or parked.post.scheduled_at + shift
    found = scheduler.find_recreated(parked.post, target) if earlier_attempt else None
    if found is not None:
        return store.advance(parked, ParkState.RESTORED, new_id=found)
    if target < now() + scheduler.minimum_lead:
        return store.advance(parked, ParkState.REVIEW, note="its time passed while restoring")
    try:
        new_id = scheduler.recreate(parked.post, target)
    except TooSoon as error:
        return store.advance(parked, ParkState.REVIEW, note=str(error))
    return store.advance(parked, ParkState.RESTORED, new_id=new_id)


# --- our own queue at send time ----------------------------------------------------------------


class Publisher(Protocol):
    """Sends one post on one channel (wired to `stormwatch.channels.publishers`)."""

    def publish(self, channel: str, text: str, *, idempotency_key: str) -> str:
        """The published post's id on the channel."""
        ...


class CrisisReader(Protocol):
    def read(self) -> CrisisMode: ...


class QueuedPosts(Protocol):
    """Our queue (`persistence.queue.QueueStore`)."""

    def get(self, post_id: str) -> QueuedPost | None: ...

    def advance(
        self,
        post: QueuedPost,
        to: QueueState,
        *,
        published_id: str | None = None,
        note: str | None = None,
    ) -> QueuedPost: ...

    def claim(self, post: QueuedPost) -> bool: ...


def publish_due(
    post_id: str,
    queue: QueuedPosts,
    crisis: CrisisReader,
    parked: ParkedPosts,
    publisher: Publisher,
    now: Clock,
) -> str:
    """What a queued post's one-time schedule does when it fires; the outcome's name.

    With crisis mode on, nothing goes out: the post is parked like any other (its schedule
    has run, so resume finds its time passed and lists it for review). A post found in
    `publishing` was being sent by an attempt that died: whether it went out is unknown,
    so it goes to review rather than out a second time.
    """
    post = queue.get(post_id)
    if post is None:
        return "unknown"
    if post.state is QueueState.PUBLISHING:
        queue.advance(post, QueueState.REVIEW, note="an earlier attempt died while sending")
        return "review"
    if post.state is not QueueState.QUEUED:
        return post.state.value
    if crisis.read().active:
        saved = parked.save(
            ScheduledPost(
                "queue",
                post.id,
                post.scheduled_at,
                post.text,
                {"channel": post.channel, **post.details},
            ),
            now(),
        )
        if saved.state is ParkState.PARKING:
            parked.advance(saved, ParkState.PARKED)
        queue.advance(post, QueueState.CANCELLED, note="held: crisis mode was on")
        return "held"
    if not queue.claim(post):
        return "taken"
    claimed = replace(post, state=QueueState.PUBLISHING)
    try:
        published = publisher.publish(post.channel, post.text, idempotency_key=post.id)
    except Exception as error:
        queue.advance(claimed, QueueState.REVIEW, note=f"publishing failed: {error}"[:500])
        raise
    queue.advance(claimed, QueueState.PUBLISHED, published_id=published)
    return "published"
