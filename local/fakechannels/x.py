"""Fake X API v2: recent search and a user's mentions timeline over the scenario's X posts.

What it keeps of the real API, because the adapter depends on it:
- paths and parameters, validated; anything the live API refuses is a 400 problem with the
  ``errors[].parameters`` the live API names (unknown parameters too);
- the query language as far as the adapter uses it: keywords, "phrases", #hashtags,
  @mentions, OR, parentheses, negation, ``is:``/``lang:``/``from:``/``has:``;
- newest-first listings bounded by ``since_id``/``until_id``/``start_time``/``end_time``,
  ``max_results``, and opaque ``next_token``s (base32hex) that are bound to the request they
  continue and expire;
- recent search reaching seven days back; the mentions timeline its newest 800 mentions;
- field selection (``tweet.fields``, ``user.fields``, ``expansions=author_id``): only the
  default fields unless more are asked for;
- the bearer-token check, ``x-rate-limit-*`` headers with a per-endpoint 15-minute window, and
  problem bodies (``application/problem+json``) for errors.

Matching: a keyword matches a whole word of the text, case-insensitively, where a word is a run
of letters and digits (so ``KolibriPay`` also finds ``@kolibripay`` and ``#KolibriPay``);
``#tag`` matches hashtags only and ``@name`` mentions only.

Scenario posts carry their own follower count (`Post.reach`), while X reports followers per
user and expands each user once per page. So each (handle, follower count) pair is its own
user here, with its own id; handles repeat across those ids, which X would not allow, and
nothing in stormwatch looks users up by handle.

Knobs for tests, in ``world.channel_state("x")``: `REQUESTS_PER_WINDOW`, `PAGING_TTL`
(a timedelta), `PAGING_REFUSAL` (how a stale page token is refused: `PARAMETER_ERRORS`,
the default, an invalid-request problem with ``errors[].parameters``; or `PROBLEM_DETAILS`,
the spec's InvalidRequestProblem alone, naming ``parameter`` and ``value``; X sends both),
and `REWRITE` (a function applied to every successful answer's body, for
malformed-answer tests).
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.server import REASON_PHRASES, json_response
from local.fakechannels.world import World
from local.scenario import Post
from stormwatch.model import parse_iso

NAME = "x"
CREDENTIALS: dict[str, str] = {
    "bearer_token": "AAAAAAAAAAAAAAAAAAAAAStormwatchFakeBearerToken0001",
    # OAuth 2.0 user-context token of the brand account (tweet.write): posting needs one.
    "user_access_token": "stormwatch-fake-x-user-token-0001",
}

# The brand accounts whose mentions timelines exist (config/example.yaml names the first).
BRAND_ACCOUNTS: dict[str, str] = {
    "1500000000000000001": "nordwindair",
    "1500000000000000002": "kolibripay",
}

REQUESTS_PER_WINDOW = "requests_per_window"
PAGING_TTL = "paging_ttl"
REWRITE = "rewrite_payload"
PAGING_REFUSAL = "paging_refusal"
PARAMETER_ERRORS = "parameter_errors"
PROBLEM_DETAILS = "problem_details"

# Generous, so that whole-scenario runs never hit it; the live figure for app-only recent
# search is 450 per 15 minutes.
DEFAULT_REQUESTS_PER_WINDOW = 10_000
RATE_WINDOW = timedelta(minutes=15)
DEFAULT_PAGING_TTL = timedelta(hours=1)
RECENT_SEARCH_REACH = timedelta(days=7)
MENTIONS_TIMELINE_DEPTH = 800
MAX_QUERY_CHARS = 512

X_EPOCH = datetime(2010, 11, 4, 1, 42, 54, 657000, tzinfo=UTC)
PROBLEMS = "https://api.x.com/2/problems/"
_ID = re.compile(r"[0-9]{1,19}")
_WORD = re.compile(r"\w+")
_HASHTAG = re.compile(r"#(\w+)")
_MENTION = re.compile(r"@(\w+)")

TWEET_FIELDS = frozenset(
    [
        "article",
        "attachments",
        "author_id",
        "card_uri",
        "community_id",
        "context_annotations",
        "conversation_id",
        "created_at",
        "display_text_range",
        "edit_controls",
        "edit_history_tweet_ids",
        "entities",
        "geo",
        "id",
        "in_reply_to_user_id",
        "lang",
        "media_metadata",
        "non_public_metrics",
        "note_tweet",
        "organic_metrics",
        "possibly_sensitive",
        "promoted_metrics",
        "public_metrics",
        "referenced_tweets",
        "reply_settings",
        "scopes",
        "source",
        "text",
        "withheld",
    ]
)
USER_FIELDS = frozenset(
    [
        "affiliation",
        "connection_status",
        "created_at",
        "description",
        "entities",
        "id",
        "location",
        "most_recent_tweet_id",
        "name",
        "pinned_tweet_id",
        "profile_banner_url",
        "profile_image_url",
        "protected",
        "public_metrics",
        "receives_your_dm",
        "subscription_type",
        "url",
        "username",
        "verified",
        "verified_type",
        "withheld",
    ]
)
EXPANSIONS = frozenset(
    [
        "article.cover_media",
        "article.media_entities",
        "attachments.media_keys",
        "attachments.poll_ids",
        "author_id",
        "edit_history_tweet_ids",
        "entities.mentions.username",
        "geo.place_id",
        "in_reply_to_user_id",
        "referenced_tweets.id",
        "referenced_tweets.id.author_id",
    ]
)
_FIELD_LISTS = {"tweet.fields": TWEET_FIELDS, "user.fields": USER_FIELDS, "expansions": EXPANSIONS}
_OTHER_FIELDS = ("media.fields", "poll.fields", "place.fields")

SEARCH_PARAMS = (
    "query",
    "start_time",
    "end_time",
    "since_id",
    "until_id",
    "max_results",
    "next_token",
    "pagination_token",
    "sort_order",
    *_FIELD_LISTS,
    *_OTHER_FIELDS,
)
MENTIONS_PARAMS = (
    "start_time",
    "end_time",
    "since_id",
    "until_id",
    "max_results",
    "pagination_token",
    *_FIELD_LISTS,
    *_OTHER_FIELDS,
)


def post_id(post: Post) -> int:
    """A snowflake: milliseconds since X's epoch in the top bits, the post's seq below."""
    millis = (post.created_at - X_EPOCH) // timedelta(milliseconds=1)
    return (millis << 22) | (post.seq & 0x3FFFFF)


def mention_id(post: Post) -> str:
    return str(post_id(post))


def time_of_id(value: int) -> datetime:
    return X_EPOCH + timedelta(milliseconds=value >> 22)


def make_fake() -> XFake:
    return XFake()


class BadRequest(Exception):
    """One or more parameters are invalid; `errors` are X's ``errors[]`` entries."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


