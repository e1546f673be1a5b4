"""Fake Instagram Graph API (business account) over the scenario's instagram posts.

Endpoints: ``GET /<version>/ig_hashtag_search`` (``user_id``, ``q``),
``GET /<version>/{hashtag-id}/recent_media`` (``user_id`` required, media fields
without ``username``, at most 50 a page) and ``GET /<version>/{ig-user-id}/tags``.
The business account is the one of config/example.yaml.

Scenario kinds: ``hashtag`` -> recent_media of the post's brand hashtag (the brand's
hashtag in config/example.yaml; the caption stays the scenario text, which is data
and ground truth, so the fake does not append the hashtag to it); ``mentioned`` ->
the account's ``/tags``.

One deliberate difference: the real recent_media lists only the last 24 hours. The
conformance test replays 40 hours of scenario in one go, so by default the fake
serves the whole history; set ``world.channel_state("instagram")["recent_media_hours"]
= 24`` for the real window. The 30-unique-hashtags-per-7-days limit is enforced
(code 24, as Graph answers when the account queried too many hashtags).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.graph import (
    FieldRequest,
    GraphApi,
    GraphFault,
    Listed,
    fault_response,
    graph_time,
    invalid_parameter,
    paged,
    parse_fields,
    required_param,
    unsupported_get,
)
from local.fakechannels.world import World
from local.scenario import STORM_BRAND, Post

CHANNEL = "instagram"
BUSINESS_ACCOUNT_ID = "17841400000000001"
CREDENTIALS: dict[str, str] = {"access_token": "fake-instagram-token-0001"}

# hashtag (lowercase) -> (hashtag id, brand), as config/example.yaml lists them.
HASHTAGS: dict[str, tuple[str, str]] = {
    "nordwindair": ("17843853986012965", "nordwind-air"),
    "kolibripay": ("17841562447105233", "kolibri-pay"),
}
UNIQUE_HASHTAGS_PER_WEEK = 30

_MEDIA = 17_900_000_000_000_000
MEDIA_FIELDS = (
    "id",
    "caption",
    "media_type",
    "permalink",
    "timestamp",
    "like_count",
    "comments_count",
    "media_url",
    "children",
)
TAGGED_FIELDS = (*MEDIA_FIELDS, "username", "owner")
_MEDIA_TYPES = ("IMAGE", "IMAGE", "CAROUSEL_ALBUM", "VIDEO")
_SHORTCODE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

_API = GraphApi(
    channel=CHANNEL,
    credential="access_token",
    owner_id=BUSINESS_ACCOUNT_ID,
    usage_type="instagram",
    throttle_code=80002,
    throttle_message="(#80002) There have been too many calls to this Instagram account. "
    "Wait a bit and try again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
)


def mention_id(post: Post) -> str:
    return str(_MEDIA + post.seq)


def _shortcode(post: Post) -> str:
    digest = hashlib.blake2b(mention_id(post).encode(), digest_size=8).digest()
    return "".join(_SHORTCODE[byte % len(_SHORTCODE)] for byte in digest) + "AbC"


def hashtag_of(post: Post) -> str:
    """The brand hashtag a ``hashtag`` post carries (weather chatter uses the storm brand's)."""
    brand = post.brands[0] if post.brands else STORM_BRAND
    return next(tag for tag, (_id, owner) in HASHTAGS.items() if owner == brand)


def _media(post: Post) -> Listed:
    def render(fields: Mapping[str, FieldRequest]) -> dict[str, Any]:
        values: dict[str, Any] = {"id": mention_id(post)}
        for name in fields:
            if name == "caption":
                values["caption"] = post.text
            elif name == "media_type":
                values["media_type"] = _MEDIA_TYPES[post.seq % len(_MEDIA_TYPES)]
            elif name == "permalink":
                values["permalink"] = f"https://www.instagram.com/p/{_shortcode(post)}/"
            elif name == "timestamp":
                values["timestamp"] = graph_time(post.created_at)
            elif name == "like_count":
                values["like_count"] = post.likes
            elif name == "comments_count":
                values["comments_count"] = post.replies
            elif name == "media_url":
                values["media_url"] = f"https://scontent.cdninstagram.com/{mention_id(post)}.jpg"
            elif name == "username":
                values["username"] = post.author
            elif name == "owner":
                values["owner"] = {"id": str(_MEDIA // 10 + post.seq)}
        return values

    return Listed(post.created_at, _MEDIA + post.seq, render)


def _check_user(request: Request) -> None:
    if required_param(request, "user_id") != BUSINESS_ACCOUNT_ID:
        raise invalid_parameter("The parameter user_id must be the requesting IG User")


def hashtag_search(world: World, request: Request) -> dict[str, Any]:
    _check_user(request)
    name = required_param(request, "q").lstrip("#").lower()
    now = world.now()
    with world.lock:
        searched: dict[str, Any] = world.channel_state(CHANNEL).setdefault("searched", {})
        recent = {tag for tag, when in searched.items() if now - when < timedelta(days=7)}
        if name not in recent and len(recent) >= UNIQUE_HASHTAGS_PER_WEEK:
            raise GraphFault(
                400,
                24,
                "(#24) The user has reached the maximum number of unique hashtag queries "
                "allowed in a 7 day period",
                subcode=2207024,
            )
        searched.setdefault(name, now)
    if name not in HASHTAGS:
        return {"data": []}
    return {"data": [{"id": HASHTAGS[name][0]}]}


def recent_media(world: World, request: Request, node: str) -> dict[str, Any]:
    tag = next((name for name, (tag_id, _brand) in HASHTAGS.items() if tag_id == node), None)
    if tag is None:
        raise unsupported_get(node)
    _check_user(request)
    fields = parse_fields(request.args.get("fields"), ("id",), MEDIA_FIELDS, "ShadowIGHashtag")
    hours = world.channel_state(CHANNEL).get("recent_media_hours")
    oldest = world.now() - timedelta(hours=hours) if hours else None
    media = [
        _media(post)
        for post in world.visible_posts(CHANNEL)
        if post.kind == "hashtag"
        and hashtag_of(post) == tag
        and (oldest is None or post.created_at >= oldest)
    ]
    return paged(request, media, fields, default_limit=25, max_limit=50)


def tags(world: World, request: Request, node: str) -> dict[str, Any]:
    if node != BUSINESS_ACCOUNT_ID:
        raise unsupported_get(node)
    fields = parse_fields(request.args.get("fields"), ("id",), TAGGED_FIELDS, "IGMedia")
    media = [_media(post) for post in world.visible_posts(CHANNEL) if post.kind == "mentioned"]
    return paged(request, media, fields, default_limit=25, max_limit=100)


class InstagramFake:
    name = CHANNEL

    def rules(self) -> Iterable[Rule]:
        return [
            _API.rule("/ig_hashtag_search", hashtag_search),
            _API.rule("/<node>/recent_media", recent_media),
            _API.rule("/<node>/tags", tags),
        ]

    def error_response(self, status: int, world: World) -> Response:
        return fault_response(status)


def make_fake() -> InstagramFake:
    return InstagramFake()
