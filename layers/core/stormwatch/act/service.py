"""The Act flow composed: what the Act function does for each request, on its parts.

Every method takes the `Caller` the handler resolved from the verified identity (never a
name in the body) and plain JSON-able input; it returns plain JSON-able output. The
parts are the pure rules (`approval`, `preflight`, `release`, `parking`) and the stores;
the outside world (schedulers, publishers, the pre-flight checkers, the notice to the
alert recipients, the auto-resume schedule) comes in through `ActPorts`, built by
`stormwatch.act.wiring` in Lambda and by whatever a test gives.

A mutating step about a statement names the hash the caller saw; the function computes
every hash itself from the texts (`statement_hash`), never taking one from a body as
the truth about texts.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from stormwatch.act import approval
from stormwatch.act.approval import ActError, Caller, NotReady, Rules, State, Statement
from stormwatch.act.parking import ParkReport, park_all, resume
from stormwatch.act.preflight import Checkers, PreflightReport, Status, preflight
from stormwatch.act.release import publish_everywhere
from stormwatch.act.statements import Rendering, statement_hash
from stormwatch.act.timeline import alert_timeline
from stormwatch.channels.publishers.base import Publisher
from stormwatch.channels.schedulers.base import Scheduler
from stormwatch.config import Config
from stormwatch.config.act import PUBLISHING_CHANNELS
from stormwatch.errors import ConfigError
from stormwatch.model import iso
from stormwatch.notify import EMAIL, OPS_EMAIL, SMS_TOPIC
from stormwatch.persistence.audit import AuditEvent, AuditLog
from stormwatch.persistence.crisis import Actor, CrisisMode, CrisisModeAlreadyOn, CrisisStore
from stormwatch.persistence.outbox import FAILED, Outbox, UndeliveredEntry
from stormwatch.persistence.parked import ParkedPost, ParkedStore, ParkState
from stormwatch.persistence.releases import ReleaseStore
from stormwatch.persistence.statements import StatementConflict, StatementStore
from stormwatch.persistence.table import Table
from stormwatch.persistence.timeline import TimelineStore
from stormwatch.persistence.warn_state import WarnStateStore
from stormwatch.warn.lifecycle import brand_of_alert

if TYPE_CHECKING:
    from stormwatch.review.store import ReportStore

logger = logging.getLogger(__name__)

MAX_TEXT: Final = 10_000
"""Longest text a body may carry for one channel (LinkedIn's 3,000 is the longest limit)."""
MAX_REASON: Final = 500
SAVE_ATTEMPTS: Final = 8
"""Reads and decides again after somebody else wrote the statement meanwhile."""
AUTO_RESUME_ACTION: Final = "auto-resume"
LONGEST_PAUSE: Final = timedelta(days=14)
SHORTEST_PAUSE: Final = timedelta(minutes=2)
INSTAGRAM_SKIPPED: Final = "Instagram posts no text alone, and act.instagram is 'skip'"
WOULD_PAUSE_LISTED: Final = 50
"""Posts listed per scheduler in a dry run (all are counted)."""

_KIND = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_VARIABLE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_ALERT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")
STATEMENT_ID: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class BadRequest(ActError):
    """The request is malformed: a field is missing or of the wrong kind (400)."""


class PreflightFailed(ActError):
    """A text fails a pre-flight check that no approver may accept (422)."""


class WarningsNotAccepted(ActError):
    """Pre-flight warnings an approver must read and accept before approving (422)."""


# --- the outside world, as the service needs it ------------------------------------------


class Announcer(Protocol):
    """Tells the alert recipients something (the alerts topic, as email)."""

    def announce(self, subject: str, text: str, *, kind: str, subject_id: str) -> str: ...


class AutoResumeSchedules(Protocol):
    """One-time schedules that end a pause on their own."""

    def create(self, name: str, at: datetime, event: Mapping[str, Any]) -> None: ...

    def delete(self, name: str) -> None: ...


def _no_report_store() -> ReportStore:
    raise ConfigError("environment REPORTS_BUCKET", "this function stores no crisis report")


@dataclass(frozen=True)
class ActPorts:
    """Adapters, each made on first need (a preview builds no publisher)."""

    schedulers: Callable[[], Sequence[Scheduler]]
    publishers: Callable[[Sequence[str]], Mapping[str, Publisher]]
    checkers: Callable[[], Checkers]
    announcer: Callable[[], Announcer]
    auto_resume: Callable[[], AutoResumeSchedules]
    card_urls: Callable[[Statement], Mapping[str, str]]
    """Image cards of the channels that post no text alone (Instagram), by channel."""
    reports: Callable[[], ReportStore] = _no_report_store
    """Where crisis reports go (the Act function's: the release function has none)."""


@dataclass(frozen=True, slots=True)
class _Body:
    kind: str
    language: str
    base: str
    texts: dict[str, str]
    variables: dict[str, str]
    left_out: dict[str, str]
    """Channels given a text that the statement does not go out on, and why."""


# --- request bodies ------------------------------------------------------------------------


def _text(body: Mapping[str, Any], key: str, *, limit: int = MAX_TEXT) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{key!r} must be a non-empty text")
    if len(value) > limit:
        raise BadRequest(f"{key!r} is longer than {limit} characters")
    return value


def _alert_id(body: Mapping[str, Any]) -> str | None:
    """The alert a pause or a release answers, if the body names one."""
    alert_id = _optional_text(body, "alert_id", limit=80)
    if alert_id is not None and not _ALERT_ID.match(alert_id):
        raise BadRequest(f"'alert_id': {alert_id!r} is not an alert id")
    return alert_id


def _optional_text(body: Mapping[str, Any], key: str, *, limit: int = MAX_REASON) -> str | None:
    if body.get(key) is None:
        return None
    return _text(body, key, limit=limit)


def seen_hash(body: Mapping[str, Any]) -> str:
    """The hash the caller saw (every mutating step about a statement names it)."""
    value = body.get("sha256")
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise BadRequest("'sha256' must be the statement's hash you saw (64 hex digits)")
    return value


def _moment(body: Mapping[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key!r} must be an ISO 8601 time with its offset")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{key!r}: {value!r} is not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise BadRequest(f"{key!r} needs its UTC offset (2026-12-24T18:00+01:00)")
    return moment


def publish_channels(config: Config) -> tuple[str, ...]:
    """The channels a statement goes out on: `act.publish_on`, else every enabled one."""
    if config.act.publish_on is not None:
        return tuple(config.act.publish_on)
    enabled = set(config.enabled_channels)
    return tuple(channel for channel in PUBLISHING_CHANNELS if channel in enabled)


def _variables(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest("'variables' must map each variable's name to its value")
    variables = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not _VARIABLE.match(name):
            raise BadRequest(f"'variables': {name!r} is not a variable name")
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise BadRequest(f"'variables.{name}' must be a text")
        variables[name] = str(value)[:MAX_REASON]
    return variables


def _channel_texts(raw: object, config: Config) -> tuple[dict[str, str], dict[str, str]]:
    """(texts of the channels the statement goes out on, {left-out channel: why})."""
    if not isinstance(raw, dict) or not raw:
        raise BadRequest("'texts' must map each channel to its text")
    wanted = publish_channels(config)
    skip_instagram = config.act.instagram == "skip"
    texts: dict[str, str] = {}
    left_out: dict[str, str] = {}
    for channel, text in raw.items():
        if channel not in PUBLISHING_CHANNELS:
            raise BadRequest(f"'texts': no statement can be posted on {channel!r}")
        if not isinstance(text, str) or not text.strip():
            raise BadRequest(f"'texts.{channel}' must be a non-empty text")
        if len(text) > MAX_TEXT:
            raise BadRequest(f"'texts.{channel}' is longer than {MAX_TEXT} characters")
        if channel not in wanted:
            left_out[channel] = "not a channel statements go out on (act.publish_on, channels)"
        elif channel == "instagram" and skip_instagram:
            left_out[channel] = INSTAGRAM_SKIPPED
        else:
            texts[channel] = text
    missing = [c for c in wanted if c not in texts and c not in left_out]
    if missing and not (missing == ["instagram"] and skip_instagram):
        raise BadRequest(f"'texts' has no text for {missing[0]}, where statements go out")
    ordered: dict[str, str] = {c: texts[c] for c in PUBLISHING_CHANNELS if c in texts}
    return ordered, left_out


def parse_statement_body(body: Mapping[str, Any], config: Config) -> _Body:
    kind = _text(body, "kind", limit=40)
    if not _KIND.match(kind):
        raise BadRequest(f"'kind': {kind!r} is not a statement kind's name")
    language = _text(body, "language", limit=2)
    if not _LANGUAGE.match(language):
        raise BadRequest(f"'language': {language!r} is not a two-letter language code")
    base = _text(body, "base")
    texts, left_out = _channel_texts(body.get("texts"), config)
    return _Body(kind, language, base, texts, _variables(body.get("variables")), left_out)


def _rendering(body: _Body) -> Rendering:
    return Rendering(
        kind=body.kind,
        language=body.language,
        variables=body.variables,
        base=body.base,
        texts=body.texts,
        sha256=statement_hash(body.texts, body.base),
    )


# --- what goes out as JSON ---------------------------------------------------------------


def _undelivered_json(entry: UndeliveredEntry) -> dict[str, Any]:
    """A notification SNS refused, for `stormwatch status`: a page that may not have
    reached its person is what on-call people must see first."""
    delivery = entry.delivery
    to = {
        EMAIL: "the team list",
        SMS_TOPIC: "the alert phone",
        OPS_EMAIL: "ops",
    }.get(delivery.medium, delivery.phone)
    medium = "email" if delivery.medium in (EMAIL, OPS_EMAIL) else "sms"
    return {
        "key": entry.key,
        "alert_id": delivery.alert_id,
        "kind": delivery.kind,
        "medium": medium,
        "to": to,
        "attempts": entry.attempts,
        "given_up": entry.status == FAILED,
        "last_error": entry.last_error,
    }


def crisis_json(mode: CrisisMode) -> dict[str, Any]:
    return {
        "active": mode.active,
        "since": iso(mode.since) if mode.since else None,
        "by": mode.set_by.contact if mode.set_by else None,
        "reason": mode.reason or None,
        "resume_at": iso(mode.resume_at) if mode.resume_at else None,
        "release_id": mode.release_id,
        "alert_id": mode.alert_id,
        "ended_at": iso(mode.ended_at) if mode.ended_at else None,
        "ended_by": mode.ended_by.contact if mode.ended_by else None,
    }


def _label(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 60 else line[:59] + "…"


def _parked_json(parked: ParkedPost) -> dict[str, Any]:
    return {
        "scheduler": parked.post.scheduler,
        "id": parked.post.id,
        "scheduled_at": iso(parked.post.scheduled_at),
        "label": _label(parked.post.text),
        "state": parked.state.value,
        "note": parked.note or None,
    }


# --- the service ---------------------------------------------------------------------------


class ActService:
    def __init__(
        self,
        config: Config,
        table: Table,
        ports: ActPorts,
        clock: Callable[[], datetime],
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        self.ports = ports
        self.clock = clock
        self.statements = StatementStore(table)
        self.audit = AuditLog(table)
        self.crisis = CrisisStore(table)
        self.parked = ParkedStore(table)
        self.releases = ReleaseStore(table)
        self.timelines = TimelineStore(table)
        self.outbox = Outbox(table)
        self.table = table
        self.warn_state = WarnStateStore(table)
        self.rules = Rules(
            approvals_required=config.act.approvals_required,
            approval_expiry=timedelta(hours=config.act.approval_expiry_hours),
        )
        self._new_id = new_id or self._statement_id

    def _statement_id(self) -> str:
        return f"{self.clock():%Y%m%d-%H%M}-{secrets.token_hex(3)}"

    def _event(self, caller: Caller, action: str, subject: str, **details: Any) -> AuditEvent:
        return AuditEvent(self.clock(), action, caller.identity, caller.contact, subject, details)

    def _preflight(self, body: _Body) -> PreflightReport:
        return preflight(_rendering(body), self.config.act, self.ports.checkers())

    # --- statements ----------------------------------------------------------------

    def preview(self, caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
        """The dry run: every channel's exact text, its length as the channel counts it,
        its checks, the hash, and everything a release would pause. Writes nothing."""
        parsed = parse_statement_body(body, self.config)
        report = self._preflight(parsed)
        return {
            "kind": parsed.kind,
            "language": parsed.language,
            "sha256": report.sha256,
            "ready": report.ready,
            "failures": _failures(report),
            "warnings": _warnings(report),
            "channels": report.as_dict()["channels"],
            "left_out": parsed.left_out,
            "would_pause": self._would_pause(),
            "crisis": crisis_json(self.crisis.read()),
            "previewed_by": caller.contact,
        }

    def _would_pause(self) -> dict[str, Any]:
        listing: dict[str, Any] = {}
        for scheduler in self.ports.schedulers():
            try:
                posts = sorted(scheduler.scheduled(), key=lambda post: post.scheduled_at)
            except Exception as error:  # a scheduler down must not hide the others
                listing[scheduler.name] = {"count": None, "posts": [], "error": str(error)[:300]}
                continue
            listing[scheduler.name] = {
                "count": len(posts),
                "posts": [
                    {"id": p.id, "scheduled_at": iso(p.scheduled_at), "label": _label(p.text)}
                    for p in posts[:WOULD_PAUSE_LISTED]
                ],
                "error": None,
            }
        return listing

    def create(self, caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
        parsed = parse_statement_body(body, self.config)
        now = self.clock()
        rendering = _rendering(parsed)
        statement = approval.draft(
            statement_id=self._new_id(),
            kind=parsed.kind,
            language=parsed.language,
            variables=parsed.variables,
            texts=parsed.texts,
            sha256=rendering.sha256,
            author=caller,
            now=now,
            base=parsed.base,
        )
        saved = self.statements.save(
            statement,
            self._event(
                caller,
                "statement.drafted",
                statement.id,
                sha256=statement.sha256,
                kind=statement.kind,
            ),
        )
        return self.show(saved.id) | {"left_out": parsed.left_out}

    def revise(self, caller: Caller, statement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        seen = seen_hash(body)
        parsed = parse_statement_body(body, self.config)
        rendering = _rendering(parsed)

        def decide(statement: Statement) -> Statement:
            # The caller revises what they saw, not what somebody else made of it since.
            approval.expect_hash(statement, seen)
            if caller.contact != statement.author:
                raise approval.NotAllowed(
                    f"{caller.name} did not write statement {statement.id}; "
                    "only its author revises it"
                )
            return approval.revise(
                statement,
                caller,
                variables=parsed.variables,
                texts=parsed.texts,
                sha256=rendering.sha256,
                base=parsed.base,
                now=self.clock(),
            )

        saved = self._step(statement_id, decide, caller, "statement.revised")
        return self.show(saved.id) | {"left_out": parsed.left_out}

    def submit(self, caller: Caller, statement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        seen = seen_hash(body)
        current = self.statements.load(statement_id)
        approval.expect_hash(current, seen)
        report = self._preflight(_body_of(current))
        failures = _failures(report)
        if failures:
            raise PreflightFailed(
                f"statement {statement_id} fails its pre-flight checks: {'; '.join(failures)}"
            )

        def decide(statement: Statement) -> Statement:
            submitted = approval.submit(
                statement, caller, seen_sha256=seen, preflight_ready=True, now=self.clock()
            )
            # Warnings left: an approver reads and accepts them before approving.
            return replace(submitted, preflight_ready=report.ready)

        saved = self._step(
            statement_id, decide, caller, "statement.submitted", warnings=_warnings(report)
        )
        return self.show(saved.id) | {"warnings": _warnings(report)}

    def approve(self, caller: Caller, statement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        seen = seen_hash(body)
        accept = body.get("accept_warnings", False)
        if not isinstance(accept, bool):
            raise BadRequest("'accept_warnings' must be true or false")
        current = self.statements.load(statement_id)
        caller.require("approver", "approve a statement")
        # Before the checks: the author is refused, not asked to accept warnings first.
        approval.refuse_the_author(current, caller)
        approval.expect_hash(current, seen)
        accepted: tuple[str, ...] = ()
        if not current.preflight_ready and current.state is State.SUBMITTED:
            report = self._preflight(_body_of(current))
            failures = _failures(report)
            if failures:
                raise PreflightFailed(
                    f"statement {statement_id} fails its pre-flight checks now: "
                    + "; ".join(failures)
                )
            warnings = _warnings(report)
            if warnings and not accept:
                raise WarningsNotAccepted(
                    f"statement {statement_id} has pre-flight warnings to read and accept "
                    f"(--accept-warnings): {'; '.join(warnings)}"
                )
            accepted = tuple(f"{w} (accepted by {caller.contact})" for w in warnings)

        def decide(statement: Statement) -> Statement:
            approved = approval.approve(
                statement, caller, seen_sha256=seen, rules=self.rules, now=self.clock()
            )
            if accepted and not approved.preflight_ready:
                approved = replace(
                    approved,
                    preflight_ready=True,
                    accepted_flags=(*approved.accepted_flags, *accepted),
                )
            return approved

        saved = self._step(
            statement_id, decide, caller, "statement.approved", accepted=list(accepted)
        )
        return self.show(saved.id)

    def reject(self, caller: Caller, statement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        seen = seen_hash(body)
        reason = _text(body, "reason", limit=MAX_REASON)

        def decide(statement: Statement) -> Statement:
            approval.expect_hash(statement, seen)
            return approval.reject(statement, caller, reason=reason, now=self.clock())

        saved = self._step(statement_id, decide, caller, "statement.rejected", reason=reason)
        return self.show(saved.id)

    def _step(
        self,
        statement_id: str,
        decide: Callable[[Statement], Statement],
        caller: Caller,
        action: str,
        **details: Any,
    ) -> Statement:
        """Read, decide, write on the version read; again when somebody wrote meanwhile."""
        for _ in range(SAVE_ATTEMPTS):
            statement = self.statements.load(statement_id)
            decided = decide(statement)
            if decided is statement:
                return statement
            event = self._event(caller, action, statement_id, sha256=decided.sha256, **details)
            try:
                return self.statements.save(decided, event)
            except StatementConflict:
                continue
        raise StatementConflict(f"statement {statement_id} kept changing; try again")

    def show(self, statement_id: str) -> dict[str, Any]:
        statement = self.statements.load(statement_id)
        now = self.clock()
        valid = {a.contact for a in statement.valid_approvals(now, self.rules)}
        records = self.releases.records(statement_id)
        return {
            "id": statement.id,
            "kind": statement.kind,
            "language": statement.language,
            "state": statement.state.value,
            "sha256": statement.sha256,
            "author": statement.author,
            "author_name": statement.author_name,
            "created_at": iso(statement.created_at),
            "base": statement.base,
            "texts": dict(statement.texts),
            "variables": dict(statement.variables),
            "approvals": [
                {
                    "contact": a.contact,
                    "name": a.name,
                    "at": iso(a.at),
                    "sha256": a.sha256,
                    "counts": a.contact in valid and a.sha256 == statement.sha256,
                }
                for a in statement.approvals
            ],
            "missing_approvals": statement.missing_approvals(now, self.rules),
            "approval_expiry_hours": self.config.act.approval_expiry_hours,
            "preflight_ready": statement.preflight_ready,
            "accepted_flags": list(statement.accepted_flags),
            "rejected_by": statement.rejected_by,
            "rejection_reason": statement.rejection_reason,
            "history": [
                {"at": iso(at), "who": who, "what": what} for at, who, what in statement.history
            ],
            "releases": {
                channel: {
                    "status": record.state,
                    "post_id": record.post_id,
                    "url": record.url,
                    "error": record.error,
                }
                for channel, record in records.items()
            },
        }

    def recent(self, limit: int = 20) -> dict[str, Any]:
        return {"statements": self.statements.recent(limit)}

    # --- release ---------------------------------------------------------------------

    def release(self, caller: Caller, statement_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Crisis mode on, every scheduler parked, every channel published once, the
        statement marked released, the alert recipients told; again: only what failed."""
        seen = seen_hash(body)
        statement = self.statements.load(statement_id)
        approval.check_releasable(
            statement, caller, seen_sha256=seen, rules=self.rules, now=self.clock()
        )
        alert_id = _alert_id(body)
        actor = Actor(caller.identity, caller.contact)
        crisis = self._crisis_on_for_release(statement, caller, actor, alert_id)
        parking = self._park_everything(caller, statement=statement_id)
        report = publish_everywhere(
            statement.id,
            statement.texts,
            seen,
            self.ports.publishers(tuple(statement.texts)),
            # While the crisis answers an alert, each channel published goes on its timeline.
            self.releases.on_alert(crisis.alert_id or alert_id, caller.contact),
            self.clock,
            by=caller.identity,
            image_urls=self.ports.card_urls(statement),
            base=statement.base,
        )
        grid: dict[str, dict[str, Any]] = {}
        for channel, result in report.results.items():
            grid[channel] = {
                "status": result.status,
                "post_id": result.post.post_id if result.post else None,
                "url": result.post.url if result.post else None,
                "error": result.error,
                "earlier": result.earlier,
            }
        if self.config.act.instagram == "skip" and "instagram" in publish_channels(self.config):
            grid["instagram"] = {
                "status": "skipped",
                "post_id": None,
                "url": None,
                "error": INSTAGRAM_SKIPPED,
                "earlier": False,
            }
        summary = (
            "released on every channel"
            if report.outcome == "released"
            else f"partly released; not yet on {', '.join(report.unfinished)}"
        )
        self._mark_released(statement_id, caller, summary, grid)
        new_posts = [
            c for c, r in report.results.items() if r.status == "published" and not r.earlier
        ]
        notice = self._announce_release(statement, caller, grid) if new_posts else "nothing new"
        return {
            "id": statement.id,
            "sha256": statement.sha256,
            "outcome": report.outcome,
            "channels": grid,
            "parked": parking.counts(),
            "park_errors": _park_errors(parking),
            "crisis": crisis_json(crisis),
            "notice": notice,
        }

    def _park_everything(self, caller: Caller, **context: Any) -> ParkReport:
        """Every scheduler parked, and the counts in the audit log."""
        parking = park_all(self.ports.schedulers(), self.parked, self.clock)
        self.audit.append(
            self._event(
                caller,
                "park.done",
                "schedulers",
                parked=parking.counts(),
                complete=parking.complete,
                **context,
            )
        )
        return parking

    def _crisis_on_for_release(
        self, statement: Statement, caller: Caller, actor: Actor, alert_id: str | None
    ) -> CrisisMode:
        try:
            mode = self.crisis.switch_on(
                reason=f"statement {statement.id} released by {caller.name}",
                by=actor,
                now=self.clock(),
                release_id=statement.id,
                alert_id=alert_id,
            )
        except CrisisModeAlreadyOn as already:
            # Paused before (the usual order: pause first, then release): it stays on.
            return already.current
        if mode.set_by == actor and mode.release_id == statement.id and mode.since:
            self.audit.append(
                self._event(
                    caller, "crisis.on", "crisis-mode", reason=mode.reason, statement=statement.id
                )
            )
        return mode

    def _mark_released(
        self, statement_id: str, caller: Caller, summary: str, grid: Mapping[str, Any]
    ) -> None:
        def decide(statement: Statement) -> Statement:
            return approval.released(statement, caller, summary=summary, now=self.clock())

        self._step(
            statement_id,
            decide,
            caller,
            "statement.released",
            summary=summary,
            channels={c: {k: v for k, v in r.items() if k != "earlier"} for c, r in grid.items()},
        )

    def _announce_release(
        self, statement: Statement, caller: Caller, grid: Mapping[str, Mapping[str, Any]]
    ) -> str:
        lines = [
            f"Statement {statement.id} ({statement.kind}, {statement.language}) was released by "
            f"{caller.name} at {iso(self.clock())}.",
            "",
        ]
        for channel, result in grid.items():
            where = result["url"] or result["error"] or ""
            lines.append(f"- {channel}: {result['status']} {where}".rstrip())
        lines += ["", "Crisis mode is on: scheduled posts stay parked until `stormwatch resume`."]
        try:
            return self.ports.announcer().announce(
                f"stormwatch: statement {statement.id} is out",
                "\n".join(lines),
                kind="statement-released",
                subject_id=statement.id,
            )
        except Exception as error:  # the posts are out; a lost notice must not hide that
            logger.warning("release notice failed: %s", error)
            return f"failed: {error}"[:300]

    # --- pause and resume ------------------------------------------------------------

    def acknowledge(self, caller: Caller, alert_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The person took the alert: its escalation stops. Anybody `act.people` names
        may, whatever their roles: on call is not a role of the Act flow."""
        from stormwatch.warn import acknowledgement
        from stormwatch.warn.lifecycle import NotAcknowledgeable

        del body  # nothing in it is read: who acknowledges is the verified caller
        try:
            message = acknowledgement.acknowledge(
                self.warn_state, alert_id, caller.name, self.clock()
            )
        except NotAcknowledgeable as error:
            raise NotReady(str(error)) from None
        except ValueError as error:
            raise BadRequest(str(error)) from None
        self.audit.append(self._event(caller, "acknowledged", alert_id))
        return {"alert_id": alert_id, "acknowledged_by": caller.name, "message": message}

    def pause(self, caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
        """Crisis mode on alone, every scheduled post parked; optionally ending on its own."""
        caller.require("publisher", "pause everything")
        reason = _optional_text(body, "reason")
        alert_id = _alert_id(body)
        if reason is None and alert_id is None:
            raise BadRequest("a pause needs a 'reason' or the 'alert_id' it answers")
        now = self.clock()
        resume_at = _moment(body, "resume_at")
        if resume_at is not None and not (now + SHORTEST_PAUSE <= resume_at <= now + LONGEST_PAUSE):
            raise BadRequest(
                f"'resume_at' must lie between {SHORTEST_PAUSE.seconds // 60} minutes and "
                f"{LONGEST_PAUSE.days} days from now"
            )
        text = reason or f"alert {alert_id}"
        if reason and alert_id:
            text = f"{reason} (alert {alert_id})"
        actor = Actor(caller.identity, caller.contact)
        mode = self.crisis.switch_on(
            reason=text, by=actor, now=now, resume_at=resume_at, alert_id=alert_id
        )
        self.audit.append(
            self._event(
                caller,
                "crisis.on",
                "crisis-mode",
                reason=text,
                alert_id=alert_id,
                resume_at=iso(resume_at) if resume_at else None,
            )
        )
        schedule = None
        if resume_at is not None:
            schedule = auto_resume_name(mode)
            self.ports.auto_resume().create(
                schedule,
                resume_at,
                {
                    "action": AUTO_RESUME_ACTION,
                    "crisis_version": mode.version,
                    "crisis_since": iso(mode.since) if mode.since else None,
                },
            )
        parking = self._park_everything(caller)
        return {
            "crisis": crisis_json(mode),
            "parked": parking.counts(),
            "park_errors": _park_errors(parking),
            "auto_resume": schedule,
        }

    def resume(self, caller: Caller) -> dict[str, Any]:
        caller.require("publisher", "resume scheduled posts")
        return self._resume(Actor(caller.identity, caller.contact), caller.contact, caller)

    def auto_resume(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """What a pause's auto-resume schedule does: resume, if the crisis it was made for
        is still the one on (a later pause has its own schedule)."""
        version = event.get("crisis_version")
        current = self.crisis.read()
        if not current.active or not isinstance(version, int) or current.version != version:
            return {"outcome": "stale", "crisis": crisis_json(current)}
        actor = Actor("stormwatch:auto-resume", "auto-resume")
        system = Caller(actor.identity, actor.contact, "auto-resume", frozenset({"publisher"}))
        return {"outcome": "resumed", **self._resume(actor, actor.contact, system)}

    def _resume(self, actor: Actor, contact: str, caller: Caller) -> dict[str, Any]:
        current = self.crisis.read()
        report = resume(
            self.ports.schedulers(),
            self.parked,
            self.crisis,
            by=actor,
            now=self.clock,
            policy=self.config.act.resume,
        )
        if current.active and current.resume_at is not None:
            try:
                self.ports.auto_resume().delete(auto_resume_name(current))
            except Exception as error:  # it would find another crisis and do nothing
                logger.warning("auto-resume schedule not deleted: %s", error)
        restored = {name: r.restored for name, r in report.schedulers.items()}
        errors = {
            name: r.error or "; ".join(f"{k}: {v}" for k, v in r.failed.items())
            for name, r in report.schedulers.items()
            if not r.complete
        }
        self.audit.append(
            self._event(
                caller,
                "crisis.off",
                "crisis-mode",
                restored=restored,
                review=len(report.review),
                paused_seconds=int(report.pause.total_seconds()),
            )
        )
        return {
            "crisis": crisis_json(report.crisis),
            "restored": restored,
            "review": [_parked_json(post) for post in report.review],
            "errors": errors,
            "resumed_by": contact,
        }

    # --- status ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        parked: dict[str, int] = {}
        review: list[dict[str, Any]] = []
        for scheduler in self.ports.schedulers():
            posts = list(self.parked.of(scheduler.name))
            parked[scheduler.name] = sum(
                p.state in (ParkState.PARKING, ParkState.PARKED, ParkState.RESTORING) for p in posts
            )
            review += [_parked_json(p) for p in posts if p.state is ParkState.REVIEW]
        crisis = self.crisis.read()
        return {
            "crisis": crisis_json(crisis),
            "parked": parked,
            "review": review,
            "statements": self.statements.recent(10),
            "alert_timeline": self.timeline(crisis.alert_id) if crisis.alert_id else None,
            "undelivered": [_undelivered_json(entry) for entry in self.outbox.undelivered()],
        }

    def timeline(self, alert_id: str) -> dict[str, Any]:
        """The alert's steps in time order: Warn's (started, escalated, acknowledged,
        resolved) and Act's (paused, released per channel, resumed)."""
        if not _ALERT_ID.match(alert_id):
            raise BadRequest(f"{alert_id[:80]!r} is not an alert id")
        brand = brand_of_alert(alert_id)
        known = brand is not None and any(b.id == brand for b in self.config.brands)
        steps = alert_timeline(
            self.timelines.entries(alert_id),
            self.timelines.outbox_messages(alert_id) if known else [],
            self.timelines.lifecycle(brand) if known and brand else None,
            alert_id,
        )
        return {
            "alert_id": alert_id,
            "brand": brand if known else None,
            "steps": [step.as_dict() for step in steps],
        }

    def report(self, caller: Caller, alert_id: str) -> dict[str, Any]:
        """(Re)build the alert's crisis report from the table as it is now, store its HTML
        and JSON, and answer where they are with a link valid a day."""
        return self._report(alert_id, f"on demand by {caller.contact}")

    def report_on_resolve(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """What the evaluator's asynchronous invocation asks when an alert resolved
        (``{"action": "crisis-report", "alert_id": ...}``): the same report, no caller.
        Lambda may deliver it twice, and a retried send may ask twice: the report is
        rebuilt under the same keys, so the second one only replaces the first."""
        from stormwatch.review.request import MADE_WHEN_RESOLVED

        alert_id = event.get("alert_id")
        if not isinstance(alert_id, str):
            raise BadRequest("the event names no alert_id")
        return self._report(alert_id, MADE_WHEN_RESOLVED)

    def _report(self, alert_id: str, made_by: str) -> dict[str, Any]:
        from stormwatch.review.render import report_html
        from stormwatch.review.sources import read_report

        if not _ALERT_ID.match(alert_id):
            raise BadRequest(f"{alert_id[:80]!r} is not an alert id")
        report = read_report(self.table, self.config, alert_id, self.clock(), made_by)
        document = report.to_json()
        stored = self.ports.reports().put(alert_id, report_html(report), document)
        logger.info("crisis report", extra={"alert_id": alert_id, "made_by": made_by})
        return {
            "alert_id": alert_id,
            "html_key": stored.html_key,
            "json_key": stored.json_key,
            "url": stored.url,
            "durations_seconds": document["durations_seconds"],
            "first_abnormal_at": document["first_abnormal_at"],
            "resolved_at": document["resolved_at"],
        }


def auto_resume_name(mode: CrisisMode) -> str:
    """One schedule per pause: a later pause never shares an earlier one's schedule."""
    return f"auto-resume-{mode.version}"


def _body_of(statement: Statement) -> _Body:
    return _Body(
        statement.kind,
        statement.language,
        statement.base,
        dict(statement.texts),
        dict(statement.variables),
        {},
    )


def _failures(report: PreflightReport) -> list[str]:
    return [
        f"{channel} {check.name}: {check.message}"
        for channel, check in report.problems()
        if check.status is Status.FAILED
    ]


def _warnings(report: PreflightReport) -> list[str]:
    return [
        f"{channel} {check.name}: {check.message}"
        for channel, check in report.problems()
        if check.status is Status.WARNING
    ]


def _park_errors(parking: Any) -> dict[str, str]:
    return {
        name: r.error or "; ".join(f"{k}: {v}" for k, v in r.failed.items())
        for name, r in parking.schedulers.items()
        if not r.complete
    }


__all__ = [
    "AUTO_RESUME_ACTION",
    "ActPorts",
    "ActService",
    "BadRequest",
    "NotReady",
    "PreflightFailed",
    "WarningsNotAccepted",
]
