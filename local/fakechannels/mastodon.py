"""Fake Mastodon instance (``mastodon.example``): notifications, hashtag timelines and search.

What it keeps of the real API (Mastodon 4.3), because the adapter depends on it:
- ``GET /api/v1/notifications`` and ``GET /api/v1/timelines/tag/{hashtag}`` page like
  Mastodon's ``paginate_by_id``: with ``min_id`` the ``limit`` items just above it, else the
  newest items below ``max_id`` and above ``since_id``; newest first either way. The ``Link``
  header has ``next`` (``max_id`` = the oldest item, only when the page is full) and ``prev``
  (``min_id`` = the newest item, when the page is not empty), carrying the other parameters.
- Rails-style array parameters (``types[]=mention``); ``limit`` capped per endpoint
  (notifications 80, tag timeline 40, search 40) as Mastodon does, not refused.
- ``GET /api/v2/search``: statuses matching the query, newest id first, paged by ``offset``
  (which needs a token); ``min_id``/``max_id`` are turned into ``after:``/``before:`` filters
  on created_at at whole seconds, exclusive, as Mastodon 4.2+ does; no ``Link`` header. Terms
  match any of them (``+`` requires, ``-`` excludes); words match whole words of the text
  case-insensitively, "phrases" consecutive words, ``#tag`` hashtags.
- ``GET /api/v1/timelines/tag/{hashtag}`` of a tag no status has used yet is
  ``404 {"error": "Record not found"}``: Mastodon keeps no tag record until one does.
- Status ids are ``unix ms << 16`` plus a sequence; notification ids a plain sequence.
- The bearer token (401 ``{"error": "The access token is invalid"}``); notifications need
  one, the tag timeline is public, search finds statuses only for a signed-in user.
- ``X-RateLimit-Limit/Remaining/Reset`` (reset ISO-8601, microseconds) with one budget per
  account in 5-minute windows aligned to the clock; 429 ``{"error": "Too many requests"}``.

Stricter than Mastodon, on purpose: a non-numeric id or limit is a 400 here, where Rails
would silently read it as 0 and page from the beginning.

The token belongs to the brand account ``@nordwindair``: its mention notifications are the
statuses that mention it. Knobs for tests, in ``world.channel_state("mastodon")``:
`REQUESTS_PER_WINDOW` and `REWRITE` (a function applied to every successful answer's body).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.server import json_response
from local.fakechannels.world import World
from local.scenario import Post

NAME = "mastodon"
INSTANCE = "mastodon.example"
BRAND_ACCOUNT = "nordwindair"
CREDENTIALS: dict[str, str] = {"access_token": "stormwatch-fake-mastodon-token-7f3a9c"}

REQUESTS_PER_WINDOW = "requests_per_window"
REWRITE = "rewrite_payload"

# Generous, so that whole-scenario runs never hit it; Mastodon's default is 300 per 5 minutes.
DEFAULT_REQUESTS_PER_WINDOW = 10_000
RATE_WINDOW = timedelta(minutes=5)

NOTIFICATION_ID_BASE = 41_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DIGITS = re.compile(r"[0-9]{1,20}")
_WORD = re.compile(r"\w+")
_HASHTAG = re.compile(r"(?<![\w/])#(\w+)")
_MENTION = re.compile(r"(?<![\w/])@(\w+)")
_ENTITY = re.compile(r"(?<![\w/])([@#])(\w+)")
_SEARCH_TERM = re.compile(r'([+-]?)(?:"([^"]*)"|(\S+))')


def status_id(post: Post) -> int:
    millis = (post.created_at - _EPOCH) // timedelta(milliseconds=1)
    return (millis << 16) | (post.seq & 0xFFFF)


def mention_id(post: Post) -> str:
    return str(status_id(post))


def notification_id(post: Post) -> int:
    """Notification ids are a database sequence; scenario seqs grow with created_at too."""
    return NOTIFICATION_ID_BASE + post.seq


def make_fake() -> MastodonFake:
    return MastodonFake()


class BadRequest(Exception):
    pass


class MastodonFake:
    name = NAME

    def rules(self) -> Iterable[Rule]:
        return [
            Rule("/api/v1/notifications", endpoint=self.notifications, methods=["GET"]),
            Rule("/api/v1/timelines/tag/<hashtag>", endpoint=self.tag_timeline, methods=["GET"]),
            Rule("/api/v2/search", endpoint=self.search, methods=["GET"]),
        ]

    def error_response(self, status: int, world: World) -> Response:
        headers: dict[str, str] = {}
        if status == 429:
            limit = _limit(world)
            headers = _rate_headers(limit, limit, _window_start(world.now()) + RATE_WINDOW)
        return error(status, _MESSAGES.get(status, "Error"), headers)

    # --- endpoints ---------------------------------------------------------------------

    def notifications(self, world: World, request: Request) -> Response:
        signed_in = _signed_in(world, request)
        if signed_in is not True:
            return error(401, "The access token is invalid")
        admitted, headers = _count_request(world, "account")
        if not admitted:
            return error(429, "Too many requests", headers)
        args = request.args
        try:
            limit = _limit_param(args, default=40, maximum=80)
            bounds = _id_params(args)
        except BadRequest as problem:
            return error(400, str(problem), headers)
        types = args.getlist("types[]")
        excluded = args.getlist("exclude_types[]")
        wanted = (not types or "mention" in types) and "mention" not in excluded
        mentions = [
            post
            for post in world.visible_posts(NAME)
            if wanted and BRAND_ACCOUNT in _mentions(post.text)
        ]
        page = _paginate(mentions, notification_id, limit, *bounds)
        carried = [
            (name, value)
            for name in ("limit", "types[]", "exclude_types[]", "account_id", "include_filtered")
            for value in args.getlist(name)
        ]
        headers.update(_link_header(request, carried, page, notification_id, limit))
        payload = [render_notification(post) for post in page]
        return _answer(world, payload, headers)

    def tag_timeline(self, world: World, request: Request, hashtag: str) -> Response:
        signed_in = _signed_in(world, request)
        if signed_in is False:
            return error(401, "The access token is invalid")
        admitted, headers = _count_request(world, "account" if signed_in else "anonymous")
        if not admitted:
            return error(429, "Too many requests", headers)
        args = request.args
        try:
            limit = _limit_param(args, default=20, maximum=40)
            bounds = _id_params(args)
        except BadRequest as problem:
            return error(400, str(problem), headers)
        tag = hashtag.casefold()
        tagged = [post for post in world.visible_posts(NAME) if tag in _hashtags(post.text)]
        if not tagged:
            # Mastodon has no tag record until a status uses the tag (Tag.find_normalized!).
            return error(404, "Record not found", headers)
        page = _paginate(tagged, status_id, limit, *bounds)
        carried = [
            (name, value)
            for name in ("limit", "local", "remote", "only_media", "any[]", "all[]", "none[]")
            for value in args.getlist(name)
        ]
        headers.update(_link_header(request, carried, page, status_id, limit))
        return _answer(world, [render_status(post) for post in page], headers)

    def search(self, world: World, request: Request) -> Response:
        signed_in = _signed_in(world, request)
        if signed_in is False:
            return error(401, "The access token is invalid")
        admitted, headers = _count_request(world, "account" if signed_in else "anonymous")
        if not admitted:
            return error(429, "Too many requests", headers)
        args = request.args
        query = args.get("q", "").strip()
        if not query:
            return error(400, "param is missing or the value is empty: q", headers)
        if not signed_in and args.get("offset", "0") != "0":
            return error(
                401, "Search queries pagination is not supported without authentication", headers
            )
        try:
            limit = _limit_param(args, default=20, maximum=40)
            offset = _number(args, "offset", 0)
            after = _id_second(args, "min_id")
            before = _id_second(args, "max_id")
            matches = _compile_search(query)
        except BadRequest as problem:
            return error(400, str(problem), headers)
        statuses: list[Post] = []
        # Full-text search of statuses needs a signed-in user; type picks the categories.
        if signed_in and args.get("type") in (None, "", "statuses"):
            found = [
                post
                for post in world.visible_posts(NAME)
                if (after is None or post.created_at > after)
                and (before is None or post.created_at < before)
                and matches(post)
            ]
            found.sort(key=status_id, reverse=True)
            statuses = found[offset : offset + limit]
        payload = {
            "accounts": [],
            "statuses": [render_status(post) for post in statuses],
            "hashtags": [],
        }
        return _answer(world, payload, headers)


# --- requests -----------------------------------------------------------------------------


def _signed_in(world: World, request: Request) -> bool | None:
    """True for the accepted token, False for any other, None when no token was sent."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    accepted = world.credentials.get(NAME, CREDENTIALS).get("access_token")
    return bool(accepted) and header == f"Bearer {accepted}"


