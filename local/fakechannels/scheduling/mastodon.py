"""Fake Mastodon scheduled statuses (Mastodon 4.3), beside the listening fake.

- ``GET /api/v1/scheduled_statuses``: ``paginate_by_id`` like the other listings (newest
  first, ``limit`` default 20, at most 40, ``max_id``/``since_id``/``min_id``, ``Link``
  header with ``next``/``prev``);
- ``GET``/``PUT``/``DELETE /api/v1/scheduled_statuses/:id``: PUT takes only
  ``scheduled_at``, which must be at least 5 minutes ahead (else 422); DELETE answers ``{}``;
- ``POST /api/v1/statuses`` with ``scheduled_at``: a new scheduled status (5 minutes
  ahead at least, else 422), deduplicated by ``Idempotency-Key`` as Mastodon does.
  Without ``scheduled_at`` the status is posted at once (kept in ``posted``); the
  publishing fake may take that part over.

State in ``world.channel_state("mastodon")``: ``scheduled`` (id -> record), ``idempotency``
(key -> answer), ``posted``. `seed` adds scheduled statuses.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels import mastodon as channel
from local.fakechannels.server import json_response
from local.fakechannels.world import World

MINIMUM_LEAD = timedelta(minutes=5)
TOO_SOON = "Validation failed: Scheduled at must be at least 5 minutes in the future"
VISIBILITIES = ("public", "unlisted", "private", "direct")
_IDS = itertools.count(1)


def rules() -> list[Rule]:
    return [
        Rule("/api/v1/scheduled_statuses", endpoint=list_scheduled, methods=["GET"]),
        Rule(
            "/api/v1/scheduled_statuses/<status_id>",
            endpoint=one_scheduled,
            methods=["GET", "PUT", "DELETE"],
        ),
    ]


def _scheduled(world: World) -> dict[str, dict[str, Any]]:
    state = world.channel_state(channel.NAME)
    with world.lock:
        found: dict[str, dict[str, Any]] = state.setdefault("scheduled", {})
    return found


def _new_id(world: World) -> str:
    # Scheduled status ids are snowflakes like status ids: time-ordered.
    millis = int(world.now().timestamp() * 1000)
    return str((millis << 16) | (next(_IDS) & 0xFFFF))


def render(record: dict[str, Any]) -> dict[str, Any]:
    params = record["params"]
    return {
        "id": record["id"],
        "scheduled_at": _timestamp(record["scheduled_at"]),
        "params": {
            "application_id": 1,
            "with_rate_limit": False,
            "text": params["text"],
            "visibility": params.get("visibility") or "public",
            "idempotency": params.get("idempotency"),
            "in_reply_to_id": params.get("in_reply_to_id"),
            "language": params.get("language"),
            "media_ids": params.get("media_ids"),
            "poll": params.get("poll"),
            "scheduled_at": None,
            "sensitive": params.get("sensitive"),
            "spoiler_text": params.get("spoiler_text"),
        },
        "media_attachments": [],
    }


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def schedule(
    world: World,
    text: str,
    at: datetime,
    *,
    visibility: str = "public",
    language: str | None = None,
    idempotency: str | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": _new_id(world),
        "scheduled_at": at.astimezone(UTC).replace(microsecond=0),
        "params": {
            "text": text,
            "visibility": visibility,
            "language": language,
            "idempotency": idempotency,
        },
    }
    with world.lock:
        _scheduled(world)[record["id"]] = record
    return record


def seed(world: World, count: int, now: datetime) -> list[str]:
    """`count` scheduled statuses, one an hour from an hour after `now`."""
    return [
        schedule(
            world,
            f"Nordwind Air weekly tip #{number}: pack light, travel far.",
            now + timedelta(hours=number + 1),
            language="en",
        )["id"]
        for number in range(count)
    ]


def _guard(world: World, request: Request) -> tuple[Response | None, dict[str, str]]:
    if channel._signed_in(world, request) is not True:
        return channel.error(401, "The access token is invalid"), {}
    admitted, headers = channel._count_request(world, "account")
    if not admitted:
        return channel.error(429, "Too many requests", headers), headers
    return None, headers


def list_scheduled(world: World, request: Request) -> Response:
    refused, headers = _guard(world, request)
    if refused is not None:
        return refused
    try:
        limit = channel._limit_param(request.args, default=20, maximum=40)
        max_id, since_id, min_id = channel._id_params(request.args)
    except channel.BadRequest as problem:
        return channel.error(400, str(problem), headers)
    with world.lock:
        records = sorted(_scheduled(world).values(), key=lambda r: int(r["id"]))
    if min_id is not None:
        above = [r for r in records if int(r["id"]) > min_id]
        above = [r for r in above if max_id is None or int(r["id"]) < max_id]
        page = list(reversed(above[:limit]))
    else:
        below = [
            r
            for r in records
            if (max_id is None or int(r["id"]) < max_id)
            and (since_id is None or int(r["id"]) > since_id)
        ]
        page = list(reversed(below[-limit:])) if limit else []
    links = []
    carried = [("limit", value) for value in request.args.getlist("limit")]
    if page and len(page) == limit:
        links.append(
            f'<{request.base_url}?{urlencode([*carried, ("max_id", page[-1]["id"])])}>; rel="next"'
        )
    if page:
        links.append(
            f'<{request.base_url}?{urlencode([*carried, ("min_id", page[0]["id"])])}>; rel="prev"'
        )
    if links:
        headers["Link"] = ", ".join(links)
    return channel._answer(world, [render(record) for record in page], headers)


def _body(request: Request) -> dict[str, Any]:
    if request.mimetype == "application/json":
        payload = json.loads(request.get_data() or b"{}")
        if not isinstance(payload, dict):
            raise channel.BadRequest("the body is not a JSON object")
        return payload
    return {key: value for key, value in request.form.items()}


def _future_time(world: World, raw: object) -> datetime | None:
    """`raw` as a time at least 5 minutes ahead; None when it is too soon."""
    if not isinstance(raw, str):
        raise channel.BadRequest("scheduled_at is not a time")
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise channel.BadRequest(f"Invalid scheduled_at: {raw!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if at < world.now() + MINIMUM_LEAD:
        return None
    return at.astimezone(UTC).replace(microsecond=0)


def one_scheduled(  # noqa: PLR0911 - one answer per documented outcome
    world: World, request: Request, status_id: str
) -> Response:
    refused, headers = _guard(world, request)
    if refused is not None:
        return refused
    with world.lock:
        record = _scheduled(world).get(status_id)
        if record is None:
            return channel.error(404, "Record not found", headers)
        if request.method == "GET":
            return channel._answer(world, render(record), headers)
        if request.method == "DELETE":
            del _scheduled(world)[status_id]
            return json_response({}, 200, headers)
        try:
            at = _future_time(world, _body(request).get("scheduled_at"))
        except (channel.BadRequest, ValueError) as problem:
            return channel.error(400, str(problem), headers)
        if at is None:
            return channel.error(422, TOO_SOON, headers)
        record["scheduled_at"] = at
        return channel._answer(world, render(record), headers)


def create_status(  # noqa: PLR0911 - one answer per documented outcome
    world: World, request: Request
) -> Response:
    refused, headers = _guard(world, request)
    if refused is not None:
        return refused
    try:
        body = _body(request)
    except (channel.BadRequest, ValueError) as problem:
        return channel.error(400, str(problem), headers)
    text = body.get("status")
    if not isinstance(text, str) or not text.strip():
        return channel.error(422, "Validation failed: Text can't be blank", headers)
    key = request.headers.get("Idempotency-Key")
    state = world.channel_state(channel.NAME)
    with world.lock:
        remembered: dict[str, Any] = state.setdefault("idempotency", {})
        if key and key in remembered:
            return json_response(remembered[key], 200, headers)
        if body.get("scheduled_at") is None:
            posted = {"id": _new_id(world), "content": text, "created_at": _timestamp(world.now())}
            state.setdefault("posted", []).append(posted)
            answer = posted
        else:
            try:
                at = _future_time(world, body["scheduled_at"])
            except channel.BadRequest as problem:
                return channel.error(400, str(problem), headers)
            if at is None:
                return channel.error(422, TOO_SOON, headers)
            visibility = body.get("visibility") or "public"
            if visibility not in VISIBILITIES:
                return channel.error(422, "Validation failed: Visibility is not included", headers)
            record = schedule(
                world,
                text,
                at,
                visibility=visibility,
                language=body.get("language"),
                idempotency=key,
            )
            for name in ("media_ids", "sensitive", "spoiler_text", "in_reply_to_id", "poll"):
                if body.get(name) is not None:
                    record["params"][name] = body[name]
            answer = render(record)
        if key:
            remembered[key] = answer
    return json_response(answer, 200, headers)
