"""The demo's Act part: after the critical alert, the on-call person pauses everything, a
holding statement is written, approved by two people (not its author), released on every
channel (one fails, and is retried), and the pause ends with the posts to review.

Every step is a `stormwatch` command through the local transport, as the person whose IAM
identity the config's ``act.people`` lists; the function on the local stack does the
rest. What the steps did is read back through the same API (`ActOutcome`), so the demo's
test checks outcomes, not printed text. The commands' full output goes to a log file.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from local.fakechannels.scheduling import seed_all
from local.stack import LocalStack
from ops.cli import main as stormwatch
from ops.transport import LocalTransport
from stormwatch.config import Config

SCHEDULED_PER_SCHEDULER = 3
"""Posts waiting in each scheduler, one an hour from an hour after the pause."""
PAUSE_LASTS = timedelta(hours=2, minutes=30)
"""Mastodon's, Facebook's and our queue's first two posts (one an hour) fall due during
the pause, Hootsuite's first (one every 12 hours); the others are restored."""
FAILING_CHANNEL = "linkedin"
STATUS_PAGE = "/web/page/updates"
"""The brand's status page on the local stack's web (the fake server answers 200)."""


@dataclass(frozen=True)
class Step:
    who: str
    command: str
    code: int
    printed: str
    error: str