def _limit(world: World) -> int:
    return int(world.channel_state(NAME).get(REQUESTS_PER_WINDOW, DEFAULT_REQUESTS_PER_WINDOW))


def _window_start(now: datetime) -> datetime:
    seconds = int(RATE_WINDOW.total_seconds())
    epoch = math.floor(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def _count_request(world: World, bucket: str) -> tuple[bool, dict[str, str]]:
    state = world.channel_state(NAME)
    start = _window_start(world.now())
    with world.lock:
        limit = _limit(world)
        windows: dict[str, tuple[datetime, int]] = state.setdefault("rate_windows", {})
        window, used = windows.get(bucket, (start, 0))
        if window != start:
            window, used = start, 0
        admitted = used < limit
        if admitted:
            used += 1
        windows[bucket] = (window, used)
    return admitted, _rate_headers(limit, used, window + RATE_WINDOW)


def _rate_headers(limit: int, used: int, reset: datetime) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, limit - used)),
        "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def _limit_param(args: Mapping[str, str], *, default: int, maximum: int) -> int:
    value = args.get("limit")
    if value is None:
        return default
    if not value.isascii() or not value.isdigit():
        raise BadRequest(f"Invalid limit: {value!r} is not a number")
    return min(int(value), maximum)


def _id_params(args: Mapping[str, str]) -> tuple[int | None, int | None, int | None]:
    return _id(args, "max_id"), _id(args, "since_id"), _id(args, "min_id")


