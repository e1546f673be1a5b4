"""The console: server-rendered pages behind an HTTP API whose JWT authorizer verified the
signed-in person (docs/decisions/0013-console.md).

    GET  /                         status: crisis mode, open alerts, 24 h chart
    GET  /alerts/{id}              timeline     POST .../acknowledge   POST .../pause
    GET  /statements/{id}          texts, lengths, approvals, the release grid
    POST /statements/{id}/approve|reject        GET|POST /statements/{id}/release
    GET  /resume                   held posts, review list           POST /resume

Reads go through the Act flow's stores; every change is the Act function's (the release
the release function's), invoked with this request's verified claims. Every POST needs
the form's CSRF token; no GET changes anything.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie
from aws_lambda_powertools.utilities.typing import LambdaContext

from stormwatch.observability import LazyTracer
from stormwatch.runtime import AwsClients

logger = Logger()
metrics = Metrics()
tracer = LazyTracer()
copy_config_to_registered_loggers(source_logger=logger, include={"stormwatch"})

app = APIGatewayHttpResolver()
_clients = AwsClients()
HTML = "text/html; charset=utf-8"
MAX_FORM_BYTES = 16 * 1024
KEY_MAX_AGE_SECONDS = 300


def _now() -> datetime:
    return datetime.now(UTC)


def _key() -> bytes:
    secret = _clients.secrets().get(os.environ["CONSOLE_SECRET_NAME"], max_age=KEY_MAX_AGE_SECONDS)
    return str(secret).encode()


def _reads() -> Any:
    from stormwatch.console.reads import ConsoleReads
    from stormwatch.persistence.table import Table
    from stormwatch.runtime import Environment, load_config

    environment = Environment.from_environ()
    config = load_config(_clients, environment.config_parameter)
    return ConsoleReads(config, Table(_clients.client("dynamodb"), environment.table_name), _now)


def _act_functions() -> Any:
    from stormwatch.console.invoke import LambdaActFunctions

    return LambdaActFunctions(
        _clients.client("lambda"),
        os.environ["ACT_FUNCTION_NAME"],
        os.environ["RELEASE_FUNCTION_NAME"],
    )


def _viewer() -> Any:
    from stormwatch.console.web import viewer_of

    return viewer_of(app.current_event.raw_event)


def _page(page: str, status: int = 200, **values: Any) -> Response[str]:
    from stormwatch.console import csrf
    from stormwatch.console.pages import render

    viewer = _viewer()
    token = csrf.issue(_key(), viewer.sub, _now())
    return Response(status, HTML, render(page, viewer=viewer, csrf=token, **values))


def _refused(status: int, heading: str, message: str, back: str | None = None) -> Response[str]:
    return _page("refused", status, heading=heading, message=message, back=back)


def _form() -> dict[str, str]:
    """The posted form; an oversized or malformed one is empty (its CSRF token with it)."""
    raw = app.current_event.decoded_body or ""
    if len(raw.encode()) > MAX_FORM_BYTES:
        return {}
    try:
        fields = parse_qs(raw, max_num_fields=20)
    except ValueError:
        return {}
    return {name: values[0] for name, values in fields.items()}


class NoSuchPage(LookupError):
    """A path parameter that cannot name a statement or an alert."""


def _statement_id(raw: str) -> str:
    from stormwatch.act.service import STATEMENT_ID

    if not STATEMENT_ID.match(raw):
        raise NoSuchPage(f"there is no statement {raw[:80]!r}")
    return raw


def _alert_id(raw: str) -> str:
    from stormwatch.warn.acknowledgement import ALERT_ID

    if not ALERT_ID.match(raw):
        raise NoSuchPage(f"there is no alert {raw[:80]!r}")
    return raw


def _step(
    function: str,
    route_key: str,
    path: str,
    body: dict[str, Any],
    back: str,
    form: dict[str, str],
    path_parameters: dict[str, str] | None = None,
) -> Response[str]:
    """One state change: the CSRF token checked, then the Act function decides."""
    from stormwatch.console import csrf
    from stormwatch.console.invoke import act_event

    viewer = _viewer()
    if not csrf.is_valid(_key(), viewer.sub, form.get("csrf"), _now()):
        logger.info("csrf refused", extra={"route": route_key})
        return _refused(
            403, "Not done", "This form is too old or not yours. Open the page again.", back
        )
    method = route_key.split(" ", 1)[0]
    event = act_event(app.current_event.raw_event, method, route_key, path, body, path_parameters)
    answer = _act_functions().call(function, event)
    logger.info("act step", extra={"route": route_key, "status": answer.status})
    if answer.ok:
        return Response(303, HTML, "", headers={"Location": back})
    return _refused(answer.status, "Not done", answer.error, back)


# --- pages (GET: reads only) -------------------------------------------------------------


@app.get("/")
def status() -> Response[str]:
    return _page("status", **_reads().status())


@app.get("/alerts/<alert_id>")
def alert(alert_id: str) -> Response[str]:
    alert_id = _alert_id(alert_id)
    reads = _reads()
    timeline = reads.service.timeline(alert_id)
    return _page(
        "alert",
        alert_id=alert_id,
        steps=timeline["steps"],
        evidence=reads.evidence(alert_id),
        crisis=reads.service.crisis.read(),
    )


def _dry_run(shown: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The Act function's pre-flight checks of the statement's texts as stored (its dry
    run writes nothing), for this person; None and why when it refused or failed."""
    from stormwatch.console.invoke import act_event
    from stormwatch.console.pages import preview_body

    event = act_event(
        app.current_event.raw_event,
        "POST",
        "POST /statements/preview",
        "/statements/preview",
        preview_body(shown),
    )
    answer = _act_functions().call("act", event)
    return (answer.body, "") if answer.ok else (None, answer.error)


