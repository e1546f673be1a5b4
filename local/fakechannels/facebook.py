"""Fake Facebook Pages (Graph API) over the scenario's facebook posts.

Endpoints, as the adapter uses them: ``GET /<version>/{page-id}/feed``, ``/tagged``,
``/posts`` and ``GET /<version>/{post-id}/comments`` (``filter``, ``order``, ``since``,
``until``, ``summary``). The Page is the one of config/example.yaml.

Scenario kinds: ``visitor_post`` -> on the Page's feed; ``tag`` -> ``/tagged`` (ids
prefixed with the tagger's id: the post lives on their timeline); ``comment`` ->
comments on the Page's own posts. The Page posts every `BRAND_POST_EVERY` (a fixed
schedule, from `HISTORY` before the scenario on), and the feed shows those posts
too, as the real one does: the adapter has to skip them. A comment hangs on one of
the three latest Page posts before it. A Page post's ``updated_time`` is its last
visible comment's time, as Graph documents ("when the post was created, edited, or
a user comments on a post").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.graph import (
    FieldRequest,
    GraphApi,
    Listed,
    choice_param,
    fault_response,
    graph_time,
    paged,
    parse_fields,
    person_id,
    summary_edge,
    unsupported_get,
)
from local.fakechannels.world import World
from local.scenario import Post

CHANNEL = "facebook"
PAGE_ID = "100012345678901"
PAGE_NAME = "Nordwind Air"
CREDENTIALS: dict[str, str] = {"page_access_token": "fake-facebook-page-token-0001"}

BRAND_POST_EVERY = timedelta(hours=4)
BRAND_POST_PHASE = timedelta(minutes=90)
HISTORY = timedelta(days=30)

# Object id ranges: Graph ids are opaque numbers; one range per kind keeps them unique.
_BRAND_POST = 1_200_000_000_000_000
_VISITOR_POST = 1_300_000_000_000_000
_TAGGED_POST = 1_400_000_000_000_000
_COMMENT = 1_500_000_000_000_000
_PERSON = 1_000_000_000_000_000

POST_FIELDS = (
    "id",
    "message",
    "created_time",
    "updated_time",
    "from",
    "permalink_url",
    "reactions",
    "comments",
)
COMMENT_FIELDS = (
    "id",
    "message",
    "created_time",
    "from",
    "permalink_url",
    "like_count",
    "comment_count",
)
# What Graph returns when `fields` is left out.
DEFAULT_POST_FIELDS = ("created_time", "message", "id")
DEFAULT_COMMENT_FIELDS = ("created_time", "from", "message", "id")

_BRAND_TEXTS = (
    "Good morning from the Nordwind Air crew! Where are you flying this week?",
    "New winter routes: Hamburg - Tromsø from December.",
    "Travel tip: check in online 24 hours before departure.",
    "Our cabin crew wish you a pleasant flight.",
)

_API = GraphApi(
    channel=CHANNEL,
    credential="page_access_token",
    owner_id=PAGE_ID,
    usage_type="pages",
    throttle_code=80001,
    throttle_message="(#80001) There have been too many calls to this Page account. "
    "Wait a bit and try again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
)


def brand_post_index(moment: datetime) -> int:
    """The Page's latest own post at or before `moment`."""
    phase = BRAND_POST_PHASE.total_seconds()
    return math.floor((moment.timestamp() - phase) / BRAND_POST_EVERY.total_seconds())


def brand_post_time(index: int) -> datetime:
    seconds = index * BRAND_POST_EVERY.total_seconds() + BRAND_POST_PHASE.total_seconds()
    return datetime.fromtimestamp(seconds, tz=UTC)


def _parent_index(post: Post) -> int:
    return brand_post_index(post.created_at) - post.seq % 3


def _user_id(handle: str) -> str:
    return person_id(handle, _PERSON)


def mention_id(post: Post) -> str:
    """The id Graph gives the object the scenario post becomes."""
    if post.kind == "comment":
        return f"{_BRAND_POST + _parent_index(post)}_{_COMMENT + post.seq}"
    if post.kind == "tag":
        return f"{_user_id(post.author)}_{_TAGGED_POST + post.seq}"
    return f"{PAGE_ID}_{_VISITOR_POST + post.seq}"


def _author(name: str, user_id: str) -> dict[str, str]:
    return {"name": name, "id": user_id}


def _post_fields(
    fields: Mapping[str, FieldRequest],
    *,
    post_id: str,
    created: datetime,
    updated: datetime,
    message: str,
    author: dict[str, str],
    permalink: str,
    reactions: int,
    comments: int,
) -> dict[str, Any]:
    values: dict[str, Any] = {"id": post_id}
    for name, request in fields.items():
        if name == "message":
            values["message"] = message
        elif name == "created_time":
            values["created_time"] = graph_time(created)
        elif name == "updated_time":
            values["updated_time"] = graph_time(updated)
        elif name == "from":
            values["from"] = author
        elif name == "permalink_url":
            values["permalink_url"] = permalink
        elif name == "reactions":
            values["reactions"] = summary_edge(request, reactions, {"viewer_reaction": "NONE"})
        elif name == "comments":
            values["comments"] = summary_edge(
                request, comments, {"order": "ranked", "can_comment": True}
            )
    return values


