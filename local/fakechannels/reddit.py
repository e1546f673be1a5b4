"""Fake Reddit: app-only OAuth, ``/search`` and ``/r/{subreddit}/comments`` over the scenario.

Speaks the documented API (reddit.com/dev/api, the OAuth2 wiki, the API rules on rate
limits) for what the adapter uses:

- ``POST /api/v1/access_token`` (HTTP basic auth with client id and secret,
  ``grant_type=client_credentials``) -> a bearer token valid for 86400 s. A refused grant
  is a 200 with ``{"error": "unsupported_grant_type"}``, as on Reddit.
- ``GET /search`` (links matching ``q``: quoted phrases joined by ``OR``, matched word by
  word, case- and accent-insensitive) and ``GET /r/{subreddit}/comments`` (the subreddit's
  newest comments). Both are Listings, newest first, paged by ``after``/``before``
  fullnames; an ``after`` that names nothing in the listing gives an empty page, and a
  listing ends after 1000 things (search after 250), as Reddit's do.
- Without ``raw_json=1``, ``&``, ``<`` and ``>`` in texts come escaped (Reddit's legacy).
- ``X-Ratelimit-Used``/``-Remaining``/``-Reset`` on every API answer, from a budget per
  ten-minute window (`set_request_budget`; generous by default), 429 once it is spent.
- A request without a descriptive User-Agent is refused with 429, like Reddit does to
  default library agents.

Stricter than Reddit on one point on purpose: unknown or invalid query parameters are
a 400 (Reddit ignores them), so that an adapter bug shows up here.

Each scenario post of kind ``link`` is a self post, ``comment`` a comment in the day's
discussion thread; German posts live in r/de, the others in r/travel.
"""

from __future__ import annotations

import base64
import html
import re
import secrets
import zlib
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.server import REASON_PHRASES, json_response
from local.fakechannels.state import queue_faults, take_fault
from local.fakechannels.world import World
from local.scenario import Post
from stormwatch.text import fold

NAME = "reddit"
CREDENTIALS: dict[str, str] = {
    "client_id": "fake-reddit-client-id",
    "client_secret": "fake-reddit-client-secret",
}
SUBREDDITS = ("de", "travel")
_SUBREDDIT_IDS = {"de": "t5_22i0", "travel": "t5_2qh41"}

TOKEN_SECONDS = 86400
WINDOW_SECONDS = 600
DEFAULT_BUDGET = 1000
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
LISTING_CAP = 1000
SEARCH_CAP = 250
MAX_QUERY_CHARS = 512

SEARCH_PARAMS = frozenset(
    {
        "after",
        "before",
        "category",
        "count",
        "include_facets",
        "limit",
        "q",
        "raw_json",
        "restrict_sr",
        "show",
        "sort",
        "sr_detail",
        "t",
        "type",
    }
)
LISTING_PARAMS = frozenset({"after", "before", "count", "limit", "raw_json", "show", "sr_detail"})
SORTS = ("relevance", "hot", "top", "new", "comments")
TIMES = ("hour", "day", "week", "month", "year", "all")
RESULT_TYPES = frozenset({"sr", "link", "user"})

_LINK_BASE = int("1gx0000", 36)
_THREAD_BASE = int("1gw0000", 36)
_COMMENT_BASE = int("lx00000", 36)
_FULLNAME = re.compile(r"^t[1-6]_[0-9a-z]{1,13}$")
_GENERIC_AGENTS = ("python-requests", "python-urllib", "java", "curl", "go-http-client")
_PHRASE = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+")

_REASONS = {400: "Bad Request", **REASON_PHRASES}

# --- ids and rendering --------------------------------------------------------------------


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text


def subreddit_of(post: Post) -> str:
    return "de" if post.lang == "de" else "travel"


def _id36(post: Post) -> str:
    return _base36((_LINK_BASE if post.kind == "link" else _COMMENT_BASE) + post.seq)


def mention_id(post: Post) -> str:
    """The fullname: ``t3_<id>`` for a link, ``t1_<id>`` for a comment."""
    return f"{'t3' if post.kind == 'link' else 't1'}_{_id36(post)}"


def _slug(title: str) -> str:
    words = re.findall(r"\w+", title.lower())
    return "_".join(words)[:50].rstrip("_") or "post"


def _author_fullname(author: str) -> str:
    return f"t2_{_base36(zlib.crc32(author.encode()))}"