class StaleToken(BadRequest):
    """A page token X no longer accepts (or never issued)."""

    def __init__(self, name: str, token: str) -> None:
        self.detail = f"The `{name}` query parameter value [{token}] is not valid"
        super().__init__([_param_error(name, token, self.detail)])
        self.parameter = name
        self.value = token


@dataclass(frozen=True, slots=True)
class _PageToken:
    fingerprint: tuple[str, ...]
    below_id: int
    issued: datetime


@dataclass(frozen=True, slots=True)
class _Listing:
    """A validated request for one newest-first page."""

    fingerprint: tuple[str, ...]
    size: int
    since_id: int | None
    until_id: int | None
    start_time: datetime | None
    end_time: datetime | None
    below_id: int | None
    tweet_fields: frozenset[str]
    user_fields: frozenset[str]
    expansions: frozenset[str]


class XFake:
    name = NAME

    def __init__(self) -> None:
        self._documents: dict[int, _Document] = {}

    def rules(self) -> Iterable[Rule]:
        return [
            Rule("/2/tweets/search/recent", endpoint=self.search_recent, methods=["GET"]),
            Rule("/2/users/<user_id>/mentions", endpoint=self.user_mentions, methods=["GET"]),
        ]

    def error_response(self, status: int, world: World) -> Response:
        headers: dict[str, str] = {}
        if status == 429:
            limit = _limit(world)
            headers = _rate_headers(limit, limit, world.now() + RATE_WINDOW)
        return problem_response(status, headers)

    # --- endpoints ------------------------------------------------------------------

    def search_recent(self, world: World, request: Request) -> Response:
        def select(listing: _Listing) -> list[Post]:
            query = request.args.get("query", "")
            matches = _parse_query(query)
            oldest = world.now() - RECENT_SEARCH_REACH
            return [
                post
                for post in world.visible_posts(NAME)
                if post.created_at >= oldest and matches(self._document(post))
            ]

        return self._serve(world, request, "search", SEARCH_PARAMS, (10, 100), select)

    def user_mentions(self, world: World, request: Request, user_id: str) -> Response:
        username = BRAND_ACCOUNTS.get(user_id)

        def refuse(headers: dict[str, str]) -> Response | None:
            if not _ID.fullmatch(user_id):
                message = (
                    f"The `id` query parameter value [{user_id}] does not match ^[0-9]{{1,19}}$"
                )
                return _invalid_request([_param_error("id", user_id, message)], headers)
            if username is None:
                # An unknown user is not an HTTP error: X answers 200 with a problem in errors[].
                return json_response({"errors": [user_not_found(user_id)]}, 200, headers)
            return None

        def select(listing: _Listing) -> list[Post]:
            mentioned = [
                post
                for post in world.visible_posts(NAME)
                if username in self._document(post).mentions
            ]
            return mentioned[-MENTIONS_TIMELINE_DEPTH:]

        return self._serve(world, request, "mentions", MENTIONS_PARAMS, (5, 100), select, refuse)

    # --- the shared request cycle ---------------------------------------------------------

    def _serve(
        self,
        world: World,
        request: Request,
        endpoint: str,
        allowed: Sequence[str],
        sizes: tuple[int, int],
        select: Callable[[_Listing], list[Post]],
        refuse: Callable[[dict[str, str]], Response | None] = lambda headers: None,
    ) -> Response:
        if not _authorised(world, request):
            return problem_response(401)
        admitted, headers = _count_request(world, endpoint)
        if not admitted:
            return problem_response(429, headers)
        refusal = refuse(headers)
        if refusal is not None:
            return refusal
        try:
            listing = _listing(world, request, endpoint, allowed, sizes)
            candidates = [post for post in select(listing) if _within(post, listing)]
        except BadRequest as error:
            if isinstance(error, StaleToken) and (
                world.channel_state(NAME).get(PAGING_REFUSAL) == PROBLEM_DETAILS
            ):
                return _invalid_parameter(error, headers)
            return _invalid_request(error.errors, headers)
        candidates.reverse()
        page = candidates[: listing.size]
        payload: dict[str, Any] = {}
        if page:
            payload["data"] = [_render_post(post, listing.tweet_fields) for post in page]
            if "author_id" in listing.expansions:
                payload["includes"] = {"users": _render_users(page, listing.user_fields)}
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta = {
                "newest_id": mention_id(page[0]),
                "oldest_id": mention_id(page[-1]),
                "result_count": len(page),
            }
            if len(candidates) > len(page):
                meta["next_token"] = _issue_token(world, listing, post_id(page[-1]))
        payload["meta"] = meta
        rewrite: Callable[[dict[str, Any]], Any] | None = world.channel_state(NAME).get(REWRITE)
        return json_response(rewrite(payload) if rewrite else payload, 200, headers)

    def _document(self, post: Post) -> _Document:
        document = self._documents.get(post.seq)
        if document is None:
            document = self._documents[post.seq] = _Document.of(post)
        return document


