"""Fake Bluesky: the XRPC endpoints stormwatch uses, over the scenario's Bluesky posts.

Served below ``/bluesky``: ``com.atproto.server.createSession``,
``com.atproto.server.refreshSession`` and ``app.bsky.feed.searchPosts``, with the real
parameter names, XRPC error bodies (``{"error": ..., "message": ...}``), JWT-shaped
session tokens that expire, an opaque offset cursor (the real search pages by offset
too), and ``ratelimit-*`` headers counted against per-window budgets.

Scenario posts become postViews: at-uris with a did:plc derived from the author and a
TID record key derived from the creation time (so rkeys sort by time), a
profileViewBasic author, an ``app.bsky.feed.post`` record with langs and facets
(hashtags and mentions, UTF-8 byte offsets). A post becomes searchable at its
``indexedAt``, a few seconds after ``createdAt``, like the real index.

Knobs in ``world.channel_state("bluesky")`` (see `settings`, which fills the defaults):
- ``access_token_seconds`` / ``refresh_token_seconds``: token lifetimes for new sessions;
- ``rate_limit`` / ``session_limit``: ``{"limit": n, "window_seconds": s}`` for all
  requests, and for createSession per account (bsky.social: 3000/5 min, 30/5 min);
- ``index_delay``: ``{at-uri: seconds}`` posts that reach the search index late;
- ``mangle_post``: ``{at-uri: fn(postView) -> object}`` and ``mangle_search``:
  ``fn(answer) -> object``, for tests that need a malformed answer.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.graphemes import graphemes
from local.fakechannels.server import json_response
from local.fakechannels.world import World
from local.scenario import Post

CHANNEL = "bluesky"
ACCOUNT_HANDLE = "stormwatch-demo.bsky.social"
CREDENTIALS: dict[str, str] = {
    "identifier": ACCOUNT_HANDLE,
    "app_password": "sw7k-4mqp-x2vd-9hne",
}
APPVIEW_DID = "did:web:api.bsky.app"
MAX_LIMIT = 100

_DEFAULTS: dict[str, Any] = {
    "access_token_seconds": 2 * 3600,
    "refresh_token_seconds": 90 * 24 * 3600,
    "rate_limit": {"limit": 3000, "window_seconds": 300},
    "session_limit": {"limit": 30, "window_seconds": 300},
    "index_delay": {},
    "mangle_post": {},
    "mangle_search": None,
}

_SIGNING_KEY = b"fake-bluesky-signing-key"
_B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"

_ERROR_NAMES = {
    400: ("InvalidRequest", "Invalid request"),
    401: ("AuthenticationRequired", "Authentication Required"),
    403: ("Forbidden", "Forbidden"),
    404: ("MethodNotImplemented", "Method Not Implemented"),
    413: ("PayloadTooLarge", "Payload Too Large"),
    429: ("RateLimitExceeded", "Rate Limit Exceeded"),
    500: ("InternalServerError", "Internal Server Error"),
    501: ("MethodNotImplemented", "Method Not Implemented"),
    502: ("UpstreamFailure", "Upstream Failure"),
    503: ("NotEnoughResources", "Not Enough Resources"),
    504: ("UpstreamTimeout", "Upstream Timeout"),
}


def settings(world: World) -> dict[str, Any]:
    """The fake's state in the world, with every knob present."""
    state = world.channel_state(CHANNEL)
    with world.lock:
        for key, value in _DEFAULTS.items():
            state.setdefault(key, copy.deepcopy(value))
    return state


# --- identities ---------------------------------------------------------------------------


def handle_of(author: str) -> str:
    """Scenario authors are short names like ``anna_k``; handles are domain names."""
    label = re.sub(r"[^a-z0-9-]+", "-", author.lower()).strip("-") or "user"
    return f"{label}.bsky.social"


def did_of(handle: str) -> str:
    digest = hashlib.sha256(handle.lower().encode()).digest()
    return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]


