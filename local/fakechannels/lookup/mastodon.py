"""Fake Mastodon lookups: ``GET /api/v1/accounts/lookup``, ``GET /api/v1/tags/:name`` and
``GET /api/v2/instance``, on the instance ``mastodon.example``.

As Mastodon 4.3 answers them: an unknown account or a tag nobody ever used is 404
``{"error": "Record not found"}``; ``acct`` may carry the instance's own domain; a tag's
``history`` is seven days of ``{day, uses, accounts}`` as strings, newest first, counted
from the scenario's statuses; ``following``/``featuring`` only for a signed-in user. The
instance document is Mastodon's, with ``configuration.statuses.max_characters`` from the
channel state's `MAX_CHARACTERS` (500 by default). Rate limits and the token are the
Mastodon fake's; its `REWRITE` knob applies here too.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.lookup.accounts import BRANDS, find
from local.fakechannels.mastodon import (
    INSTANCE,
    NAME,
    _answer,
    _count_request,
    _hashtags,
    _signed_in,
    error,
    render_account,
)
from local.fakechannels.world import World

MAX_CHARACTERS = "max_characters"
DEFAULT_MAX_CHARACTERS = 500
URL_CHARACTERS = 23
HISTORY_DAYS = 7
# Tags that exist on the instance even without a status in the scenario (older use).
KNOWN_TAGS = ("nordwindair", "kolibripay", "luftfahrt")
# Web push's public key (a P-256 point, base64url): any well-formed value does.
VAPID_KEY = (
    "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M="
)


def _admit(world: World, request: Request) -> tuple[Response | None, dict[str, str], bool]:
    signed_in = _signed_in(world, request)
    if signed_in is False:
        return error(401, "The access token is invalid"), {}, False
    admitted, headers = _count_request(world, "account" if signed_in else "anonymous")
    if not admitted:
        return error(429, "Too many requests", headers), headers, bool(signed_in)
    return None, headers, bool(signed_in)


def account_lookup(world: World, request: Request) -> Response:
    refused, headers, _ = _admit(world, request)
    if refused is not None:
        return refused
    acct = request.args.get("acct", "").strip().removeprefix("@")
    if not acct:
        return error(400, "param is missing or the value is empty: acct", headers)
    username, _, domain = acct.partition("@")
    account = find(username) if domain in ("", INSTANCE) else None
    if account is None:
        return error(404, "Record not found", headers)
    followers = 12_000 if account.brand else 300
    return _answer(world, render_account(account.name, account.display_name, followers), headers)


def tag(world: World, request: Request, name: str) -> Response:
    refused, headers, signed_in = _admit(world, request)
    if refused is not None:
        return refused
    folded = name.casefold()
    now = world.now()
    used_at = [
        post.created_at
        for post in world.visible_posts(NAME)
        if folded in _hashtags(post.text) and post.created_at > now - timedelta(days=HISTORY_DAYS)
    ]
    if not used_at and folded not in KNOWN_TAGS:
        return error(404, "Record not found", headers)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    history = []
    for back in range(HISTORY_DAYS):
        day = today - timedelta(days=back)
        uses = sum(1 for moment in used_at if day <= moment < day + timedelta(days=1))
        history.append(
            {
                "day": str(int(day.timestamp())),
                "uses": str(uses),
                "accounts": str(min(uses, 1 + uses // 3)),
            }
        )
    payload: dict[str, Any] = {
        "id": str(80_000 + sum(ord(char) for char in folded)),
        "name": folded,
        "url": f"https://{INSTANCE}/tags/{folded}",
        "history": history,
    }
    if signed_in:
        payload.update(following=False, featuring=False)
    return _answer(world, payload, headers)


def instance(world: World, request: Request) -> Response:
    refused, headers, _ = _admit(world, request)
    if refused is not None:
        return refused
    limit = world.channel_state(NAME).get(MAX_CHARACTERS, DEFAULT_MAX_CHARACTERS)
    return _answer(world, instance_document(limit), headers)


def instance_document(max_characters: object) -> dict[str, Any]:
    """Mastodon 4.3's ``Instance`` for mastodon.example (`max_characters` as the test set it)."""
    brand = BRANDS[0]
    contact = render_account(brand.name, brand.display_name, 12_000)
    return {
        "domain": INSTANCE,
        "title": "Mastodon (fake)",
        "version": "4.3.2",
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "The stormwatch fake instance",
        "usage": {"users": {"active_month": 1234}},
        "thumbnail": {"url": f"https://{INSTANCE}/packs/media/images/preview.png"},
        "icon": [
            {
                "src": f"https://{INSTANCE}/packs/media/icons/android-chrome-36x36.png",
                "size": "36x36",
            }
        ],
        "languages": ["de", "en"],
        "configuration": {
            "urls": {"streaming": f"wss://{INSTANCE}", "status": None},
            "vapid": {"public_key": VAPID_KEY},
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {
                "max_characters": max_characters,
                "max_media_attachments": 4,
                "characters_reserved_per_url": URL_CHARACTERS,
            },
            "media_attachments": {
                "supported_mime_types": ["image/jpeg", "image/png"],
                "image_size_limit": 16_777_216,
                "image_matrix_limit": 33_177_600,
                "video_size_limit": 103_809_024,
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8_294_400,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2_629_746,
            },
            "translation": {"enabled": False},
        },
        "registrations": {"enabled": False, "approval_required": False, "message": None},
        "api_versions": {"mastodon": 2},
        "contact": {"email": f"admin@{INSTANCE}", "account": contact},
        "rules": [],
    }


def rules() -> list[Rule]:
    return [
        Rule("/api/v1/accounts/lookup", endpoint=account_lookup, methods=["GET"]),
        Rule("/api/v1/tags/<name>", endpoint=tag, methods=["GET"]),
        Rule("/api/v2/instance", endpoint=instance, methods=["GET"]),
    ]
