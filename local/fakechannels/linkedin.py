"""Fake LinkedIn Community Management API over the scenario's linkedin posts.

Endpoints: ``GET /rest/posts`` (``q=author`` finder and ``ids=List(...)`` batch get),
``GET /rest/socialActions/{post urn}/comments`` and
``GET /rest/organizationalEntityNotifications?q=criteria``. Every call needs
``Authorization: Bearer``, ``LinkedIn-Version: YYYYMM`` (missing: 400
VERSION_MISSING; unknown or sunset: 426 NONEXISTENT_VERSION) and
``X-Restli-Protocol-Version: 2.0.0``, and answers LinkedIn's error body
(``status``, ``serviceErrorCode``, ``code``, ``message``).

Query strings are read as Rest.li 2.0 from the raw URI: ``List(...)`` and
``(k:v,...)`` with literal delimiters and percent-encoded leaves; a URN with a raw
``:`` or an encoded ``List%28`` is refused like LinkedIn refuses it. URNs in paths
must be encoded too. The raw URIs are kept in
``world.channel_state("linkedin")["raw_requests"]`` for the contract tests, because
the recorded exchanges hold the decoded query only.

Scenario kinds: ``comment`` -> a comment on one of the organization's own posts (it
posts every `ORG_POST_EVERY`); ``mention`` -> someone's post that @-mentions the
organization, reported by a ``SHARE_MENTION`` notification. Post commentary is
rendered in LinkedIn's little-text format (escapes, ``@[name](urn)``,
``{hashtag|\\#|tag}``). Like the real API, nothing here exposes reach or reactions.

The call budget (``budget`` calls per ``window_seconds``, a day by default) answers
429 past its end, without any reset header, as LinkedIn does.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.server import json_response
from local.fakechannels.state import count_call
from local.fakechannels.world import World
from local.scenario import Post

CHANNEL = "linkedin"
ORGANIZATION_ID = "2414183"
ORGANIZATION = f"urn:li:organization:{ORGANIZATION_ID}"
ORGANIZATION_HANDLE = "nordwindair"
CREDENTIALS: dict[str, str] = {"access_token": "fake-linkedin-token-0001"}

ORG_POST_EVERY = timedelta(hours=8)
ORG_POST_PHASE = timedelta(hours=2)
HISTORY = timedelta(days=30)
OLDEST_VERSION = "202401"
DEFAULT_BUDGET = 100_000
DEFAULT_WINDOW_SECONDS = 86_400
NOTIFICATION_ACTIONS = (
    "COMMENT",
    "SHARE",
    "SHARE_MENTION",
    "ADMIN_COMMENT",
    "COMMENT_EDIT",
    "COMMENT_DELETE",
)

_ORG_POST = 7_250_000_000_000_000_000
_COMMENT = 7_260_000_000_000_000_000
_SHARE = 7_270_000_000_000_000_000
_PERSON_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ORG_TEXTS = (
    "We are hiring cabin crew in Hamburg and Munich. Join the Nordwind Air family!",
    "Nordwind Air adds three new winter routes to Scandinavia.",
    "Our sustainability report 2026 is out now.",
)


class LinkedInFault(Exception):
    def __init__(self, status: int, code: str, message: str, service_code: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.service_code = (
            status,
            code,
            message,
            service_code,
        )

    def response(self) -> Response:
        body: dict[str, Any] = {"status": self.status}
        if self.service_code is not None:
            body["serviceErrorCode"] = self.service_code
        body["code"] = self.code
        body["message"] = self.message
        return json_response(body, self.status)


def _bad_request(message: str) -> LinkedInFault:
    return LinkedInFault(400, "ILLEGAL_ARGUMENT", message, 100)


def _not_found(what: str) -> LinkedInFault:
    return LinkedInFault(404, "NOT_FOUND", f"Not Found: {what}", 100)


def _denied(what: str) -> LinkedInFault:
    return LinkedInFault(403, "ACCESS_DENIED", f"Not enough permissions to access: {what}", 100)


# --- scenario rendering -----------------------------------------------------------


def org_post_index(moment: datetime) -> int:
    phase = ORG_POST_PHASE.total_seconds()
    return math.floor((moment.timestamp() - phase) / ORG_POST_EVERY.total_seconds())


def org_post_time(index: int) -> datetime:
    seconds = index * ORG_POST_EVERY.total_seconds() + ORG_POST_PHASE.total_seconds()
    return datetime.fromtimestamp(seconds, tz=UTC)


def org_post_urn(index: int) -> str:
    return f"urn:li:share:{_ORG_POST + index}"


def _parent_index(post: Post) -> int:
    return org_post_index(post.created_at) - post.seq % 2


def mention_id(post: Post) -> str:
    if post.kind == "comment":
        return f"urn:li:comment:({org_post_urn(_parent_index(post))},{_COMMENT + post.seq})"
    return f"urn:li:share:{_SHARE + post.seq}"


def person_urn(handle: str) -> str:
    digest = hashlib.blake2b(handle.encode(), digest_size=10).digest()
    return "urn:li:person:" + "".join(
        _PERSON_ALPHABET[byte % len(_PERSON_ALPHABET)] for byte in digest
    )


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


_RESERVED = set("|{}@[]()<>#\\*_~")
_HASHTAG = re.compile(r"#(\w+)")


def little_text(text: str) -> str:
    """Commentary as LinkedIn stores it: reserved characters escaped, the organization's
    handle as a mention, hashtags as hashtag templates."""
    mention = "@" + ORGANIZATION_HANDLE
    out: list[str] = []
    index = 0
    while index < len(text):
        end = index + len(mention)
        if text.startswith(mention, index) and not (
            end < len(text) and (text[end].isalnum() or text[end] == "_")
        ):
            out.append(f"@[{ORGANIZATION_HANDLE}]({ORGANIZATION})")
            index = end
            continue
        hashtag = _HASHTAG.match(text, index)
        if hashtag:
            tag = "".join("\\" + ch if ch in _RESERVED else ch for ch in hashtag.group(1))
            out.append("{hashtag|\\#|" + tag + "}")
            index = hashtag.end()
            continue
        char = text[index]
        out.append("\\" + char if char in _RESERVED else char)
        index += 1
    return "".join(out)


def _post(urn: str, author: str, text: str, created: datetime) -> dict[str, Any]:
    return {
        "isReshareDisabledByAuthor": False,
        "createdAt": millis(created),
        "lifecycleState": "PUBLISHED",
        "lastModifiedAt": millis(created),
        "visibility": "PUBLIC",
        "publishedAt": millis(created),
        "author": author,
        "id": urn,
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "commentary": little_text(text),
        "lifecycleStateInfo": {"isEditedByAuthor": False},
    }


def _comment(post: Post) -> dict[str, Any]:
    urn = mention_id(post)
    parent = org_post_urn(_parent_index(post))
    actor = person_urn(post.author)
    stamp = {"actor": actor, "time": millis(post.created_at)}
    return {
        "actor": actor,
        "commentUrn": urn,
        "created": stamp,
        "id": str(_COMMENT + post.seq),
        "lastModified": stamp,
        "message": {"attributes": [], "text": post.text},
        "object": parent,
        "$URN": urn,
    }


class _Organization:
    """The organization's page at one moment: its posts, their comments, its mentions."""

    def __init__(self, world: World) -> None:
        now = world.now()
        posts = world.visible_posts(CHANNEL)
        self.mentions = [post for post in posts if post.kind != "comment"]
        self.comments: dict[int, list[Post]] = {}
        for post in posts:
            if post.kind == "comment":
                self.comments.setdefault(_parent_index(post), []).append(post)
        first = org_post_index(world.scenario.start - HISTORY) + 1
        self.indexes = range(first, org_post_index(now) + 1)

    def org_post(self, index: int) -> dict[str, Any]:
        text = _ORG_TEXTS[index % len(_ORG_TEXTS)]
        return _post(org_post_urn(index), ORGANIZATION, text, org_post_time(index))

    def index_of(self, urn: str) -> int | None:
        prefix = "urn:li:share:"
        if not urn.startswith(prefix) or not urn[len(prefix) :].isdigit():
            return None
        index = int(urn[len(prefix) :]) - _ORG_POST
        return index if index in self.indexes else None

    def readable_post(self, urn: str) -> dict[str, Any] | None:
        index = self.index_of(urn)
        if index is not None:
            return self.org_post(index)
        for post in self.mentions:
            if mention_id(post) == urn:
                return _post(urn, person_urn(post.author), post.text, post.created_at)
        return None


