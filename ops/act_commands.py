"""`stormwatch statement|pause|resume|status`: the Act flow from the command line.

Statements are rendered here, from the repository's ``statements/`` (the function keeps
no templates), and sent as texts; the function checks them, computes their hash and
does every step for the verified caller. Every mutating request names the hash the
caller was shown. Refusals are one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

if TYPE_CHECKING:
    from ops.transport import Transport
    from stormwatch.act.http import Answer

STATEMENTS = Path(__file__).resolve().parent.parent / "statements"
REFUSED = 2
_DURATION = re.compile(r"^(?P<amount>\d{1,4})(?P<unit>[mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
POLL_SECONDS = 5
FOLLOW_SECONDS = 150
"""The Act function's timeout (120 s) and some: after that it has ended, one way or the other."""
_sleep: Callable[[float], None] = time.sleep


class Refused(Exception):
    """A one-line reason the command did nothing (exit code 2)."""


# --- parsing ------------------------------------------------------------------------------


def add_commands(commands: Any) -> None:
    """The Act commands, on the `stormwatch` parser's subcommands."""
    stack = argparse.ArgumentParser(add_help=False)
    stack.add_argument(
        "--stack",
        help="the CloudFormation stack (default: $STORMWATCH_STACK, or the account's only one)",
    )
    stack.add_argument(
        "--api-url",
        help="the Act API's URL, if not the stack's ActApiUrl output (default: "
        "$STORMWATCH_API_URL; `make local` prints the local stack's)",
    )
    statement = commands.add_parser(
        "statement", help="statements: preview, submit, approve, release"
    )
    actions = statement.add_subparsers(dest="action", required=True)

    def rendered(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text, parents=[stack])
        parser.add_argument("kind", help="a folder of statements/ (holding, apology, ...)")
        parser.add_argument("--lang", required=True, help="its language (de, en, ...)")
        parser.add_argument(
            "--var",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a fact of the case (repeat for each)",
        )
        parser.add_argument("--vars-file", type=Path, help="facts as a YAML mapping")
        parser.add_argument("--statements", type=Path, default=STATEMENTS, help=argparse.SUPPRESS)
        return parser

    rendered(
        "preview", "the dry run: each channel's text, its checks, what would pause"
    ).set_defaults(run=preview)
    rendered("submit", "draft it and ask for approval; prints its id and hash").set_defaults(
        run=submit
    )
    approve_parser = actions.add_parser(
        "approve", help="approve the texts you are shown", parents=[stack]
    )
    approve_parser.add_argument("id")
    approve_parser.add_argument(
        "--accept-warnings",
        action="store_true",
        help="accept the pre-flight warnings you have read",
    )
    approve_parser.add_argument("--sha256", help="refuse unless its hash starts with this")
    approve_parser.set_defaults(run=approve)
    reject_parser = actions.add_parser(
        "reject", help="reject it, with a reason for the author", parents=[stack]
    )
    reject_parser.add_argument("id")
    reject_parser.add_argument("--reason", required=True)
    reject_parser.set_defaults(run=reject)
    release_parser = actions.add_parser(
        "release", help="pause everything and publish it everywhere", parents=[stack]
    )
    release_parser.add_argument("id")
    release_parser.add_argument("--yes", action="store_true", help="do not ask to confirm")
    release_parser.add_argument(
        "--alert",
        help="the alert this answers, for its timeline and report (when no pause named it)",
    )
    release_parser.set_defaults(run=release)
    show_parser = actions.add_parser(
        "show", help="one statement: texts, approvals, releases", parents=[stack]
    )
    show_parser.add_argument("id")
    show_parser.set_defaults(run=show)

    pause_parser = commands.add_parser(
        "pause", help="crisis mode on: park every scheduled post", parents=[stack]
    )
    pause_parser.add_argument("--alert", help="the alert this answers (as in its email or SMS)")
    pause_parser.add_argument("--reason", help="why, for the audit log and the team")
    when = pause_parser.add_mutually_exclusive_group()
    when.add_argument("--resume-at", help="resume on its own then (ISO 8601 with offset)")
    when.add_argument("--resume-in", help="resume on its own after this long (30m, 4h, 2d)")
    pause_parser.set_defaults(run=pause)
    commands.add_parser(
        "resume", help="crisis mode off: restore parked posts", parents=[stack]
    ).set_defaults(run=resume)
    commands.add_parser(
        "status",
        help="crisis mode, parked posts, review list, statements, pages not delivered",
        parents=[stack],
    ).set_defaults(run=status)
    report_parser = commands.add_parser(
        "report", help="(re)build an alert's crisis report; print its link", parents=[stack]
    )
    report_parser.add_argument("alert_id", help="as in the alert's email or SMS")
    report_parser.set_defaults(run=report)


