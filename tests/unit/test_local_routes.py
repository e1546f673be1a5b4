"""The local stack routes the Act API's requests as API Gateway does: to the function the
template gives the route, the most specific route winning, 404 when none matches."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from local.provision import translate
from local.routes import HttpRoute, RouteTable, routes_of
from local.stack import DEFAULT_PARAMETERS, TEMPLATE
from ops.transport import LocalTransport

BEN = "arn:aws:iam::123456789012:user/ben"


@cache
def act_api() -> RouteTable:
    translated, _ = translate(TEMPLATE, DEFAULT_PARAMETERS)
    return routes_of(translated, "ActApi")


def _function(method: str, path: str) -> str | None:
    selected = act_api().select(method, path)
    return selected.route.function if selected else None


def test_given_the_template_when_a_statement_is_released_then_the_release_function_runs() -> None:
    # Given the Act API as template.yaml deploys it
    # When a release is routed
    selected = act_api().select("POST", "/statements/s-20250101-1/release")
    # Then it reaches the release function, with the statement id as API Gateway gives it
    assert selected is not None
    assert selected.route.function == "ReleaseStatementFunction"
    assert selected.route.key == "POST /statements/{id}/release"
    assert selected.path_parameters == {"id": "s-20250101-1"}
    # And the release function serves that route alone
    assert [r.key for r in act_api().of("ReleaseStatementFunction")] == [
        "POST /statements/{id}/release"
    ]


def test_given_a_literal_and_a_variable_route_then_the_literal_wins() -> None:
    # Given POST /statements/preview next to GET /statements/{id} and the steps
    # When the preview is routed
    selected = act_api().select("POST", "/statements/preview")
    # Then the literal route answers it, not a statement called "preview"
    assert selected is not None
    assert selected.route.key == "POST /statements/preview"
    assert selected.route.function == "ActFunction"
    assert _function("GET", "/statements/s-1") == "ActFunction"
    assert _function("POST", "/statements/s-1/approve") == "ActFunction"
    assert _function("GET", "/alerts/a-1/timeline") == "ActFunction"


def test_given_no_route_for_the_request_then_none_is_selected() -> None:
    assert _function("DELETE", "/statements/s-1") is None
    assert _function("POST", "/statements/s-1/publish") is None
    assert _function("POST", "/statements/s-1/release/again") is None
    assert _function("GET", "/") is None


def test_given_variables_literals_greedy_and_any_then_the_most_specific_match_wins() -> None:
    # Given routes of every kind API Gateway ranks
    table = RouteTable(
        [
            HttpRoute("ANY", "$default", "Fallback"),
            HttpRoute("ANY", "/files/{proxy+}", "Greedy"),
            HttpRoute("GET", "/files/{name}", "Variable"),
            HttpRoute("ANY", "/files/readme", "AnyLiteral"),
            HttpRoute("GET", "/files/readme", "GetLiteral"),
        ]
    )

    def function(method: str, path: str) -> str | None:
        selected = table.select(method, path)
        return selected.route.function if selected else None

    # Then a literal beats a variable, which beats a greedy variable, which beats $default;
    # among equal paths the named method beats ANY
    assert function("GET", "/files/readme") == "GetLiteral"
    assert function("PUT", "/files/readme") == "AnyLiteral"
    assert function("GET", "/files/notes") == "Variable"
    assert function("GET", "/files/a/b") == "Greedy"
    assert table.select("GET", "/files/a/b").path_parameters == {"proxy": "a/b"}  # type: ignore[union-attr]
    assert function("GET", "/other") == "Fallback"


class _RecordingStack:
    """A stack that routes by the template and records which function it would run."""

    def __init__(self) -> None:
        self.invoked: list[tuple[str, dict[str, Any]]] = []

    def routes(self, api: str) -> RouteTable:
        assert api == "ActApi"
        return act_api()

    def invoke(
        self, function: str, event: dict[str, Any], budget_seconds: float = 60.0
    ) -> Mapping[str, Any]:
        self.invoked.append((function, event))
        return {"statusCode": 200, "body": json.dumps({"function": function})}


def test_given_the_local_transport_when_requests_are_sent_then_each_reaches_its_function() -> None:
    # Given the local transport over a stack that records what it runs
    stack = _RecordingStack()
    transport = LocalTransport(stack, BEN)
    # When a release, a preview and an unknown route are requested
    released = transport.request("POST", "/statements/s-1/release", {"sha256": "a" * 64})
    previewed = transport.request("POST", "/statements/preview", {})
    unknown = transport.request("POST", "/statements/s-1/publish", {})
    # Then each went to its route's function, with API Gateway's route key and parameters
    assert released.body == {"function": "ReleaseStatementFunction"}
    assert previewed.body == {"function": "ActFunction"}
    (_, release_event), (_, preview_event) = stack.invoked
    assert release_event["routeKey"] == "POST /statements/{id}/release"
    assert release_event["requestContext"]["routeKey"] == "POST /statements/{id}/release"
    assert release_event["pathParameters"] == {"id": "s-1"}
    assert "pathParameters" not in preview_event
    # And the unknown route is API Gateway's 404, no function run
    assert (unknown.status, unknown.error) == (404, "Not Found")
    assert len(stack.invoked) == 2