# --- Rest.li ----------------------------------------------------------------------

RestliValue = str | list[Any] | dict[str, Any]


class _RestliSyntax(ValueError):
    pass


def _parse_value(raw: str, index: int) -> tuple[RestliValue, int]:
    if raw.startswith("List(", index):
        items: list[Any] = []
        index += len("List(")
        while index < len(raw) and raw[index] != ")":
            item, index = _parse_value(raw, index)
            items.append(item)
            if index < len(raw) and raw[index] == ",":
                index += 1
        if index >= len(raw):
            raise _RestliSyntax("unterminated List(")
        return items, index + 1
    if raw.startswith("(", index):
        record: dict[str, Any] = {}
        index += 1
        while index < len(raw) and raw[index] != ")":
            colon = raw.find(":", index)
            if colon < 0:
                raise _RestliSyntax("record field without ':'")
            key = unquote(raw[index:colon])
            value, index = _parse_value(raw, colon + 1)
            record[key] = value
            if index < len(raw) and raw[index] == ",":
                index += 1
        if index >= len(raw):
            raise _RestliSyntax("unterminated record")
        return record, index + 1
    end = index
    while end < len(raw) and raw[end] not in ",)":
        if raw[end] in "(:'":
            raise _RestliSyntax(f"reserved character {raw[end]!r} must be encoded")
        end += 1
    return unquote(raw[index:end]), end