def _id(args: Mapping[str, str], name: str) -> int | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    if not _DIGITS.fullmatch(value):
        raise BadRequest(f"Invalid {name}: {value!r} is not an id")
    return int(value)


def _number(args: Mapping[str, str], name: str, default: int) -> int:
    value = args.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit():
        raise BadRequest(f"Invalid {name}: {value!r} is not a number")
    return int(value)


def _id_second(args: Mapping[str, str], name: str) -> datetime | None:
    """What search makes of min_id/max_id: the id's time, cut to the whole second."""
    value = _id(args, name)
    if value is None:
        return None
    moment = _EPOCH + timedelta(milliseconds=value >> 16)
    return moment.replace(microsecond=0)


def _paginate(
    posts: Sequence[Post],
    identify: Callable[[Post], int],
    limit: int,
    max_id: int | None,
    since_id: int | None,
    min_id: int | None,
) -> list[Post]:
    """Mastodon's paginate_by_id over `posts` (oldest first); the page is newest first."""
    if min_id is not None:
        above = [
            post
            for post in posts
            if identify(post) > min_id and (max_id is None or identify(post) < max_id)
        ]
        return list(reversed(above[:limit]))
    below = [
        post
        for post in posts
        if (max_id is None or identify(post) < max_id)
        and (since_id is None or identify(post) > since_id)
    ]
    return list(reversed(below[-limit:])) if limit else []