class _Page:
    """The Page as it looks at one moment: its posts, visitors' posts, tags, comments."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.now = world.now()
        posts = world.visible_posts(CHANNEL)
        self.visitor = [p for p in posts if p.kind not in ("comment", "tag")]
        self.tagged = [p for p in posts if p.kind == "tag"]
        self.comments: dict[int, list[Post]] = defaultdict(list)
        for post in posts:
            if post.kind == "comment":
                self.comments[_parent_index(post)].append(post)
        first = brand_post_index(world.scenario.start - HISTORY) + 1
        self.brand_indexes = range(first, brand_post_index(self.now) + 1)

    def brand_post(self, index: int) -> Listed:
        created = brand_post_time(index)
        comments = self.comments.get(index, [])
        updated = max([created, *(comment.created_at for comment in comments)])
        number = _BRAND_POST + index
        return Listed(
            created,
            number,
            lambda fields: _post_fields(
                fields,
                post_id=f"{PAGE_ID}_{number}",
                created=created,
                updated=updated,
                message=_BRAND_TEXTS[index % len(_BRAND_TEXTS)],
                author=_author(PAGE_NAME, PAGE_ID),
                permalink=f"https://www.facebook.com/{PAGE_ID}/posts/{number}",
                reactions=index % 40,
                comments=len(comments),
            ),
        )

    def brand_posts(self) -> list[Listed]:
        return [self.brand_post(index) for index in self.brand_indexes]

    @staticmethod
    def scenario_post(post: Post) -> Listed:
        number = int(mention_id(post).rsplit("_", 1)[1])
        owner = PAGE_ID if post.kind != "tag" else _user_id(post.author)
        return Listed(
            post.created_at,
            number,
            lambda fields: _post_fields(
                fields,
                post_id=mention_id(post),
                created=post.created_at,
                updated=post.created_at,
                message=post.text,
                author=_author(post.author_name, _user_id(post.author)),
                permalink=f"https://www.facebook.com/{owner}/posts/{number}",
                reactions=post.likes,
                comments=post.replies,
            ),
        )

    @staticmethod
    def comment(post: Post) -> Listed:
        parent, number = (int(part) for part in mention_id(post).split("_"))

        def render(fields: Mapping[str, FieldRequest]) -> dict[str, Any]:
            values: dict[str, Any] = {"id": mention_id(post)}
            for name in fields:
                if name == "message":
                    values["message"] = post.text
                elif name == "created_time":
                    values["created_time"] = graph_time(post.created_at)
                elif name == "from":
                    values["from"] = _author(post.author_name, _user_id(post.author))
                elif name == "permalink_url":
                    values["permalink_url"] = (
                        f"https://www.facebook.com/{PAGE_ID}/posts/{parent}?comment_id={number}"
                    )
                elif name == "like_count":
                    values["like_count"] = post.likes
                elif name == "comment_count":
                    values["comment_count"] = post.replies
            return values

        return Listed(post.created_at, number, render)


def _page(world: World, node: str) -> _Page:
    if node != PAGE_ID:
        raise unsupported_get(node)
    return _Page(world)


def _posts_answer(request: Request, items: Iterable[Listed]) -> dict[str, Any]:
    fields = parse_fields(request.args.get("fields"), DEFAULT_POST_FIELDS, POST_FIELDS, "Post")
    return paged(request, items, fields, default_limit=25, max_limit=100)


def feed(world: World, request: Request, node: str) -> dict[str, Any]:
    page = _page(world, node)
    visitors = [page.scenario_post(post) for post in page.visitor]
    return _posts_answer(request, [*page.brand_posts(), *visitors])


def tagged(world: World, request: Request, node: str) -> dict[str, Any]:
    page = _page(world, node)
    return _posts_answer(request, [page.scenario_post(post) for post in page.tagged])


def own_posts(world: World, request: Request, node: str) -> dict[str, Any]:
    return _posts_answer(request, _page(world, node).brand_posts())


def comments(world: World, request: Request, node: str) -> dict[str, Any]:
    page_id, _, number = node.rpartition("_")
    if page_id not in ("", PAGE_ID) or not number.isdigit():
        raise unsupported_get(node)
    page = _Page(world)
    index = int(number) - _BRAND_POST
    if index not in page.brand_indexes:
        raise unsupported_get(node)
    fields = parse_fields(
        request.args.get("fields"), DEFAULT_COMMENT_FIELDS, COMMENT_FIELDS, "Comment"
    )
    # The scenario's comments are all top level, so `stream` and `toplevel` list the same.
    choice_param(request, "filter", ("toplevel", "stream"), "toplevel")
    order = choice_param(
        request, "order", ("chronological", "reverse_chronological"), "chronological"
    )
    listed = [page.comment(post) for post in page.comments.get(index, [])]
    answer = paged(
        request,
        listed,
        fields,
        default_limit=25,
        max_limit=100,
        oldest_first=order == "chronological",
    )
    if request.args.get("summary") in ("true", "1"):
        answer["summary"] = {"order": order, "total_count": len(listed), "can_comment": True}
    return answer


class FacebookFake:
    name = CHANNEL

    def rules(self) -> Iterable[Rule]:
        return [
            _API.rule("/<node>/feed", feed),
            _API.rule("/<node>/tagged", tagged),
            _API.rule("/<node>/posts", own_posts),
            _API.rule("/<node>/comments", comments),
        ]

    def error_response(self, status: int, world: World) -> Response:
        return fault_response(status)


def make_fake() -> FacebookFake:
    return FacebookFake()