def tid_of(moment: datetime, clock_id: int) -> str:
    """A TID: microseconds since the epoch and a 10-bit clock id, base32-sortable."""
    micros = int(moment.timestamp()) * 1_000_000 + moment.microsecond
    value = (micros << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_B32_SORTABLE[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def cid_of(content: object) -> str:
    """A CIDv1 (dag-cbor, sha-256) over the JSON of `content`, in base32 like real ones."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).digest()
    raw = bytes([0x01, 0x71, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def mention_id(post: Post) -> str:
    """The at-uri of the post: what the adapter must use as `Mention.id`."""
    did = did_of(handle_of(post.author))
    return f"at://{did}/app.bsky.feed.post/{tid_of(post.created_at, post.seq)}"


def iso_millis(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- rendering ----------------------------------------------------------------------------

_HASHTAG = re.compile(r"(?:^|(?<=\s))[#＃](\w+)")
_MENTION = re.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9])")
_WORD = re.compile(r"\w+")


def _byte_slice(text: str, start: int, end: int) -> dict[str, int]:
    return {
        "byteStart": len(text[:start].encode("utf-8")),
        "byteEnd": len(text[:end].encode("utf-8")),
    }


def facets_of(text: str) -> list[dict[str, Any]]:
    """Hashtag and mention facets with UTF-8 byte offsets, as the Bluesky app writes them."""
    facets: list[tuple[int, dict[str, Any]]] = []
    for match in _HASHTAG.finditer(text):
        feature = {"$type": "app.bsky.richtext.facet#tag", "tag": match.group(1)}
        facets.append((match.start(), _facet(text, match.start(), match.end(), feature)))
    for match in _MENTION.finditer(text):
        name = match.group(1)
        # The scenario writes short names (@nordwindair); real mentions carry a full handle.
        handle = name if "." in name else f"{name}.bsky.social"
        feature = {"$type": "app.bsky.richtext.facet#mention", "did": did_of(handle)}
        facets.append((match.start(), _facet(text, match.start(), match.end(), feature)))
    return [facet for _, facet in sorted(facets, key=lambda pair: pair[0])]


def _facet(text: str, start: int, end: int, feature: dict[str, Any]) -> dict[str, Any]:
    return {
        "$type": "app.bsky.richtext.facet",
        "index": _byte_slice(text, start, end),
        "features": [feature],
    }


@dataclass(frozen=True, slots=True)
class _Indexed:
    """What the search index knows of a post, computed once per post."""

    post: Post
    uri: str
    cid: str
    did: str
    handle: str
    record: dict[str, Any]
    tokens: tuple[str, ...]
    tags: frozenset[str]
    mentions: frozenset[str]


def _index(post: Post) -> _Indexed:
    handle = handle_of(post.author)
    facets = facets_of(post.text)
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": post.text,
        "createdAt": iso_millis(post.created_at),
        "langs": [post.lang],
    }
    if facets:
        record["facets"] = facets
    features = [feature for facet in facets for feature in facet["features"]]
    return _Indexed(
        post=post,
        uri=mention_id(post),
        cid=cid_of(record),
        did=did_of(handle),
        handle=handle,
        record=record,
        tokens=_tokens(post.text),
        tags=frozenset(f["tag"].casefold() for f in features if "tag" in f),
        mentions=frozenset(f["did"] for f in features if "did" in f),
    )


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def _indexed_at(item: _Indexed, delays: dict[str, float]) -> datetime:
    # A deterministic lag of 0-3 s, plus whatever a test asked for.
    lag = (item.post.seq * 7) % 4 + float(delays.get(item.uri, 0))
    return item.post.created_at + timedelta(seconds=lag)


def post_view(item: _Indexed, indexed_at: datetime) -> dict[str, Any]:
    post = item.post
    view: dict[str, Any] = {
        "uri": item.uri,
        "cid": item.cid,
        "author": {
            "did": item.did,
            "handle": item.handle,
            "displayName": post.author_name,
            "viewer": {"muted": False, "blockedBy": False},
            "labels": [],
        },
        "record": item.record,
        "bookmarkCount": 0,
        "replyCount": post.replies,
        "repostCount": post.reposts,
        "likeCount": post.likes,
        "quoteCount": 0,
        "indexedAt": iso_millis(indexed_at),
        "viewer": {"threadMuted": False, "embeddingDisabled": False},
        "labels": [],
    }
    return view


# --- XRPC plumbing ------------------------------------------------------------------------


class _XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def _error_body(error: str, message: str) -> dict[str, str]:
    return {"error": error, "message": message}


@dataclass(frozen=True, slots=True)
class _Window:
    limit: int
    window_seconds: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "ratelimit-limit": str(self.limit),
            "ratelimit-remaining": str(max(0, self.remaining)),
            "ratelimit-reset": str(self.reset),
            "ratelimit-policy": f"{self.limit};w={self.window_seconds}",
        }


def _spend(world: World, budget: str, key: str, *, spend: bool = True) -> _Window:
    """Count one request against a fixed window that starts with the window's first request."""
    state = settings(world)
    limit = int(state[budget]["limit"])
    seconds = int(state[budget]["window_seconds"])
    now = int(world.now().timestamp())
    with world.lock:
        windows: dict[str, list[int]] = state.setdefault("windows", {})
        start, used = windows.get(f"{budget}:{key}", [now, 0])
        if now >= start + seconds:
            start, used = now, 0
        if spend:
            used += 1
        windows[f"{budget}:{key}"] = [start, used]
    return _Window(limit, seconds, limit - used, start + seconds)


def _answer(payload: Any, window: _Window, status: int = 200) -> Response:
    return json_response(payload, status, window.headers())


def _xrpc(handler: Callable[[World, Request, _Window], Any]) -> Callable[..., Response]:
    """Every endpoint: spend from the request budget, then answer JSON or an XRPC error."""

    def endpoint(world: World, request: Request) -> Response:
        window = _spend(world, "rate_limit", "all")
        if window.remaining < 0:
            return _answer(_error_body(*_ERROR_NAMES[429]), window, 429)
        try:
            return _answer(handler(world, request, window), window)
        except _XrpcError as error:
            return _answer(_error_body(error.error, error.message), window, error.status)
        except _Limited as limited:
            return _answer(_error_body(*_ERROR_NAMES[429]), limited.window, 429)

    return endpoint


class _Limited(Exception):
    def __init__(self, window: _Window) -> None:
        super().__init__("rate limited")
        self.window = window


# --- sessions -----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _issue(world: World, did: str, kind: str, seconds: int) -> str:
    state = settings(world)
    now = world.now()
    with world.lock:
        serial = state.get("serial", 0) + 1
        state["serial"] = serial
        header = {"typ": "at+jwt" if kind == "access" else "refresh+jwt", "alg": "HS256"}
        claims = {
            "scope": "com.atproto.appPass" if kind == "access" else "com.atproto.refresh",
            "sub": did,
            "aud": "did:web:bsky.social",
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + seconds,
            "jti": f"fake-{serial}",
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = hmac.new(_SIGNING_KEY, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64(signature)}"
        state.setdefault("tokens", {})[token] = {
            "kind": kind,
            "did": did,
            "expires": now + timedelta(seconds=seconds),
            "revoked": False,
        }
    return token


def _new_session(world: World) -> dict[str, Any]:
    state = settings(world)
    did = did_of(ACCOUNT_HANDLE)
    return {
        "accessJwt": _issue(world, did, "access", int(state["access_token_seconds"])),
        "refreshJwt": _issue(world, did, "refresh", int(state["refresh_token_seconds"])),
        "handle": ACCOUNT_HANDLE,
        "did": did,
        "emailConfirmed": True,
        "emailAuthFactor": False,
        "active": True,
    }


def _bearer(world: World, request: Request, kind: str) -> dict[str, Any]:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise _XrpcError(401, "AuthenticationRequired", "Authentication Required")
    with world.lock:
        token = settings(world).get("tokens", {}).get(header[7:].strip())
    if token is None:
        raise _XrpcError(400, "InvalidToken", "Token could not be verified")
    if token["kind"] != kind:
        raise _XrpcError(400, "InvalidToken", "Bad token scope")
    if token["revoked"]:
        raise _XrpcError(400, "InvalidToken", "Token has been revoked")
    if world.now() >= token["expires"]:
        raise _XrpcError(400, "ExpiredToken", "Token has expired")
    return dict(token)


def _json_input(request: Request) -> dict[str, Any]:
    if not request.content_type or "application/json" not in request.content_type:
        raise _invalid("Request encoding (Content-Type) required but not provided")
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        raise _invalid("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _invalid("Input must be an object")
    return body


def create_session(world: World, request: Request, window: _Window) -> dict[str, Any]:
    body = _json_input(request)
    for name in ("identifier", "password"):
        if not isinstance(body.get(name), str):
            raise _invalid(f'Input must have the property "{name}"')
    identifier = body["identifier"].strip().casefold()
    # Like the real service, every attempt counts, so a wrong password cannot be retried freely.
    sessions = _spend(world, "session_limit", identifier)
    if sessions.remaining < 0:
        raise _Limited(sessions)
    known = {ACCOUNT_HANDLE.casefold(), did_of(ACCOUNT_HANDLE)}
    if identifier not in known or not hmac.compare_digest(
        body["password"].encode(), CREDENTIALS["app_password"].encode()
    ):
        raise _XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
    with world.lock:
        settings(world)["sessions_created"] = settings(world).get("sessions_created", 0) + 1
    return _new_session(world)


def refresh_session(world: World, request: Request, window: _Window) -> dict[str, Any]:
    header = request.headers.get("Authorization", "")
    _bearer(world, request, "refresh")
    with world.lock:
        settings(world)["tokens"][header[7:].strip()]["revoked"] = True
    return _new_session(world)


# --- search -------------------------------------------------------------------------------

_PARAMS = frozenset(
    ("q", "sort", "since", "until", "mentions", "author", "lang", "domain", "url", "tag", "limit")
) | {"cursor"}
_LANGUAGE = re.compile(r"^(i|[a-z]{2,3})(-[a-zA-Z0-9]+)*$")
_DID = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$")
_HANDLE = re.compile(
    r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_CLAUSE = re.compile(r'"([^"]*)"|(\S+)')


def _invalid(message: str) -> _XrpcError:
    return _XrpcError(400, "InvalidRequest", message)


def _single(request: Request, name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise _invalid(f"Error: Params/{name} must not be repeated")
    return values[0] if values else None


def _time_param(request: Request, name: str) -> datetime | None:
    value = _single(request, name)
    if value is None:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        if not _DATETIME.match(value):
            raise ValueError(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise _invalid(f"Error: Params/{name} must be a valid datetime or date") from None


def _identifier_param(request: Request, name: str) -> str | None:
    value = _single(request, name)
    if value is not None and not (_DID.match(value) or _HANDLE.match(value)):
        raise _invalid(f"Error: Params/{name} must be a valid did or a handle")
    return value


@dataclass(frozen=True, slots=True)
class _Query:
    phrases: tuple[tuple[str, ...], ...]
    tags: frozenset[str]

    def matches(self, item: _Indexed) -> bool:
        return all(tag in item.tags for tag in self.tags) and all(
            _contains(item.tokens, phrase) for phrase in self.phrases
        )


def _contains(tokens: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    width = len(phrase)
    return any(tokens[i : i + width] == phrase for i in range(len(tokens) - width + 1))


def _parse_q(q: str, tags: list[str]) -> _Query:
    """A small part of the Lucene-like syntax: terms (AND), "phrases" and #hashtags."""
    phrases: list[tuple[str, ...]] = []
    wanted = {tag.casefold() for tag in tags}
    for match in _CLAUSE.finditer(q):
        quoted, bare = match.group(1), match.group(2)
        if bare is not None and bare.startswith(("#", "＃")) and len(bare) > 1:
            wanted.add(bare[1:].casefold())
            continue
        tokens = _tokens(quoted if quoted is not None else bare)
        if tokens:
            phrases.append(tokens)
    if not phrases and not wanted:
        raise _invalid("Error: Params/q must contain a search term")
    return _Query(tuple(phrases), frozenset(wanted))


def _cursor_param(request: Request) -> int:
    value = _single(request, "cursor")
    if value is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        kind, offset = decoded.split(":", 1)
        if kind != "offset" or not offset.isdigit():
            raise ValueError(decoded)
        return int(offset)
    except ValueError:
        raise _invalid("Error: Params/cursor is malformed") from None


def _encode_cursor(offset: int) -> str:
    return _b64(f"offset:{offset}".encode())


@dataclass(frozen=True, slots=True)
class _Search:
    """searchPosts' parameters, validated the way the lexicon describes them."""

    query: _Query
    sort: str
    limit: int
    offset: int
    since: datetime | None
    until: datetime | None
    lang: str | None
    author: str | None
    mentions: str | None
    link_filter: bool

    @classmethod
    def from_request(cls, request: Request) -> _Search:
        unknown = sorted(set(request.args) - _PARAMS)
        if unknown:
            # The real service ignores unknown parameters; refusing them catches typos early.
            raise _invalid(f"Error: Params must not have the property {unknown[0]!r}")
        q = _single(request, "q")
        if q is None:
            raise _invalid('Error: Params must have the property "q"')
        sort = _single(request, "sort") or "latest"
        if sort not in ("top", "latest"):
            raise _invalid("Error: Params/sort must be one of top, latest")
        tags = request.args.getlist("tag")
        if any(len(tag.encode()) > 640 or graphemes(tag) > 64 for tag in tags):
            raise _invalid("Error: Params/tag items must not be longer than 64 graphemes")
        lang = _single(request, "lang")
        if lang is not None and not _LANGUAGE.match(lang):
            raise _invalid("Error: Params/lang must be a valid language code")
        return cls(
            query=_parse_q(q, tags),
            sort=sort,
            limit=_limit_param(request),
            offset=_cursor_param(request),
            since=_time_param(request, "since"),
            until=_time_param(request, "until"),
            lang=lang.casefold() if lang else None,
            author=_identifier_param(request, "author"),
            mentions=_identifier_param(request, "mentions"),
            link_filter=any(_single(request, name) is not None for name in ("domain", "url")),
        )

    def admits(self, item: _Indexed, sort_at: datetime) -> bool:
        if not self.query.matches(item):
            return False
        if (self.since is not None and sort_at < self.since) or (
            self.until is not None and sort_at >= self.until
        ):
            return False
        if self.lang is not None and self.lang not in (x.casefold() for x in item.record["langs"]):
            return False
        if self.author is not None and self.author.casefold() not in (item.handle, item.did):
            return False
        if self.mentions is not None and _as_did(self.mentions) not in item.mentions:
            return False
        return not self.link_filter  # the scenario's posts carry no links


def _limit_param(request: Request) -> int:
    text = _single(request, "limit") or "25"
    if not re.fullmatch(r"-?\d+", text):
        raise _invalid("Error: Params/limit must be an integer")
    if not 1 <= int(text) <= MAX_LIMIT:
        raise _invalid(f"Error: Params/limit must be between 1 and {MAX_LIMIT}")
    return int(text)


def search_posts(world: World, request: Request, window: _Window) -> Any:
    search = _Search.from_request(request)
    _bearer(world, request, "access")
    now = world.now()
    state = settings(world)
    delays: dict[str, float] = state["index_delay"]
    hits = []
    for item in _indexed_posts(world):
        indexed_at = _indexed_at(item, delays)
        # Sorting and since/until use sortAt: the earlier of createdAt and indexedAt.
        sort_at = min(item.post.created_at, indexed_at)
        if indexed_at <= now and search.admits(item, sort_at):
            hits.append((sort_at, indexed_at, item))
    if search.sort == "latest":
        hits.sort(key=lambda hit: (hit[0], hit[2].uri), reverse=True)
    else:
        hits.sort(key=lambda hit: (hit[2].post.likes, hit[0], hit[2].uri), reverse=True)

    end = search.offset + search.limit
    answer: dict[str, Any] = {"hitsTotal": len(hits), "posts": []}
    mangle_post = state["mangle_post"]
    for _, indexed_at, item in hits[search.offset : end]:
        view: Any = post_view(item, indexed_at)
        if item.uri in mangle_post:
            # The record is shared with the index; a mangler must not change that one.
            view = mangle_post[item.uri](copy.deepcopy(view))
        answer["posts"].append(view)
    if end < len(hits):
        answer["cursor"] = _encode_cursor(end)
    mangle = state["mangle_search"]
    return mangle(answer) if mangle is not None else answer


def _as_did(identifier: str) -> str:
    return identifier if identifier.startswith("did:") else did_of(identifier)


def _indexed_posts(world: World) -> Iterable[_Indexed]:
    state = settings(world)
    with world.lock:
        cache: dict[int, _Indexed] = state.setdefault("index", {})
    for post in world.visible_posts(CHANNEL):
        item = cache.get(post.seq)
        if item is None:
            item = cache[post.seq] = _index(post)
        yield item


# --- the fake -----------------------------------------------------------------------------


class BlueskyFake:
    name = CHANNEL

    def rules(self) -> Iterable[Rule]:
        return [
            Rule(
                "/xrpc/com.atproto.server.createSession",
                methods=["POST"],
                endpoint=_xrpc(create_session),
            ),
            Rule(
                "/xrpc/com.atproto.server.refreshSession",
                methods=["POST"],
                endpoint=_xrpc(refresh_session),
            ),
            Rule(
                "/xrpc/app.bsky.feed.searchPosts",
                methods=["GET"],
                endpoint=_xrpc(search_posts),
            ),
        ]

    def error_response(self, status: int, world: World) -> Response:
        error, message = _ERROR_NAMES.get(status, ("InternalServerError", "Internal Server Error"))
        window = _spend(world, "rate_limit", "all", spend=False)
        if status == 429:
            window = _Window(window.limit, window.window_seconds, 0, window.reset)
        return _answer(_error_body(error, message), window, status)


def make_fake() -> BlueskyFake:
    return BlueskyFake()