def restli_query(raw: str) -> dict[str, RestliValue]:
    """A raw query string read as Rest.li 2.0 (``_RestliSyntax`` when it is not)."""
    params: dict[str, RestliValue] = {}
    for part in filter(None, raw.split("&")):
        key, _, value = part.partition("=")
        try:
            parsed, end = _parse_value(value, 0)
        except _RestliSyntax as error:
            raise _bad_request(f"Invalid query parameter {unquote(key)}: {error}") from None
        if end != len(value):
            raise _bad_request(f"Invalid query parameter {unquote(key)}: trailing characters")
        params[unquote(key)] = parsed
    return params


def _text_param(params: Mapping[str, RestliValue], name: str, default: str | None = None) -> str:
    value = params.get(name, default)
    if not isinstance(value, str):
        raise _bad_request(f"Invalid value for param {name}: expected a string")
    return value


def _int_param(params: Mapping[str, RestliValue], name: str, default: int, high: int) -> int:
    value = _text_param(params, name, str(default))
    if not value.isdigit() or int(value) > high:
        raise _bad_request(f"Invalid value for param {name}: {value}")
    return int(value)


def _collection(
    elements: list[dict[str, Any]], start: int, count: int, path: str, query: str
) -> dict[str, Any]:
    page = elements[start : start + count]
    links = []
    if start + count < len(elements):
        links.append(
            {
                "type": "application/json",
                "rel": "next",
                "href": f"{path}?{query}&start={start + count}&count={count}",
            }
        )
    return {
        "paging": {"start": start, "count": count, "links": links, "total": len(elements)},
        "elements": page,
    }


# --- endpoints --------------------------------------------------------------------


