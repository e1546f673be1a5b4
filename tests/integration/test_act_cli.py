"""`stormwatch statement|pause|resume|status` through the local transport: the handler
runs in-process on the local stack, called as the IAM identity the test names. What is
checked here is the command line: parsing, the release's confirm prompt, the printed
texts and grid, and one-line refusals with exit code 2."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from local.stack import LocalStack
from ops import act_commands
from ops.cli import main
from ops.transport import LocalTransport
from stormwatch.act.http import Answer
from tests.integration.test_act_api import (  # the same stack set-up and statements
    BEN,
    CARLA,
    PUBLISHED_ON,
    T0,
    _approved,
    _posts,
    _resumed,
    act,
    world,
)

__all__ = ["act", "world"]

FACTS = [
    "--var",
    "situation=Since 6 am, flights from Hamburg are delayed.",
    "--var",
    "next_update=2026-12-24T18:00+01:00",
    "--var",
    "link=https://nordwind.example/updates",
]


class Run:
    """One command: its exit code, what it printed and said on stderr, what it asked."""

    def __init__(self, code: int, printed: str, error: str, asked: list[str]) -> None:
        self.code, self.printed, self.error, self.asked = code, printed, error, asked

    def __iter__(self) -> Any:
        return iter((self.code, self.printed, self.asked))


def stormwatch(stack: LocalStack, who: str, *argv: str, answer: bool = False) -> Run:
    # Not capsys: the handler's logger keeps the stdout it found at import, which capsys
    # would close after its test.
    out, err = io.StringIO(), io.StringIO()
    asked: list[str] = []

    def confirm(question: str) -> bool:
        asked.append(question)
        return answer

    with contextlib.redirect_stderr(err):
        code = main(list(argv), transport=LocalTransport(stack, who), confirm=confirm, out=out)
    return Run(code, out.getvalue(), err.getvalue(), asked)


def test_given_facts_when_previewed_then_each_channel_text_counter_checks_and_pauses_print(
    act: LocalStack,
) -> None:
    run = stormwatch(act, CARLA, "statement", "preview", "holding", "--lang", "en", *FACTS)
    code, printed, _ = run

    assert code == 0, run.error
    assert "--- x: " in printed
    assert "/280 weighted characters" in printed
    assert "--- bluesky: " in printed
    assert "graphemes" in printed
    assert "Since 6 am, flights from Hamburg are delayed." in printed
    assert "ok   length" in printed
    # The link leads nowhere (no network here): the dry run says so, and says what to fix
    assert "FAIL links" in printed
    assert "NOT ready" in printed
    assert "--- instagram: " in printed
    assert "ok   image_card: image card, " in printed
    assert "would pause: mastodon" in printed


@pytest.mark.parametrize("language", ["de", "en"])
def test_given_the_local_status_page_when_a_rendered_statement_is_previewed_then_every_check_passes(
    act: LocalStack, language: str
) -> None:
    # Given the facts of the case, linking the brand's status page on the local stack's web
    page = act.channels.channel_url("rss") + "/web/page/updates"
    facts = [
        "--var",
        "situation=Seit 6 Uhr sind Flüge ab Hamburg verspätet."
        if language == "de"
        else "situation=Since 6 am, flights from Hamburg are delayed.",
        "--var",
        "next_update=2026-12-24T18:00+01:00",
        "--var",
        f"link={page}",
    ]
    # When the author previews the holding statement rendered from statements/
    run = stormwatch(act, CARLA, "statement", "preview", "holding", "--lang", language, *facts)
    # Then every check of every channel passes (spelling may warn, for an approver)
    assert run.code == 0, run.error
    assert "FAIL" not in run.printed, run.printed
    assert "ok   links: 1 link(s) resolve" in run.printed
    assert "NOT ready" not in run.printed.splitlines()[0]
    for line in run.printed.splitlines():
        if line.startswith("  warn "):
            assert line.startswith("  warn spelling: "), line


def test_given_a_failing_link_when_submitted_then_refused_in_one_line_with_exit_2(
    act: LocalStack,
) -> None:
    run = stormwatch(act, CARLA, "statement", "submit", "holding", "--lang", "en", *FACTS)

    assert run.code == 2
    error = run.error
    assert error.startswith("error: ")
    assert "fails its pre-flight checks" in error
    assert error.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            [
                "statement",
                "preview",
                "holding",
                "--lang",
                "en",
                "--var",
                "link=https://a.example/x",
            ],
            "needs variable 'situation'",
        ),
        (["statement", "preview", "no-such-kind", "--lang", "en"], "no statement kind"),
        (["statement", "show", "20261224-0900-abcdef"], "no statement '20261224-0900-abcdef'"),
        (["statement", "approve", "20261224-0900-abcdef"], "no statement"),
        (["pause"], "pause needs --alert ALERT_ID or --reason TEXT"),
        (["pause", "--reason", "storm", "--resume-in", "soon"], "expected like 30m, 4h or 2d"),
    ],
)
def test_given_a_wrong_command_when_run_then_one_line_and_exit_2(
    act: LocalStack, argv: list[str], expected: str
) -> None:
    run = stormwatch(act, BEN, *argv)

    assert run.code == 2
    error = run.error
    assert expected in error
    assert error.count("\n") == 1


def test_given_the_author_when_approving_then_refused_and_a_stale_hash_too(act: LocalStack) -> None:
    approved = _approved(act, "Trains to the airport are cancelled.")
    own = stormwatch(act, CARLA, "statement", "approve", approved["id"])
    assert own.code == 2
    assert "wrote statement" in own.error
    assert "may not approve it" in own.error

    stale = stormwatch(act, BEN, "statement", "approve", approved["id"], "--sha256", "0" * 12)
    assert stale.code == 2
    assert "has changed since you saw it" in stale.error


def test_given_an_approved_statement_when_released_then_asked_first_and_the_grid_printed(
    act: LocalStack, world: Any
) -> None:
    _resumed(act)
    approved = _approved(act, "Our call centre is overloaded.")

    # When Ben answers no, nothing is posted
    code, printed, asked = stormwatch(act, BEN, "statement", "release", approved["id"])
    assert code == 1
    assert asked == ["release now? [y/N] "]
    assert approved["sha256"][:12] in printed
    assert "Our call centre is overloaded." in printed
    assert "would pause:" in printed
    assert all(not _posts(world, channel) for channel in PUBLISHED_ON)

    # When he releases with --yes, the grid shows every channel's link
    run = stormwatch(act, BEN, "statement", "release", approved["id"], "--yes")
    code, printed, asked = run
    assert code == 0, run.error
    assert not asked
    assert "released: statement" in printed
    for channel in PUBLISHED_ON:
        assert f"  {channel:9} published" in printed
    assert all(len(_posts(world, channel)) == 1 for channel in PUBLISHED_ON)

    code, printed, _ = stormwatch(act, BEN, "status")
    assert code == 0
    assert printed.startswith("crisis mode ON since")
    assert approved["id"] in printed


def test_given_expired_approvals_when_released_then_refused_with_exit_2(act: LocalStack) -> None:
    with time_machine.travel(T0, tick=True) as traveller:
        approved = _approved(act, "The website is down.")
        traveller.shift(timedelta(hours=30))

        run = stormwatch(act, BEN, "statement", "release", approved["id"], "--yes")

    assert run.code == 2
    assert "approvals expire after 24 h" in run.error


def test_given_crisis_mode_on_when_paused_again_then_refused_and_resume_prints_counts(
    act: LocalStack,
) -> None:
    _resumed(act)
    run = stormwatch(
        act, BEN, "pause", "--alert", "nordwind-air-20261224-0905", "--resume-in", "4h"
    )
    code, printed, _ = run
    assert code == 0, run.error
    assert "crisis mode ON since" in printed
    assert "parked: mastodon" in printed
    assert "resumes on its own at" in printed

    again = stormwatch(act, BEN, "pause", "--reason", "again")
    assert again.code == 2
    assert "crisis mode is already on" in again.error

    code, printed, _ = stormwatch(act, BEN, "resume")
    assert code == 0
    assert printed.startswith("crisis mode off; restored: mastodon")


def test_given_resume_in_when_parsed_then_the_time_is_that_far_ahead() -> None:
    import argparse

    from ops.act_commands import resume_time

    now = datetime(2026, 12, 24, 9, 0, 30, tzinfo=UTC)
    args = argparse.Namespace(resume_at=None, resume_in="90m")
    assert resume_time(args, now) == "2026-12-24T10:30:30+00:00"
    args = argparse.Namespace(resume_at="2026-12-24T18:00+01:00", resume_in=None)
    assert resume_time(args, now) == "2026-12-24T18:00:00+01:00"


class GatewayGivesUp:
    """The deployed API as it is on a slow release: the first POST to `gives_up_on` is
    handed to the function (which runs it to the end, or not at all when `runs` is False)
    while the caller gets the HTTP API's 503 after its 30 s."""

    def __init__(self, inner: LocalTransport, gives_up_on: str, *, runs: bool = True) -> None:
        self.inner, self.gives_up_on, self.runs = inner, gives_up_on, runs
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str, path: str, body: Any = None) -> Answer:
        self.sent.append((method, path))
        if method == "POST" and path.endswith(self.gives_up_on):
            if self.runs:
                self.inner.request(method, path, body)
            return Answer(503, {"message": "Service Unavailable"})
        return self.inner.request(method, path, body)


