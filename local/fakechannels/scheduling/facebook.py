"""Fake scheduled posts of the Facebook Page, beside the listening fake (Graph API).

- ``GET /<version>/{page-id}/scheduled_posts``: the Page's unpublished scheduled posts
  (fields ``id``, ``message``, ``link``, ``scheduled_publish_time`` as unix seconds,
  ``created_time``, ``is_published``), soonest first, Graph's cursor paging;
- ``POST /<version>/{page-id}/feed`` with ``published=false`` and
  ``scheduled_publish_time`` (unix seconds, 10 minutes to 30 days ahead, else code 100
  "The specified scheduled publish time is invalid."): a new scheduled post, ``{"id"}``;
  without ``published=false`` the post is published at once (kept in ``posted``);
- ``DELETE /<version>/{post-id}``: ``{"success": true}``; an unknown id is Graph's
  code 100 / subcode 33.

State in ``world.channel_state("facebook")["scheduled"]`` (id -> record). `seed` adds posts.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from local.fakechannels.facebook import _API, CHANNEL, PAGE_ID
from local.fakechannels.graph import (
    FieldRequest,
    GraphFault,
    Listed,
    graph_time,
    invalid_parameter,
    paged,
    parse_fields,
    unsupported_get,
)
from local.fakechannels.world import World

MINIMUM_LEAD = timedelta(minutes=10)
MAXIMUM_LEAD = timedelta(days=30)
FIELDS = ("id", "message", "link", "scheduled_publish_time", "created_time", "is_published")
DEFAULT_FIELDS = ("id", "message", "scheduled_publish_time")
_SCHEDULED_POST = 1_600_000_000_000_000
_NUMBERS = itertools.count(1)


def rules() -> list[Rule]:
    def only(rule: Rule, method: str) -> Rule:
        return Rule(rule.rule, endpoint=rule.endpoint, methods=[method])

    return [
        only(_API.rule("/<node>/scheduled_posts", list_scheduled), "GET"),
        only(_API.rule("/<node>", delete_post), "DELETE"),
    ]


def _scheduled(world: World) -> dict[str, dict[str, Any]]:
    with world.lock:
        found: dict[str, dict[str, Any]] = world.channel_state(CHANNEL).setdefault("scheduled", {})
    return found


def schedule(world: World, message: str, at: datetime, link: str = "") -> dict[str, Any]:
    number = _SCHEDULED_POST + next(_NUMBERS)
    record: dict[str, Any] = {
        "id": f"{PAGE_ID}_{number}",
        "number": number,
        "message": message,
        "link": link,
        "at": at.astimezone(UTC).replace(microsecond=0),
        "created": world.now(),
    }
    with world.lock:
        _scheduled(world)[record["id"]] = record
    return record


def seed(world: World, count: int, now: datetime) -> list[str]:
    """`count` scheduled posts, one every 90 minutes from an hour after `now`."""
    return [
        schedule(
            world,
            f"Nordwind Air: fly to the sun this winter, offer {number}.",
            now + timedelta(hours=1, minutes=90 * number),
            link=f"https://nordwind.example/offers/{number}",
        )["id"]
        for number in range(count)
    ]


def _render(record: Mapping[str, Any], fields: Mapping[str, FieldRequest]) -> dict[str, Any]:
    values: dict[str, Any] = {"id": record["id"]}
    for name in fields:
        if name == "message":
            values["message"] = record["message"]
        elif name == "link" and record["link"]:
            values["link"] = record["link"]
        elif name == "scheduled_publish_time":
            values["scheduled_publish_time"] = int(record["at"].timestamp())
        elif name == "created_time":
            values["created_time"] = graph_time(record["created"])
        elif name == "is_published":
            values["is_published"] = False
    return values


def _renderer(record: Mapping[str, Any]) -> Any:
    return lambda wanted: _render(record, wanted)


def list_scheduled(world: World, request: Request, node: str) -> dict[str, Any]:
    if node != PAGE_ID:
        raise unsupported_get(node)
    fields = parse_fields(request.args.get("fields"), DEFAULT_FIELDS, FIELDS, "Post")
    with world.lock:
        records = list(_scheduled(world).values())
    # Graph pages newest first by its key; the key here is the time the post goes out,
    # negated, so that the listing runs soonest first.
    listed = [
        Listed(
            datetime.fromtimestamp(-record["at"].timestamp() + 4e9, tz=UTC),
            record["number"],
            _renderer(record),
        )
        for record in records
    ]
    return paged(request, listed, fields, default_limit=25, max_limit=100)


def create_post(world: World, request: Request, node: str) -> dict[str, Any]:
    if node != PAGE_ID:
        raise unsupported_get(node)
    form = request.form
    message = form.get("message", "")
    if not message and not form.get("link"):
        raise invalid_parameter("Missing message or attachment.")
    raw = form.get("scheduled_publish_time", "")
    if not raw.isdigit():
        raise invalid_parameter("The specified scheduled publish time is invalid.")
    at = datetime.fromtimestamp(int(raw), tz=UTC)
    now = world.now()
    if not now + MINIMUM_LEAD <= at <= now + MAXIMUM_LEAD:
        raise invalid_parameter("The specified scheduled publish time is invalid.")
    return {"id": schedule(world, message, at, form.get("link", ""))["id"]}


def delete_post(world: World, request: Request, node: str) -> dict[str, Any]:
    del request
    with world.lock:
        if _scheduled(world).pop(node, None) is None:
            raise GraphFault(
                400,
                100,
                f"Unsupported delete request. Object with ID '{node}' does not exist, cannot "
                "be loaded due to missing permissions, or does not support this operation.",
                kind="GraphMethodException",
                subcode=33,
            )
    return {"success": True}
