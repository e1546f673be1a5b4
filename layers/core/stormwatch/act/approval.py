"""A statement's way to release, and who may move it: the rules, pure.

    draft -> submitted -> approved -> released
                 \\-> rejected (with a reason)

An approval is bound to the statement's hash (the SHA-256 over every channel's rendered
text): a statement whose texts change gets a new hash, and every approval given to the
old one stops counting. Approvals expire. Whoever calls is a `Caller` resolved from a
verified identity (never a name in a request), and each step checks the caller's role:
authors submit, approvers approve or reject (never their own statement), publishers
release. What each step returns is the statement as it is now; the store writes it only
if nobody changed it since it was read (its `version`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from stormwatch.errors import StormwatchError


class ActError(StormwatchError):
    """A step of the Act flow that is refused; the message says why and what to do."""


class NotAllowed(ActError):
    """The caller lacks the role, or is who may not take this step (the author)."""


class WrongState(ActError):
    """The statement is not in a state that allows the step."""


class StaleHash(ActError):
    """The caller saw other texts than the statement has now."""


class NotReady(ActError):
    """Approvals or pre-flight checks are missing."""


class State(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RELEASED = "released"
    REJECTED = "rejected"


ROLES: Final = ("author", "approver", "publisher")


@dataclass(frozen=True, slots=True)
class Caller:
    """Somebody acting, as the config's `act.people` names them for a verified identity."""

    identity: str
    contact: str
    name: str
    roles: frozenset[str]

    def require(self, role: str, step: str) -> None:
        if role not in self.roles:
            raise NotAllowed(f"{self.name} may not {step}: it takes the {role} role")


@dataclass(frozen=True, slots=True)
class Approval:
    contact: str
    name: str
    identity: str
    sha256: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Rules:
    approvals_required: int = 2
    approval_expiry: timedelta = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement: its texts per channel, and where it stands."""

    id: str
    kind: str
    language: str
    variables: Mapping[str, str]
    texts: Mapping[str, str]
    sha256: str
    author: str
    author_name: str
    created_at: datetime
    base: str = ""
    """The channel-agnostic text (the Instagram card is made from it); in the hash too."""
    state: State = State.DRAFT
    approvals: tuple[Approval, ...] = ()
    rejected_by: str | None = None
    rejection_reason: str | None = None
    accepted_flags: tuple[str, ...] = ()
    """Pre-flight warnings an approver accepted (e.g. a word the spell checker flags)."""
    preflight_ready: bool = False
    """Every channel's pre-flight checks passed or were accepted for this hash."""
    version: int = 0
    history: tuple[tuple[datetime, str, str], ...] = field(default=())
    """(when, who, what) of every step, for the audit trail and the console's timeline."""

    def valid_approvals(self, now: datetime, rules: Rules) -> tuple[Approval, ...]:
        """Approvals of the current texts, not expired, one per person, none the author's."""
        seen: set[str] = set()
        valid = []
        for approval in self.approvals:
            if (
                approval.sha256 == self.sha256
                and now - approval.at < rules.approval_expiry
                and approval.contact != self.author
                and approval.contact not in seen
            ):
                seen.add(approval.contact)
                valid.append(approval)
        return tuple(valid)

    def missing_approvals(self, now: datetime, rules: Rules) -> int:
        return max(0, rules.approvals_required - len(self.valid_approvals(now, rules)))


def _step(
    statement: Statement, caller: Caller, at: datetime, what: str
) -> tuple[tuple[datetime, str, str], ...]:
    return (*statement.history, (at, caller.contact, what))


def _expect(statement: Statement, *states: State, step: str) -> None:
    if statement.state not in states:
        allowed = " or ".join(state.value for state in states)
        raise WrongState(
            f"statement {statement.id} is {statement.state.value}; to {step} it must be {allowed}"
        )


def _expect_hash(statement: Statement, seen_sha256: str) -> None:
    if seen_sha256 != statement.sha256:
        raise StaleHash(
            f"statement {statement.id} has changed since you saw it "
            f"(you saw {seen_sha256[:12]}, it is now {statement.sha256[:12]}): preview it again"
        )


def expect_hash(statement: Statement, seen_sha256: str) -> None:
    """`StaleHash` unless the caller saw the statement's current texts."""
    _expect_hash(statement, seen_sha256)


def draft(
    *,
    statement_id: str,
    kind: str,
    language: str,
    variables: Mapping[str, str],
    texts: Mapping[str, str],
    sha256: str,
    author: Caller,
    now: datetime,
    base: str = "",
) -> Statement:
    author.require("author", "write a statement")
    return Statement(
        id=statement_id,
        kind=kind,
        language=language,
        variables=dict(variables),
        texts=dict(texts),
        sha256=sha256,
        author=author.contact,
        author_name=author.name,
        created_at=now,
        base=base,
        history=((now, author.contact, "drafted"),),
    )