def _link_header(
    request: Request,
    carried: list[tuple[str, str]],
    page: Sequence[Post],
    identify: Callable[[Post], int],
    limit: int,
) -> dict[str, str]:
    links = []
    if page and len(page) == limit:
        query = urlencode([*carried, ("max_id", str(identify(page[-1])))])
        links.append(f'<{request.base_url}?{query}>; rel="next"')
    if page:
        query = urlencode([*carried, ("min_id", str(identify(page[0])))])
        links.append(f'<{request.base_url}?{query}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


# --- answers ----------------------------------------------------------------------------------

_MESSAGES = {
    400: "Bad request",
    401: "The access token is invalid",
    403: "This action is not allowed",
    404: "Record not found",
    410: "Gone",
    422: "Validation failed",
    429: "Too many requests",
    500: "Something went wrong on our end",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


def _answer(world: World, payload: Any, headers: dict[str, str]) -> Response:
    rewrite: Callable[[Any], Any] | None = world.channel_state(NAME).get(REWRITE)
    return json_response(rewrite(payload) if rewrite else payload, 200, headers)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _escape(text: str) -> str:
    """Rails' html_escape, as Mastodon's text formatter uses it."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def username(name: str) -> str:
    """Mastodon usernames are letters, digits and underscores."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def _account_id(name: str) -> str:
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    return str(109_000_000_000_000_000 + digest % 10**15)


def _content(text: str) -> str:
    """The status HTML Mastodon renders from plain text: escaped, with mention and hashtag
    links whose names sit in inline spans."""
    parts: list[str] = []
    position = 0
    for found in _ENTITY.finditer(text):
        parts.append(_escape(text[position : found.start()]))
        sigil, name = found.group(1), found.group(2)
        if sigil == "@":
            parts.append(
                f'<span class="h-card" translate="no"><a href="https://{INSTANCE}/@{name}" '
                f'class="u-url mention">@<span>{_escape(name)}</span></a></span>'
            )
        else:
            parts.append(
                f'<a href="https://{INSTANCE}/tags/{name.casefold()}" class="mention hashtag" '
                f'rel="tag">#<span>{_escape(name)}</span></a>'
            )
        position = found.end()
    parts.append(_escape(text[position:]))
    return f"<p>{''.join(parts)}</p>"


def render_account(name: str, display_name: str, followers: int) -> dict[str, Any]:
    handle = username(name)
    seed = int(_account_id(handle)) % 100_000
    return {
        "id": _account_id(handle),
        "username": handle,
        "acct": handle,
        "display_name": display_name,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "indexable": True,
        "group": False,
        "created_at": "2022-11-07T00:00:00.000Z",
        "note": "",
        "url": f"https://{INSTANCE}/@{handle}",
        "uri": f"https://{INSTANCE}/users/{handle}",
        "avatar": f"https://{INSTANCE}/avatars/original/missing.png",
        "avatar_static": f"https://{INSTANCE}/avatars/original/missing.png",
        "header": f"https://{INSTANCE}/headers/original/missing.png",
        "header_static": f"https://{INSTANCE}/headers/original/missing.png",
        "followers_count": followers,
        "following_count": 20 + seed % 700,
        "statuses_count": 50 + seed % 5_000,
        "last_status_at": "2026-11-21",
        "hide_collections": False,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "fields": [],
    }


def render_status(post: Post) -> dict[str, Any]:
    identifier = mention_id(post)
    handle = username(post.author)
    mentioned = sorted(_mentions(post.text))
    return {
        "id": identifier,
        "created_at": _timestamp(post.created_at),
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": post.lang,
        "uri": f"https://{INSTANCE}/users/{handle}/statuses/{identifier}",
        "url": f"https://{INSTANCE}/@{handle}/{identifier}",
        "replies_count": post.replies,
        "reblogs_count": post.reposts,
        "favourites_count": post.likes,
        "quotes_count": 0,
        "edited_at": None,
        "favourited": False,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "content": _content(post.text),
        "filtered": [],
        "reblog": None,
        "application": {"name": "Web", "website": None},
        "account": render_account(post.author, post.author_name, post.reach),
        "media_attachments": [],
        "mentions": [
            {
                "id": _account_id(name),
                "username": name,
                "url": f"https://{INSTANCE}/@{name}",
                "acct": name,
            }
            for name in mentioned
        ],
        "tags": [
            {"name": tag, "url": f"https://{INSTANCE}/tags/{tag}"}
            for tag in sorted(_hashtags(post.text))
        ],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def render_notification(post: Post) -> dict[str, Any]:
    identifier = str(notification_id(post))
    return {
        "id": identifier,
        "type": "mention",
        "created_at": _timestamp(post.created_at),
        "group_key": f"ungrouped-{identifier}",
        "account": render_account(post.author, post.author_name, post.reach),
        "status": render_status(post),
    }


# --- text matching ------------------------------------------------------------------------------


def _mentions(text: str) -> set[str]:
    return {name.casefold() for name in _MENTION.findall(text)}


def _hashtags(text: str) -> set[str]:
    return {tag.casefold() for tag in _HASHTAG.findall(text)}


def _has_words(words: tuple[str, ...], wanted: Sequence[str]) -> bool:
    width = len(wanted)
    return bool(wanted) and any(
        words[index : index + width] == tuple(wanted) for index in range(len(words))
    )


Matcher = Callable[[Post], bool]


def _compile_search(query: str) -> Matcher:
    """Mastodon's search syntax as far as the fake needs it (words, "phrases", #tags, +, -,
    language:); other operators are accepted and do not filter."""
    should: list[Matcher] = []
    must: list[Matcher] = []
    must_not: list[Matcher] = []
    for prefix, phrase, word in _SEARCH_TERM.findall(query):
        term = _term(phrase if phrase else word, quoted=bool(phrase))
        if term is None:
            continue
        {"+": must, "-": must_not}.get(prefix, should).append(term)

    def matches(post: Post) -> bool:
        if should and not any(term(post) for term in should):
            return False
        return all(term(post) for term in must) and not any(term(post) for term in must_not)

    return matches


def _term(text: str, *, quoted: bool) -> Matcher | None:
    if not quoted and text.startswith("#") and len(text) > 1:
        tag = text[1:].casefold()
        return lambda post: tag in _hashtags(post.text)
    if not quoted and ":" in text:
        operator, _, value = text.partition(":")
        if operator == "language":
            return lambda post: post.lang == value.strip('"')
        return None
    wanted = _WORD.findall(text.casefold())
    if not wanted:
        return None
    return lambda post: _has_words(tuple(_WORD.findall(post.text.casefold())), wanted)
