"""The way of a statement to release: who may take each step, bound to the hash of its
texts, with approvals that expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stormwatch.act import approval
from stormwatch.act.approval import (
    Caller,
    NotAllowed,
    NotReady,
    Rules,
    StaleHash,
    State,
    Statement,
    WrongState,
)

T0 = datetime(2026, 11, 29, 4, 30, tzinfo=UTC)
RULES = Rules(approvals_required=2, approval_expiry=timedelta(hours=24))

CARLA = Caller("arn:aws:iam::1:user/carla", "carla", "Carla Diaz", frozenset({"author"}))
ANNA = Caller("arn:aws:iam::1:user/anna", "anna", "Anna Berg", frozenset({"approver"}))
BEN = Caller("arn:aws:iam::1:user/ben", "ben", "Ben Kraus", frozenset({"approver", "publisher"}))
DIETER = Caller(
    "arn:aws:iam::1:user/dieter", "dieter", "Dieter Vogt", frozenset({"approver", "publisher"})
)
AUTHOR_APPROVER = Caller(
    "arn:aws:iam::1:user/eva", "eva", "Eva", frozenset({"author", "approver", "publisher"})
)


def _draft(author: Caller = CARLA, sha: str = "a" * 64) -> Statement:
    return approval.draft(
        statement_id="holding-1",
        kind="holding",
        language="de",
        variables={"what": "Flugausfälle"},
        texts={"x": "Wir wissen es.", "mastodon": "Wir wissen es."},
        sha256=sha,
        author=author,
        now=T0,
    )


def _submitted(author: Caller = CARLA) -> Statement:
    statement = _draft(author)
    return approval.submit(
        statement, author, seen_sha256=statement.sha256, preflight_ready=True, now=T0
    )


def test_two_distinct_approvers_make_a_submitted_statement_approved() -> None:
    # Given a submitted statement
    statement = _submitted()
    # When two different approvers approve the text they saw
    once = approval.approve(statement, ANNA, seen_sha256="a" * 64, rules=RULES, now=T0)
    twice = approval.approve(once, BEN, seen_sha256="a" * 64, rules=RULES, now=T0)
    # Then it is approved after the second, not the first
    assert once.state is State.SUBMITTED
    assert once.missing_approvals(T0, RULES) == 1
    assert twice.state is State.APPROVED
    assert [a.contact for a in twice.valid_approvals(T0, RULES)] == ["anna", "ben"]


def test_the_same_person_approving_twice_counts_once() -> None:
    statement = approval.approve(_submitted(), ANNA, seen_sha256="a" * 64, rules=RULES, now=T0)
    with pytest.raises(NotAllowed, match="already approved"):
        approval.approve(statement, ANNA, seen_sha256="a" * 64, rules=RULES, now=T0)


def test_the_author_may_not_approve_their_own_statement() -> None:
    # Given a statement written by somebody who also holds the approver role
    statement = _submitted(AUTHOR_APPROVER)
    # When they approve it, then it is refused, naming why
    with pytest.raises(NotAllowed, match="wrote statement holding-1 and may not approve"):
        approval.approve(statement, AUTHOR_APPROVER, seen_sha256="a" * 64, rules=RULES, now=T0)


def test_an_approval_of_other_texts_than_the_statement_has_is_refused() -> None:
    with pytest.raises(StaleHash, match="has changed since you saw it"):
        approval.approve(_submitted(), ANNA, seen_sha256="b" * 64, rules=RULES, now=T0)


def test_revising_the_texts_voids_every_approval() -> None:
    # Given an approved statement
    statement = _submitted()
    for approver in (ANNA, BEN):
        statement = approval.approve(statement, approver, seen_sha256="a" * 64, rules=RULES, now=T0)
    assert statement.state is State.APPROVED
    # When its author changes one channel's text
    revised = approval.revise(
        statement,
        CARLA,
        variables={"what": "Verspätungen"},
        texts={"x": "Wir wissen es!", "mastodon": "Wir wissen es."},
        sha256="c" * 64,
        now=T0,
    )
    # Then it is a draft again and no approval counts: it must be submitted and approved anew
    assert revised.state is State.DRAFT
    assert revised.valid_approvals(T0, RULES) == ()
    assert not revised.preflight_ready
    with pytest.raises(WrongState):
        approval.check_releasable(revised, BEN, seen_sha256="c" * 64, rules=RULES, now=T0)


def test_approvals_expire() -> None:
    statement = _submitted()
    statement = approval.approve(statement, ANNA, seen_sha256="a" * 64, rules=RULES, now=T0)
    later = T0 + timedelta(hours=20)
    statement = approval.approve(statement, BEN, seen_sha256="a" * 64, rules=RULES, now=later)
    assert statement.state is State.APPROVED
    # Within 24 hours of the first approval it may be released ...
    approval.check_releasable(
        statement, DIETER, seen_sha256="a" * 64, rules=RULES, now=T0 + timedelta(hours=23)
    )
    # ... one minute past that, Anna's approval no longer counts
    with pytest.raises(NotReady, match=r"needs 1 more approval.*expire after 24 h"):
        approval.check_releasable(
            statement,
            DIETER,
            seen_sha256="a" * 64,
            rules=RULES,
            now=T0 + timedelta(hours=24, minutes=1),
        )


def test_each_step_takes_its_role() -> None:
    statement = _draft()
    with pytest.raises(NotAllowed, match="Anna Berg may not submit a statement"):
        approval.submit(statement, ANNA, seen_sha256="a" * 64, preflight_ready=True, now=T0)
    submitted = _submitted()
    with pytest.raises(NotAllowed, match="takes the approver role"):
        approval.approve(submitted, CARLA, seen_sha256="a" * 64, rules=RULES, now=T0)
    approved = approval.approve(submitted, ANNA, seen_sha256="a" * 64, rules=RULES, now=T0)
    approved = approval.approve(approved, DIETER, seen_sha256="a" * 64, rules=RULES, now=T0)
    with pytest.raises(NotAllowed, match="takes the publisher role"):
        approval.check_releasable(approved, ANNA, seen_sha256="a" * 64, rules=RULES, now=T0)
    approval.check_releasable(approved, BEN, seen_sha256="a" * 64, rules=RULES, now=T0)


def test_a_statement_with_failing_checks_cannot_be_submitted() -> None:
    statement = _draft()
    with pytest.raises(NotReady, match="failing pre-flight checks"):
        approval.submit(statement, CARLA, seen_sha256="a" * 64, preflight_ready=False, now=T0)


def test_a_rejection_needs_a_reason_and_ends_the_statement() -> None:
    submitted = _submitted()
    with pytest.raises(NotAllowed, match="needs a reason"):
        approval.reject(submitted, ANNA, reason="  ", now=T0)
    rejected = approval.reject(submitted, ANNA, reason="Ton zu defensiv", now=T0)
    assert rejected.state is State.REJECTED
    assert rejected.rejection_reason == "Ton zu defensiv"
    with pytest.raises(WrongState, match="is rejected; to approve it must be submitted"):
        approval.approve(rejected, BEN, seen_sha256="a" * 64, rules=RULES, now=T0)


def test_every_step_is_in_the_history_with_who_took_it() -> None:
    statement = _submitted()
    statement = approval.approve(statement, ANNA, seen_sha256="a" * 64, rules=RULES, now=T0)
    assert [(who, what.split(" ")[0]) for _, who, what in statement.history] == [
        ("carla", "drafted"),
        ("carla", "submitted"),
        ("anna", "approved"),
    ]


def test_three_approvers_can_be_required() -> None:
    rules = Rules(approvals_required=3)
    statement = _submitted()
    for approver in (ANNA, BEN):
        statement = approval.approve(statement, approver, seen_sha256="a" * 64, rules=rules, now=T0)
    assert statement.state is State.SUBMITTED
    statement = approval.approve(statement, DIETER, seen_sha256="a" * 64, rules=rules, now=T0)
    assert statement.state is State.APPROVED


def test_a_released_statement_may_be_released_again_for_its_failed_channels() -> None:
    # Given an approved statement, released in part
    statement = _submitted()
    for approver in (ANNA, DIETER):
        statement = approval.approve(statement, approver, seen_sha256="a" * 64, rules=RULES, now=T0)
    out = approval.released(statement, BEN, summary="partial: x failed", now=T0)
    assert out.state is State.RELEASED
    assert out.history[-1] == (T0, "ben", "released: partial: x failed")
    # When its publisher releases it again two days later (the approvals expired meanwhile)
    # Then that is allowed: the text went out as approved; only failed channels are retried
    approval.check_releasable(
        out, BEN, seen_sha256="a" * 64, rules=RULES, now=T0 + timedelta(days=2)
    )
    # But not with other texts than the ones released
    with pytest.raises(StaleHash):
        approval.check_releasable(
            out, BEN, seen_sha256="b" * 64, rules=RULES, now=T0 + timedelta(days=2)
        )