def posts(world: World, request: Request, params: Mapping[str, RestliValue]) -> dict[str, Any]:
    organization = _Organization(world)
    if "ids" in params:
        urns = params["ids"]
        if not isinstance(urns, list) or not all(isinstance(urn, str) for urn in urns):
            raise _bad_request("Invalid value for param ids: expected List(...)")
        results, statuses, errors = {}, {}, {}
        for urn in urns:
            post = organization.readable_post(urn)
            if post is None:
                statuses[urn] = 404
                errors[urn] = {"status": 404, "code": "NOT_FOUND", "message": "Not Found"}
            else:
                statuses[urn] = 200
                results[urn] = post
        return {"statuses": statuses, "results": results, "errors": errors}
    if _text_param(params, "q", "") != "author":
        raise _bad_request("Missing or unsupported finder: q")
    if _text_param(params, "author") != ORGANIZATION:
        raise _denied("partnerApiPostsExternal.FINDER-author")
    sort = _text_param(params, "sortBy", "LAST_MODIFIED")
    if sort not in ("LAST_MODIFIED", "CREATED"):
        raise _bad_request(f"Invalid value for param sortBy: {sort}")
    start = _int_param(params, "start", 0, 10**6)
    count = _int_param(params, "count", 10, 100)
    elements = [organization.org_post(index) for index in reversed(organization.indexes)]
    # Posts made through the publishing fake (local.fakechannels.publishing.linkedin).
    with world.lock:
        elements[:0] = reversed(world.channel_state(CHANNEL).get("published", []))
    query = f"q=author&author={ORGANIZATION.replace(':', '%3A')}&sortBy={sort}"
    return _collection(elements, start, count, "/rest/posts", query)


def comments(
    world: World, request: Request, params: Mapping[str, RestliValue], target: str
) -> dict[str, Any]:
    organization = _Organization(world)
    index = organization.index_of(target)
    if index is None:
        raise _not_found(f"socialActions/{target}/comments")
    start = _int_param(params, "start", 0, 10**6)
    count = _int_param(params, "count", 10, 100)
    ordered = sorted(organization.comments.get(index, []), key=lambda p: (p.created_at, p.seq))
    elements = [_comment(post) for post in ordered]
    return _collection(elements, start, count, "/rest/socialActions/comments", "")


def notifications(
    world: World, request: Request, params: Mapping[str, RestliValue]
) -> dict[str, Any]:
    if _text_param(params, "q", "") != "criteria":
        raise _bad_request("Missing or unsupported finder: q")
    if _text_param(params, "organizationalEntity") != ORGANIZATION:
        raise _denied("organizationalEntityNotifications")
    actions = params.get("actions", list(NOTIFICATION_ACTIONS))
    if not isinstance(actions, list) or not set(actions) <= set(NOTIFICATION_ACTIONS):
        raise _bad_request("Invalid value for param actions: expected List(<action>,...)")
    window = params.get("timeRange", {})
    if not isinstance(window, dict) or not set(window) <= {"start", "end"}:
        raise _bad_request("Invalid value for param timeRange: expected (start:<ms>,end:<ms>)")
    bounds = {key: str(value) for key, value in window.items()}
    if not all(value.isdigit() for value in bounds.values()):
        raise _bad_request("Invalid value for param timeRange: times are epoch milliseconds")
    low = int(bounds.get("start", 0))
    high = int(bounds.get("end", 10**15))
    start = _int_param(params, "start", 0, 10**6)
    count = _int_param(params, "count", 10, 100)
    organization = _Organization(world)
    elements: list[tuple[int, dict[str, Any]]] = []
    if "SHARE_MENTION" in actions:
        for post in organization.mentions:
            elements.append(
                (
                    millis(post.created_at),
                    {
                        "lastModifiedAt": millis(post.created_at),
                        "action": "SHARE_MENTION",
                        "organizationalEntity": ORGANIZATION,
                        "generatedActivity": mention_id(post),
                    },
                )
            )
    if "COMMENT" in actions:
        for index, posted in organization.comments.items():
            for post in posted:
                elements.append(
                    (
                        millis(post.created_at),
                        {
                            "lastModifiedAt": millis(post.created_at),
                            "action": "COMMENT",
                            "organizationalEntity": ORGANIZATION,
                            "sourcePost": org_post_urn(index),
                            "generatedActivity": mention_id(post),
                        },
                    )
                )
    selected = [
        item
        for stamp, item in sorted(elements, key=lambda p: p[0], reverse=True)
        if low <= stamp <= high
    ]
    return _collection(selected, start, count, "/rest/organizationalEntityNotifications", "")


