"""The console through its handler, with the payload-2.0 events its HTTP API sends for a
person its JWT authorizer verified, on the local stack: pages for each group, every change
an Act function's (with the person's claims), CSRF, headers, and nothing changed by a GET."""

from __future__ import annotations

import html
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import markupsafe
import pytest

from local.iam import refused_calls
from local.stack import LocalStack
from stormwatch.persistence.table import Table
from stormwatch.persistence.warn_state import WarnStateStore
from stormwatch.warn.lifecycle import ActiveAlert, alert_id_of
from tests.granted import assert_seen
from tests.integration.test_act_api import (
    CARLA,
    PUBLISHED_ON,
    _approved,
    _body,
    _configure,
    _ok,
    _posts,
    _resumed,
    as_,
)
from tests.integration.test_alert_timeline import BRAND, _warn_writes

POOL = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_local"
GROUPS = {
    "anna": "[approver]",
    "ben": "[approver publisher]",
    "carla": "[approver]",
    "dieter": "[approver publisher]",
    "erik": "[viewer]",  # in the pool, not in act.people
}
SUBS = {name: str(uuid.uuid5(uuid.NAMESPACE_DNS, name)) for name in GROUPS}


@pytest.fixture(scope="module")
def act(stack: LocalStack) -> LocalStack:
    _configure(stack)
    return stack


@pytest.fixture
def world(act: LocalStack) -> Any:
    act.world.faults.clear()
    yield act.world
    act.world.faults.clear()


def event(method: str, path: str, who: str, form: dict[str, str] | None = None) -> dict[str, Any]:
    """What the console's HTTP API sends after its JWT authorizer verified `who`'s ID token
    (array claims arrive as one string, as API Gateway passes them)."""
    route = "GET /" if path == "/" else "ANY /{proxy+}"
    return {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/x-www-form-urlencoded", "host": "console"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "console",
            "authorizer": {
                "jwt": {
                    "claims": {
                        "sub": SUBS[who],
                        "cognito:username": who,
                        "cognito:groups": GROUPS[who],
                        "iss": POOL,
                        "token_use": "id",
                    },
                    "scopes": None,
                }
            },
            "domainName": "console",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route,
            "stage": "$default",
            "time": "24/Dec/2026:09:00:00 +0000",
            "timeEpoch": 1798102800000,
        },
        "pathParameters": {"proxy": path.lstrip("/")},
        "body": urlencode(form) if form is not None else None,
        "isBase64Encoded": False,
    }


def get(stack: LocalStack, path: str, who: str) -> dict[str, Any]:
    answer: dict[str, Any] = stack.invoke("ConsoleFunction", event("GET", path, who))
    return answer


def post(stack: LocalStack, path: str, who: str, form: dict[str, str]) -> dict[str, Any]:
    answer: dict[str, Any] = stack.invoke("ConsoleFunction", event("POST", path, who, form))
    return answer


def csrf_of(page: dict[str, Any]) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page["body"])
    assert match, page["body"][:500]
    return html.unescape(match.group(1))


def clicked(stack: LocalStack, page_path: str, action: str, who: str, **fields: str) -> Any:
    """`who` opens the page and submits its form for `action`, as the browser would (a
    page without that form: `who` takes the token of another and posts it by hand)."""
    page = get(stack, page_path, who)
    if 'name="csrf"' not in page["body"]:
        page = get(stack, "/alerts/nordwind-air-20261122-0305", who)
    assert page["statusCode"] == 200, page["body"][:300]
    return post(stack, action, who, {"csrf": csrf_of(page), **fields})


def _statement(stack: LocalStack, statement_id: str) -> dict[str, Any]:
    return _ok(as_(stack, CARLA).request("GET", f"/statements/{statement_id}"))


def _submitted(stack: LocalStack, situation: str) -> dict[str, Any]:
    draft = _ok(as_(stack, CARLA).request("POST", "/statements", _body(stack, situation)))
    seen = {"sha256": draft["sha256"]}
    _ok(as_(stack, CARLA).request("POST", f"/statements/{draft['id']}/submit", seen))
    return draft


