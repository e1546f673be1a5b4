"""How the `stormwatch` command reaches the Act function: two transports, one interface.

- `ApiTransport`: the deployed stack's HTTP API (its ``ActApiUrl`` output), each request
  signed with SigV4 for ``execute-api`` with the caller's own AWS credentials; the API's
  IAM authorizer verifies the signature and hands the function the caller's ARN.
- `LocalTransport`: the local stack, whose handlers run in-process; the request goes to
  the function whose route in the template API Gateway would select (404 when none), as
  the payload-2.0 event the HTTP API would send, with the IAM identity given (the demo
  and the tests say who is calling).

Either way the command never writes the table: the function does, for a verified caller.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from stormwatch.act.http import Answer, answer_of

STACK_ENV = "STORMWATCH_STACK"
API_URL_ENV = "STORMWATCH_API_URL"
API_URL_OUTPUT = "ActApiUrl"
_STACK_NAME = re.compile(r"^stormwatch", re.IGNORECASE)
REQUEST_TIMEOUT_SECONDS = 35
"""An HTTP API's integration timeout is at most 30 s: waiting longer learns nothing."""


class Transport(Protocol):
    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Answer: ...


# --- the deployed stack --------------------------------------------------------------------


class ApiTransport:
    """Signed requests to the stack's HTTP API."""

    def __init__(
        self,
        base_url: str,
        region: str,
        credentials: Any,
        send: Callable[[str, str, Mapping[str, str], bytes | None], tuple[int, str]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.region = region
        self.credentials = credentials
        self._send = send or _send_with_requests

    def signed(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[str, dict[str, str], bytes | None]:
        """URL, headers (with SigV4's Authorization) and body of one request."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        url = f"{self.base_url}{path}"
        data = json.dumps(dict(body), ensure_ascii=False).encode() if body is not None else None
        headers = {"content-type": "application/json"} if data is not None else {}
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(request)
        return url, dict(request.headers.items()), data

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Answer:
        url, headers, data = self.signed(method, path, body)
        status, text = self._send(method, url, headers, data)
        return answer_of(status, text)


def _send_with_requests(
    method: str, url: str, headers: Mapping[str, str], data: bytes | None
) -> tuple[int, str]:
    import requests

    try:
        answer = requests.request(
            method, url, headers=dict(headers), data=data, timeout=REQUEST_TIMEOUT_SECONDS
        )
    except requests.Timeout:
        return 504, json.dumps({"error": f"no answer within {REQUEST_TIMEOUT_SECONDS} s"})
    return answer.status_code, answer.text


def find_api_url(
    explicit_stack: str | None,
    environ: Mapping[str, str],
    describe: Callable[[str | None], Iterable[Mapping[str, Any]]],
) -> str:
    """The stack's ActApiUrl: of --stack, else $STORMWATCH_STACK, else the account's only
    stack with that output. `describe(name)` gives CloudFormation's stacks (all: None)."""
    return find_stack_outputs(explicit_stack, environ, describe)[API_URL_OUTPUT]


def find_stack_outputs(
    explicit_stack: str | None,
    environ: Mapping[str, str],
    describe: Callable[[str | None], Iterable[Mapping[str, Any]]],
) -> dict[str, str]:
    """The outputs of the stormwatch stack: of --stack, else $STORMWATCH_STACK, else the
    account's only stack with an ActApiUrl output."""
    name = explicit_stack or environ.get(STACK_ENV) or None
    stacks = [
        stack
        for stack in describe(name)
        if any(o.get("OutputKey") == API_URL_OUTPUT for o in stack.get("Outputs") or [])
    ]
    if name is None:
        stacks = [s for s in stacks if _STACK_NAME.match(str(s.get("StackName", "")))] or stacks
    if not stacks:
        where = f"stack {name!r} has" if name else "no stack in this account and region has"
        raise LookupError(f"{where} no {API_URL_OUTPUT} output: pass --stack or set {STACK_ENV}")
    if len(stacks) > 1:
        names = ", ".join(sorted(str(s["StackName"]) for s in stacks))
        raise LookupError(
            f"several stormwatch stacks here ({names}): pass --stack or set {STACK_ENV}"
        )
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in stacks[0].get("Outputs") or []}


def stack_output(stack_outputs: Callable[[str], Mapping[str, str]], stack: str, key: str) -> str:
    """The output `key` of the stack named `stack`; LookupError, in one line, when the stack
    or the output is not there."""
    outputs = stack_outputs(stack)
    if key not in outputs:
        raise LookupError(f"stack {stack!r} has no {key} output")
    return outputs[key]


def describe_stacks(name: str | None) -> list[Mapping[str, Any]]:
    import boto3

    client = boto3.client("cloudformation")
    if name:
        return list(client.describe_stacks(StackName=name)["Stacks"])
    found: list[Mapping[str, Any]] = []
    for page in client.get_paginator("describe_stacks").paginate():
        found.extend(page["Stacks"])
    return found


def deployed_transport(stack: str | None, api_url: str | None = None) -> ApiTransport:
    """The API of --api-url (or $STORMWATCH_API_URL: a custom domain, or the local stack's
    gateway), else the stack's ActApiUrl output."""
    import boto3

    session = boto3.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise LookupError("no AWS credentials: log in (aws sso login) or set a profile")
    region = session.region_name or os.environ.get("AWS_REGION") or "us-east-1"
    url = api_url or os.environ.get(API_URL_ENV) or find_api_url(stack, os.environ, describe_stacks)
    return ApiTransport(url, region, credentials.get_frozen_credentials())


# --- the local stack -----------------------------------------------------------------------


def payload_v2_event(
    method: str,
    raw_path: str,
    *,
    route_key: str,
    raw_query: str = "",
    headers: Mapping[str, str],
    body: str | None,
    account: str,
    api_id: str,
    domain: str,
    source_ip: str = "127.0.0.1",
    user_agent: str = "",
    authorizer: Mapping[str, Any] | None = None,
    cookies: Iterable[str] = (),
    query_parameters: Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The payload-2.0 event an HTTP API sends a Lambda integration: the one shape the
    local stack's gateways (the Act API here, the console's in local.console) hand to the
    handlers. Keys API Gateway leaves out when empty are left out here too."""
    moment = now or datetime.now(UTC)
    context: dict[str, Any] = {
        "accountId": account,
        "apiId": api_id,
        "domainName": domain,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": user_agent,
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": "$default",
        "time": moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(moment.timestamp() * 1000),
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": dict(headers),
        "requestContext": context,
        "body": body,
        "isBase64Encoded": False,
    }
    cookies = list(cookies)
    if cookies:
        event["cookies"] = cookies
    if query_parameters:
        event["queryStringParameters"] = dict(query_parameters)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


def http_api_event(
    method: str,
    path: str,
    body: Mapping[str, Any] | None,
    *,
    user_arn: str,
    now: datetime | None = None,
    route_key: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway's HTTP API sends for a request its IAM authorizer
    verified as `user_arn`, on the route `route_key` (`POST /statements/{id}/release`)."""
    account = user_arn.split(":")[4] if user_arn.count(":") >= 5 else "123456789012"
    raw_path, _, query = path.partition("?")
    return payload_v2_event(
        method,
        raw_path,
        route_key=route_key or f"{method} {raw_path}",
        raw_query=query,
        headers={"content-type": "application/json", "host": "local.execute-api"},
        body=json.dumps(dict(body), ensure_ascii=False) if body is not None else None,
        account=account,
        api_id="local",
        domain="local.execute-api",
        user_agent="stormwatch-cli",
        authorizer={
            "iam": {
                "accessKey": "ASIALOCAL",
                "accountId": account,
                "callerId": "LOCAL",
                "principalOrgId": None,
                "userArn": user_arn,
                "userId": "LOCAL",
            }
        },
        path_parameters=path_parameters,
        now=now,
    )


NOT_FOUND = Answer(404, {"message": "Not Found"})
"""What an HTTP API answers when no route matches, before any function runs."""


class LocalTransport:
    """The local stack's Act API, its handlers called in-process as `user_arn`.

    `stack` gives the API's routes (`routes(api)`, whose `select(method, path)` picks one
    as API Gateway does) and runs a function's handler (`invoke`)."""

    API = "ActApi"

    def __init__(self, stack: Any, user_arn: str) -> None:
        self.stack = stack
        self.user_arn = user_arn

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Answer:
        selected = self.stack.routes(self.API).select(method, path.partition("?")[0])
        if selected is None:
            return NOT_FOUND
        event = http_api_event(
            method,
            path,
            body,
            user_arn=self.user_arn,
            route_key=selected.route.key,
            path_parameters=selected.path_parameters,
        )
        result = self.stack.invoke(selected.route.function, event, budget_seconds=120.0)
        return answer_of(int(result["statusCode"]), str(result.get("body") or ""))


def host_of(url: str) -> str:
    return urlsplit(url).netloc