# --- requests -----------------------------------------------------------------------------


def user_not_found(user_id: str) -> dict[str, Any]:
    """X's problem for an unknown user id (in ``errors[]`` of a 200 answer)."""
    return {
        "value": user_id,
        "detail": f"Could not find user with id: [{user_id}].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": "id",
        "resource_id": user_id,
        "type": PROBLEMS + "resource-not-found",
    }


def _authorised(world: World, request: Request) -> bool:
    accepted = world.credentials.get(NAME, CREDENTIALS).get("bearer_token")
    return bool(accepted) and request.headers.get("Authorization") == f"Bearer {accepted}"


def _limit(world: World) -> int:
    return int(world.channel_state(NAME).get(REQUESTS_PER_WINDOW, DEFAULT_REQUESTS_PER_WINDOW))


def _count_request(world: World, endpoint: str) -> tuple[bool, dict[str, str]]:
    """Count one request against the endpoint's window; False when the window is used up."""
    state = world.channel_state(NAME)
    now = world.now()
    with world.lock:
        limit = _limit(world)
        windows: dict[str, tuple[datetime, int]] = state.setdefault("rate_windows", {})
        ends, used = windows.get(endpoint, (now + RATE_WINDOW, 0))
        if now >= ends:
            ends, used = now + RATE_WINDOW, 0
        admitted = used < limit
        if admitted:
            used += 1
        windows[endpoint] = (ends, used)
    return admitted, _rate_headers(limit, used, ends)