def _run(transport: Any, *argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(argv), transport=transport, confirm=lambda _: True, out=out)
    return Run(code, out.getvalue(), err.getvalue(), [])


def test_given_the_gateway_gives_up_when_releasing_then_followed_to_the_grid_never_resent(
    act: LocalStack, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(act_commands, "_sleep", lambda _seconds: None)
    _resumed(act)
    approved = _approved(act, "Check-in in Munich is slow.")
    transport = GatewayGivesUp(LocalTransport(act, BEN), "/release")

    # When the API answers 503 while the function goes on releasing
    run = _run(transport, "statement", "release", approved["id"], "--yes")

    # Then the command says so, follows the statement, and prints the grid; sent once
    assert run.code == 0, run.error
    assert "still running in the function" in run.printed
    assert f"released: statement {approved['id']}" in run.printed
    for channel in PUBLISHED_ON:
        assert f"  {channel:9} published" in run.printed
    assert [p for m, p in transport.sent if m == "POST" and p.endswith("/release")] == [
        f"/statements/{approved['id']}/release"
    ]
    assert all(len(_posts(world, channel)) == 1 for channel in PUBLISHED_ON)


def test_given_a_release_that_never_ends_when_followed_then_it_says_what_to_run_later(
    act: LocalStack, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(act_commands, "_sleep", slept.append)
    _resumed(act)
    approved = _approved(act, "Boarding in Vienna is slow.")
    transport = GatewayGivesUp(LocalTransport(act, BEN), "/release", runs=False)

    run = _run(transport, "statement", "release", approved["id"], "--yes")

    # Then after the deadline: exit 2, how to check, and the release was never sent again
    assert run.code == 2
    assert f"stormwatch statement show {approved['id']}" in run.error
    assert sum(slept) == act_commands.FOLLOW_SECONDS
    assert sum(1 for m, p in transport.sent if m == "POST" and p.endswith("/release")) == 1


def test_given_the_gateway_gives_up_when_pausing_and_resuming_then_followed_by_status(
    act: LocalStack, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(act_commands, "_sleep", lambda _seconds: None)
    _resumed(act)

    paused = _run(
        GatewayGivesUp(LocalTransport(act, BEN), "/pause"), "pause", "--reason", "slow API"
    )
    assert paused.code == 0, paused.error
    assert "still running" in paused.printed
    assert "crisis mode ON since" in paused.printed

    resumed = _run(GatewayGivesUp(LocalTransport(act, BEN), "/resume"), "resume")
    assert resumed.code == 0, resumed.error
    assert "crisis mode off" in resumed.printed


def test_given_a_page_sns_refused_to_the_last_try_when_status_then_it_is_shown(
    act: LocalStack,
) -> None:
    # Given an SMS to the person on call that SNS refused for the last time, and an email
    # still being tried
    from stormwatch.notify import EMAIL, SMS, Delivery
    from stormwatch.persistence.outbox import Outbox
    from stormwatch.persistence.table import Table

    outbox = Outbox(Table(act.client("dynamodb"), act.outputs["TableName"]))
    alert = "nordwind-air-20261122-0305"
    sms = Delivery(SMS, 2, "nordwind-air", "started", alert, text="WARNING", phone="+4915112345")
    email = Delivery(EMAIL, 2, "nordwind-air", "started", alert, subject="[WARNING]")
    outbox.add(f"{alert}:started:sms:+4915112345", sms, T0)
    outbox.add(f"{alert}:started:email", email, T0)
    outbox.mark(f"{alert}:started:email", sent=False, error="Throttling")
    outbox.mark(
        f"{alert}:started:sms:+4915112345",
        sent=False,
        error="AuthorizationError: not verified",
        give_up=True,
    )
    # When someone asks for the status
    code, printed, _ = stormwatch(act, BEN, "status")
    # Then each undelivered page is shown: to whom, for which alert, how often tried, why
    assert code == 0
    assert "notifications not delivered: 2" in printed
    assert (
        f"  GIVEN UP  sms to +4915112345  {alert} started: 1 tries, "
        "last AuthorizationError: not verified" in printed
    )
    assert f"  retrying  email to the team list  {alert} started: 1 tries, last Throttling" in (
        printed
    )
