"""The Act function: statements, release, pause and resume, behind an HTTP API whose IAM
authorizer verified the caller. Also invoked by a pause's one-time auto-resume schedule
with ``{"action": "auto-resume", "crisis_version": N}`` (no HTTP, no caller).

    POST /statements/preview   the dry run          GET  /statements        recent ones
    POST /statements           a draft              GET  /statements/{id}   one
    POST /statements/{id}/revise|submit|approve|reject|release
    POST /pause   POST /resume   GET /status   GET /alerts/{id}/timeline

Who calls comes only from ``requestContext.authorizer.iam.userArn``, looked up in the
config's ``act.people``; a name in the body changes nothing. Refusals are answers with
a message (403, 404, 409, 422, 400), never a stack trace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stormwatch.observability import LazyTracer
from stormwatch.runtime import AwsClients, Environment

logger = Logger()
metrics = Metrics()
tracer = LazyTracer()
copy_config_to_registered_loggers(source_logger=logger, include={"stormwatch"})

_clients = AwsClients()
MAX_BODY_BYTES = 256 * 1024

# (method, path pattern, service method name, takes the body)
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(f"^{pattern}$"), name)
    for method, pattern, name in (
        ("POST", r"/statements/preview", "preview"),
        ("POST", r"/statements", "create"),
        ("GET", r"/statements", "recent"),
        ("GET", r"/statements/(?P<id>[^/]+)", "show"),
        ("POST", r"/statements/(?P<id>[^/]+)/revise", "revise"),
        ("POST", r"/statements/(?P<id>[^/]+)/submit", "submit"),
        ("POST", r"/statements/(?P<id>[^/]+)/approve", "approve"),
        ("POST", r"/statements/(?P<id>[^/]+)/reject", "reject"),
        ("POST", r"/statements/(?P<id>[^/]+)/release", "release"),
        ("POST", r"/pause", "pause"),
        ("POST", r"/resume", "resume"),
        ("GET", r"/status", "status"),
        ("GET", r"/alerts/(?P<alert>[^/]+)/timeline", "timeline"),
    )
)


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


def route(event: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The service method of a payload-2.0 request, and its path parameters."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method") or "").upper()
    path = str(event.get("rawPath") or http.get("path") or "")
    known_path = False
    for route_method, pattern, name in ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        known_path = True
        if route_method == method:
            return name, match.groupdict()
    if known_path:
        raise HttpError(405, f"{method} is not allowed on {path}")
    raise HttpError(404, f"no such route: {method} {path}")


def request_body(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("body")
    if raw is None or raw == "":
        return {}
    if event.get("isBase64Encoded"):
        import base64

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

    for kinds, status in (
        ((BadRequest,), 400),
        ((NotAllowed,), 403),
        ((UnknownStatement,), 404),
        (
            (WrongState, StaleHash, NotReady, CrisisModeAlreadyOn, TextChanged, StatementConflict),
            409,
        ),
        ((PreflightFailed, WarningsNotAccepted), 422),
    ):
        if isinstance(error, kinds):
            return status
    return None


def _service(context: LambdaContext) -> Any:
    from stormwatch.act.service import ActService
    from stormwatch.act.wiring import act_ports
    from stormwatch.persistence.table import Table
    from stormwatch.runtime import load_config

    environment = Environment.from_environ()
    config = load_config(_clients, environment.config_parameter)
    table = Table(_clients.client("dynamodb"), environment.table_name)
    ports = act_ports(config, table, environment, _clients, context.invoked_function_arn)
    return ActService(config, table, ports, lambda: datetime.now(UTC)), config


def _http(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from stormwatch.act.identity import resolve_caller, verified_identity
    from stormwatch.act.service import STATEMENT_ID

    try:
        name, parameters = route(event)
        body = request_body(event)
        identity = verified_identity(event)
        service, config = _service(context)
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
        elif name == "resume":
            result = call(caller)
        elif statement_id is not None:
            result = call(caller, statement_id, body)
        else:
            result = call(caller, body)
        logger.info("act request", extra={"route": name, "caller": caller.contact})
        metrics.add_metric(name=f"Act_{name}", unit=MetricUnit.Count, value=1)
        return response(200 if name != "create" else 201, result)
    except HttpError as error:
        metrics.add_metric(name="ActRefused", unit=MetricUnit.Count, value=1)
        return response(error.status, {"error": str(error), "status": error.status})
    except Exception as error:
        status = status_of(error)
        if status is None:
            logger.exception("act request failed")
            metrics.add_metric(name="ActErrors", unit=MetricUnit.Count, value=1)
            return response(
                500,
                {
                    "error": "the Act function failed; see its log (request "
                    f"{context.aws_request_id})",
                    "status": 500,
                },
            )
        metrics.add_metric(name="ActRefused", unit=MetricUnit.Count, value=1)
        logger.info("act request refused", extra={"status": status, "reason": str(error)})
        return response(status, {"error": str(error), "status": status})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from stormwatch.act.service import AUTO_RESUME_ACTION

    if isinstance(event, dict) and event.get("action") == AUTO_RESUME_ACTION:
        service, _config = _service(context)
        result: dict[str, Any] = service.auto_resume(event)
        logger.info("auto-resume", extra={"outcome": result["outcome"]})
        metrics.add_metric(name=f"AutoResume_{result['outcome']}", unit=MetricUnit.Count, value=1)
        return result
    return _http(event, context)