def _rate_headers(limit: int, used: int, ends: datetime) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(max(0, limit - used)),
        "x-rate-limit-reset": str(math.ceil(ends.timestamp())),
    }


def _listing(
    world: World,
    request: Request,
    endpoint: str,
    allowed: Sequence[str],
    sizes: tuple[int, int],
) -> _Listing:
    args = request.args
    errors: list[dict[str, Any]] = []
    for name in args:
        if name not in allowed:
            errors.append(
                _param_error(
                    name,
                    args.get(name, ""),
                    f"The query parameter [{name}] is not one of [{','.join(allowed)}]",
                )
            )
    if endpoint == "search":
        query = args.get("query", "")
        if not query.strip():
            errors.append(
                _param_error("query", query, "The `query` query parameter can not be empty")
            )
        elif len(query) > MAX_QUERY_CHARS:
            errors.append(
                _param_error(
                    "query",
                    query,
                    "There were errors processing your request: Query must be no longer than "
                    f"{MAX_QUERY_CHARS} characters (it has {len(query)})",
                )
            )
        else:
            try:
                _parse_query(query)
            except BadRequest as error:
                errors.extend(error.errors)
    sort_order = args.get("sort_order")
    if sort_order is not None and sort_order not in ("recency", "relevancy"):
        errors.append(
            _param_error(
                "sort_order",
                sort_order,
                f"The `sort_order` query parameter value [{sort_order}] is not one of "
                "[recency,relevancy]",
            )
        )
    size = _max_results(args.get("max_results"), sizes, errors)
    since_id = _id_param(args, "since_id", errors)
    until_id = _id_param(args, "until_id", errors)
    start_time = _time_param(args, "start_time", errors)
    end_time = _time_param(args, "end_time", errors)
    fields = {name: _field_list(args, name, known, errors) for name, known in _FIELD_LISTS.items()}
    now = world.now()
    if endpoint == "search":
        _check_exclusive(args, ("start_time", "since_id"), errors)
        _check_exclusive(args, ("end_time", "until_id"), errors)
        _check_exclusive(args, ("next_token", "pagination_token"), errors)
        oldest = now - RECENT_SEARCH_REACH
        if start_time is not None and start_time < oldest:
            errors.append(
                _param_error(
                    "start_time",
                    args["start_time"],
                    f"Invalid 'start_time':'{args['start_time']}'. 'start_time' must be on or "
                    f"after {oldest.strftime('%Y-%m-%dT%H:%MZ')}",
                )
            )
        if since_id is not None and time_of_id(since_id) < oldest:
            errors.append(
                _param_error(
                    "since_id",
                    args["since_id"],
                    f"Invalid 'since_id':'{since_id}'. 'since_id' must be a tweet id created "
                    f"after {oldest.strftime('%Y-%m-%dT%H:%MZ')}",
                )
            )
    if errors:
        raise BadRequest(errors)
    fingerprint = (
        request.path,
        args.get("query", ""),
        args.get("start_time", ""),
        args.get("end_time", ""),
        args.get("since_id", ""),
        args.get("until_id", ""),
    )
    token_param = "next_token" if "next_token" in args else "pagination_token"
    below_id = _redeem_token(world, args.get(token_param), token_param, fingerprint)
    return _Listing(
        fingerprint=fingerprint,
        size=size,
        since_id=since_id,
        until_id=until_id,
        start_time=start_time,
        end_time=end_time,
        below_id=below_id,
        tweet_fields=fields["tweet.fields"],
        user_fields=fields["user.fields"],
        expansions=fields["expansions"],
    )