@dataclass
class ActOutcome:
    """What the Act part's steps did, as the Act API reports it."""

    alert_id: str
    statement_id: str = ""
    parked: dict[str, int] = field(default_factory=dict)
    own_approval: Step | None = None
    approvals: list[str] = field(default_factory=list)
    first_release: dict[str, dict[str, Any]] = field(default_factory=dict)
    final_release: dict[str, dict[str, Any]] = field(default_factory=dict)
    restored: dict[str, int] = field(default_factory=dict)
    review: list[dict[str, Any]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0
    ended_at: datetime | None = None
    """The Act part's clock when its last step was done."""


class ActDemo:
    def __init__(self, stack: LocalStack, console: TextIO, log: TextIO) -> None:
        self.stack = stack
        self.console = console
        self.log = log
        self.config: Config = stack.config()
        self.zone = ZoneInfo(self.config.time_zone)

    # --- who -----------------------------------------------------------------------

    def identity(self, contact: str) -> str:
        for person in self.config.act.people:
            if person.contact == contact:
                return person.identities[0]
        raise LookupError(f"{contact} is not in act.people")

    def name(self, contact: str) -> str:
        return self.config.contacts[contact].name

    def holding(self, role: str, *, but: tuple[str, ...] = ()) -> list[str]:
        return [
            person.contact
            for person in self.config.act.people
            if role in person.roles and person.contact not in but
        ]

    def on_call_publisher(self, moment: datetime) -> str:
        """Who is on call then, if they may pause; else the first publisher."""
        publishers = self.holding("publisher")
        if self.config.roster is not None:
            for contact in self.config.roster.on_call(moment).contacts:
                if contact.id in publishers:
                    return contact.id
        return publishers[0]

    # --- running a command -------------------------------------------------------------

    def run(self, contact: str, *argv: str) -> Step:
        out, err = io.StringIO(), io.StringIO()
        transport = LocalTransport(self.stack, self.identity(contact))
        with contextlib.redirect_stderr(err):
            code = stormwatch(list(argv), transport=transport, confirm=lambda _: False, out=out)
        step = Step(
            self.name(contact),
            "stormwatch " + " ".join(argv),
            code,
            out.getvalue(),
            err.getvalue().strip().removeprefix("error: "),
        )
        self.log.write(f"$ {step.command}   # as {step.who}, exit {code}\n{step.printed}")
        if step.error:
            self.log.write(f"{step.error}\n")
        self.log.write("\n")
        return step

    def api(self, method: str, path: str) -> dict[str, Any]:
        transport = LocalTransport(self.stack, self.identity(self.holding("publisher")[0]))
        answer = transport.request(method, path)
        if not answer.ok:
            raise RuntimeError(f"{method} {path}: {answer.error}")
        return answer.body

    def line(self, mark: str, moment: datetime, who: str, command: str, what: str) -> None:
        local = moment.astimezone(self.zone)
        self.console.write(f"    {mark} {local:%a %H:%M}  {who:<12} {command}\n")
        self.console.write(f"      {'':9}{what}\n")


def _short(command: str, statement_id: str) -> str:
    return command.replace(statement_id, "ID") if statement_id else command


def _grid(grid: Mapping[str, Mapping[str, Any]]) -> list[str]:
    rows = [f"      {'channel':<10} {'status':<10} link or error"]
    for channel, result in grid.items():
        where = result.get("url") or result.get("error") or ""
        rows.append(f"      {channel:<10} {result['status']:<10} {where[:90]}")
    return rows


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def restored_counts(printed: str) -> dict[str, int]:
    """`stormwatch resume`'s counts ("crisis mode off; restored: mastodon 1, queue 1")."""
    first = printed.splitlines()[0] if printed else ""
    _, _, counts = first.partition("restored: ")
    pairs = (pair.rsplit(" ", 1) for pair in counts.split(", ") if " " in pair)
    return {name: int(count) for name, count in pairs}


def seed_scheduled_posts(stack: LocalStack, now: datetime) -> None:
    """Posts waiting in every scheduler: Mastodon, Facebook, Hootsuite and our own queue."""
    seed_all(stack.world, SCHEDULED_PER_SCHEDULER, now)
    queue = stack.queue_scheduler()
    for number in range(SCHEDULED_PER_SCHEDULER):
        queue.enqueue(
            f"winter-sale-{number + 1}",
            "x",
            f"Winter sale, day {number + 1}: Hamburg to Lisbon from 49 euros.",
            now + timedelta(hours=number + 1),
        )


def run_act(
    stack: LocalStack, console: TextIO, log: TextIO, *, alert_id: str, at: datetime
) -> ActOutcome:
    """The Act part, its clock starting at `at` (moving on its own, and shifted once: the
    pause lasts `PAUSE_LASTS`)."""
    import time_machine

    started = time.monotonic()
    demo = ActDemo(stack, console, log)
    outcome = ActOutcome(alert_id)
    with time_machine.travel(at, tick=True) as clock:
        seed_scheduled_posts(stack, at)
        publisher = demo.on_call_publisher(at)
        author = demo.holding("author")[0]
        # Two approvers other than the author, the publisher too where there are enough
        approvers = demo.holding("approver", but=(author, publisher))
        approvers = (approvers + demo.holding("approver", but=(author, *approvers)))[:2]
        now = _now
        console.write(
            f"\n  Act: after the critical alert {alert_id}, {SCHEDULED_PER_SCHEDULER} posts "
            "wait in each scheduler\n"
        )

        # Crisis mode on, everything parked
        pause = demo.run(publisher, "pause", "--alert", alert_id)
        outcome.steps.append(pause)
        outcome.parked = dict(demo.api("GET", "/status")["parked"])
        demo.line(
            "⏸",
            now(),
            pause.who,
            pause.command,
            f"crisis mode on; parked {_counts(outcome.parked)}" if pause.code == 0 else pause.error,
        )

        # The holding statement, rendered from statements/, submitted by its author
        next_update = (at + timedelta(hours=3)).astimezone(demo.zone).replace(second=0)
        page = stack.channels.channel_url("rss") + STATUS_PAGE
        submit = demo.run(
            author,
            "statement",
            "submit",
            "holding",
            "--lang",
            "de",
            "--var",
            "situation=Seit heute Nacht fallen Flüge ab München aus oder sind stark verspätet.",
            "--var",
            f"next_update={next_update.isoformat(timespec='minutes')}",
            "--var",
            f"link={page}",
        )
        outcome.steps.append(submit)
        if submit.code != 0:
            demo.line("✗", now(), submit.who, "stormwatch statement submit holding", submit.error)
            outcome.seconds = time.monotonic() - started
            return outcome
        outcome.statement_id = demo.api("GET", "/statements")["statements"][0]["id"]
        sid = outcome.statement_id
        warnings = submit.printed.count("  warn ")
        demo.line(
            "✎",
            now(),
            submit.who,
            "stormwatch statement submit holding --lang de --var situation=… --var link=…",
            f"submitted {sid}"
            + (f"; {warnings} warning(s) for an approver to accept" if warnings else ""),
        )

        # The author's own approval is refused; two others approve
        own = demo.run(author, "statement", "approve", sid)
        outcome.steps.append(own)
        outcome.own_approval = own
        demo.line("✗", now(), own.who, _short(own.command, sid), f"refused: {own.error}")
        for number, approver in enumerate(approvers):
            argv = ["statement", "approve", sid] + (["--accept-warnings"] if number == 0 else [])
            approved = demo.run(approver, *argv)
            outcome.steps.append(approved)
            shown = demo.api("GET", f"/statements/{sid}")
            if approved.code == 0:
                outcome.approvals.append(approver)
            demo.line(
                "✓" if approved.code == 0 else "✗",
                now(),
                approved.who,
                _short(approved.command, sid),
                f"{shown['state']}, {shown['missing_approvals']} more approval(s) needed"
                if approved.code == 0
                else approved.error,
            )

        release_until_published(demo, outcome, publisher)
        stack.world.faults.clear()

        # The pause ends; posts whose time passed are listed, never sent on their own
        clock.shift(PAUSE_LASTS)
        resume_with_review(demo, outcome, publisher)
        outcome.ended_at = _now()
    outcome.seconds = time.monotonic() - started
    console.write(
        f"  Act part: {len(outcome.steps)} commands in {outcome.seconds:.1f} s "
        f"(their full output: {Path(log.name) if hasattr(log, 'name') else 'the log'})\n"
    )
    return outcome


def _now() -> datetime:
    return datetime.now(UTC)


def release_until_published(demo: ActDemo, outcome: ActOutcome, publisher: str) -> None:
    """Released everywhere; one channel fails, and releasing again retries it alone."""
    sid = outcome.statement_id
    demo.stack.world.faults.arm("status:503", channel=FAILING_CHANNEL, path_contains="/rest/posts")
    for attempt in ("first", "again"):
        release = demo.run(publisher, "statement", "release", sid, "--yes")
        outcome.steps.append(release)
        grid = demo.api("GET", f"/statements/{sid}")["releases"]
        failed = [channel for channel, r in grid.items() if r["status"] != "published"]
        if attempt == "first":
            outcome.first_release = grid
            what = (
                f"partly released, not yet on {', '.join(failed)}" if failed else "released"
            ) + ("; crisis mode stays on" if release.code == 0 else f": {release.error}")
        else:
            outcome.final_release = grid
            what = "released on every channel" if not failed else f"still failing: {failed}"
        demo.line("▶", _now(), release.who, _short(release.command, sid), what)
        for row in _grid(grid):
            demo.console.write(row + "\n")
        if not failed:
            return


def resume_with_review(demo: ActDemo, outcome: ActOutcome, publisher: str) -> None:
    resume = demo.run(publisher, "resume")
    outcome.steps.append(resume)
    outcome.review = list(demo.api("GET", "/status")["review"])
    outcome.restored = restored_counts(resume.printed)
    demo.line(
        "▶",
        _now(),
        resume.who,
        resume.command,
        f"crisis mode off; restored {_counts(outcome.restored)}; "
        f"{len(outcome.review)} for review (their time passed during the pause):",
    )
    for post in outcome.review:
        when = datetime.fromisoformat(post["scheduled_at"]).astimezone(demo.zone)
        demo.console.write(f"      {post['scheduler']:<10} {when:%a %H:%M}  {post['label']}\n")
