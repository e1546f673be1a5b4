"""`make console`: the console in a browser, against the local stack.

    make console     # prints the console's URL and the demo users with their password

In AWS a browser reaches the console through CloudFront (whose viewer-request function
puts the session cookie into the Authorization header), then the HTTP API (whose JWT
authorizer verifies the token against the user pool), then the console function. Here one
loopback server stands in for the first two, from the template itself:

- the distribution's viewer-request function, its JavaScript taken from template.yaml and
  run by Node.js (`EdgeFunction`), as CloudFront's runtime would;
- the API's routes (`local.routes`, from its Route resources) and its JWT authorizer
  (`JwtAuthorizer`: the token's signature against the pool's JWKS that moto serves, its
  issuer, audience and expiry), then the payload-2.0 event to the console's handler;
- Cognito's managed login on a port of its own (`local.managed_login`), over moto's pool,
  whose users are the config's `act.people` (`cognito:<name>`), in the groups their roles
  give.
The console function and the Act functions it invokes run in-process on the local stack,
unchanged; only where the managed login answers is told to the console function.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from local.managed_login import ManagedLogin
from local.provision import ACCOUNT_ID, REGION
from local.stack import LocalStack
from local.wsgiserver import KeepAliveWSGIServer

CONSOLE = "ConsoleFunction"
API = "ConsoleApi"
EDGE = "ConsoleSessionFunction"
AUTHORIZER_LEEWAY_SECONDS = 0

_HARNESS = r"""
const readline = require('readline');
const handler = new Function(process.env.EDGE_CODE + '\nreturn handler;')();
const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let out;
  try { out = { result: handler(JSON.parse(line)) }; } catch (e) { out = { error: String(e) }; }
  process.stdout.write(JSON.stringify(out) + '\n');
});
"""


class EdgeFunction:
    """A CloudFront Function's code run by Node.js, one event at a time."""

    def __init__(self, code: str) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("the local console needs Node.js to run CloudFront's function")
        self._process = subprocess.Popen(  # noqa: S603 - node, our harness, our template's code
            [node, "-e", _HARNESS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "EDGE_CODE": code},
        )
        self._lock = threading.Lock()

    def run(self, event: Mapping[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        with self._lock:
            self._process.stdin.write(json.dumps(event) + "\n")
            self._process.stdin.flush()
            answer = json.loads(self._process.stdout.readline())
        if "error" in answer:
            raise RuntimeError(f"the viewer-request function failed: {answer['error']}")
        return dict(answer["result"])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self._process.stdin is not None
            self._process.stdin.close()
        self._process.wait(timeout=5)


def viewer_request(request: Request) -> dict[str, Any]:
    """CloudFront's viewer-request event for a request (headers and cookies by name)."""
    query: dict[str, Any] = {}
    for name, value in parse_qsl(request.query_string.decode(), keep_blank_values=True):
        if name in query:
            query[name].setdefault("multiValue", [{"value": query[name]["value"]}])
            query[name]["multiValue"].append({"value": value})
        else:
            query[name] = {"value": value}
    headers = {
        name.lower(): {"value": value}
        for name, value in request.headers.items()
        if name.lower() != "cookie"
    }
    cookies = {name: {"value": value} for name, value in request.cookies.items()}
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-request", "distributionDomainName": "local"},
        "viewer": {"ip": request.remote_addr or "127.0.0.1"},
        "request": {
            "method": request.method,
            "uri": request.path,
            "querystring": query,
            "headers": headers,
            "cookies": cookies,
        },
    }


class JwtAuthorizer:
    """An HTTP API's JWT authorizer: a bearer token signed by the issuer's key (JWKS),
    from that issuer, for one of the audiences (`aud` of an ID token, `client_id` of an
    access token), not expired. Its claims, or None (API Gateway's 401)."""

    def __init__(
        self,
        issuer: str,
        audiences: Iterable[str],
        jwks: Callable[[], dict[str, Any]],
        now: Callable[[], float] = lambda: datetime.now(UTC).timestamp(),
    ) -> None:
        self.issuer = issuer
        self.audiences = frozenset(audiences)
        self.jwks = jwks
        self.now = now
        self._keys: Any = None

    def _key_set(self) -> Any:
        """The issuer's keys, fetched once (API Gateway caches them too; a pool's keys do
        not change while the local stack runs)."""
        from joserfc.jwk import KeySet

        if self._keys is None:
            self._keys = KeySet.import_key_set(self.jwks())  # type: ignore[arg-type]
        return self._keys

    def claims(self, authorization: str | None) -> dict[str, Any] | None:
        from joserfc import jwt
        from joserfc.errors import JoseError

        token = (authorization or "").removeprefix("Bearer ").strip()
        if token.count(".") != 2:
            return None
        try:
            claims = dict(jwt.decode(token, self._key_set()).claims)
        except (JoseError, ValueError):
            return None
        audience = claims.get("aud") if claims.get("token_use") == "id" else claims.get("client_id")
        exp = claims.get("exp")
        if claims.get("iss") != self.issuer or audience not in self.audiences:
            return None
        if not isinstance(exp, int | float) or exp + AUTHORIZER_LEEWAY_SECONDS <= self.now():
            return None
        return claims


def claims_as_api_gateway_passes_them(claims: Mapping[str, Any]) -> dict[str, str]:
    """An HTTP API hands claims to the function as strings, an array as "[a b]"."""
    passed = {}
    for name, value in claims.items():
        if isinstance(value, list):
            passed[name] = "[" + " ".join(str(v) for v in value) + "]"
        else:
            passed[name] = str(value)
    return passed


class ConsoleGateway:
    """CloudFront's function, then the API's route and authorizer, then the console."""

    def __init__(self, stack: LocalStack, edge: EdgeFunction, authorizer: JwtAuthorizer) -> None:
        self.stack = stack
        self.edge = edge
        self.authorizer = authorizer
        self._one_at_a_time = threading.Lock()

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.answer(Request(environ))(environ, start_response)

    def answer(self, request: Request) -> Response:
        edge = self.edge.run(viewer_request(request))
        if "statusCode" in edge:  # the function answered itself (the way to the sign-in)
            body = edge.get("body")
            return Response(
                body.get("data", "") if isinstance(body, dict) else "",
                status=int(edge["statusCode"]),
                headers={name: header["value"] for name, header in edge.get("headers", {}).items()},
            )
        # The function returned the request, maybe with headers changed.
        headers = {name: header["value"] for name, header in edge["headers"].items()}
        selected = self.stack.routes(API).select(request.method, request.path)
        if selected is None:
            return _api_message(404, "Not Found")
        claims = None
        if selected.route.authorizer is not None:
            claims = self.authorizer.claims(headers.get("authorization"))
            if claims is None:
                return _api_message(401, "Unauthorized")
        event = _payload_event(request, headers, selected.route.key, selected.path_parameters)
        if claims is not None:
            event["requestContext"]["authorizer"] = {
                "jwt": {"claims": claims_as_api_gateway_passes_them(claims), "scopes": None}
            }
        with self._one_at_a_time:
            result = self.stack.invoke(selected.route.function, event, budget_seconds=30.0)
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):
            body = base64.b64decode(body)
        answer = Response(body, status=int(result.get("statusCode", 200)))
        for name, value in (result.get("headers") or {}).items():
            answer.headers[name] = value
        for cookie in result.get("cookies") or []:
            answer.headers.add("Set-Cookie", cookie)
        return answer


