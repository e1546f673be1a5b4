"""Fake Hootsuite REST API (``platform.hootsuite.com``), scheduled messages only: a service
of its own (`registry.SERVICES`), served under ``/hootsuite``.

As Hootsuite documents it (developer.hootsuite.com/reference, v1 messages):
- OAuth2 bearer token; 401 ``{"errors": [{"code": 1001, "message": ...}]}`` otherwise;
- ``GET /v1/messages?state=SCHEDULED&startTime=&endTime=`` (ISO-8601, both required, at
  most 4 weeks apart, else 400), ``socialProfileIds`` (repeated) to filter, ``limit``
  (default 50, at most 100) and an opaque ``cursor``; answers ``{"data": [...],
  "cursor": {"next": ...}}``, ``next`` only while more follows;
- ``DELETE /v1/messages/{id}`` (404 for an unknown message);
- ``POST /v1/messages`` with ``text``, ``socialProfileIds``, ``scheduledSendTime`` (at least
  5 minutes ahead, else 400) and optional ``media``/``mediaUrls``/``tags``: one message per
  profile, ``{"data": [{"id", "state"}]}``;
- a call budget per window (``budget`` calls per ``window_seconds`` in the service's state),
  past it 429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.server import json_response
from local.fakechannels.state import count_call
from local.fakechannels.world import World

NAME = "hootsuite"
CREDENTIALS: dict[str, str] = {"access_token": "fake-hootsuite-oauth-token-5d21"}
PROFILES = ("115185509", "115185510")
MAX_WINDOW = timedelta(weeks=4)
MINIMUM_LEAD = timedelta(minutes=5)
_IDS = itertools.count(1)

_ERRORS = {
    400: (4000, "Bad request"),
    401: (1001, "Unauthorized"),
    403: (1003, "Forbidden"),
    404: (4040, "Not found"),
    429: (1005, "Rate limit exceeded"),
    500: (5000, "Internal server error"),
    502: (5002, "Bad gateway"),
    503: (5003, "Service unavailable"),
    504: (5004, "Gateway timeout"),
}


def error(
    status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    code, default = _ERRORS.get(status, (status * 10, "Error"))
    extra = dict(headers or {})
    if status == 429:
        extra.setdefault("Retry-After", "60")
    return json_response({"errors": [{"code": code, "message": message or default}]}, status, extra)


class HootsuiteFake:
    name = NAME

    def rules(self) -> Iterable[Rule]:
        return [
            Rule("/v1/messages", endpoint=list_messages, methods=["GET"]),
            Rule("/v1/messages", endpoint=create_messages, methods=["POST"]),
            Rule("/v1/messages/<message_id>", endpoint=delete_message, methods=["DELETE"]),
        ]

    def error_response(self, status: int, world: World) -> Response:
        del world
        return error(status)


def make_fake() -> HootsuiteFake:
    return HootsuiteFake()


def _messages(world: World) -> dict[str, dict[str, Any]]:
    with world.lock:
        found: dict[str, dict[str, Any]] = world.channel_state(NAME).setdefault("messages", {})
    return found


def schedule(world: World, text: str, at: datetime, profile: str = PROFILES[0]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": str(9_000_000_000 + next(_IDS)),
        "text": text,
        "profile": profile,
        "at": at.astimezone(UTC).replace(microsecond=0),
        "media": [],
        "mediaUrls": [],
        "tags": [],
    }
    with world.lock:
        _messages(world)[record["id"]] = record
    return record


def seed(world: World, count: int, now: datetime) -> list[str]:
    """`count` scheduled messages on the two profiles, every 12 hours from an hour after
    `now` (so sixty reach past four weeks: more than one listing window)."""
    return [
        schedule(
            world,
            f"Nordwind Air: your next adventure starts here ({number}).",
            now + timedelta(hours=1 + 12 * number),
            PROFILES[number % len(PROFILES)],
        )["id"]
        for number in range(count)
    ]


def render(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "state": "SCHEDULED",
        "text": record["text"],
        "socialProfile": {"id": record["profile"], "type": "TWITTER"},
        "scheduledSendTime": record["at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tags": list(record["tags"]),
        "media": list(record["media"]),
        "mediaUrls": list(record["mediaUrls"]),
        "postUrl": None,
        "postId": None,
        "reviewers": [],
        "createdByMember": {"id": "21810375"},
        "lastUpdatedByMember": {"id": "21810375"},
        "sequenceNumber": None,
    }


def _guard(world: World, request: Request) -> Response | None:
    accepted = world.credentials.get(NAME, CREDENTIALS).get("access_token")
    if request.headers.get("Authorization") != f"Bearer {accepted}":
        return error(401, "Invalid or expired access token")
    window = count_call(world, NAME, world.now(), default_budget=10_000, default_window_seconds=60)
    if window.calls > window.budget:
        return error(429)
    return None


def _time(raw: str | None, name: str) -> datetime:
    if not raw:
        raise ValueError(f"{name} is required")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is not an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_messages(world: World, request: Request) -> Response:
    refused = _guard(world, request)
    if refused is not None:
        return refused
    args = request.args
    try:
        start = _time(args.get("startTime"), "startTime")
        end = _time(args.get("endTime"), "endTime")
        if not start < end <= start + MAX_WINDOW:
            raise ValueError("endTime must be after startTime and at most 4 weeks later")
        limit = int(args.get("limit", "50"))
        if not 1 <= limit <= 100:
            raise ValueError("limit must be between 1 and 100")
        offset = _offset(args.get("cursor"))
    except ValueError as problem:
        return error(400, str(problem))
    profiles = set(args.getlist("socialProfileIds"))
    with world.lock:
        records = [
            record
            for record in _messages(world).values()
            if args.get("state") == "SCHEDULED"
            and start <= record["at"] < end
            and (not profiles or record["profile"] in profiles)
        ]
    records.sort(key=lambda record: (record["at"], record["id"]))
    page = records[offset : offset + limit]
    payload: dict[str, Any] = {"data": [render(record) for record in page]}
    if offset + limit < len(records):
        payload["cursor"] = {"next": _cursor(offset + limit)}
    rewrite = world.channel_state(NAME).get("rewrite")
    return json_response(rewrite(payload) if rewrite else payload)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"])
    except (ValueError, KeyError, TypeError):
        raise ValueError("cursor is not valid") from None


def delete_message(world: World, request: Request, message_id: str) -> Response:
    refused = _guard(world, request)
    if refused is not None:
        return refused
    with world.lock:
        if _messages(world).pop(message_id, None) is None:
            return error(404, f"Message {message_id} not found")
    return json_response({})


def create_messages(world: World, request: Request) -> Response:
    refused = _guard(world, request)
    if refused is not None:
        return refused
    try:
        body = json.loads(request.get_data() or b"{}")
        text = body.get("text")
        profiles = body.get("socialProfileIds")
        if not isinstance(text, str) or not text:
            raise ValueError("text is required")
        if not isinstance(profiles, list) or not profiles:
            raise ValueError("socialProfileIds is required")
        at = _time(body.get("scheduledSendTime"), "scheduledSendTime")
    except (ValueError, AttributeError) as problem:
        return error(400, str(problem))
    if at < world.now() + MINIMUM_LEAD:
        return error(400, "scheduledSendTime must be at least 5 minutes in the future")
    created = []
    for profile in profiles:
        record = schedule(world, text, at, str(profile))
        record["media"] = list(body.get("media") or [])
        record["mediaUrls"] = list(body.get("mediaUrls") or [])
        record["tags"] = list(body.get("tags") or [])
        created.append({"id": record["id"], "state": "SCHEDULED"})
    return json_response({"data": created})