def parse_variables(pairs: list[str], vars_file: Path | None) -> dict[str, object]:
    variables: dict[str, object] = {}
    if vars_file is not None:
        import yaml

        try:
            document = yaml.safe_load(vars_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise Refused(f"{vars_file}: cannot be read ({error})") from None
        if not isinstance(document, dict):
            raise Refused(f"{vars_file}: must be a mapping of variable names to values")
        variables.update({str(k): v for k, v in document.items()})
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise Refused(f"--var {pair!r}: expected NAME=VALUE")
        variables[name.strip()] = value
    return variables


def resume_time(args: argparse.Namespace, now: datetime) -> str | None:
    if args.resume_at:
        try:
            moment = datetime.fromisoformat(args.resume_at.replace("Z", "+00:00"))
        except ValueError:
            raise Refused(f"--resume-at {args.resume_at!r}: not an ISO 8601 time") from None
        if moment.utcoffset() is None:
            raise Refused("--resume-at needs its UTC offset (2026-12-24T18:00+01:00)")
        return moment.isoformat()
    if args.resume_in:
        match = _DURATION.match(args.resume_in.strip())
        if match is None:
            raise Refused(f"--resume-in {args.resume_in!r}: expected like 30m, 4h or 2d")
        delta = timedelta(**{_UNITS[match["unit"]]: int(match["amount"])})
        return (now + delta).replace(microsecond=0).isoformat()
    return None


# --- talking to the function ----------------------------------------------------------------


def _call(
    args: argparse.Namespace, method: str, path: str, body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    transport: Transport = args.transport
    answer: Answer = transport.request(method, path, body)
    if not answer.ok:
        raise Refused(answer.error)
    return answer.body


class StillRunning(Exception):
    """The API gave up waiting while the step goes on in the function."""


def _call_or_running(
    args: argparse.Namespace, method: str, path: str, body: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`_call`, except that a gateway timeout raises `StillRunning`: the step is never sent
    again blindly (a release re-run is safe, but the first may still be publishing)."""
    transport: Transport = args.transport
    answer: Answer = transport.request(method, path, body)
    if answer.still_running:
        raise StillRunning(answer.error)
    if not answer.ok:
        raise Refused(answer.error)
    return answer.body


def _follow(
    args: argparse.Namespace,
    step: str,
    path: str,
    done: Callable[[dict[str, Any]], bool],
    check_later: str,
) -> dict[str, Any]:
    """Poll `path` every few seconds until `done`, or say what to run to check later."""
    print(
        f"the API stopped waiting after 30 s; the {step} is still running in the function. "
        f"Following it (every {POLL_SECONDS} s, up to {FOLLOW_SECONDS} s)...",
        file=args.out,
    )
    for _ in range(FOLLOW_SECONDS // POLL_SECONDS):
        _sleep(POLL_SECONDS)
        answer: Answer = args.transport.request("GET", path)
        if answer.ok and done(answer.body):
            return answer.body
    raise Refused(
        f"the {step} has not finished after {FOLLOW_SECONDS} s; check with `{check_later}` "
        "(do not run it again before that shows it ended)"
    )


def _statement_body(args: argparse.Namespace) -> dict[str, Any]:
    from stormwatch.act.statements import StatementError, load_kind, render

    folder = args.statements / args.kind
    if not (folder / "kind.yaml").is_file():
        raise Refused(f"no statement kind {args.kind!r} in {args.statements}")
    try:
        rendering = render(load_kind(folder), args.lang, parse_variables(args.var, args.vars_file))
    except StatementError as error:
        raise Refused(str(error)) from None
    return {
        "kind": rendering.kind,
        "language": rendering.language,
        "base": rendering.base,
        "texts": dict(rendering.texts),
        "variables": dict(rendering.variables),
    }


# --- printing ------------------------------------------------------------------------------

_MARK = {"passed": "ok  ", "failed": "FAIL", "warning": "warn"}


def print_preview(preview: Mapping[str, Any], out: TextIO) -> None:
    verdict = "ready" if preview["ready"] else "NOT ready (fix the failures)"
    if not preview.get("failures") and preview.get("warnings"):
        # Not ready until accepted, but nothing for the author to fix.
        verdict = "ready once an approver accepts the warnings"
    print(
        f"{preview['kind']} ({preview['language']})  hash {preview['sha256']}  {verdict}", file=out
    )
    for channel in preview["channels"]:
        length = channel["lengths"][0]
        print(
            f"\n--- {channel['channel']}: {length['used']}/{length['limit']} {length['unit']}",
            file=out,
        )
        print(channel["text"], file=out)
        if channel.get("skipped"):
            print(f"  skipped: {channel['skipped']}", file=out)
        for check in channel["checks"]:
            mark = _MARK.get(check["status"], check["status"])
            print(f"  {mark} {check['name']}: {check['message']}", file=out)
    for channel, why in (preview.get("left_out") or {}).items():
        print(f"\n--- {channel}: left out: {why}", file=out)
    print_would_pause(preview.get("would_pause") or {}, out)


def print_would_pause(listing: Mapping[str, Any], out: TextIO) -> None:
    counts = ", ".join(
        f"{name} {entry['count'] if entry['count'] is not None else '?'}"
        for name, entry in listing.items()
    )
    print(f"\nwould pause: {counts or 'no scheduler'}", file=out)
    for name, entry in listing.items():
        if entry.get("error"):
            print(f"  {name}: cannot list ({entry['error']})", file=out)
        for post in entry.get("posts", []):
            print(f"  {name:9} {post['scheduled_at']}  {post['label']}", file=out)


def print_statement(statement: Mapping[str, Any], out: TextIO) -> None:
    print(
        f"statement {statement['id']}  {statement['kind']} ({statement['language']})  "
        f"{statement['state']}  hash {statement['sha256']}",
        file=out,
    )
    print(f"author: {statement['author_name']}", file=out)
    for channel, text in statement["texts"].items():
        print(f"\n--- {channel}\n{text}", file=out)
    approvals = ", ".join(
        f"{a['name']} {a['at']}" + ("" if a["counts"] else " (no longer counts)")
        for a in statement["approvals"]
    )
    print(f"\napprovals: {approvals or 'none'}; missing {statement['missing_approvals']}", file=out)
    if statement.get("rejection_reason"):
        print(f"rejected by {statement['rejected_by']}: {statement['rejection_reason']}", file=out)
    print_grid(statement.get("releases") or {}, out)


def print_grid(grid: Mapping[str, Mapping[str, Any]], out: TextIO) -> None:
    for channel, result in grid.items():
        where = result.get("url") or result.get("error") or ""
        print(f"  {channel:9} {result['status']:10} {where}", file=out)


def print_review(review: list[Mapping[str, Any]], out: TextIO) -> None:
    if not review:
        return
    print(f"for review ({len(review)}; never sent on their own):", file=out)
    for post in review:
        print(f"  {post['scheduler']:9} {post['scheduled_at']}  {post['label']}", file=out)


# --- the commands --------------------------------------------------------------------------


def preview(args: argparse.Namespace) -> int:
    result = _call(args, "POST", "/statements/preview", _statement_body(args))
    print_preview(result, args.out)
    return 0


def submit(args: argparse.Namespace) -> int:
    draft = _call(args, "POST", "/statements", _statement_body(args))
    submitted = _call(
        args, "POST", f"/statements/{draft['id']}/submit", {"sha256": draft["sha256"]}
    )
    print(f"submitted {submitted['id']}  hash {submitted['sha256']}", file=args.out)
    for warning in submitted.get("warnings") or []:
        print(f"  warn {warning}", file=args.out)
    return 0


def _shown(args: argparse.Namespace) -> dict[str, Any]:
    statement = _call(args, "GET", f"/statements/{args.id}")
    insisted = getattr(args, "sha256", None)
    if insisted and not statement["sha256"].startswith(insisted.lower()):
        raise Refused(
            f"statement {args.id} has changed since you saw it "
            f"(you saw {insisted[:12]}, it is now {statement['sha256'][:12]}): show it again"
        )
    return statement


def approve(args: argparse.Namespace) -> int:
    statement = _shown(args)
    body = {"sha256": statement["sha256"], "accept_warnings": args.accept_warnings}
    approved = _call(args, "POST", f"/statements/{args.id}/approve", body)
    print(
        f"approved {approved['id']} ({approved['sha256'][:12]}): {approved['state']}, "
        f"{approved['missing_approvals']} more approval(s) needed",
        file=args.out,
    )
    return 0


def reject(args: argparse.Namespace) -> int:
    statement = _shown(args)
    body = {"sha256": statement["sha256"], "reason": args.reason}
    rejected = _call(args, "POST", f"/statements/{args.id}/reject", body)
    print(f"rejected {rejected['id']}: {args.reason}", file=args.out)
    return 0


def release(args: argparse.Namespace) -> int:
    statement = _shown(args)
    dry_run = _call(
        args,
        "POST",
        "/statements/preview",
        {key: statement[key] for key in ("kind", "language", "base", "texts", "variables")},
    )
    print_preview(dry_run, args.out)
    if dry_run["sha256"] != statement["sha256"]:
        raise Refused(f"statement {args.id} has changed since you saw it: show it again")
    print(
        f"\nrelease statement {args.id} (hash {statement['sha256'][:12]}): crisis mode on, "
        "everything above paused, these texts published on every channel",
        file=args.out,
    )
    if not args.yes and not args.confirm("release now? [y/N] "):
        print("not released", file=args.out)
        return 1
    try:
        result = _call_or_running(
            args,
            "POST",
            f"/statements/{args.id}/release",
            {"sha256": statement["sha256"], **({"alert_id": args.alert} if args.alert else {})},
        )
    except StillRunning:
        return _followed_release(args)
    print(f"\n{result['outcome']}: statement {result['id']}", file=args.out)
    print_grid(result["channels"], args.out)
    parked = ", ".join(f"{name} {count}" for name, count in result["parked"].items())
    print(f"parked: {parked}; crisis mode on since {result['crisis']['since']}", file=args.out)
    for name, error in (result.get("park_errors") or {}).items():
        print(f"  {name}: not all parked ({error}); run release again", file=args.out)
    if result["outcome"] != "released":
        print(
            "some channels failed: `stormwatch statement release` again retries only them",
            file=args.out,
        )
    return 0


def _followed_release(args: argparse.Namespace) -> int:
    def settled(statement: dict[str, Any]) -> bool:
        releases = statement.get("releases") or {}
        return statement["state"] == "released" and all(
            record["status"] != "publishing" for record in releases.values()
        )

    statement = _follow(
        args,
        "release",
        f"/statements/{args.id}",
        settled,
        f"stormwatch statement show {args.id}",
    )
    releases = statement.get("releases") or {}
    outcome = (
        "released" if all(r["status"] == "published" for r in releases.values()) else "partial"
    )
    print(f"\n{outcome}: statement {statement['id']}", file=args.out)
    print_grid(releases, args.out)
    if outcome != "released":
        print(
            "some channels failed: `stormwatch statement release` again retries only them",
            file=args.out,
        )
    return 0


def show(args: argparse.Namespace) -> int:
    print_statement(_shown(args), args.out)
    return 0


def pause(args: argparse.Namespace) -> int:
    if not args.alert and not args.reason:
        raise Refused("pause needs --alert ALERT_ID or --reason TEXT (or both)")
    body: dict[str, Any] = {}
    if args.alert:
        body["alert_id"] = args.alert
    if args.reason:
        body["reason"] = args.reason
    at = resume_time(args, args.now())
    if at:
        body["resume_at"] = at
    try:
        result = _call_or_running(args, "POST", "/pause", body)
    except StillRunning:
        status = _follow(
            args, "pause", "/status", lambda s: s["crisis"]["active"], "stormwatch status"
        )
        crisis = status["crisis"]
        print(f"crisis mode ON since {crisis['since']} ({crisis['reason']})", file=args.out)
        print("parking may still go on: `stormwatch status` shows the parked counts", file=args.out)
        return 0
    crisis = result["crisis"]
    print(f"crisis mode ON since {crisis['since']} ({crisis['reason']})", file=args.out)
    parked = ", ".join(f"{name} {count}" for name, count in result["parked"].items())
    print(f"parked: {parked}", file=args.out)
    for name, error in (result.get("park_errors") or {}).items():
        print(
            f"  {name}: not all parked ({error}); `stormwatch resume` later restores them",
            file=args.out,
        )
    if crisis.get("resume_at"):
        print(f"resumes on its own at {crisis['resume_at']}", file=args.out)
    return 0


def resume(args: argparse.Namespace) -> int:
    try:
        result = _call_or_running(args, "POST", "/resume", {})
    except StillRunning:
        _follow(args, "resume", "/status", lambda s: not s["crisis"]["active"], "stormwatch status")
        print(
            "crisis mode off; restoring may still go on: `stormwatch status` shows what is "
            "left parked and the review list",
            file=args.out,
        )
        return 0
    restored = ", ".join(f"{name} {count}" for name, count in result["restored"].items())
    print(f"crisis mode off; restored: {restored}", file=args.out)
    for name, error in (result.get("errors") or {}).items():
        print(f"  {name}: not all restored ({error}); run resume again", file=args.out)
    print_review(result["review"], args.out)
    return 0


def status(args: argparse.Namespace) -> int:
    result = _call(args, "GET", "/status")
    crisis = result["crisis"]
    if crisis["active"]:
        line = f"crisis mode ON since {crisis['since']} by {crisis['by']}: {crisis['reason']}"
        if crisis.get("resume_at"):
            line += f"; resumes at {crisis['resume_at']}"
    else:
        line = "crisis mode off"
    print(line, file=args.out)
    parked = ", ".join(f"{name} {count}" for name, count in result["parked"].items())
    print(f"parked: {parked}", file=args.out)
    print_review(result["review"], args.out)
    for statement in result["statements"]:
        print(
            f"  {statement['id']}  {statement['kind']} ({statement['language']})  "
            f"{statement['state']}  by {statement['author']}",
            file=args.out,
        )
    if result.get("alert_timeline"):
        print_timeline(result["alert_timeline"], args.out)
    print_undelivered(result.get("undelivered") or [], args.out)
    return 0


def print_undelivered(undelivered: list[Mapping[str, Any]], out: TextIO) -> None:
    """Pages SNS refused: given up ones first; each says who it was for and why."""
    if not undelivered:
        return
    print(f"notifications not delivered: {len(undelivered)}", file=out)
    for entry in sorted(undelivered, key=lambda e: (not e["given_up"], e["key"])):
        state = "GIVEN UP" if entry["given_up"] else "retrying"
        print(
            f"  {state:8}  {entry['medium']} to {entry['to']}  {entry['alert_id']} "
            f"{entry['kind']}: {entry['attempts']} tries, last {entry['last_error']}",
            file=out,
        )


def report(args: argparse.Namespace) -> int:
    result = _call(args, "POST", f"/alerts/{quote(args.alert_id, safe='')}/report", {})

    def took(seconds: int | None) -> str:
        if seconds is None:
            return "not yet"
        minutes = seconds // 60
        return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"

    durations = result["durations_seconds"]
    print(
        f"crisis report of {result['alert_id']}: time to alert {took(durations['to_alert'])}, "
        f"to acknowledge {took(durations['to_acknowledge'])}, "
        f"to statement {took(durations['to_statement'])}",
        file=args.out,
    )
    print(f"  stored as {result['html_key']} and {result['json_key']}", file=args.out)
    print(f"  open (valid a day): {result['url']}", file=args.out)
    return 0


def print_timeline(timeline: Mapping[str, Any], out: TextIO) -> None:
    print(f"alert {timeline['alert_id']}:", file=out)
    for step in timeline["steps"]:
        details = step.get("details") or {}
        what = {
            "released": f"{details.get('channel')} {details.get('url') or ''}".rstrip(),
            "paused": details.get("reason") or "",
            "escalated": f"severity {details.get('severity')}",
            "reminder": f"step {details.get('step')}",
        }.get(step["kind"], "")
        who = f" by {step['who']}" if step.get("who") else ""
        print(f"  {step['at']}  {step['kind']}{who}  {what}".rstrip(), file=out)


def ask(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def run(
    args: argparse.Namespace,
    transport: Transport | None,
    confirm: Callable[[str], bool] | None,
    out: TextIO | None = None,
) -> int:
    """Run an Act command; refusals are one line on stderr and exit code 2."""
    args.out = out or sys.stdout
    args.confirm = confirm or ask
    args.now = lambda: datetime.now(UTC)
    try:
        if transport is None:
            from botocore.exceptions import BotoCoreError, ClientError

            from ops.transport import deployed_transport

            try:
                transport = deployed_transport(args.stack, args.api_url)
            except (LookupError, BotoCoreError, ClientError) as error:
                raise Refused(f"cannot reach the stack: {error}") from None
        args.transport = transport
        return int(args.run(args))
    except Refused as error:
        print(f"error: {error}", file=sys.stderr)
        return REFUSED
