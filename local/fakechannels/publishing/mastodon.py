"""Fake Mastodon: ``POST /api/v1/statuses`` honouring ``Idempotency-Key``, and the
account's own statuses (``verify_credentials``, ``/api/v1/accounts/:id/statuses``)."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels import mastodon
from local.fakechannels.publishing import after_store, published, wait
from local.fakechannels.world import World

CHANNEL = mastodon.NAME
ACCOUNT = "nordwindair"
MAX_CHARACTERS = 500
_VISIBILITIES = ("public", "unlisted", "private", "direct")


def rules() -> list[Rule]:
    return [
        Rule("/api/v1/statuses", endpoint=create_status, methods=["POST"]),
        Rule("/api/v1/accounts/verify_credentials", endpoint=verify_credentials, methods=["GET"]),
        Rule("/api/v1/accounts/<account_id>/statuses", endpoint=account_statuses, methods=["GET"]),
    ]


def _account() -> dict[str, Any]:
    return mastodon.render_account(ACCOUNT, "Nordwind Air", 12000)


def _refused(world: World, request: Request) -> Response | None:
    if not _signed_in(world, request):
        return mastodon.error(401, "The access token is invalid")
    admitted, headers = mastodon._count_request(world, "publishing")
    if not admitted:
        return mastodon.error(429, "Too many requests", headers)
    return None


def _signed_in(world: World, request: Request) -> bool:
    return bool(mastodon._signed_in(world, request))


def _params(request: Request) -> dict[str, Any]:
    if request.is_json:
        try:
            body = json.loads(request.get_data(cache=True) or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    return dict(request.form.items())


def _content(text: str) -> str:
    # Mastodon's rendering: a paragraph per blank line, <br> per line break.
    return "".join(
        mastodon._content(paragraph).replace("\n", "<br>") for paragraph in text.split("\n\n")
    )


def _status(post: dict[str, Any]) -> dict[str, Any]:
    status_id = post["id"]
    return {
        "id": status_id,
        "uri": f"https://mastodon.example/users/{ACCOUNT}/statuses/{status_id}",
        "url": f"https://mastodon.example/@{ACCOUNT}/{status_id}",
        "created_at": mastodon._timestamp(post["created_at"]),
        "account": _account(),
        "content": _content(post["text"]),
        "visibility": post["visibility"],
        "sensitive": False,
        "spoiler_text": "",
        "media_attachments": [],
        "application": {"name": "stormwatch", "website": None},
        "mentions": [],
        "tags": [],
        "emojis": [],
        "reblogs_count": 0,
        "favourites_count": 0,
        "replies_count": 0,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "reblog": None,
        "poll": None,
        "card": None,
        "language": post["language"],
        "text": None,
        "edited_at": None,
    }


def create_status(world: World, request: Request) -> Response:
    params = _params(request)
    if params.get("scheduled_at") is not None:
        # A scheduled status: one route, as on the real API; the scheduling fake keeps those.
        from local.fakechannels.scheduling import mastodon as scheduling

        return scheduling.create_status(world, request)
    refused = _refused(world, request)
    if refused is not None:
        return refused
    wait(world, CHANNEL)
    text = params.get("status")
    if not isinstance(text, str) or not text.strip():
        return mastodon.error(422, "Validation failed: Text can't be blank")
    if len(text) > MAX_CHARACTERS:
        return mastodon.error(422, "Validation failed: Text character limit of 500 exceeded")
    visibility = params.get("visibility", "public")
    if visibility not in _VISIBILITIES:
        return mastodon.error(422, "Validation failed: Visibility is not included in the list")
    key = request.headers.get("Idempotency-Key")
    now = world.now()
    with world.lock:
        state = world.channel_state(CHANNEL)
        keys: dict[str, dict[str, Any]] = state.setdefault("idempotency_keys", {})
        post = keys.get(key) if key else None
        if post is None:
            posts = published(world, CHANNEL)
            millis = int(now.timestamp() * 1000)
            post = {
                "id": str((millis << 16) + len(posts) + 1),
                "text": text,
                "visibility": visibility,
                "language": params.get("language") or None,
                "created_at": now,
            }
            posts.append(post)
            if key:
                keys[key] = post
    answer = mastodon._answer(world, _status(post), {})
    return after_store(world, CHANNEL, answer, lambda status: mastodon.error(status, "Error"))


def verify_credentials(world: World, request: Request) -> Response:
    refused = _refused(world, request)
    return refused or mastodon._answer(world, _account(), {})


def account_statuses(world: World, request: Request, account_id: str) -> Response:
    refused = _refused(world, request)
    if refused is not None:
        return refused
    if account_id != _account()["id"]:
        return mastodon.error(404, "Record not found")
    try:
        limit = mastodon._limit_param(request.args, default=20, maximum=40)
    except mastodon.BadRequest as problem:
        return mastodon.error(400, str(problem))
    with world.lock:
        posts = list(reversed(published(world, CHANNEL)))[:limit]
    return mastodon._answer(world, [_status(post) for post in posts], {})
