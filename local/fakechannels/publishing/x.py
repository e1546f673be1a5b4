"""Fake X: ``POST /2/tweets`` (user-context token, duplicate content refused) and
``GET /2/users/:id/tweets`` (the account's own posts, newest first)."""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels import x
from local.fakechannels.publishing import after_store, published, wait
from local.fakechannels.server import json_response
from local.fakechannels.world import World
from stormwatch.model import parse_iso

CHANNEL = x.NAME
MAX_WEIGHTED = 280
_DUPLICATE = "You are not allowed to create a Tweet with duplicate content."


def rules() -> list[Rule]:
    return [
        Rule("/2/tweets", endpoint=create_tweet, methods=["POST"]),
        Rule("/2/users/<user_id>/tweets", endpoint=user_tweets, methods=["GET"]),
    ]


def _user_token(world: World, request: Request) -> Response | None:
    accepted = world.credentials.get(CHANNEL, x.CREDENTIALS)
    header = request.headers.get("Authorization", "")
    if header == f"Bearer {accepted.get('user_access_token')}":
        return None
    if header == f"Bearer {accepted.get('bearer_token')}":
        # An app-only token cannot post: X wants a user context.
        body = {
            "title": "Unsupported Authentication",
            "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
            "endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth "
            "2.0 User Context].",
            "type": "https://api.x.com/2/problems/unsupported-authentication",
            "status": 403,
        }
        return _problem(body, 403)
    return x.problem_response(401)


def _problem(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    response = json_response(body, status, headers)
    response.content_type = "application/problem+json"
    return response


def _stored(post: dict[str, Any]) -> dict[str, Any]:
    # X escapes &, < and > in the text it returns.
    return {
        "id": post["id"],
        "text": html.escape(post["text"], quote=False),
        "edit_history_tweet_ids": [post["id"]],
    }


def create_tweet(world: World, request: Request) -> Response:
    refused = _user_token(world, request)
    if refused is not None:
        return refused
    admitted, headers = x._count_request(world, "tweets_create")
    if not admitted:
        return x.problem_response(429, headers)
    wait(world, CHANNEL)
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        body = None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        return x._invalid_request([{"message": "$.text: is missing but it is required"}], headers)
    now = world.now()
    with world.lock:
        posts = published(world, CHANNEL)
        if any(post["text"] == text for post in posts):
            return _problem(
                {"detail": _DUPLICATE, "type": "about:blank", "title": "Forbidden", "status": 403},
                403,
                headers,
            )
        post_id = str(_snowflake(now, len(posts)))
        post = {"id": post_id, "text": text, "created_at": now}
        posts.append(post)
    answer = json_response({"data": _stored(post)}, 201, headers)
    return after_store(world, CHANNEL, answer, x.problem_response)


def _snowflake(moment: datetime, sequence: int) -> int:
    millis = int((moment - x.X_EPOCH).total_seconds() * 1000)
    return (millis << 22) | (0x3F0000 + sequence)


def user_tweets(world: World, request: Request, user_id: str) -> Response:
    refused = _user_token(world, request)
    if refused is not None and request.headers.get("Authorization") != (
        f"Bearer {world.credentials.get(CHANNEL, x.CREDENTIALS).get('bearer_token')}"
    ):
        return refused
    admitted, headers = x._count_request(world, "user_tweets")
    if not admitted:
        return x.problem_response(429, headers)
    if user_id not in x.BRAND_ACCOUNTS:
        return json_response({"errors": [x.user_not_found(user_id)]}, 200, headers)
    start = request.args.get("start_time")
    try:
        since = parse_iso(start) if start else None
        size = int(request.args.get("max_results", "10"))
    except ValueError:
        return x._invalid_request([{"message": "invalid start_time or max_results"}], headers)
    if not 5 <= size <= 100:
        return x._invalid_request(
            [x._param_error("max_results", str(size), "must be between 5 and 100")], headers
        )
    fields = set(request.args.get("tweet.fields", "").split(","))
    with world.lock:
        posts = [p for p in published(world, CHANNEL) if since is None or p["created_at"] >= since]
    page = list(reversed(posts))[:size]
    data = []
    for post in page:
        item = _stored(post)
        if "created_at" in fields:
            item["created_at"] = x._x_timestamp(post["created_at"])
        data.append(item)
    meta: dict[str, Any] = {"result_count": len(page)}
    if page:
        meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
    payload: dict[str, Any] = {"meta": meta}
    if data:
        payload["data"] = data
    return json_response(payload, 200, headers)
