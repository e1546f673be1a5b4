"""A small fake web below the RSS fake's prefix (``/rss/web/...``), for checking links.

Statement links locally point here, and each path answers a way the real web does:

- ``page/<name>``: 200 with a small HTML page;
- ``status/<code>``: that status;
- ``redirect/<hops>``: a 301 chain (root-relative ``Location``) ending on ``page/home``;
- ``loop/<step>``: two URLs redirecting (302) to each other, forever;
- ``slow/<millis>``: 200 after that long;
- ``no-head``: 405 to HEAD (with ``Allow: GET``), 200 to GET;
- ``away?to=<url>``: a 302 to any URL (an open redirect, to test where redirects may lead).
"""

from __future__ import annotations

import html
import time

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.world import World

PREFIX = "/rss/web"
MAX_DELAY_MILLIS = 30_000


def _page(title: str, status: int = 200) -> Response:
    body = (
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head><body></body></html>"
    )
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def _redirect(location: str, status: int) -> Response:
    return Response("", status=status, headers={"Location": location})


def page(world: World, request: Request, name: str) -> Response:
    del world, request
    return _page(f"Nordwind Air - {name}")


def status(world: World, request: Request, code: int) -> Response:
    del world, request
    if not 200 <= code <= 599:
        return _page("not a status", 400)
    return _page(f"{code}", code)


def redirect(world: World, request: Request, hops: int) -> Response:
    del world, request
    target = f"{PREFIX}/redirect/{hops - 1}" if hops > 1 else f"{PREFIX}/page/home"
    return _redirect(target, 301)


def loop(world: World, request: Request, step: int) -> Response:
    del world
    return _redirect(f"{request.host_url}{PREFIX.lstrip('/')}/loop/{(step + 1) % 2}", 302)


def slow(world: World, request: Request, millis: int) -> Response:
    del world, request
    time.sleep(min(millis, MAX_DELAY_MILLIS) / 1000)
    return _page("slow")


def no_head(world: World, request: Request) -> Response:
    del world
    if request.method == "HEAD":
        return Response("", status=405, headers={"Allow": "GET"})
    return _page("no head")


def away(world: World, request: Request) -> Response:
    del world
    target = request.args.get("to", "")
    if not target:
        return _page("missing to", 400)
    return _redirect(target, 302)


def rules() -> list[Rule]:
    return [
        Rule("/web/page/<name>", endpoint=page, methods=["GET"]),
        Rule("/web/status/<int:code>", endpoint=status, methods=["GET"]),
        Rule("/web/redirect/<int:hops>", endpoint=redirect, methods=["GET"]),
        Rule("/web/loop/<int:step>", endpoint=loop, methods=["GET"]),
        Rule("/web/slow/<int:millis>", endpoint=slow, methods=["GET"]),
        Rule("/web/no-head", endpoint=no_head, methods=["GET"]),
        Rule("/web/away", endpoint=away, methods=["GET"]),
    ]
