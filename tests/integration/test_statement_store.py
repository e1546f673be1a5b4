"""Statements and the audit log against DynamoDB (moto, table from template.yaml): every
step is written with its audit event or not at all; two people acting at once both count."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from local.stack import LocalStack
from stormwatch.act import approval
from stormwatch.act.approval import Caller, Rules, State, Statement
from stormwatch.persistence.audit import AuditEvent, AuditLog
from stormwatch.persistence.statements import (
    StatementConflict,
    StatementStore,
    UnknownStatement,
)
from stormwatch.persistence.table import Table

T0 = datetime(2026, 11, 29, 4, 30, tzinfo=UTC)
RULES = Rules()
CARLA = Caller("arn:aws:iam::1:user/carla", "carla", "Carla Diaz", frozenset({"author"}))
ANNA = Caller("arn:aws:iam::1:user/anna", "anna", "Anna Berg", frozenset({"approver"}))
BEN = Caller("arn:aws:iam::1:user/ben", "ben", "Ben Kraus", frozenset({"approver"}))


@pytest.fixture
def table(stack: LocalStack) -> Table:
    return Table(stack.client("dynamodb"), stack.outputs["TableName"])


def _event(caller: Caller, action: str, statement: Statement, at: datetime = T0) -> AuditEvent:
    return AuditEvent(at, action, caller.identity, caller.contact, statement.id, {"sha": "a"})


def _submitted(store: StatementStore, statement_id: str) -> Statement:
    draft = approval.draft(
        statement_id=statement_id,
        kind="holding",
        language="de",
        variables={"what": "Flugausfälle", "note": "{{ config }} is text"},
        texts={"x": "Wir wissen von den Ausfällen 🛫", "mastodon": "Wir wissen es."},
        sha256="a" * 64,
        author=CARLA,
        now=T0,
    )
    saved = store.save(draft, _event(CARLA, "statement.drafted", draft))
    submitted = approval.submit(saved, CARLA, seen_sha256="a" * 64, preflight_ready=True, now=T0)
    return store.save(submitted, _event(CARLA, "statement.submitted", submitted))


def test_a_statement_reads_back_as_it_was_written(table: Table) -> None:
    store = StatementStore(table)
    written = _submitted(store, "holding-read")
    read = store.load("holding-read")
    assert read == written
    assert read.version == 2
    assert read.texts["x"] == "Wir wissen von den Ausfällen 🛫"
    assert read.variables["note"] == "{{ config }} is text"


def test_an_unknown_statement_is_a_clear_error(table: Table) -> None:
    with pytest.raises(UnknownStatement, match="no statement 'nothing-here'"):
        StatementStore(table).load("nothing-here")


def test_a_statement_id_is_written_once(table: Table) -> None:
    store = StatementStore(table)
    first = _submitted(store, "holding-once")
    again = approval.draft(
        statement_id="holding-once",
        kind="apology",
        language="en",
        variables={},
        texts={"x": "Sorry"},
        sha256="b" * 64,
        author=CARLA,
        now=T0,
    )
    with pytest.raises(StatementConflict):
        store.save(again, _event(CARLA, "statement.drafted", again))
    assert store.load("holding-once") == first


def test_two_approvers_at_once_both_count(table: Table) -> None:
    # Given a submitted statement that two approvers read at the same moment
    store = StatementStore(table)
    _submitted(store, "holding-race")
    read_by_anna = store.load("holding-race")
    read_by_ben = store.load("holding-race")
    # When both write their approval, the second on a stale read
    anna = approval.approve(read_by_anna, ANNA, seen_sha256="a" * 64, rules=RULES, now=T0)
    store.save(anna, _event(ANNA, "statement.approved", anna))
    ben = approval.approve(read_by_ben, BEN, seen_sha256="a" * 64, rules=RULES, now=T0)
    with pytest.raises(StatementConflict):
        store.save(ben, _event(BEN, "statement.approved", ben))
    # Then the second reads again and decides anew: both approvals count
    ben = approval.approve(
        store.load("holding-race"), BEN, seen_sha256="a" * 64, rules=RULES, now=T0
    )
    store.save(ben, _event(BEN, "statement.approved", ben))
    final = store.load("holding-race")
    assert final.state is State.APPROVED
    assert {a.contact for a in final.valid_approvals(T0, RULES)} == {"anna", "ben"}


def test_approvers_in_threads_retrying_on_conflict_all_count(table: Table) -> None:
    store = StatementStore(table)
    _submitted(store, "holding-threads")
    approvers = [
        Caller(f"arn:aws:iam::1:user/a{n}", f"a{n}", f"A{n}", frozenset({"approver"}))
        for n in range(6)
    ]

    def approve(caller: Caller) -> None:
        while True:
            current = store.load("holding-threads")
            decided = approval.approve(
                current, caller, seen_sha256="a" * 64, rules=Rules(approvals_required=6), now=T0
            )
            try:
                store.save(decided, _event(caller, "statement.approved", decided))
                return
            except StatementConflict:
                continue

    threads = [threading.Thread(target=approve, args=(caller,)) for caller in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = store.load("holding-threads")
    assert sorted(a.contact for a in final.approvals) == sorted(c.contact for c in approvers)
    assert final.state is State.APPROVED


def test_every_step_is_in_the_audit_log_and_a_refused_one_is_not(table: Table) -> None:
    store = StatementStore(table)
    audit = AuditLog(table)
    day = (T0 + timedelta(days=3)).date().isoformat()
    at = T0 + timedelta(days=3)
    draft = approval.draft(
        statement_id="holding-audit",
        kind="holding",
        language="de",
        variables={},
        texts={"x": "Text"},
        sha256="a" * 64,
        author=CARLA,
        now=at,
    )
    saved = store.save(draft, _event(CARLA, "statement.drafted", draft, at))
    # A write on a stale version is refused, and its event is not logged
    stale = approval.submit(draft, CARLA, seen_sha256="a" * 64, preflight_ready=True, now=at)
    with pytest.raises(StatementConflict):
        store.save(stale, _event(CARLA, "statement.submitted", stale, at))
    later = at + timedelta(microseconds=1)
    submitted = approval.submit(saved, CARLA, seen_sha256="a" * 64, preflight_ready=True, now=later)
    store.save(submitted, _event(CARLA, "statement.submitted", submitted, later))
    actions = [(e.action, e.contact) for e in audit.day(day) if e.subject == "holding-audit"]
    assert actions == [("statement.drafted", "carla"), ("statement.submitted", "carla")]


def test_an_audit_entry_is_never_overwritten(table: Table) -> None:
    from botocore.exceptions import ClientError

    audit = AuditLog(table)
    event = AuditEvent(T0, "crisis.on", "arn:aws:iam::1:user/ben", "ben", "crisis-mode")
    audit.append(event)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        audit.append(
            AuditEvent(T0, "crisis.off", "x", "mallory", "crisis-mode", event_id=event.event_id)
        )
    (kept,) = [e for e in audit.day(T0.date().isoformat()) if e.event_id == event.event_id]
    assert kept.action == "crisis.on"
