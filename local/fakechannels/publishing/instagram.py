"""Fake Instagram content publishing: ``POST /{ig-user-id}/media`` (an image container
with a caption), ``POST /{ig-user-id}/media_publish``, ``GET /{ig-user-id}/media`` and
``GET /{ig-media-id}`` (a published post's fields, its ``permalink`` among them; the route
``GET /{node}`` is the lookup fake's, which hands media ids here)."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from local.fakechannels import instagram
from local.fakechannels.graph import GraphFault, graph_time, invalid_parameter, unsupported_get
from local.fakechannels.publishing import failure_after_store, published, wait
from local.fakechannels.world import World

CHANNEL = instagram.CHANNEL
MAX_CAPTION = 2200


def rules() -> list[Rule]:
    return [
        instagram._API.rule("/<node>/media", create_container, methods=["POST"]),
        instagram._API.rule("/<node>/media_publish", publish_container, methods=["POST"]),
        instagram._API.rule("/<node>/media", media),
    ]


def _check_account(node: str) -> None:
    if node != instagram.BUSINESS_ACCOUNT_ID:
        raise GraphFault(400, 100, f"(#100) Unsupported post request. Object with ID '{node}'")


def _containers(world: World) -> dict[str, dict[str, Any]]:
    with world.lock:
        containers: dict[str, dict[str, Any]] = world.channel_state(CHANNEL).setdefault(
            "containers", {}
        )
    return containers


def create_container(world: World, request: Request, node: str) -> dict[str, Any]:
    _check_account(node)
    wait(world, CHANNEL)
    image_url = request.form.get("image_url")
    caption = request.form.get("caption", "")
    if not image_url and not request.form.get("video_url"):
        raise invalid_parameter("The parameter image_url is required")
    if len(caption) > MAX_CAPTION:
        raise invalid_parameter("The caption is too long")
    with world.lock:
        containers = _containers(world)
        container_id = str(17_990_000_000_000_000 + len(containers))
        containers[container_id] = {"image_url": image_url, "caption": caption, "media": None}
    return {"id": container_id}


def publish_container(world: World, request: Request, node: str) -> dict[str, Any]:
    _check_account(node)
    wait(world, CHANNEL)
    creation_id = request.form.get("creation_id")
    if not creation_id:
        raise invalid_parameter("The parameter creation_id is required")
    with world.lock:
        container = _containers(world).get(creation_id)
        if container is None:
            raise GraphFault(400, 24, "The media container does not exist", subcode=2207006)
        if container["media"] is not None:
            raise GraphFault(400, 9007, "The media has already been published", subcode=2207020)
        posts = published(world, CHANNEL)
        media_id = str(17_950_000_000_000_000 + len(posts))
        container["media"] = media_id
        posts.append(
            {
                "id": media_id,
                "caption": container["caption"],
                "created_at": world.now(),
                "image_url": container["image_url"],
            }
        )
    status = failure_after_store(world, CHANNEL)
    if status is not None:
        raise GraphFault(status, 2, "An unexpected error has occurred.", transient=True)
    return {"id": media_id}


def _fields(post: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": post["id"],
        "caption": post["caption"],
        "timestamp": graph_time(post["created_at"]),
        "permalink": f"https://www.instagram.com/p/fake{post['id'][-6:]}/",
    }


def media(world: World, request: Request, node: str) -> dict[str, Any]:
    _check_account(node)
    with world.lock:
        posts = list(reversed(published(world, CHANNEL)))
    return {"data": [_fields(post) for post in posts], "paging": {}}


def media_node(world: World, request: Request, node: str) -> dict[str, Any]:
    """An IG Media node: `id` and the `fields` asked for (Graph answers only those)."""
    with world.lock:
        post = next((p for p in published(world, CHANNEL) if p["id"] == node), None)
    if post is None:
        raise unsupported_get(node)
    every = _fields(post)
    wanted = [f for f in request.args.get("fields", "id").split(",") if f]
    unknown = [f for f in wanted if f not in every]
    if unknown:
        raise invalid_parameter(f"Tried accessing nonexisting field ({unknown[0]})")
    return {"id": node} | {field: every[field] for field in wanted}