# --- dispatch ---------------------------------------------------------------------

Handler = Callable[..., dict[str, Any]]


def _check_headers(world: World, request: Request) -> None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[len("Bearer ") :].strip():
        raise LinkedInFault(401, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token", 65604)
    if header[len("Bearer ") :] != world.credentials.get(CHANNEL, {}).get("access_token"):
        raise LinkedInFault(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
    version = request.headers.get("LinkedIn-Version")
    if not version:
        raise LinkedInFault(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the "
            "LinkedIn-Version header.",
        )
    current = world.now().strftime("%Y%m")
    if not re.fullmatch(r"20\d{2}(0[1-9]|1[0-2])", version) or not (
        OLDEST_VERSION <= version <= current
    ):
        raise LinkedInFault(
            426, "NONEXISTENT_VERSION", f"Requested version {version} is not active"
        )
    if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
        raise _bad_request("This API requires X-Restli-Protocol-Version: 2.0.0")


def _throttled(world: World) -> bool:
    window = count_call(
        world,
        CHANNEL,
        world.now(),
        default_budget=DEFAULT_BUDGET,
        default_window_seconds=DEFAULT_WINDOW_SECONDS,
    )
    return window.calls > window.budget


def _raw_uri(request: Request) -> str:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    return str(raw).split(f"/{CHANNEL}", 1)[-1]


def _endpoint(handler: Handler, *, path_urn: bool = False) -> Callable[..., Response]:
    def run(world: World, request: Request, **values: str) -> Response:
        raw = _raw_uri(request)
        with world.lock:
            world.channel_state(CHANNEL).setdefault("raw_requests", []).append(raw)
        try:
            _check_headers(world, request)
            if _throttled(world):
                raise LinkedInFault(
                    429,
                    "TOO_MANY_REQUESTS",
                    "Resource level throttle APPLICATION DAY limit for calls to this resource "
                    "is reached.",
                    101,
                )
            raw_path, _, raw_query = raw.partition("?")
            if path_urn and "urn:li:" in raw_path:
                raise _bad_request("URNs in the path must be URL-encoded")
            payload = handler(world, request, restli_query(raw_query), **values)
        except LinkedInFault as fault:
            return fault.response()
        mangle = world.channel_state(CHANNEL).get("mangle")
        answer = mangle(request.path, payload) if mangle else payload
        return json_response(answer, headers={"X-RestLi-Protocol-Version": "2.0.0"})

    return run


class LinkedInFake:
    name = CHANNEL

    def rules(self) -> Iterable[Rule]:
        return [
            Rule("/rest/posts", endpoint=_endpoint(posts), methods=["GET"]),
            Rule(
                "/rest/socialActions/<target>/comments",
                endpoint=_endpoint(comments, path_urn=True),
            ),
            Rule("/rest/organizationalEntityNotifications", endpoint=_endpoint(notifications)),
        ]

    def error_response(self, status: int, world: World) -> Response:
        faults = {
            400: _bad_request("Invalid request"),
            401: LinkedInFault(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600),
            403: _denied("the requested resource"),
            404: _not_found("the requested resource"),
            426: LinkedInFault(426, "NONEXISTENT_VERSION", "Requested version is not active"),
            429: LinkedInFault(
                429,
                "TOO_MANY_REQUESTS",
                "Resource level throttle APPLICATION DAY limit for calls to this resource "
                "is reached.",
                101,
            ),
        }
        if status in faults:
            return faults[status].response()
        if status >= 500:
            return LinkedInFault(
                status, "INTERNAL_SERVER_ERROR", "Internal Server Error"
            ).response()
        return LinkedInFault(status, "ERROR", "Request failed").response()


def make_fake() -> LinkedInFake:
    return LinkedInFake()
