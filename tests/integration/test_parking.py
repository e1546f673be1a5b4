"""Parking and resuming every scheduler against the local stack (DynamoDB and EventBridge
Scheduler in moto, the fake Mastodon, Facebook and Hootsuite), and crashing both at every
step: after any crash and a re-run, every post is still scheduled, parked, restored or in
review, exactly once."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import time_machine
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from local.fakechannels.scheduling import facebook as fake_facebook
from local.fakechannels.scheduling import hootsuite as fake_hootsuite
from local.fakechannels.scheduling import mastodon as fake_mastodon
from local.iam import refused_calls
from local.stack import LocalStack
from stormwatch.act.parking import park_all, publish_due, resume
from stormwatch.channels.http import HttpClient
from stormwatch.channels.schedulers.base import Scheduler
from stormwatch.channels.schedulers.facebook import FacebookScheduler
from stormwatch.channels.schedulers.hootsuite import HootsuiteScheduler
from stormwatch.channels.schedulers.mastodon import MastodonScheduler
from stormwatch.channels.schedulers.queue import schedule_name
from stormwatch.config.act import HootsuiteScheduler as HootsuiteSettings
from stormwatch.persistence.crisis import Actor, CrisisModeAlreadyOn, CrisisStore
from stormwatch.persistence.parked import ParkedStore, ParkState
from stormwatch.persistence.queue import QueueState, QueueStore
from stormwatch.persistence.table import Table
from tests.granted import assert_seen
from tests.helpers import context_for

T0 = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
ANNA = Actor("arn:aws:iam::123456789012:user/anna", "anna")
BEN = Actor("arn:aws:iam::123456789012:user/ben", "ben")
WRITES = {"PutItem", "UpdateItem", "CreateSchedule", "DeleteSchedule"}


class LambdaKilled(BaseException):
    """The runtime ending the invocation: no `except Exception` catches it."""


class Crash:
    """Fails a thread's `at`-th step (an HTTP call to a fake or an AWS write) once, in one of
    three ways: before it is sent, after it was applied (answer lost), or killing the run.
    Steps are counted per thread: parking and resuming work each scheduler in a thread
    named after it (``park mastodon``), so "Mastodon's 3rd step" is the same step in every
    run, however the schedulers' threads interleave."""

    def __init__(self) -> None:
        self.points: dict[str, tuple[int, str]] = {}
        """Thread name -> (step, how it fails)."""
        self.steps: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()
        self._lock = threading.Lock()

    def arm(self, points: dict[str, tuple[int, str]] | None = None) -> None:
        with self._lock:
            self.points, self.steps = dict(points or {}), Counter()

    def step(self) -> str | None:
        thread = threading.current_thread().name
        with self._lock:
            self.steps[thread] += 1
            at, kind = self.points.get(thread, (0, ""))
            if at != self.steps[thread]:
                return None
            del self.points[thread]
            return kind


