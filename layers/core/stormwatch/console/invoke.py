"""How the console reaches the Act functions: Lambda's Invoke, with the payload-2.0 event
of the Act route that does the step, carrying the JWT authorizer's context the console
was itself given, so the Act function resolves the person and applies its own rules."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from stormwatch.act.http import Answer, answer_of


class ActFunctions(Protocol):
    def call(self, function: str, event: Mapping[str, Any]) -> Answer:
        """`function` is "act" or "release"."""
        ...


def act_event(
    own_event: Mapping[str, Any],
    method: str,
    route_key: str,
    path: str,
    body: Mapping[str, Any],
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The event API Gateway would give the Act function for this step, by the person whose
    verified claims are in `own_event` (the authorizer's context is copied, never made)."""
    context = dict(own_event.get("requestContext") or {})
    http = dict(context.get("http") or {})
    http.update({"method": method, "path": path})
    context.update({"http": http, "routeKey": route_key})
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": context,
        "pathParameters": dict(path_parameters or {}),
        "body": json.dumps(dict(body), ensure_ascii=False),
        "isBase64Encoded": False,
    }


class LambdaActFunctions:
    """The Act functions by name, invoked and waited for (RequestResponse)."""

    def __init__(self, client: Any, act_function: str, release_function: str) -> None:
        self._client = client
        self._names = {"act": act_function, "release": release_function}

    def call(self, function: str, event: Mapping[str, Any]) -> Answer:
        answer = self._client.invoke(
            FunctionName=self._names[function],
            InvocationType="RequestResponse",
            Payload=json.dumps(dict(event), ensure_ascii=False).encode(),
        )
        payload = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError") or not isinstance(payload, dict):
            return Answer(502, {"error": f"the {function} function failed; see its log"})
        return answer_of(int(payload.get("statusCode", 502)), str(payload.get("body") or ""))