@app.get("/alerts/<alert_id>/report")
def crisis_report(alert_id: str) -> Response[str]:
    """The alert's crisis report as stored (made when the alert resolved, or on demand)."""
    from stormwatch.review.store import ReportStore

    alert_id = _alert_id(alert_id)
    stored = ReportStore(_clients.client("s3"), os.environ["REPORTS_BUCKET"]).read_html(alert_id)
    if stored is None:
        return _page("no_report", 404, alert_id=alert_id)
    # Our own page, rendered with autoescape from the stored report (stormwatch.review).
    return Response(200, HTML, stored)


@app.post("/alerts/<alert_id>/report")
def make_report(alert_id: str) -> Response[str]:
    alert_id = _alert_id(alert_id)
    path = f"/alerts/{alert_id}/report"
    return _step("act", "POST /alerts/{id}/report", path, {}, path, _form(), {"id": alert_id})


@app.get("/statements/<statement_id>")
def statement(statement_id: str) -> Response[str]:
    from stormwatch.console.pages import statement_view

    statement_id = _statement_id(statement_id)
    reads = _reads()
    stored = reads.service.show(statement_id)
    preview, unchecked = _dry_run(stored) if stored["state"] != "released" else (None, "")
    shown = statement_view(stored, preview)
    failed = sorted(c for c, r in shown["releases"].items() if r["status"] != "published")
    return _page(
        "statement",
        s=shown,
        failed=failed,
        unchecked=unchecked,
        crisis=reads.service.crisis.read(),
    )


@app.get("/statements/<statement_id>/release")
def confirm_release(statement_id: str) -> Response[str]:
    from stormwatch.console.pages import statement_view

    statement_id = _statement_id(statement_id)
    shown = statement_view(_reads().service.show(statement_id))
    return _page("confirm", s=shown)


@app.get("/resume")
def resume_page() -> Response[str]:
    return _page("resume", **_reads().parked())