@pytest.fixture
def crash(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Crash:
    crash = Crash()
    port = f":{stack.channels.base_url.rsplit(':', 1)[1]}/"
    real_send = requests.adapters.HTTPAdapter.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        if port not in (request.url or ""):
            return real_send(self, request, **kwargs)
        fault = crash.step()
        if fault == "kill":
            crash.fired["kill http"] += 1
            raise LambdaKilled
        if fault == "before":
            crash.fired["http timeout before"] += 1
            raise requests.ConnectTimeout("injected")
        answer = real_send(self, request, **kwargs)
        if fault == "after":
            crash.fired["http timeout after"] += 1
            raise requests.ReadTimeout("injected")
        return answer

    real_call = BaseClient._make_api_call  # type: ignore[attr-defined]

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation not in WRITES:
            return real_call(self, operation, params)
        fault = crash.step()
        error = {"Error": {"Code": "InternalServerError", "Message": "injected"}}
        if fault == "kill":
            crash.fired[f"kill {operation}"] += 1
            raise LambdaKilled
        if fault == "before":
            crash.fired[f"{operation} before"] += 1
            raise ClientError(error, operation)  # type: ignore[arg-type]
        answer = real_call(self, operation, params)
        if fault == "after":
            crash.fired[f"{operation} after"] += 1
            raise ClientError(error, operation)  # type: ignore[arg-type]
        return answer

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    return crash


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def table(stack: LocalStack) -> Table:
    return Table(stack.client("dynamodb"), stack.outputs["TableName"])


def _schedulers(stack: LocalStack, table: Table) -> list[Scheduler]:
    config = stack.config()
    world = stack.world

    def context(channel: str) -> Any:
        return context_for(config, channel, lambda: world.credentials[channel])

    # Five weeks: two listing windows, as many as the posts here reach.
    settings = HootsuiteSettings(
        enabled=True, base_url=stack.channels.channel_url("hootsuite"), horizon_days=35
    )
    hootsuite = HootsuiteScheduler(
        settings,
        HttpClient("hootsuite", timeout=5),
        lambda: fake_hootsuite.CREDENTIALS,
        lambda: datetime.now(UTC),
    )
    return [
        MastodonScheduler(context("mastodon")),
        FacebookScheduler(context("facebook")),
        hootsuite,
        stack.queue_scheduler(),
    ]


def _fresh(stack: LocalStack, table: Table, **per_scheduler: int) -> dict[str, set[str]]:
    """Empty table and schedulers, then so many posts in each scheduler; their texts."""
    stack.empty_tables()
    _delete_queued_schedules(stack)
    now = datetime.now(UTC)
    fakes = {"mastodon": fake_mastodon, "facebook": fake_facebook, "hootsuite": fake_hootsuite}
    for name, fake in fakes.items():
        stack.world.state.pop(name, None)
        fake.seed(stack.world, per_scheduler[name], now)
    queue = stack.queue_scheduler()
    for number in range(per_scheduler["queue"]):
        queue.enqueue(f"q{number}", "x", f"Queued tip {number}", now + timedelta(hours=2 + number))
    return _waiting(stack, table)


ONE_EACH = {"mastodon": 1, "facebook": 1, "hootsuite": 1, "queue": 1}


def _delete_queued_schedules(stack: LocalStack) -> None:
    """The queue's one-time schedules outlive `reset` (it empties tables): a restored post's
    schedule left by an earlier case would make the next case's restore find it made."""
    client, group = stack.client("scheduler"), stack.outputs["ScheduleGroupName"]
    for page in client.get_paginator("list_schedules").paginate(GroupName=group):
        for schedule in page["Schedules"]:
            if schedule["Name"].startswith(schedule_name("")):
                client.delete_schedule(Name=schedule["Name"], GroupName=group)


def _waiting(stack: LocalStack, table: Table) -> dict[str, set[str]]:
    """The texts waiting in each scheduler; a text twice is a post made twice."""
    found: dict[str, set[str]] = {}
    for scheduler in _schedulers(stack, table):
        texts = [post.text for post in scheduler.scheduled()]
        duplicates = [text for text, n in Counter(texts).items() if n > 1]
        assert not duplicates, f"{scheduler.name}: scheduled twice: {duplicates}"
        found[scheduler.name] = set(texts)
    return found


def _parked(table: Table) -> dict[str, dict[str, ParkState]]:
    store = ParkedStore(table)
    return {
        name: {p.post.text: p.state for p in store.of(name)}
        for name in ("mastodon", "facebook", "hootsuite", "queue")
    }


def _check_nothing_lost_or_doubled(
    originals: dict[str, set[str]], stack: LocalStack, table: Table
) -> tuple[dict[str, set[str]], dict[str, dict[str, ParkState]]]:
    """Every post scheduled, parked, restored or in review, once; what is waiting and what
    is parked, for the caller's own checks."""
    waiting, parked = _waiting(stack, table), _parked(table)
    for name, texts in originals.items():
        for text in texts:
            state = parked[name].get(text)
            if text in waiting[name]:
                # Still (or again) scheduled: never parked, being parked, or restored.
                assert state in (None, ParkState.PARKING, ParkState.RESTORING, ParkState.RESTORED)
            else:
                assert state is not None, f"{name}: {text!r} lost"
                assert state is not ParkState.RESTORED, f"{name}: {text!r} restored, not there"
    return waiting, parked


def _until_complete(run: Callable[[], Any]) -> Any:
    failures: list[str] = []
    for _ in range(5):
        try:
            report = run()
        except LambdaKilled:
            failures.append("killed")
            continue
        except Exception as error:  # a failed invocation; the next one goes on
            failures.append(repr(error))
            continue
        if report.complete:
            return report
        failures.append(str(report))
    raise AssertionError(f"did not complete in five runs: {failures}")


# --- the happy path ------------------------------------------------------------------------


def test_park_saves_then_cancels_every_post_and_resume_brings_them_back(
    stack: LocalStack, table: Table, clock: Any
) -> None:
    # Given posts in every scheduler, past each listing's page or window: two Mastodon pages
    # (40 a page), Hootsuite over four weeks (two listing windows)
    _fresh(stack, table, mastodon=41, facebook=6, hootsuite=6, queue=6)
    far = datetime.now(UTC) + timedelta(days=30)
    fake_hootsuite.schedule(stack.world, "Nordwind Air: winter timetable", far)
    originals = _waiting(stack, table)
    assert len(originals["hootsuite"]) == 7
    schedulers = _schedulers(stack, table)
    crisis = CrisisStore(table)

    # When crisis mode goes on and everything is parked
    crisis.switch_on(reason="storm", by=ANNA, now=datetime.now(UTC), release_id="r1")
    report = park_all(schedulers, ParkedStore(table), lambda: datetime.now(UTC))

    # Then every post is parked, counted per scheduler, and none is waiting any more
    assert report.complete
    assert report.counts() == {name: len(texts) for name, texts in originals.items()}
    assert all(not texts for texts in _waiting(stack, table).values())
    assert all(set(states.values()) == {ParkState.PARKED} for states in _parked(table).values())

    # When the pause lasts 3 hours and resume runs
    clock.shift(timedelta(hours=3))
    resumed = resume(schedulers, ParkedStore(table), crisis, by=BEN, now=lambda: datetime.now(UTC))

    # Then crisis mode is off; posts still ahead are back at their time, the rest in review
    assert resumed.complete
    assert not crisis.read().active
    assert resumed.pause == timedelta(hours=3)
    waiting = _waiting(stack, table)
    in_review = {(p.post.scheduler, p.post.text) for p in resumed.review}
    for name, texts in originals.items():
        assert waiting[name] | {t for s, t in in_review if s == name} == texts
        assert not waiting[name] & {t for s, t in in_review if s == name}
    assert {s for s, _ in in_review} == {"mastodon", "facebook", "hootsuite", "queue"}
    assert all(
        p.post.scheduled_at < datetime.now(UTC) + timedelta(minutes=10) for p in resumed.review
    )


def test_shift_by_pause_moves_every_restored_post_by_the_pause(
    stack: LocalStack, table: Table, clock: Any
) -> None:
    # Given two posts per scheduler parked for 90 minutes
    _fresh(stack, table, mastodon=2, facebook=2, hootsuite=2, queue=2)
    schedulers = _schedulers(stack, table)
    before = {s.name: {p.text: p.scheduled_at for p in s.scheduled()} for s in schedulers}
    crisis = CrisisStore(table)
    crisis.switch_on(reason="storm", by=ANNA, now=datetime.now(UTC))
    park_all(schedulers, ParkedStore(table), lambda: datetime.now(UTC))
    clock.shift(timedelta(minutes=90))

    # When resume shifts by the pause
    report = resume(
        schedulers,
        ParkedStore(table),
        crisis,
        by=BEN,
        now=lambda: datetime.now(UTC),
        policy="shift_by_pause",
    )

    # Then nothing goes to review and each post is 90 minutes later than it was
    assert report.complete
    assert not report.review
    for scheduler in schedulers:
        after = {p.text: p.scheduled_at for p in scheduler.scheduled()}
        assert after == {t: at + timedelta(minutes=90) for t, at in before[scheduler.name].items()}


def test_crisis_mode_set_twice_is_a_clear_error_unless_the_same_release_reruns(
    stack: LocalStack, table: Table, clock: Any
) -> None:
    stack.reset()
    crisis = CrisisStore(table)
    # Given crisis mode set by a release
    first = crisis.switch_on(reason="storm", by=ANNA, now=T0, release_id="r1")
    # When the same release runs again, it goes on; anybody else is told who set it
    assert crisis.switch_on(reason="storm", by=ANNA, now=T0, release_id="r1") == first
    with pytest.raises(CrisisModeAlreadyOn, match="set by anna"):
        crisis.switch_on(reason="pause", by=BEN, now=T0)
    # And a consistent read sees it at once
    assert crisis.read().active
    assert crisis.read().set_by == ANNA


def test_a_queued_post_is_held_while_crisis_mode_is_on_and_sent_once_otherwise(
    stack: LocalStack, table: Table, clock: Any
) -> None:
    stack.reset()
    queue_store, crisis, parked = QueueStore(table), CrisisStore(table), ParkedStore(table)
    queue = stack.queue_scheduler()
    queue.enqueue("held", "x", "Held post", T0 + timedelta(hours=1))
    queue.enqueue("sent", "x", "Sent post", T0 + timedelta(hours=1))
    sent: list[str] = []

    class Recorder:
        def publish(self, channel: str, text: str, *, idempotency_key: str) -> str:
            sent.append(text)
            return f"id-{idempotency_key}"

    now = lambda: datetime.now(UTC)  # noqa: E731
    crisis.switch_on(reason="storm", by=ANNA, now=T0)
    # When the schedule fires with crisis mode on: not sent, parked for review on resume
    assert publish_due("held", queue_store, crisis, parked, Recorder(), now) == "held"
    assert sent == []
    held = parked.get("queue", "held")
    assert held is not None
    assert held.state is ParkState.PARKED
    # When it fires with crisis mode off, twice: sent once
    crisis.switch_off(by=BEN, now=T0)
    assert publish_due("sent", queue_store, crisis, parked, Recorder(), now) == "published"
    assert publish_due("sent", queue_store, crisis, parked, Recorder(), now) == "published"
    assert sent == ["Sent post"]
    stored = queue_store.get("sent")
    assert stored is not None
    assert stored.state is QueueState.PUBLISHED


# --- crashes at every step -------------------------------------------------------------------


def test_crashes_at_every_step_of_park_and_resume_lose_nothing_and_double_nothing(
    stack: LocalStack, table: Table, clock: Any, crash: Crash
) -> None:
    """For each step k of park (and of resume), a run fails at step k of each scheduler
    (before it, after it with the answer lost, or killed) while the schedulers work at the
    same time; re-runs until complete; in between and at the end every post is scheduled,
    parked, restored or in review exactly once."""
    rng = random.Random(2026)
    kinds = ("before", "after", "kill")

    def now() -> datetime:
        return datetime.now(UTC)

    # Count each thread's steps in a clean run first (resume's own: crisis mode off).
    _fresh(stack, table, **ONE_EACH)
    CrisisStore(table).switch_on(reason="storm", by=ANNA, now=now())
    crash.arm()
    park_all(_schedulers(stack, table), ParkedStore(table), now)
    park_steps = dict(crash.steps)
    crash.arm()
    resume(_schedulers(stack, table), ParkedStore(table), CrisisStore(table), by=BEN, now=now)
    resume_steps = dict(crash.steps)
    names = ["mastodon", "facebook", "hootsuite", "queue"]
    assert set(park_steps) == {f"park {name}" for name in names}
    assert set(resume_steps) == {*(f"resume {name}" for name in names), "MainThread"}
    assert sum(park_steps.values()) > 15
    assert sum(resume_steps.values()) > 10

    # Step k of every scheduler fails in the same run: each scheduler's k-th step is
    # crashed as it would be alone (their posts are apart), in a quarter of the runs.
    for step in range(1, max(*park_steps.values(), *resume_steps.values()) + 1):
        clock.move_to(T0)
        originals = _fresh(stack, table, **ONE_EACH)
        crisis = CrisisStore(table)
        crisis.switch_on(reason="storm", by=ANNA, now=now())

        crash.arm({thread: (step, rng.choice(kinds)) for thread in park_steps})
        _until_complete(lambda: park_all(_schedulers(stack, table), ParkedStore(table), now))
        crash.arm()
        waiting, parked = _check_nothing_lost_or_doubled(originals, stack, table)
        assert all(set(states.values()) == {ParkState.PARKED} for states in parked.values()), (
            f"park, step {step}: {parked}"
        )
        assert not any(waiting.values())

        clock.shift(timedelta(minutes=30))
        crash.arm({thread: (step, rng.choice(kinds)) for thread in resume_steps})
        report = _until_complete(
            lambda: resume(
                _schedulers(stack, table), ParkedStore(table), CrisisStore(table), by=BEN, now=now
            )
        )
        crash.arm()
        waiting, parked = _check_nothing_lost_or_doubled(originals, stack, table)
        assert not report.review
        assert waiting == originals, f"resume, step {step}"
        assert all(set(states.values()) == {ParkState.RESTORED} for states in parked.values())
    fired = " ".join(crash.fired)
    for expected in (
        "http timeout before",
        "http timeout after",
        "kill http",
        "PutItem",
        "UpdateItem",
        "DeleteSchedule",
        "CreateSchedule",
    ):
        assert expected in fired, crash.fired


def test_the_deployed_function_publishes_a_due_queued_post_once_through_the_channel(
    stack: LocalStack, table: Table
) -> None:
    """The function as deployed from the template, wired to the channel's real publisher:
    a due post goes out on Mastodon once, however often its schedule fires; with crisis
    mode on it does not go out."""
    from local.fakechannels.publishing import published

    stack.reset()
    crisis = CrisisStore(table)
    now = datetime.now(UTC)
    queue = stack.queue_scheduler()
    queue.enqueue("due-post", "mastodon", "Unser Herbstfahrplan ist da.", now + timedelta(hours=1))
    queue.enqueue("held-post", "mastodon", "Nicht jetzt.", now + timedelta(hours=1))
    # When the schedule fires twice (a redelivery)
    first = stack.invoke("PublishScheduledFunction", {"post_id": "due-post"})
    again = stack.invoke("PublishScheduledFunction", {"post_id": "due-post"})
    # And another fires while crisis mode is on
    crisis.switch_on(reason="storm", by=ANNA, now=now)
    held = stack.invoke("PublishScheduledFunction", {"post_id": "held-post"})
    # Then the first went out once, with its text, and the held one did not
    texts = [post["text"] for post in published(stack.world, "mastodon")]
    assert texts == ["Unser Herbstfahrplan ist da."]
    assert (first["outcome"], again["outcome"], held["outcome"]) == (
        "published",
        "published",
        "held",
    )
    # ...and every call it made is one its role allows, on partitions its LeadingKeys allow
    function = "PublishScheduledFunction"
    assert stack.deployment is not None
    called, partitions = stack.aws_actions[function], stack.table_partitions[function]
    assert {partition for _, partition in partitions} >= {"QUEUE", "CRISIS"}
    assert not refused_calls(stack.deployment.template, function, called, partitions)
    assert_seen(function, called)
