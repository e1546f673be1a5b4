"""The fake channel server: one werkzeug app on 127.0.0.1, one URL prefix per channel.

A channel's base URL locally is ``http://127.0.0.1:<port>/<channel>``; below that prefix
each fake serves the same paths as the real API (``/2/tweets/search/recent`` ...).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule, Submount
from werkzeug.wrappers import Request, Response

from local.fakechannels.world import RecordedExchange, World
from local.wsgiserver import KeepAliveWSGIServer

Handler = Callable[..., Response]


class ChannelFake(Protocol):
    """One channel's fake API. Rules are relative to the channel prefix; endpoints are handlers
    called as ``handler(world, request, **url_values)``."""

    name: str

    def rules(self) -> Iterable[Rule]: ...

    def error_response(self, status: int, world: World) -> Response:
        """The channel's own error body for `status` (used by injected faults)."""
        ...


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=utf-8",
    )


# The reason phrases of the error statuses the fakes answer with (a channel may word 400
# its own way).
REASON_PHRASES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>Bad Gateway</h1><p>The upstream server is temporarily unavailable.</p></body></html>"
)


# Answers that are not what the client asked for: (body, status, content type).
CANNED_FAULTS = {
    "html": (HTML_ERROR_PAGE, 502, "text/html"),
    "html200": (HTML_ERROR_PAGE, 200, "text/html"),
    "bad_json": ('{"data": [', 200, "application/json"),
    "truncated": ('{"data": [{"id": "1", "te', 200, "application/json"),
    "empty": ("", 200, "application/json"),
}


class FakeChannelServer:
    def __init__(self, world: World, fakes: Iterable[ChannelFake]) -> None:
        self.world = world
        self.fakes = {fake.name: fake for fake in fakes}
        self.url_map = Map(
            [Submount(f"/{name}", list(fake.rules())) for name, fake in self.fakes.items()],
            strict_slashes=False,
        )
        self._server: KeepAliveWSGIServer | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._server.port}"

    def channel_url(self, channel: str) -> str:
        return f"{self.base_url}/{channel}"

    def start(self) -> FakeChannelServer:
        self._server = KeepAliveWSGIServer("127.0.0.1", 0, self.wsgi).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        # The world of the moment the request arrived: tests swap worlds on a running
        # server, and a slow answer must not land in the next test's world.
        world = self.world
        channel = request.path.strip("/").split("/", 1)[0]
        fake = self.fakes.get(channel)
        body = request.get_data(cache=True)
        fault = world.faults.take(channel, request.path) if fake else None
        if fake is not None and fault is not None:
            response = self._fault_response(fault, fake, world)
        else:
            response = self._route(request, world)
        world.log(
            RecordedExchange(
                channel=channel,
                method=request.method,
                path=request.path[len(channel) + 1 :],
                raw_uri=str(
                    request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI", "")
                ),
                query=tuple(request.args.items(multi=True)),
                headers=dict(request.headers.items()),
                body=body,
                status=response.status_code,
                response_headers=dict(response.headers.items()),
                response_body=response.get_data(),
                fault=fault,
            )
        )
        return response

    def _route(self, request: Request, world: World) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except NotFound:
            return json_response(
                {"error": f"no fake route for {request.method} {request.path}"}, 404
            )
        except HTTPException as error:
            return json_response({"error": str(error)}, error.code or 400)
        handler: Handler = endpoint
        return handler(world, request, **values)

    def _fault_response(self, fault: str, fake: ChannelFake, world: World) -> Response:
        kind, _, argument = fault.partition(":")
        if kind == "status":
            return fake.error_response(int(argument), world)
        if kind == "slow":
            time.sleep(float(argument))
            return fake.error_response(504, world)
        try:
            body, status, content_type = CANNED_FAULTS[kind]
        except KeyError:
            raise ValueError(f"unknown fault {fault!r}") from None
        return Response(body, status=status, content_type=content_type)
