"""Statements: one item each, written only by whoever read its current version.

Every step (submit, approve, reject, release) reads the statement, decides with
`stormwatch.act.approval`, and writes it back on the condition that its version is still
the one read: two approvers clicking at once both write, one after the other, and
neither approval is lost; a release racing a revision fails on the version. Each write
carries its audit event in the same transaction, so the audit log never misses a step
and never records one that did not happen.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from stormwatch.act.approval import Approval, State, Statement
from stormwatch.model import iso, parse_iso
from stormwatch.persistence import keys
from stormwatch.persistence.audit import AuditEvent, put_action
from stormwatch.persistence.table import Item, Table, cancellation_reasons

RETENTION = timedelta(days=400)


class StatementConflict(Exception):
    """Somebody changed the statement since it was read; read it again and decide anew."""


class UnknownStatement(LookupError):
    pass


def _item(statement: Statement) -> Item:
    document = {
        "kind": statement.kind,
        "language": statement.language,
        "variables": dict(statement.variables),
        "texts": dict(statement.texts),
        "base": statement.base,
        "author": statement.author,
        "author_name": statement.author_name,
        "created_at": iso(statement.created_at),
        "approvals": [
            {
                "contact": a.contact,
                "name": a.name,
                "identity": a.identity,
                "sha256": a.sha256,
                "at": iso(a.at),
            }
            for a in statement.approvals
        ],
        "rejected_by": statement.rejected_by,
        "rejection_reason": statement.rejection_reason,
        "accepted_flags": list(statement.accepted_flags),
        "preflight_ready": statement.preflight_ready,
        "history": [[iso(at), who, what] for at, who, what in statement.history],
    }
    return {
        **keys.statement(statement.id),
        "statement_id": {"S": statement.id},
        "state": {"S": statement.state.value},
        "sha256": {"S": statement.sha256},
        "version": {"N": str(statement.version)},
        "document": {"S": json.dumps(document, ensure_ascii=False, sort_keys=True)},
        "expires_at": {"N": str(int((statement.created_at + RETENTION).timestamp()))},
    }


def _statement(item: Mapping[str, Any]) -> Statement:
    document = json.loads(item["document"]["S"])
    return Statement(
        id=item["statement_id"]["S"],
        kind=document["kind"],
        language=document["language"],
        variables=document["variables"],
        texts=document["texts"],
        base=document["base"],
        sha256=item["sha256"]["S"],
        author=document["author"],
        author_name=document["author_name"],
        created_at=parse_iso(document["created_at"]),
        state=State(item["state"]["S"]),
        approvals=tuple(
            Approval(a["contact"], a["name"], a["identity"], a["sha256"], parse_iso(a["at"]))
            for a in document["approvals"]
        ),
        rejected_by=document["rejected_by"],
        rejection_reason=document["rejection_reason"],
        accepted_flags=tuple(document["accepted_flags"]),
        preflight_ready=document["preflight_ready"],
        version=int(item["version"]["N"]),
        history=tuple((parse_iso(at), who, what) for at, who, what in document["history"]),
    )


def _listing_item(statement: Statement) -> Item:
    # Written with the statement in its transaction, so the list never shows a stale state.
    return {
        **keys.statement_listing(statement.created_at, statement.id),
        "statement_id": {"S": statement.id},
        "state": {"S": statement.state.value},
        "kind": {"S": statement.kind},
        "language": {"S": statement.language},
        "sha256": {"S": statement.sha256},
        "author": {"S": statement.author},
        "expires_at": {"N": str(int((statement.created_at + RETENTION).timestamp()))},
    }


class StatementStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def load(self, statement_id: str) -> Statement:
        item = self.table.read(keys.statement(statement_id))
        if item is None:
            raise UnknownStatement(f"no statement {statement_id!r}")
        return _statement(item)

    def save(self, statement: Statement, event: AuditEvent) -> Statement:
        """Write `statement` if its stored version is still `statement.version` (or, for
        a new one, if none exists), with `event` in the audit log; returns it at its new
        version."""
        written = replace(statement, version=statement.version + 1)
        put: dict[str, Any] = {"TableName": self.table.name, "Item": _item(written)}
        if statement.version == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :read"
            put["ExpressionAttributeValues"] = {":read": {"N": str(statement.version)}}
        listing = {
            "Put": {"TableName": self.table.name, "Item": _listing_item(written)},
        }
        try:
            self.table.transact([{"Put": put}, put_action(self.table.name, event), listing])
        except Exception as error:
            reasons = cancellation_reasons(error)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise StatementConflict(
                    f"statement {statement.id} was changed by somebody else meanwhile"
                ) from None
            raise
        return written

    def recent(self, limit: int = 20) -> list[dict[str, str]]:
        """The latest `limit` statements, newest first: id, created_at, state, kind,
        language, sha256 and author."""
        answer = self.table.call(
            "query",
            TableName=self.table.name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.STATEMENTS}},
            ScanIndexForward=False,
            Limit=limit,
            ConsistentRead=True,
        )
        return [
            {
                "id": item["statement_id"]["S"],
                "created_at": item["sk"]["S"].rsplit("#", 1)[0],
                "state": item["state"]["S"],
                "kind": item["kind"]["S"],
                "language": item["language"]["S"],
                "sha256": item["sha256"]["S"],
                "author": item["author"]["S"],
            }
            for item in answer.get("Items", [])
        ]
