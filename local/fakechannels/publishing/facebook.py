"""Fake Facebook Page: ``POST /{page-id}/feed`` (a published post with ``message``) and
``GET /{page-id}/published_posts``."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from local.fakechannels import facebook
from local.fakechannels.graph import GraphFault, graph_time, invalid_parameter, unix_param
from local.fakechannels.publishing import failure_after_store, published, wait
from local.fakechannels.world import World

CHANNEL = facebook.CHANNEL


def rules() -> list[Rule]:
    return [
        facebook._API.rule("/<node>/feed", create_post, methods=["POST"]),
        facebook._API.rule("/<node>/published_posts", published_posts),
    ]


def _check_page(node: str) -> None:
    if node != facebook.PAGE_ID:
        raise GraphFault(
            400, 100, f"(#100) Cannot post to object with ID '{node}'", kind="OAuthException"
        )


def create_post(world: World, request: Request, node: str) -> dict[str, Any]:
    _check_page(node)
    wait(world, CHANNEL)
    message = request.form.get("message")
    if request.form.get("published", "true").lower() == "false":
        # A scheduled post: one route, as on the real API; the scheduling fake keeps those.
        from local.fakechannels.scheduling import facebook as scheduling

        return scheduling.create_post(world, request, node)
    if not message and not request.form.get("link"):
        raise invalid_parameter("Missing message or attachment")
    now = world.now()
    with world.lock:
        posts = published(world, CHANNEL)
        post_id = f"{facebook.PAGE_ID}_{900_000_000_000 + len(posts)}"
        posts.append({"id": post_id, "message": message, "created_at": now})
    status = failure_after_store(world, CHANNEL)
    if status is not None:
        raise GraphFault(status, 2, "An unexpected error has occurred.", transient=True)
    return {"id": post_id}


def published_posts(world: World, request: Request, node: str) -> dict[str, Any]:
    _check_page(node)
    since = unix_param(request, "since")
    with world.lock:
        posts = [p for p in published(world, CHANNEL) if since is None or p["created_at"] >= since]
    data = [
        {
            "id": post["id"],
            "message": post["message"],
            "created_time": graph_time(post["created_at"]),
            "permalink_url": f"https://www.facebook.com/{post['id']}",
        }
        for post in reversed(posts)
    ]
    return {"data": data, "paging": {}}