def _payload_event(
    request: Request, headers: Mapping[str, str], route_key: str, parameters: Mapping[str, str]
) -> dict[str, Any]:
    from ops.transport import payload_v2_event

    return payload_v2_event(
        request.method,
        request.path,
        route_key=route_key,
        raw_query=request.query_string.decode(),
        headers={name: value for name, value in headers.items() if name != "cookie"},
        body=request.get_data(as_text=True) or None,
        account=ACCOUNT_ID,
        api_id="localconsole",
        domain=request.host,
        source_ip=request.remote_addr or "127.0.0.1",
        user_agent=request.headers.get("User-Agent", ""),
        cookies=[f"{name}={value}" for name, value in request.cookies.items()],
        query_parameters={name: ",".join(request.args.getlist(name)) for name in request.args},
        path_parameters=parameters,
    )


def _api_message(status: int, message: str) -> Response:
    return Response(
        json.dumps({"message": message}), status=status, content_type="application/json"
    )


# --- the users ------------------------------------------------------------------------------

VIEWER_ONLY = "vera"
"""A person in the pool whom act.people does not name: she sees, and may do nothing."""


def console_groups(roles: Iterable[str]) -> list[str]:
    """The pool's groups for a person's Act roles (the Act function decides again)."""
    roles = set(roles)
    groups = []
    if roles & {"approver", "author"}:
        groups.append("approver")
    if "publisher" in roles:
        groups.append("publisher")
    return groups or ["viewer"]