def _within(post: Post, listing: _Listing) -> bool:
    identifier = post_id(post)
    if listing.since_id is not None and identifier <= listing.since_id:
        return False
    if listing.until_id is not None and identifier >= listing.until_id:
        return False
    if listing.below_id is not None and identifier >= listing.below_id:
        return False
    if listing.start_time is not None and post.created_at < listing.start_time:
        return False
    return listing.end_time is None or post.created_at < listing.end_time


def _max_results(value: str | None, sizes: tuple[int, int], errors: list[dict[str, Any]]) -> int:
    low, high = sizes
    if value is None:
        return 10
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        errors.append(
            _param_error(
                "max_results",
                value,
                f"The `max_results` query parameter value [{value}] is not between {low} and "
                f"{high}",
            )
        )
        return low
    return int(value)


def _id_param(args: Mapping[str, str], name: str, errors: list[dict[str, Any]]) -> int | None:
    value = args.get(name)
    if value is None:
        return None
    if not _ID.fullmatch(value):
        errors.append(
            _param_error(
                name,
                value,
                f"The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$",
            )
        )
        return None
    return int(value)


def _time_param(
    args: Mapping[str, str], name: str, errors: list[dict[str, Any]]
) -> datetime | None:
    value = args.get(name)
    if value is None:
        return None
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)", value):
        errors.append(
            _param_error(
                name,
                value,
                f"Invalid '{name}':'{value}'. '{name}' must be a valid RFC3339 date-time",
            )
        )
        return None
    return parse_iso(value)


def _field_list(
    args: Mapping[str, str], name: str, known: frozenset[str], errors: list[dict[str, Any]]
) -> frozenset[str]:
    value = args.get(name)
    if value is None:
        return frozenset()
    items = value.split(",")
    unknown = [item for item in items if item not in known]
    if unknown:
        errors.append(
            _param_error(
                name,
                value,
                f"The `{name}` query parameter value [{unknown[0]}] is not one of "
                f"[{','.join(sorted(known))}]",
            )
        )
    return frozenset(items)


def _check_exclusive(
    args: Mapping[str, str], names: tuple[str, str], errors: list[dict[str, Any]]
) -> None:
    if all(name in args for name in names):
        errors.append(
            {
                "parameters": {name: [args[name]] for name in names},
                "message": f"At most one of [{', '.join(names)}] may be provided",
            }
        )


def _issue_token(world: World, listing: _Listing, below_id: int) -> str:
    state = world.channel_state(NAME)
    with world.lock:
        serial = state.get("token_serial", 0) + 1
        state["token_serial"] = serial
        seed = f"{serial}|{'|'.join(listing.fingerprint)}|{below_id}".encode()
        token = base64.b32hexencode(hashlib.sha256(seed).digest()[:20]).decode().lower()
        tokens: dict[str, _PageToken] = state.setdefault("page_tokens", {})
        tokens[token] = _PageToken(listing.fingerprint, below_id, world.now())
    return token


def _redeem_token(
    world: World, token: str | None, name: str, fingerprint: tuple[str, ...]
) -> int | None:
    if token is None:
        return None
    state = world.channel_state(NAME)
    ttl: timedelta = state.get(PAGING_TTL, DEFAULT_PAGING_TTL)
    saved = state.get("page_tokens", {}).get(token)
    if saved is None or saved.fingerprint != fingerprint or world.now() - saved.issued > ttl:
        raise StaleToken(name, token)
    below_id: int = saved.below_id
    return below_id


# --- answers --------------------------------------------------------------------------------

_TITLES = {400: "Invalid Request", **REASON_PHRASES}


def problem_response(status: int, headers: dict[str, str] | None = None) -> Response:
    """X's generic RFC 7807 problem (type ``about:blank``), as sent for 401, 429 and 5xx."""
    title = _TITLES.get(status, "Error")
    body = {"title": title, "detail": title, "type": "about:blank", "status": status}
    response = json_response(body, status, headers)
    response.content_type = "application/problem+json"
    return response