@app.get("/l/<token>")
def signed_link(token: str) -> Response[str]:
    """An alert message's link: to the alert's page, once, before it expires. Its one write
    is the record of its use; the alert is not touched."""
    from stormwatch.console.links import BadLink, ExpiredLink, open_link
    from stormwatch.persistence.links import LinkUses

    reads = _reads()
    brands = [brand.id for brand in reads.config.brands]
    now = _now()
    try:
        link = open_link(_key(), token, brands, now)
    except ExpiredLink as error:
        return _refused(410, "This link has expired", f"{error}. Open the console instead.", "/")
    except BadLink as error:
        return _refused(400, "This link does not work", str(error), "/")
    if not LinkUses(reads.table).first_use(link.link_id, _viewer().sub, now, link.expires_at):
        return _refused(
            409,
            "This link was used already",
            "Each link in an alert opens once. The alert is on the console's status page.",
            "/",
        )
    return Response(303, HTML, "", headers={"Location": f"/alerts/{link.alert_id}"})


# --- sign-in (no authorizer on /auth/: these routes only trade a code for a cookie) ------


def _signin() -> Any:
    from stormwatch.console.signin import CognitoSignIn, RequestsTokenEndpoint

    return CognitoSignIn(
        os.environ["CONSOLE_LOGIN_URL"],
        os.environ["CONSOLE_CLIENT_ID"],
        os.environ["CONSOLE_URL"],
        RequestsTokenEndpoint(),
    )


def _signed_out_page(status: int, heading: str, message: str) -> Response[str]:
    from stormwatch.console.pages import render

    body = render("signin", viewer=None, heading=heading, message=message)
    return Response(status, HTML, body)


def _redirect(location: str, cookies: list[Cookie], status: int = 303) -> Response[str]:
    return Response(status, HTML, "", headers={"Location": location}, cookies=cookies)


@app.get("/auth/signin")
def sign_in() -> Response[str]:
    """To the managed login; with a refresh token still good, straight back instead."""
    from stormwatch.console import signin

    wanted = app.current_event.get_query_string_value("next")
    flow = _signin()
    refresh = signin.cookies_of(app.current_event.raw_event).get(signin.REFRESH_COOKIE)
    if refresh:
        try:
            tokens = flow.refresh(refresh)
            logger.info("session renewed")
            return _redirect(signin.safe_next(wanted), signin.session_cookies(tokens))
        except signin.SignInFailed as error:
            logger.info("refresh refused", extra={"reason": str(error)})
    url, pending = flow.start(wanted, _now())
    seconds = int(signin.SIGNIN_VALIDITY.total_seconds())
    cookies = [signin.cookie(signin.SIGNIN_COOKIE, pending.cookie_value(_key()), seconds)]
    if refresh:
        cookies.append(signin.expired_cookie(signin.REFRESH_COOKIE, signin.REFRESH_PATH))
    return _redirect(url, cookies, status=302)


@app.get("/auth/callback")
def sign_in_callback() -> Response[str]:
    from stormwatch.console import signin

    event = app.current_event
    if event.get_query_string_value("error"):
        # The managed login says why (access_denied, ...): no code to redeem.
        reason = (event.get_query_string_value("error_description") or "")[:200]
        return _signed_out_page(400, "Sign-in did not finish", reason or "The login refused.")
    try:
        pending = signin.PendingSignIn.from_cookie(
            _key(), signin.cookies_of(event.raw_event).get(signin.SIGNIN_COOKIE), _now()
        )
        tokens = _signin().finish(
            pending,
            event.get_query_string_value("code"),
            event.get_query_string_value("state"),
        )
    except signin.SignInFailed as error:
        logger.info("sign-in refused", extra={"reason": str(error)})
        return _signed_out_page(400, "Sign-in did not finish", f"{str(error).capitalize()}.")
    logger.info("signed in")
    cookies = [*signin.session_cookies(tokens), signin.expired_cookie(signin.SIGNIN_COOKIE)]
    return _redirect(pending.next_path, cookies)