def _items(stack: LocalStack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stack.client("dynamodb").scan(
        TableName=stack.outputs["TableName"]
    )["Items"]
    return items


def _open_alert(stack: LocalStack) -> str:
    started = datetime(2026, 11, 22, 3, 5, tzinfo=UTC)
    alert = ActiveAlert(alert_id_of(BRAND, started), started, 3, 3, started)
    version = WarnStateStore(Table(stack.client("dynamodb"), stack.outputs["TableName"]))
    _warn_writes(stack, alert, [("started", started)], version=version.load_state(BRAND).version)
    return alert.id


HEADERS = {
    "Content-Security-Policy",
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "Referrer-Policy",
}


def test_given_each_group_when_each_page_opens_then_it_renders_with_what_the_group_may_do(
    act: LocalStack,
) -> None:
    # Given an open alert and a submitted statement
    alert_id = _open_alert(act)
    draft = _submitted(act, "Since 6 am, flights from Hamburg are delayed.")
    pages = [
        "/",
        f"/alerts/{alert_id}",
        f"/statements/{draft['id']}",
        "/resume",
        f"/statements/{draft['id']}/release",
    ]
    for who in ("erik", "anna", "ben"):
        for path in pages:
            # When the person opens it
            answer = get(act, path, who)
            # Then it renders, with the security headers
            assert answer["statusCode"] == 200, (who, path, answer["body"][:300])
            assert set(answer["headers"]) >= HEADERS, answer["headers"]
            assert "frame-ancestors 'none'" in answer["headers"]["Content-Security-Policy"]
    statement_page = f"/statements/{draft['id']}"
    # ...a viewer sees no approve button, an approver does; only a publisher sees the pause
    assert "Approve this text" not in get(act, statement_page, "erik")["body"]
    assert "Approve this text" in get(act, statement_page, "anna")["body"]
    assert "Pause everything now" not in get(act, f"/alerts/{alert_id}", "anna")["body"]
    assert "Pause everything now" in get(act, f"/alerts/{alert_id}", "ben")["body"]
    # ...and each channel's exact text with its length as the channel counts it
    body = get(act, statement_page, "anna")["body"]
    assert html.escape(draft["texts"]["x"], quote=False) in body
    assert "/ 280 weighted characters" in body
    # ...with the pre-flight checks the Act function ran on those texts for her
    assert "<td>links</td><td>passed</td>" in body
    assert "<td>spelling</td>" in body
    # ...which it does not run for somebody act.people does not name
    assert (
        "Pre-flight checks not shown: cognito:erik is nobody"
        in get(act, statement_page, "erik")["body"]
    )


def test_given_a_viewer_when_approving_then_the_act_functions_rule_refuses_and_nothing_changes(
    act: LocalStack,
) -> None:
    draft = _submitted(act, "A rumour about Hamburg is false.")
    path = f"/statements/{draft['id']}"
    # When Erik (a viewer, nobody in act.people) posts the approve form with a good token
    answer = clicked(act, path, f"{path}/approve", "erik", sha256=draft["sha256"])
    # Then the Act function refused him, shown as a page
    assert answer["statusCode"] == 403
    assert "cognito:erik is nobody in act.people" in html.unescape(answer["body"])
    assert set(answer["headers"]) >= HEADERS
    assert _statement(act, draft["id"])["approvals"] == []


@pytest.mark.parametrize("token", [None, "", "123.forged", "other"])
def test_given_no_or_a_wrong_csrf_token_when_posting_then_403_and_nothing_changed(
    act: LocalStack, token: str | None
) -> None:
    draft = _submitted(act, "Flights from Hamburg are delayed.")
    path = f"/statements/{draft['id']}"
    form = {"sha256": draft["sha256"]}
    if token == "other":
        # (a real token, but Ben's, posted as Anna)
        form["csrf"] = csrf_of(get(act, path, "ben"))
    elif token is not None:
        form["csrf"] = token
    answer = post(act, f"{path}/approve", "anna", form)
    assert answer["statusCode"] == 403
    assert "too old or not yours" in answer["body"]
    assert _statement(act, draft["id"])["approvals"] == []


def test_given_every_page_when_opened_then_nothing_in_the_table_changed(act: LocalStack) -> None:
    alert_id = _open_alert(act)
    draft = _submitted(act, "Flights from Hamburg are delayed again.")
    before = _items(act)
    for path in (
        "/",
        f"/alerts/{alert_id}",
        f"/statements/{draft['id']}",
        f"/statements/{draft['id']}/release",
        "/resume",
        "/alerts/x/acknowledge",
        f"/statements/{draft['id']}/approve",
        "/nothing-here",
    ):
        answer = get(act, path, "ben")
        assert set(answer["headers"]) >= HEADERS, path
    assert sorted(map(str, _items(act))) == sorted(map(str, before))


def test_given_an_open_alert_when_acknowledged_and_paused_in_the_console_then_the_act_function_did(
    act: LocalStack, world: Any
) -> None:
    _resumed(act)
    alert_id = _open_alert(act)
    page = f"/alerts/{alert_id}"
    # When Ben acknowledges it, then pauses everything with a reason that is markup
    acknowledged = clicked(act, page, f"{page}/acknowledge", "ben")
    paused = clicked(act, page, f"{page}/pause", "ben", reason="<script>alert(1)</script>")
    # Then each answered with a redirect back to the page (post, redirect, get)
    assert acknowledged["statusCode"] == 303
    assert acknowledged["headers"]["Location"] == page
    assert paused["statusCode"] == 303
    store = WarnStateStore(Table(act.client("dynamodb"), act.outputs["TableName"]))
    lifecycle = store.load_state(BRAND).lifecycle
    assert lifecycle is not None
    assert lifecycle["alert"]["acknowledged_by"] == "Ben Kraus"
    status = get(act, "/", "erik")["body"]
    assert "Crisis mode is on" in status
    # ...and the reason is shown as text, never as markup
    assert "<script>" not in status
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in status
    # ...and the timeline names who, from the verified claims
    assert "Ben Kraus" in get(act, page, "erik")["body"]
    _resumed(act)


def test_given_two_approvers_at_once_then_both_count_and_two_releases_at_once_post_once(
    act: LocalStack, world: Any
) -> None:
    _resumed(act)
    draft = _submitted(act, "Since noon, flights from Bremen are delayed.")
    path = f"/statements/{draft['id']}"
    tokens = {who: csrf_of(get(act, path, who)) for who in ("anna", "dieter", "ben")}
    answers: dict[str, Any] = {}

    def approve(who: str) -> None:
        answers[who] = post(
            act,
            f"{path}/approve",
            who,
            {"csrf": tokens[who], "sha256": draft["sha256"], "accept_warnings": "yes"},
        )

    # When Anna and Dieter approve in the same instant
    threads = [threading.Thread(target=approve, args=(who,)) for who in ("anna", "dieter")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then both approvals count: it is approved
    assert {a["statusCode"] for a in answers.values()} == {303}, answers
    assert _statement(act, draft["id"])["state"] == "approved"

    # When Ben and Dieter both click "Release it now" on the confirm page at once
    confirm = f"{path}/release"
    release_tokens = {who: csrf_of(get(act, confirm, who)) for who in ("ben", "dieter")}

    def release(who: str) -> None:
        answers[f"release-{who}"] = post(
            act, confirm, who, {"csrf": release_tokens[who], "sha256": draft["sha256"]}
        )

    threads = [threading.Thread(target=release, args=(who,)) for who in ("ben", "dieter")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every channel has it once, and the grid shows each channel's link
    for channel in PUBLISHED_ON:
        texts = [p for p in _posts(world, channel) if "Bremen" in str(p)]
        assert len(texts) == 1, (channel, texts)
    shown = _statement(act, draft["id"])
    assert shown["state"] == "released"
    grid = get(act, path, "erik")["body"]
    assert all(html.escape(r["url"]) in grid for r in shown["releases"].values())
    _resumed(act)


def test_given_an_alert_when_its_report_is_asked_then_made_on_demand_and_shown(
    act: LocalStack,
) -> None:
    # Given an open alert with no report yet
    alert_id = _open_alert(act)
    page = get(act, f"/alerts/{alert_id}/report", "ben")
    # Then its page says so and offers to make one (the alert page links it)
    assert page["statusCode"] == 404
    assert "Make the report now" in page["body"]
    assert f'href="/alerts/{alert_id}/report"' in get(act, f"/alerts/{alert_id}", "erik")["body"]
    # When somebody of act.people makes it from that page
    made = post(act, f"/alerts/{alert_id}/report", "ben", {"csrf": csrf_of(page)})
    # Then the Act function made it, and the page shows it, the stored report itself
    assert made["statusCode"] == 303, made["body"][:300]
    shown = get(act, f"/alerts/{alert_id}/report", "erik")
    assert shown["statusCode"] == 200
    assert alert_id in shown["body"]
    assert "<svg" in shown["body"]
    assert shown["headers"]["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_console_changed_nothing_itself_and_its_role_allows_every_call_it_made(
    act: LocalStack,
) -> None:
    # Given what the console's handler called in this module's tests
    called = act.aws_actions["ConsoleFunction"]
    resources = act.deployment.template["Resources"] if act.deployment else {}
    allowed = {
        action
        for policy in resources["ConsoleFunctionRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    # Then it invoked the Act functions, read the table, and nothing more
    assert {"lambda:InvokeFunction", "dynamodb:Query"} <= called
    assert called <= allowed, called - allowed
    # ...each DynamoDB call on a partition its role's LeadingKeys allow (its one write a
    # link's use)
    partitions = act.table_partitions["ConsoleFunction"]
    assert act.deployment is not None
    assert not refused_calls(act.deployment.template, "ConsoleFunction", called, partitions)
    assert_seen("ConsoleFunction", called)
    assert not {a for a in allowed if a.split(":")[0] in ("sns", "scheduler")}
    assert {a for a in allowed if a.startswith("s3:")} == {"s3:GetObject"}  # the reports
    assert not {
        a
        for a in allowed
        if a.startswith("dynamodb:") and a not in ("dynamodb:Query", "dynamodb:PutItem")
    }
    # ...while the release function did the publishing
    assert "sns:Publish" in act.aws_actions["ReleaseStatementFunction"]


def _link(stack: LocalStack, alert_id: str, issued: datetime) -> str:
    from stormwatch.console.links import alert_link

    secret = stack.client("secretsmanager").get_secret_value(
        SecretId=stack.deployment.function_environment("ConsoleFunction")["CONSOLE_SECRET_NAME"]
        if stack.deployment
        else ""
    )["SecretString"]
    brands = [brand.id for brand in stack.config().brands]
    return alert_link(secret.encode(), alert_id, brands, issued)


def test_given_an_alerts_signed_link_when_opened_then_once_to_the_page_and_never_again(
    act: LocalStack,
) -> None:
    alert_id = _open_alert(act)
    link = _link(act, alert_id, datetime.now(UTC))
    # When Ben, signed in, opens it from the SMS
    opened = get(act, link, "ben")
    # Then he is sent to the alert's page, and the alert is as it was
    assert opened["statusCode"] == 303
    assert opened["headers"]["Location"] == f"/alerts/{alert_id}"
    assert set(opened["headers"]) >= HEADERS
    # When it is opened again (by anybody): a clear page, nothing else
    again = get(act, link, "anna")
    assert again["statusCode"] == 409
    assert "This link was used already" in again["body"]


def test_given_an_expired_or_tampered_link_when_opened_then_a_clear_page(act: LocalStack) -> None:
    alert_id = _open_alert(act)
    expired = _link(act, alert_id, datetime.now(UTC) - timedelta(hours=25))
    answer = get(act, expired, "ben")
    assert answer["statusCode"] == 410
    assert "This link has expired" in answer["body"]
    fresh = _link(act, alert_id, datetime.now(UTC))
    # (one character of the id changed: another alert's time, or another expiry)
    tampered = fresh[:6] + ("0" if fresh[6] != "0" else "1") + fresh[7:]
    for bad in (tampered, fresh[:-1], "/l/nothing"):
        answer = get(act, bad, "ben")
        assert answer["statusCode"] == 400, bad
        assert "This link does not work" in answer["body"]
    # ...and the untouched link still opens once
    assert get(act, fresh, "ben")["statusCode"] == 303


def test_given_a_mention_that_is_markup_when_the_alert_page_quotes_it_then_it_is_text(
    act: LocalStack,
) -> None:
    from stormwatch.model import Mention, ScoredMention, Sentiment
    from stormwatch.persistence.mentions import MentionLedger

    # Given the open alert's brand has a negative mention, written as a script, 10 minutes ago
    alert_id = _open_alert(act)
    now = datetime.now(UTC)
    text = '<script>alert("owned")</script> <b>Nordwind</b> lost my bag & "refund"?'
    mention = Mention(
        "x",
        "m-1",
        "https://x.example/m-1",
        "<img src=x>",
        text,
        now - timedelta(minutes=10),
        reach=12345,
    )
    MentionLedger(Table(act.client("dynamodb"), act.outputs["TableName"])).commit_page(
        "x",
        "search:nordwind",
        0,
        {"n": 1},
        [ScoredMention(mention, "en", Sentiment.NEGATIVE, -0.9, (BRAND,))],
        bucket_minutes=5,
        mention_ttl_days=30,
        now=now,
    )
    assert act.streams is not None
    act.streams.deliver()  # counted from the table's stream, as Lambda would a moment later
    # When the alert page and the status page are opened
    page = get(act, f"/alerts/{alert_id}", "erik")["body"]
    status = get(act, "/", "erik")["body"]
    # Then the mention is quoted as text, never markup
    assert "<script>" not in page
    assert "<img" not in page
    assert str(markupsafe.escape(text)) in page
    assert "&lt;img src=x&gt;" in page
    assert "12,345 reach" in page
    # ...and the charts count it: one mention, all of it negative, on x and in all
    assert "Nordwind Air - x" in status
    assert "1 mention, 100 % negative" in status
    assert "<svg" in page


@pytest.mark.parametrize(
    "path",
    [
        "/statements/..%2F..%2Fx",
        "/statements/NOPE",
        "/alerts/%0d%0aSet-Cookie:x",
        "/alerts/x/acknowledge",
        "/statements/20261224-0900-abcdef/approve",
    ],
)
def test_given_a_path_that_names_nothing_then_a_clear_page_and_no_act_function_runs(
    act: LocalStack, path: str
) -> None:
    method = "GET" if path.count("/") == 2 else "POST"
    answer = act.invoke("ConsoleFunction", event(method, path, "ben", {"csrf": "x"}))
    assert answer["statusCode"] in (403, 404), answer["body"][:300]
    assert set(answer["headers"]) >= HEADERS
    assert "Location" not in answer["headers"]


def test_given_a_channel_that_failed_when_retried_from_the_grid_then_only_it_goes_out(
    act: LocalStack, world: Any
) -> None:
    _resumed(act)
    approved = _approved(act, "Since noon, flights from Kiel are delayed.")
    path = f"/statements/{approved['id']}"
    # Given a release through the console with LinkedIn refusing once
    world.faults.arm("status:403", channel="linkedin", path_contains="/rest/posts")
    released = clicked(act, f"{path}/release", f"{path}/release", "ben", sha256=approved["sha256"])
    assert released["statusCode"] == 303
    grid = get(act, path, "ben")["body"]
    assert "Retry the failed channels (linkedin)" in grid
    # When Ben retries from the grid
    retried = clicked(act, path, f"{path}/release", "ben", sha256=approved["sha256"])
    # Then LinkedIn has it once, and nobody else twice
    assert retried["statusCode"] == 303
    for channel in PUBLISHED_ON:
        assert len([p for p in _posts(world, channel) if "Kiel" in str(p)]) == 1, channel
    assert "Retry the failed channels" not in get(act, path, "ben")["body"]
    _resumed(act)