def _thread(post: Post) -> tuple[str, str, str]:
    """The id, title and permalink of the day's discussion thread the comment sits in."""
    subreddit = subreddit_of(post)
    day = int(post.created_at.timestamp() // 86400)
    id36 = _base36(_THREAD_BASE + day * len(SUBREDDITS) + SUBREDDITS.index(subreddit))
    date = post.created_at.strftime("%d.%m.%Y")
    title = (
        f"Täglicher Diskussionsfaden - {date}"
        if subreddit == "de"
        else f"Daily Discussion Thread - {date}"
    )
    return id36, title, f"/r/{subreddit}/comments/{id36}/{_slug(title)}/"


def _legacy(text: str, raw_json: bool) -> str:
    return (
        text if raw_json else text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    )


def _created(post: Post) -> float:
    return float(int(post.created_at.timestamp()))


def render_link(post: Post, *, raw_json: bool = True) -> dict[str, Any]:
    subreddit = subreddit_of(post)
    id36 = _id36(post)
    permalink = f"/r/{subreddit}/comments/{id36}/{_slug(post.text)}/"
    return {
        "kind": "t3",
        "data": {
            "approved_at_utc": None,
            "subreddit": subreddit,
            "selftext": "",
            "author_fullname": _author_fullname(post.author),
            "title": _legacy(post.text, raw_json),
            "subreddit_name_prefixed": f"r/{subreddit}",
            "name": f"t3_{id36}",
            "upvote_ratio": 1.0,
            "ups": post.likes,
            "downs": 0,
            "score": post.likes,
            "created": _created(post),
            "created_utc": _created(post),
            "domain": f"self.{subreddit}",
            "id": id36,
            "author": post.author,
            "num_comments": 0,
            "permalink": permalink,
            "url": f"https://www.reddit.com{permalink}",
            "is_self": True,
            "over_18": False,
            "spoiler": False,
            "locked": False,
            "stickied": False,
            "archived": False,
            "edited": False,
            "distinguished": None,
            "link_flair_text": None,
            "selftext_html": None,
            "thumbnail": "self",
            "subreddit_id": _SUBREDDIT_IDS[subreddit],
            "subreddit_type": "public",
            "num_crossposts": 0,
        },
    }


def render_comment(post: Post, *, raw_json: bool = True) -> dict[str, Any]:
    subreddit = subreddit_of(post)
    id36 = _id36(post)
    thread_id, thread_title, thread_permalink = _thread(post)
    body_html = f'<div class="md"><p>{html.escape(post.text, quote=False)}</p>\n</div>'
    return {
        "kind": "t1",
        "data": {
            "subreddit_id": _SUBREDDIT_IDS[subreddit],
            "approved_at_utc": None,
            "link_title": _legacy(thread_title, raw_json),
            "ups": post.likes,
            "id": id36,
            "author": post.author,
            "author_fullname": _author_fullname(post.author),
            "created": _created(post),
            "created_utc": _created(post),
            "subreddit": subreddit,
            "subreddit_name_prefixed": f"r/{subreddit}",
            "subreddit_type": "public",
            "link_id": f"t3_{thread_id}",
            "parent_id": f"t3_{thread_id}",
            "name": f"t1_{id36}",
            "score": post.likes,
            "controversiality": 0,
            "body": _legacy(post.text, raw_json),
            "body_html": body_html if raw_json else html.escape(body_html, quote=False),
            "edited": False,
            "distinguished": None,
            "stickied": False,
            "is_submitter": False,
            "score_hidden": False,
            "archived": False,
            "locked": False,
            "over_18": False,
            "num_comments": 0,
            "replies": "",
            "permalink": f"{thread_permalink}{id36}/",
            "link_permalink": f"https://www.reddit.com{thread_permalink}",
            "link_author": "AutoModerator",
            "link_url": f"https://www.reddit.com{thread_permalink}",
        },
    }


# --- request checks -------------------------------------------------------------------


def _error(status: int, headers: dict[str, str] | None = None) -> Response:
    return json_response(
        {"message": _REASONS.get(status, "Error"), "error": status}, status, headers
    )


def _agent_refused(request: Request) -> bool:
    agent = (request.headers.get("User-Agent") or "").strip().lower()
    return not agent or agent.startswith(_GENERIC_AGENTS)


def _state(world: World) -> dict[str, Any]:
    state = world.channel_state(NAME)
    state.setdefault("tokens", {})
    return state


def set_request_budget(world: World, requests_per_window: int) -> None:
    """How many API requests a ten-minute window allows (Reddit: 1000 for OAuth clients)."""
    with world.lock:
        _state(world)["budget"] = requests_per_window


def revoke_tokens(world: World) -> None:
    """Invalidate every token handed out so far, as Reddit may before they expire."""
    with world.lock:
        _state(world)["tokens"].clear()


def arm_fault(world: World, kind: str, times: int = 1) -> None:
    """A Reddit-specific bad answer for the next listing requests.

    ``no_children``: a Listing without ``data.children``; ``item_without_author``: the first
    child lacks ``author``; ``item_without_fullname``: the first child lacks ``name``.
    """
    queue_faults(
        world, NAME, kind, times, ("no_children", "item_without_author", "item_without_fullname")
    )


def _rate_headers(world: World, *, charge: bool) -> tuple[dict[str, str], bool]:
    """The window's headers after (maybe) charging one request, and whether it is spent."""
    now = world.now().timestamp()
    window = now // WINDOW_SECONDS * WINDOW_SECONDS
    with world.lock:
        state = _state(world)
        if state.get("window") != window:
            state["window"] = window
            state["used"] = 0
        budget = int(state.get("budget", DEFAULT_BUDGET))
        spent = state["used"] >= budget
        if charge and not spent:
            state["used"] += 1
        used = int(state["used"])
    headers = {
        "X-Ratelimit-Used": str(used),
        "X-Ratelimit-Remaining": f"{max(0, budget - used):.1f}",
        "X-Ratelimit-Reset": str(int(window + WINDOW_SECONDS - now)),
    }
    return headers, spent


def _authorized(world: World, request: Request) -> bool:
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    with world.lock:
        expires = _state(world)["tokens"].get(token.strip())
    return expires is not None and world.now() < expires


def _gate(world: World, request: Request) -> tuple[Response | None, dict[str, str]]:
    """Agent, token and quota checks every API request goes through, in Reddit's order."""
    if _agent_refused(request):
        return _error(429), {}
    if not _authorized(world, request):
        return _error(401, {"WWW-Authenticate": 'Bearer realm="reddit", error="invalid_token"'}), {}
    headers, spent = _rate_headers(world, charge=True)
    if spent:
        return _error(429, headers), headers
    return None, headers


class _BadRequest(ValueError):
    pass


def _listing_args(request: Request, allowed: frozenset[str]) -> dict[str, Any]:
    args = request.args
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise _BadRequest(f"unknown parameter {unknown[0]}")
    for name in args:
        if len(args.getlist(name)) > 1:
            raise _BadRequest(f"repeated parameter {name}")
    limit_text = args.get("limit", str(DEFAULT_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise _BadRequest("limit must be 1..100")
    for name in ("after", "before"):
        value = args.get(name)
        if value is not None and not _FULLNAME.match(value):
            raise _BadRequest(f"{name} must be a fullname")
    if "after" in args and "before" in args:
        raise _BadRequest("after and before together")
    if args.get("raw_json", "1") not in ("0", "1"):
        raise _BadRequest("raw_json must be 0 or 1")
    count = args.get("count", "0")
    if not count.isdigit():
        raise _BadRequest("count must be a number")
    return {
        "limit": int(limit_text),
        "after": args.get("after"),
        "before": args.get("before"),
        "raw_json": args.get("raw_json") == "1",
    }


def _page(
    things: list[tuple[str, dict[str, Any]]], args: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """Children, ``after`` and ``before`` of one page of a newest-first listing."""
    names = [name for name, _ in things]
    limit: int = args["limit"]
    anchor = args["after"] or args["before"]
    if anchor is not None and anchor not in names:
        return [], None, None
    if args["after"] is not None:
        first = names.index(args["after"]) + 1
        end = first + limit
    elif args["before"] is not None:
        end = names.index(args["before"])
        first = max(0, end - limit)
    else:
        first, end = 0, limit
    chosen = things[first:end]
    after = chosen[-1][0] if chosen and end < len(things) else None
    before = chosen[0][0] if chosen and first > 0 else None
    return [child for _, child in chosen], after, before


def _apply_fault(world: World, children: list[dict[str, Any]], data: dict[str, Any]) -> None:
    fault = take_fault(world, NAME)
    if fault == "no_children":
        del data["children"]
    elif fault and children:
        children[0] = {"kind": children[0]["kind"], "data": dict(children[0]["data"])}
        del children[0]["data"]["author" if fault == "item_without_author" else "name"]


def _listing(
    world: World,
    things: list[tuple[str, dict[str, Any]]],
    args: Mapping[str, Any],
    headers: dict[str, str],
    *,
    search: bool,
) -> Response:
    children, after, before = _page(things, args)
    data: dict[str, Any] = {"after": after, "dist": len(children)}
    if search:
        data["facets"] = {}
    data.update({"modhash": "", "geo_filter": "", "children": children, "before": before})
    _apply_fault(world, children, data)
    return json_response({"kind": "Listing", "data": data}, 200, headers)


# --- search -----------------------------------------------------------------------------


def _query_phrases(query: str) -> list[list[str]]:
    """``"a b" OR c`` -> alternatives, each a list of phrases (all must occur)."""
    alternatives: list[list[str]] = [[]]
    for match in _PHRASE.finditer(query):
        quoted, bare = match.group(1), match.group(2)
        if bare == "OR":
            alternatives.append([])
        elif quoted is not None or bare:
            alternatives[-1].append(quoted if quoted is not None else bare)
    return [alternative for alternative in alternatives if alternative]


def _contains_phrase(words: list[str], phrase: str) -> bool:
    wanted = _WORD.findall(fold(phrase))
    if not wanted:
        return False
    span = len(wanted)
    return any(words[i : i + span] == wanted for i in range(len(words) - span + 1))


def _matches(alternatives: list[list[str]], text: str) -> bool:
    words = _WORD.findall(fold(text))
    return any(all(_contains_phrase(words, p) for p in phrases) for phrases in alternatives)


def _search(world: World, request: Request) -> Response:
    refused, headers = _gate(world, request)
    if refused is not None:
        return refused
    try:
        args = _listing_args(request, SEARCH_PARAMS)
        query = request.args.get("q", "")
        if not query.strip() or len(query) > MAX_QUERY_CHARS:
            raise _BadRequest("q must be 1..512 characters")
        if request.args.get("sort", "relevance") not in SORTS:
            raise _BadRequest("unknown sort")
        if request.args.get("t", "all") not in TIMES:
            raise _BadRequest("unknown t")
        types = set(request.args.get("type", "sr,link,user").split(","))
        if not types or not types <= RESULT_TYPES:
            raise _BadRequest("unknown type")
    except _BadRequest:
        return _error(400, headers)
    alternatives = _query_phrases(query)
    posts = [
        post
        for post in world.visible_posts(NAME)
        if post.kind == "link" and "link" in types and _matches(alternatives, post.text)
    ]
    # Only sort=new is implemented faithfully; the other orders are served newest first too.
    posts.sort(key=lambda post: (post.created_at, post.seq), reverse=True)
    things = [(mention_id(p), render_link(p, raw_json=args["raw_json"])) for p in posts]
    return _listing(world, things[:SEARCH_CAP], args, headers, search=True)


def _subreddit_comments(world: World, request: Request, subreddit: str) -> Response:
    refused, headers = _gate(world, request)
    if refused is not None:
        return refused
    if subreddit.lower() not in SUBREDDITS:
        return _error(404, headers)
    try:
        args = _listing_args(request, LISTING_PARAMS)
    except _BadRequest:
        return _error(400, headers)
    posts = [
        post
        for post in world.visible_posts(NAME)
        if post.kind == "comment" and subreddit_of(post) == subreddit.lower()
    ]
    posts.sort(key=lambda post: (post.created_at, post.seq), reverse=True)
    things = [(mention_id(p), render_comment(p, raw_json=args["raw_json"])) for p in posts]
    return _listing(world, things[:LISTING_CAP], args, headers, search=False)


# --- OAuth ------------------------------------------------------------------------------


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if colon else None


def _access_token(world: World, request: Request) -> Response:
    if _agent_refused(request):
        return _error(429)
    expected = world.credentials.get(NAME, {})
    given = _basic_credentials(request)
    if (
        given is None
        or not expected
        or not secrets.compare_digest(given[0], expected.get("client_id", ""))
        or not secrets.compare_digest(given[1], expected.get("client_secret", ""))
    ):
        return _error(401)
    if request.form.get("grant_type") != "client_credentials":
        return json_response({"error": "unsupported_grant_type"})
    token = secrets.token_urlsafe(24)
    with world.lock:
        _state(world)["tokens"][token] = world.now() + timedelta(seconds=TOKEN_SECONDS)
    return json_response(
        {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_SECONDS, "scope": "*"}
    )


# --- the fake ---------------------------------------------------------------------------


class RedditFake:
    name = NAME

    def rules(self) -> Iterable[Rule]:
        return [
            Rule("/api/v1/access_token", endpoint=_access_token, methods=["POST"]),
            Rule("/search", endpoint=_search, methods=["GET"]),
            Rule("/r/<subreddit>/comments", endpoint=_subreddit_comments, methods=["GET"]),
        ]

    def error_response(self, status: int, world: World) -> Response:
        if status == 429:
            headers, _ = _rate_headers(world, charge=False)
            headers["X-Ratelimit-Remaining"] = "0.0"
            return _error(429, headers)
        if status == 401:
            return _error(401, {"WWW-Authenticate": 'Bearer realm="reddit", error="invalid_token"'})
        if status in (502, 503, 504):
            # Reddit's edge answers these with an HTML page, not JSON.
            page = f"<html><body><h1>{status} {_REASONS[status]}</h1></body></html>"
            return Response(page, status=status, content_type="text/html; charset=utf-8")
        return _error(status)


def make_fake() -> RedditFake:
    return RedditFake()