@app.post("/auth/signout")
def sign_out() -> Response[str]:
    """Cookies gone, the refresh token revoked, then the managed login's own sign-out."""
    from stormwatch.console import signin

    flow = _signin()
    refresh = signin.cookies_of(app.current_event.raw_event).get(signin.REFRESH_COOKIE)
    if refresh:
        try:
            flow.revoke(refresh)
        except signin.SignInFailed as error:  # the cookie is gone either way
            logger.info("revocation failed", extra={"reason": str(error)})
    cookies = [
        signin.expired_cookie(signin.SESSION_COOKIE),
        signin.expired_cookie(signin.REFRESH_COOKIE, signin.REFRESH_PATH),
    ]
    return _redirect(flow.logout_url(), cookies)


# --- steps (POST: each one an Act function's) --------------------------------------------


@app.post("/alerts/<alert_id>/acknowledge")
def acknowledge(alert_id: str) -> Response[str]:
    alert_id = _alert_id(alert_id)
    path = f"/alerts/{alert_id}/acknowledge"
    return _step(
        "act",
        "POST /alerts/{id}/acknowledge",
        path,
        {},
        f"/alerts/{alert_id}",
        _form(),
        {"id": alert_id},
    )


@app.post("/alerts/<alert_id>/pause")
def pause(alert_id: str) -> Response[str]:
    alert_id = _alert_id(alert_id)
    form = _form()
    body: dict[str, Any] = {"alert_id": alert_id}
    if form.get("reason", "").strip():
        body["reason"] = form["reason"].strip()
    return _step("act", "POST /pause", "/pause", body, f"/alerts/{alert_id}", form)


def _statement_step(statement_id: str, step: str, function: str = "act") -> Response[str]:
    statement_id = _statement_id(statement_id)
    form = _form()
    body: dict[str, Any] = {"sha256": form.get("sha256", "")}
    if step == "approve" and form.get("accept_warnings") == "yes":
        body["accept_warnings"] = True
    if step == "reject":
        body["reason"] = form.get("reason", "")
    return _step(
        function,
        f"POST /statements/{{id}}/{step}",
        f"/statements/{statement_id}/{step}",
        body,
        f"/statements/{statement_id}",
        form,
        {"id": statement_id},
    )


@app.post("/statements/<statement_id>/approve")
def approve(statement_id: str) -> Response[str]:
    return _statement_step(statement_id, "approve")


@app.post("/statements/<statement_id>/reject")
def reject(statement_id: str) -> Response[str]:
    return _statement_step(statement_id, "reject")


@app.post("/statements/<statement_id>/release")
def release(statement_id: str) -> Response[str]:
    return _statement_step(statement_id, "release", function="release")


@app.post("/resume")
def resume() -> Response[str]:
    return _step("act", "POST /resume", "/resume", {}, "/resume", _form())


# --- refusals ----------------------------------------------------------------------------


@app.not_found
def not_found(_: Exception) -> Response[str]:
    return _refused(404, "No such page", "There is no such page.", "/")


@app.exception_handler(Exception)
def refusal(error: Exception) -> Response[str]:
    from stormwatch.act.http import status_of
    from stormwatch.console.web import NotSignedIn

    if isinstance(error, NotSignedIn):
        return Response(401, "text/plain; charset=utf-8", "sign in first")
    if isinstance(error, NoSuchPage):
        return _refused(404, "No such page", str(error), "/")
    status = status_of(error)
    if status is None:
        logger.exception("console request failed")
        return Response(500, "text/plain; charset=utf-8", "the console failed; see its log")
    return _refused(status, "Not found" if status == 404 else "Not done", str(error), "/")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from stormwatch.console.web import security_headers

    answer: dict[str, Any] = app.resolve(event, context)
    # (.get: the headers go out even from a misconfigured function, which must say so)
    login = os.environ.get("CONSOLE_LOGIN_URL", "")
    answer.setdefault("headers", {}).update(security_headers(login))
    # Every answer counted by its status class: refusals and errors show on the dashboard.
    status = int(answer.get("statusCode", 500))
    metrics.add_metric(name=f"ConsoleAnswers{status // 100}xx", unit=MetricUnit.Count, value=1)
    return answer
