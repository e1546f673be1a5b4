"""Fake LinkedIn: ``POST /rest/posts`` as the organization (the URN in ``x-restli-id``);
the organization's posts listing (``GET /rest/posts?q=author``) shows them first."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels import linkedin
from local.fakechannels.linkedin import LinkedInFault, _bad_request, _check_headers, _throttled
from local.fakechannels.publishing import after_store, published, wait
from local.fakechannels.world import World

CHANNEL = linkedin.CHANNEL
MAX_COMMENTARY = 3000
_VISIBILITIES = ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER")


def rules() -> list[Rule]:
    return [Rule("/rest/posts", endpoint=create_post, methods=["POST"])]


def create_post(world: World, request: Request) -> Response:
    try:
        _check_headers(world, request)
        if _throttled(world):
            raise LinkedInFault(429, "TOO_MANY_REQUESTS", "Too many requests", 101)
        wait(world, CHANNEL)
        post = _validated(request)
    except LinkedInFault as fault:
        return fault.response()
    now = world.now()
    with world.lock:
        posts = published(world, CHANNEL)
        urn = f"urn:li:share:{7_300_000_000_000_000_000 + len(posts)}"
        stored = {
            **post,
            "id": urn,
            "createdAt": linkedin.millis(now),
            "lastModifiedAt": linkedin.millis(now),
            "publishedAt": linkedin.millis(now),
            "lifecycleStateInfo": {"isEditedByAuthor": False},
        }
        posts.append(stored)
    answer = Response(
        status=201, headers={"x-restli-id": urn, "X-RestLi-Protocol-Version": "2.0.0"}
    )
    return after_store(
        world, CHANNEL, answer, lambda status: linkedin.make_fake().error_response(status, world)
    )


def _validated(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        raise _bad_request("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _bad_request("Request body must be an object")
    for field in ("author", "commentary", "visibility", "distribution", "lifecycleState"):
        if field not in body:
            raise LinkedInFault(422, "FIELD_MISSING", f"/{field} :: field is required", 100)
    if body["author"] != linkedin.ORGANIZATION:
        raise LinkedInFault(403, "ACCESS_DENIED", "Not enough permissions to post as author", 100)
    commentary = body["commentary"]
    if not isinstance(commentary, str) or len(commentary) > MAX_COMMENTARY:
        raise LinkedInFault(422, "INVALID_FIELD", "/commentary :: invalid or too long", 100)
    if body["visibility"] not in _VISIBILITIES:
        raise LinkedInFault(422, "INVALID_FIELD", "/visibility :: not a valid value", 100)
    distribution = body["distribution"]
    if not isinstance(distribution, dict) or "feedDistribution" not in distribution:
        raise LinkedInFault(422, "FIELD_MISSING", "/distribution/feedDistribution :: required", 100)
    if body["lifecycleState"] != "PUBLISHED":
        raise LinkedInFault(422, "INVALID_FIELD", "/lifecycleState :: only PUBLISHED here", 100)
    return {key: body[key] for key in body}