def revise(
    statement: Statement,
    caller: Caller,
    *,
    variables: Mapping[str, str],
    texts: Mapping[str, str],
    sha256: str,
    now: datetime,
    base: str = "",
) -> Statement:
    """New texts: every approval given so far stops counting (it was for the old hash)."""
    caller.require("author", "revise a statement")
    _expect(statement, State.DRAFT, State.SUBMITTED, State.APPROVED, step="revise")
    if sha256 == statement.sha256:
        return statement
    return replace(
        statement,
        variables=dict(variables),
        texts=dict(texts),
        base=base,
        sha256=sha256,
        state=State.DRAFT,
        preflight_ready=False,
        accepted_flags=(),
        history=_step(statement, caller, now, f"revised (now {sha256[:12]}); approvals void"),
    )


def submit(
    statement: Statement, caller: Caller, *, seen_sha256: str, preflight_ready: bool, now: datetime
) -> Statement:
    """Ask for approval. Pre-flight must be ready: nobody is asked to approve a text that
    is too long, names an unknown account or links nowhere."""
    caller.require("author", "submit a statement")
    _expect(statement, State.DRAFT, step="submit")
    _expect_hash(statement, seen_sha256)
    if not preflight_ready:
        raise NotReady(
            f"statement {statement.id} has failing pre-flight checks: "
            "fix the texts, or accept the warnings that may be accepted"
        )
    return replace(
        statement,
        state=State.SUBMITTED,
        preflight_ready=True,
        history=_step(statement, caller, now, "submitted"),
    )


def refuse_the_author(statement: Statement, caller: Caller) -> None:
    """Approvals come from other people than the statement's author."""
    if caller.contact == statement.author:
        raise NotAllowed(
            f"{caller.name} wrote statement {statement.id} and may not approve it: "
            "approvals come from other people"
        )


def approve(
    statement: Statement, caller: Caller, *, seen_sha256: str, rules: Rules, now: datetime
) -> Statement:
    caller.require("approver", "approve a statement")
    _expect(statement, State.SUBMITTED, State.APPROVED, step="approve")
    _expect_hash(statement, seen_sha256)
    refuse_the_author(statement, caller)
    if any(a.contact == caller.contact for a in statement.valid_approvals(now, rules)):
        raise NotAllowed(f"{caller.name} has already approved statement {statement.id}")
    approval = Approval(caller.contact, caller.name, caller.identity, statement.sha256, now)
    approved = replace(
        statement,
        approvals=(*statement.approvals, approval),
        history=_step(statement, caller, now, f"approved {statement.sha256[:12]}"),
    )
    if approved.missing_approvals(now, rules) == 0:
        approved = replace(approved, state=State.APPROVED)
    return approved


def reject(statement: Statement, caller: Caller, *, reason: str, now: datetime) -> Statement:
    caller.require("approver", "reject a statement")
    _expect(statement, State.SUBMITTED, State.APPROVED, step="reject")
    if not reason.strip():
        raise NotAllowed("a rejection needs a reason, for the author")
    return replace(
        statement,
        state=State.REJECTED,
        rejected_by=caller.contact,
        rejection_reason=reason.strip(),
        history=_step(statement, caller, now, f"rejected: {reason.strip()}"),
    )


def check_releasable(
    statement: Statement, caller: Caller, *, seen_sha256: str, rules: Rules, now: datetime
) -> None:
    """Everything a release requires, checked again at the moment of release: approvals
    may have expired since the statement turned approved. A statement released in part
    may be released again (only its failed channels go out)."""
    caller.require("publisher", "release a statement")
    _expect(statement, State.APPROVED, State.RELEASED, step="release")
    _expect_hash(statement, seen_sha256)
    if not statement.preflight_ready:
        raise NotReady(f"statement {statement.id} has not passed its pre-flight checks")
    missing = statement.missing_approvals(now, rules)
    if missing and statement.state is not State.RELEASED:
        valid = statement.valid_approvals(now, rules)
        raise NotReady(
            f"statement {statement.id} needs {missing} more approval(s) of its current text "
            f"({len(valid)} valid of {rules.approvals_required}; approvals expire after "
            f"{rules.approval_expiry.total_seconds() / 3600:g} h)"
        )


def released(statement: Statement, caller: Caller, *, summary: str, now: datetime) -> Statement:
    return replace(
        statement,
        state=State.RELEASED,
        history=_step(statement, caller, now, f"released: {summary}"),
    )