def _invalid_request(
    errors: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> Response:
    body = {
        "errors": errors,
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": PROBLEMS + "invalid-request",
    }
    response = json_response(body, 400, headers)
    response.content_type = "application/problem+json"
    return response


def _invalid_parameter(error: StaleToken, headers: dict[str, str] | None = None) -> Response:
    """The spec's InvalidRequestProblem on its own: one parameter and its value, no
    ``errors[]``."""
    body = {
        "type": PROBLEMS + "invalid-request",
        "title": "Invalid Request",
        "detail": error.detail,
        "parameter": error.parameter,
        "value": error.value,
        "status": 400,
    }
    response = json_response(body, 400, headers)
    response.content_type = "application/problem+json"
    return response


def _param_error(name: str, value: str, message: str) -> dict[str, Any]:
    return {"parameters": {name: [value]}, "message": message}


def _x_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def username(post: Post) -> str:
    """X handles are letters, digits and underscores, at most 15 characters."""
    return re.sub(r"[^A-Za-z0-9_]", "_", post.author)[:15]


def user_id(post: Post) -> str:
    return str(1_000_000_000_000_000_000 + _digest(f"{post.author}\0{post.reach}") % 10**18)


def _render_post(post: Post, fields: frozenset[str]) -> dict[str, Any]:
    identifier = mention_id(post)
    # X escapes &, < and > in post text (and nothing else), though the text is not HTML.
    rendered: dict[str, Any] = {
        "id": identifier,
        "text": html.escape(post.text, quote=False),
        "edit_history_tweet_ids": [identifier],
    }
    if "created_at" in fields:
        rendered["created_at"] = _x_timestamp(post.created_at)
    if "author_id" in fields:
        rendered["author_id"] = user_id(post)
    if "lang" in fields:
        rendered["lang"] = post.lang
    if "conversation_id" in fields:
        rendered["conversation_id"] = identifier
    if "possibly_sensitive" in fields:
        rendered["possibly_sensitive"] = False
    if "reply_settings" in fields:
        rendered["reply_settings"] = "everyone"
    if "public_metrics" in fields:
        rendered["public_metrics"] = {
            "retweet_count": post.reposts,
            "reply_count": post.replies,
            "like_count": post.likes,
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": post.reach * 3 + post.likes * 10,
        }
    return rendered


def _render_users(page: Sequence[Post], fields: frozenset[str]) -> list[dict[str, Any]]:
    users: dict[str, dict[str, Any]] = {}
    for post in page:
        identifier = user_id(post)
        if identifier in users:
            continue
        seed = _digest(identifier)
        user: dict[str, Any] = {
            "id": identifier,
            "name": post.author_name,
            "username": username(post),
        }
        if "public_metrics" in fields:
            user["public_metrics"] = {
                "followers_count": post.reach,
                "following_count": 40 + seed % 900,
                "tweet_count": 200 + seed % 20_000,
                "listed_count": seed % 40,
                "like_count": seed % 5_000,
                "media_count": seed % 300,
            }
        if "created_at" in fields:
            user["created_at"] = "2019-04-01T08:00:00.000Z"
        if "protected" in fields:
            user["protected"] = False
        if "verified" in fields:
            user["verified"] = False
        users[identifier] = user
    return list(users.values())


# --- the query language ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Document:
    """What a query can look at in a post."""

    words: tuple[str, ...]
    hashtags: frozenset[str]
    mentions: frozenset[str]
    lang: str
    author: str

    @classmethod
    def of(cls, post: Post) -> _Document:
        text = post.text.casefold()
        return cls(
            words=tuple(_WORD.findall(text)),
            hashtags=frozenset(_HASHTAG.findall(text)),
            mentions=frozenset(_MENTION.findall(text)),
            lang=post.lang,
            author=username(post).casefold(),
        )

    def has_sequence(self, words: Sequence[str]) -> bool:
        if not words:
            return False
        width = len(words)
        first = words[0]
        return any(
            self.words[index : index + width] == tuple(words)
            for index, word in enumerate(self.words)
            if word == first
        )


Matcher = Callable[[_Document], bool]
_LEXEME = re.compile(r'\s*(?:(\()|(\))|(-?"[^"]*")|([^\s()"]+))')


def _query_error(message: str, query: str) -> BadRequest:
    return BadRequest(
        [_param_error("query", query, f"There were errors processing your request: {message}")]
    )


def _parse_query(query: str) -> Matcher:
    """Compile a search query, or raise BadRequest as X does for one it cannot read."""
    lexemes: list[str] = []
    position = 0
    while position < len(query):
        found = _LEXEME.match(query, position)
        if found is None or found.end() == position:
            if query[position:].strip():
                raise _query_error(f"no viable alternative at character {position}", query)
            break
        lexemes.append(next(group for group in found.groups() if group is not None))
        position = found.end()
    parser = _QueryParser(lexemes, query)
    matcher = parser.parse_or()
    if parser.position != len(lexemes):
        raise _query_error(f"mismatched input '{lexemes[parser.position]}'", query)
    if not parser.positive_terms:
        raise _query_error("Rules must contain a non-negation term", query)
    return matcher


class _QueryParser:
    def __init__(self, lexemes: list[str], query: str) -> None:
        self.lexemes = lexemes
        self.query = query
        self.position = 0
        self.positive_terms = 0

    def peek(self) -> str | None:
        return self.lexemes[self.position] if self.position < len(self.lexemes) else None

    def parse_or(self) -> Matcher:
        branches = [self.parse_and()]
        while self.peek() == "OR":
            self.position += 1
            branches.append(self.parse_and())
        return lambda document: any(branch(document) for branch in branches)

    def parse_and(self) -> Matcher:
        parts: list[Matcher] = []
        while self.peek() not in (None, ")", "OR"):
            parts.append(self.parse_unary())
        if not parts:
            raise _query_error(
                f"no viable alternative at input '{self.peek() or '<EOF>'}'", self.query
            )
        return lambda document: all(part(document) for part in parts)

    def parse_unary(self) -> Matcher:
        lexeme = self.lexemes[self.position]
        self.position += 1
        if lexeme == "(":
            inner = self.parse_or()
            if self.peek() != ")":
                raise _query_error("missing ')'", self.query)
            self.position += 1
            return inner
        if lexeme.startswith("-") and len(lexeme) > 1:
            negated = self._atom(lexeme[1:])
            return lambda document: not negated(document)
        self.positive_terms += 1
        return self._atom(lexeme)

    def _atom(self, lexeme: str) -> Matcher:
        if lexeme.startswith('"'):
            words = _WORD.findall(lexeme.strip('"').casefold())
            if not words:
                raise _query_error("empty phrase", self.query)
            return lambda document: document.has_sequence(words)
        if lexeme.startswith("#") and len(lexeme) > 1:
            tag = lexeme[1:].casefold()
            return lambda document: tag in document.hashtags
        if lexeme.startswith("@") and len(lexeme) > 1:
            name = lexeme[1:].casefold()
            return lambda document: name in document.mentions
        if ":" in lexeme:
            return self._operator(*lexeme.split(":", 1))
        words = _WORD.findall(lexeme.casefold())
        if not words:
            raise _query_error(f"no viable alternative at input '{lexeme}'", self.query)
        return lambda document: document.has_sequence(words)

    def _operator(self, name: str, value: str) -> Matcher:
        wanted = value.casefold()
        if name == "lang":
            return lambda document: document.lang == wanted
        if name == "from":
            return lambda document: document.author == wanted
        if name == "is" and wanted in ("retweet", "reply", "quote", "verified", "nullcast"):
            # Scenario posts are all original, unverified posts.
            return lambda document: False
        if name == "has" and wanted in ("hashtags", "mentions", "links", "media", "images"):
            return lambda document: (
                bool(document.hashtags)
                if wanted == "hashtags"
                else bool(document.mentions)
                if wanted == "mentions"
                else False
            )
        raise _query_error(
            f"Reference to invalid operator '{name}'. Operator is not available in current "
            "product or product packaging.",
            self.query,
        )