def create_console_users(stack: LocalStack, password: str) -> dict[str, list[str]]:
    """Each `cognito:<name>` of act.people a user of the console's pool, in its groups,
    with `password`; and one viewer. {name: groups}."""
    cognito = stack.client("cognito-idp")
    pool = stack.outputs["ConsoleUserPoolId"]
    people: dict[str, list[str]] = {}
    for person in stack.config().act.people:
        for identity in person.identities:
            if identity.startswith("cognito:"):
                people[identity.removeprefix("cognito:")] = console_groups(person.roles)
    people[VIEWER_ONLY] = ["viewer"]
    for name, groups in people.items():
        with contextlib.suppress(cognito.exceptions.UsernameExistsException):
            cognito.admin_create_user(
                UserPoolId=pool,
                Username=name,
                MessageAction="SUPPRESS",
                UserAttributes=[
                    {"Name": "email", "Value": f"{name}@stormwatch.example"},
                    {"Name": "email_verified", "Value": "true"},
                ],
            )
        cognito.admin_set_user_password(
            UserPoolId=pool, Username=name, Password=password, Permanent=True
        )
        for group in groups:
            cognito.admin_add_user_to_group(UserPoolId=pool, Username=name, GroupName=group)
    return people


def demo_password() -> str:
    """A password the pool's policy takes (14+, all four classes), new each run."""
    return f"Sw-{secrets.token_urlsafe(12)}-7a"


# --- the local console ----------------------------------------------------------------------


@dataclass
class LocalConsole:
    url: str
    login_url: str
    users: dict[str, list[str]]
    password: str
    servers: list[KeepAliveWSGIServer]
    edge: EdgeFunction

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.edge.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def console_stack_settings(console_port: int, login_port: int) -> dict[str, Any]:
    """What a LocalStack needs for a console on `console_port`: its URL as the stack's
    ConsoleUrl (the callback, the links), and where the managed login answers."""
    return {
        "parameters": {"ConsoleUrl": f"http://localhost:{console_port}"},
        "environment_overrides": {CONSOLE: {"CONSOLE_LOGIN_URL": f"http://localhost:{login_port}"}},
    }


def serve_console(stack: LocalStack, console_port: int, login_port: int) -> LocalConsole:
    """The console and its managed login on loopback, for a stack started with
    `console_stack_settings(console_port, login_port)`."""
    assert stack.deployment is not None
    pool = stack.outputs["ConsoleUserPoolId"]
    client = stack.outputs["ConsoleUserPoolClientId"]
    code = stack.deployment.template["Resources"][EDGE]["Properties"]["FunctionCode"]
    edge = EdgeFunction(code)
    endpoint = stack.endpoint

    def jwks() -> dict[str, Any]:
        import requests

        answer = requests.get(f"{endpoint}/{pool}/.well-known/jwks.json", timeout=5)
        return dict(answer.json())

    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool}"
    gateway = ConsoleGateway(stack, edge, JwtAuthorizer(issuer, [client], jwks))
    login = ManagedLogin(stack.client("cognito-idp"), pool)
    password = demo_password()
    users = create_console_users(stack, password)
    servers = [
        KeepAliveWSGIServer("127.0.0.1", console_port, gateway.wsgi).start(),
        KeepAliveWSGIServer("127.0.0.1", login_port, login.wsgi).start(),
    ]
    return LocalConsole(
        f"http://localhost:{console_port}",
        f"http://localhost:{login_port}",
        users,
        password,
        servers,
        edge,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.console",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8780, help="the console's port")
    parser.add_argument("--login-port", type=int, default=8781, help="the managed login's port")
    args = parser.parse_args(argv)

    from local.console_seed import seed_crisis
    from local.serve import wait_until_stopped

    settings = console_stack_settings(args.port, args.login_port)
    with LocalStack(log=open(os.devnull, "w"), **settings) as stack:
        console = serve_console(stack, args.port, args.login_port)
        seeded = seed_crisis(stack, datetime.now(UTC))
        print("stormwatch console on the local stack (moto, the fake channels, Cognito's")
        print("managed login and the console, all on loopback).\n")
        print(f"  Open {console.url}/ in a browser and sign in as one of:")
        for name, groups in console.users.items():
            print(f"    {name:<8} {', '.join(groups)}")
        print(f"  Password (every user, this run only): {console.password}\n")
        print(f"  The on-call SMS's link (opens once, for 24 h): {seeded.link}")
        print(f"  The statement {seeded.statement_id}, by carla, waits for two approvals.")
        print("Ctrl-C stops everything.")
        wait_until_stopped()
        console.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
