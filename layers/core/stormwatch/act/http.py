"""The Act API's requests and answers, shared by the functions behind its routes.

API Gateway already picked the function by the route; each function still matches the
path against its own routes, because the statement id and the service method come from
it and a request it does not serve must be refused, not guessed at. Who calls comes only
from the identity the IAM authorizer verified; refusals are answers with a message (400,
403, 404, 409, 413, 422), never a stack trace.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    """The `ActService` method that answers it."""


GATEWAY_GAVE_UP = frozenset({503, 504})


@dataclass(frozen=True, slots=True)
class Answer:
    """An Act API answer as its callers read it: the command line (through API Gateway or
    in-process) and the console (through Lambda's Invoke)."""

    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def still_running(self) -> bool:
        """The API gave up waiting (an HTTP API answers 503 after 30 s; 504 is a client's
        own timeout, or a proxy's) while the function may well go on: the Act functions
        themselves never answer 503 or 504."""
        return self.status in GATEWAY_GAVE_UP

    @property
    def error(self) -> str:
        # Our functions answer "error"; API Gateway's own answers (404, 403) "message".
        return str(self.body.get("error") or self.body.get("message") or f"HTTP {self.status}")


def answer_of(status: int, text: str) -> Answer:
    """The answer to a response body as sent: JSON, else its text as the error."""
    try:
        body = json.loads(text) if text else {}
    except json.JSONDecodeError:
        body = {"error": text[:300] or f"HTTP {status}"}
    if not isinstance(body, dict):
        body = {"error": f"unexpected answer: {text[:200]}"}
    return Answer(status, body)


def _route(method: str, pattern: str, name: str) -> Route:
    return Route(method, re.compile(f"^{pattern}$"), name)


STATEMENT_ROUTES: tuple[Route, ...] = (
    _route("POST", r"/statements/preview", "preview"),
    _route("POST", r"/statements", "create"),
    _route("GET", r"/statements", "recent"),
    _route("GET", r"/statements/(?P<id>[^/]+)", "show"),
    _route("POST", r"/statements/(?P<id>[^/]+)/revise", "revise"),
    _route("POST", r"/statements/(?P<id>[^/]+)/submit", "submit"),
    _route("POST", r"/statements/(?P<id>[^/]+)/approve", "approve"),
    _route("POST", r"/statements/(?P<id>[^/]+)/reject", "reject"),
    _route("POST", r"/pause", "pause"),
    _route("POST", r"/resume", "resume"),
    _route("GET", r"/status", "status"),
    _route("GET", r"/alerts/(?P<alert>[^/]+)/timeline", "timeline"),
    _route("POST", r"/alerts/(?P<alert>[^/]+)/report", "report"),
    _route("POST", r"/alerts/(?P<alert>[^/]+)/acknowledge", "acknowledge"),
)
"""What the Act function answers: everything but the release."""

RELEASE_ROUTES: tuple[Route, ...] = (
    _route("POST", r"/statements/(?P<id>[^/]+)/release", "release"),
)
"""What the release function answers, and nothing else."""


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json; charset=utf-8"},
        "body": json.dumps(body, ensure_ascii=False),
    }


def route(event: dict[str, Any], routes: Iterable[Route]) -> tuple[str, dict[str, str]]:
    """The service method of a payload-2.0 request, and its path parameters."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method") or "").upper()
    path = str(event.get("rawPath") or http.get("path") or "")
    known_path = False
    for candidate in routes:
        match = candidate.pattern.match(path)
        if match is None:
            continue
        known_path = True
        if candidate.method == method:
            return candidate.name, match.groupdict()
    if known_path:
        raise HttpError(405, f"{method} is not allowed on {path}")
    raise HttpError(404, f"no such route: {method} {path}")


def request_body(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("body")
    if raw is None or raw == "":
        return {}
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8", errors="replace")
    if len(raw.encode()) > MAX_BODY_BYTES:
        raise HttpError(413, f"the body is larger than {MAX_BODY_BYTES // 1024} KB")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as error:
        raise HttpError(400, f"the body is not JSON: {error.msg} at {error.pos}") from None
    if not isinstance(body, dict):
        raise HttpError(400, "the body must be a JSON object")
    return body


def status_of(error: Exception) -> int | None:
    """The HTTP answer to a refusal of the Act flow; None for anything unexpected."""
    from stormwatch.act.approval import NotAllowed, NotReady, StaleHash, WrongState
    from stormwatch.act.service import BadRequest, PreflightFailed, WarningsNotAccepted
    from stormwatch.persistence.crisis import CrisisModeAlreadyOn
    from stormwatch.persistence.releases import TextChanged
    from stormwatch.persistence.statements import StatementConflict, UnknownStatement
    from stormwatch.review.report import UnknownAlert

    for kinds, status in (
        ((BadRequest,), 400),
        ((NotAllowed,), 403),
        ((UnknownStatement, UnknownAlert), 404),
        (
            (WrongState, StaleHash, NotReady, CrisisModeAlreadyOn, TextChanged, StatementConflict),
            409,
        ),
        ((PreflightFailed, WarningsNotAccepted), 422),
    ):
        if isinstance(error, kinds):
            return status
    return None


def answer(
    event: dict[str, Any],
    routes: Iterable[Route],
    open_service: Callable[[], tuple[Any, Any]],
    *,
    request_id: str,
    count: Callable[[str], None],
) -> dict[str, Any]:
    """The HTTP answer to one request: routed, the caller resolved from the verified
    identity, the service method called. `open_service` gives the `ActService` and the
    config (built only for a request that routed); `count` records a metric by name."""
    from stormwatch.act.identity import resolve_caller, verified_identity
    from stormwatch.act.service import STATEMENT_ID

    try:
        name, parameters = route(event, routes)
        body = request_body(event)
        identity = verified_identity(event)
        service, config = open_service()
        caller = resolve_caller(identity, config)
        statement_id = parameters.get("id")
        if statement_id is not None and not STATEMENT_ID.match(statement_id):
            raise HttpError(404, f"no statement {statement_id[:80]!r}")
        call: Callable[..., dict[str, Any]] = getattr(service, name)
        if name in ("status", "recent"):
            result = call()
        elif name == "show":
            result = call(statement_id)
        elif name == "timeline":
            result = call(parameters["alert"])
        elif name == "report":
            result = call(caller, parameters["alert"])
        elif name == "acknowledge":
            result = call(caller, parameters["alert"], body)
        elif name == "resume":
            result = call(caller)
        elif statement_id is not None:
            result = call(caller, statement_id, body)
        else:
            result = call(caller, body)
        logger.info("act request", extra={"route": name, "caller": caller.contact})
        count(f"Act_{name}")
        return response(201 if name == "create" else 200, result)
    except HttpError as error:
        count("ActRefused")
        return response(error.status, {"error": str(error), "status": error.status})
    except Exception as error:
        status = status_of(error)
        if status is None:
            logger.exception("act request failed")
            count("ActErrors")
            return response(
                500,
                {
                    "error": f"the Act function failed; see its log (request {request_id})",
                    "status": 500,
                },
            )
        count("ActRefused")
        logger.info("act request refused", extra={"status": status, "reason": str(error)})
        return response(status, {"error": str(error), "status": status})
