"""Meta Graph API behaviour shared by the Facebook and Instagram fakes.

What both fakes get from here, as the real Graph API does it:
- ``/<version>/...`` paths (``v<major>.<minor>``; anything else is Graph's "Unknown
  path components" error);
- the token from ``Authorization: Bearer`` (or, as Graph also allows, an
  ``access_token`` parameter: the contract tests check the adapters never use it),
  with Graph's OAuthException bodies (code 104 without a token, 190 for a wrong or
  expired one);
- ``fields`` with expansion modifiers (``reactions.summary(true).limit(0)``), unknown
  fields refused with code 100;
- cursor paging (``paging.cursors.before/after``, ``paging.next`` only while more
  follows), ``since``/``until`` as unix seconds, ``limit`` capped at the edge's maximum;
- a per-window call budget in ``world.channel_state(channel)`` (``budget`` calls per
  ``window_seconds``, generous by default) reported in ``X-App-Usage`` and
  ``X-Business-Use-Case-Usage``; past the budget calls fail with the business-use-case
  throttling code and ``estimated_time_to_regain_access``.

Test hooks, also in the channel state: ``token_expired`` (answer every call with
code 190/463) and ``mangle`` (a function ``(path, payload) -> payload`` that damages
an answer, for the adapters' malformed-answer tests).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from local.fakechannels.server import json_response
from local.fakechannels.state import count_call
from local.fakechannels.world import World

VERSION = re.compile(r"^v\d{1,2}\.\d$")
DEFAULT_BUDGET = 100_000
DEFAULT_WINDOW_SECONDS = 3600
_TRACE = itertools.count(1)


class GraphFault(Exception):
    """An error answer a handler gives: Graph's ``{"error": {...}}`` with a status."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        kind: str = "OAuthException",
        subcode: int | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.kind = kind
        self.subcode = subcode
        self.transient = transient

    def response(self, headers: Mapping[str, str] | None = None) -> Response:
        error: dict[str, Any] = {"message": self.message, "type": self.kind, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient is not None:
            error["is_transient"] = self.transient
        error["fbtrace_id"] = _trace_id()
        return json_response({"error": error}, self.status, dict(headers or {}))


def _trace_id() -> str:
    digest = hashlib.blake2b(str(next(_TRACE)).encode(), digest_size=8).digest()
    return base64.b64encode(digest).decode().rstrip("=")


def unsupported_get(node: str) -> GraphFault:
    return GraphFault(
        400,
        100,
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation. Please read the "
        "Graph API documentation at https://developers.facebook.com/docs/graph-api",
        kind="GraphMethodException",
        subcode=33,
    )


def invalid_parameter(message: str) -> GraphFault:
    return GraphFault(400, 100, f"(#100) {message}")


def fault_response(status: int) -> Response:
    """Graph's answer for an injected HTTP status (the fault plan's ``status:<code>``); 429
    becomes the app-level limit (code 4), which Graph sends without a regain time."""
    if status == 429:
        fault = GraphFault(429, 4, "(#4) Application request limit reached", transient=True)
        full = json.dumps({"call_count": 100, "total_cputime": 41, "total_time": 52})
        return fault.response({"X-App-Usage": full})
    faults = {
        400: invalid_parameter("Invalid parameter"),
        401: GraphFault(
            401,
            190,
            "Error validating access token: Session has expired on Saturday, 21-Nov-26 "
            "10:00:00 PST. The current time is Saturday, 21-Nov-26 11:00:00 PST.",
            subcode=463,
        ),
        403: GraphFault(403, 200, "(#200) Permissions error"),
        404: GraphFault(404, 803, "(#803) Some of the aliases you requested do not exist"),
    }
    if status in faults:
        return faults[status].response()
    if status >= 500:
        return GraphFault(
            status,
            2,
            "An unexpected error has occurred. Please retry your request later.",
            transient=True,
        ).response()
    return GraphFault(status, 1, "An unknown error has occurred.", transient=False).response()


# --- values -----------------------------------------------------------------------


def graph_time(moment: datetime) -> str:
    """Graph's timestamp form: ``2026-11-22T03:12:45+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def numeric_id(base: int, number: int) -> str:
    return str(base + number)


def person_id(handle: str, base: int) -> str:
    """A stable numeric (app-scoped style) id for a scenario author."""
    digest = hashlib.blake2b(handle.encode(), digest_size=6).digest()
    return str(base + int.from_bytes(digest) % 10**14)


# --- fields -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRequest:
    name: str
    summary: bool = False
    limit: int | None = None


_MODIFIER = re.compile(r"\.(summary|limit)\(([^()]*)\)")


def _split_top_level(raw: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in raw:
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def parse_fields(
    raw: str | None, default: Sequence[str], allowed: Iterable[str], node_type: str
) -> dict[str, FieldRequest]:
    """The requested fields, as Graph reads ``fields=a,b.summary(true).limit(0)``."""
    if raw is None:
        return {name: FieldRequest(name) for name in default}
    known = set(allowed)
    requested: dict[str, FieldRequest] = {}
    for part in _split_top_level(raw):
        name, _, rest = part.partition(".")
        name = name.split("{", 1)[0]
        if name not in known:
            raise invalid_parameter(
                f"Tried accessing nonexisting field ({name}) on node type ({node_type})"
            )
        summary, limit = False, None
        modifiers = f".{rest}" if rest else ""
        for kind, argument in _MODIFIER.findall(modifiers):
            if kind == "summary":
                if argument not in ("true", "false", "1", "0"):
                    raise invalid_parameter(f"Invalid summary value ({argument})")
                summary = argument in ("true", "1")
            else:
                if not argument.isdigit():
                    raise invalid_parameter(f"Invalid limit value ({argument})")
                limit = int(argument)
        if _MODIFIER.sub("", modifiers):
            raise invalid_parameter(f"Syntax error in field ({part})")
        requested[name] = FieldRequest(name, summary, limit)
    return requested


# --- parameters -------------------------------------------------------------------


def unix_param(request: Request, name: str) -> datetime | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.lstrip("-").isdigit():
        raise invalid_parameter(f"The parameter {name} must be a unix timestamp")
    return datetime.fromtimestamp(int(value), tz=UTC)


def limit_param(request: Request, default: int, maximum: int) -> int:
    value = request.args.get("limit")
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise invalid_parameter("The parameter limit must be a positive integer")
    return min(int(value), maximum)


def required_param(request: Request, name: str) -> str:
    value = request.args.get(name)
    if not value:
        raise invalid_parameter(f"The parameter {name} is required")
    return value


def choice_param(request: Request, name: str, allowed: Sequence[str], default: str) -> str:
    value = request.args.get(name, default)
    if value not in allowed:
        raise invalid_parameter(f"param {name} must be one of {{{', '.join(allowed)}}}")
    return value


# --- paging -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listed:
    """One listed object: newest-first order key and a renderer for the requested fields."""

    created: datetime
    number: int
    render: Callable[[Mapping[str, FieldRequest]], dict[str, Any]] = field(compare=False)

    @property
    def key(self) -> tuple[int, int]:
        return (int(self.created.timestamp()), self.number)


def _encode_cursor(key: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"{key[0]}:{key[1]}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        seconds, number = raw.split(":")
        return int(seconds), int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_parameter("The after parameter is not a valid cursor") from None


def paged(
    request: Request,
    items: Iterable[Listed],
    fields: Mapping[str, FieldRequest],
    *,
    default_limit: int,
    max_limit: int,
    oldest_first: bool = False,
) -> dict[str, Any]:
    """One page of an edge with Graph's cursor paging and time filters (newest first unless
    `oldest_first`, as ``order=chronological`` asks on comments)."""
    since = unix_param(request, "since")
    until = unix_param(request, "until")
    limit = limit_param(request, default_limit, max_limit)
    ordered = sorted(items, key=lambda item: item.key, reverse=not oldest_first)
    selected = [
        item
        for item in ordered
        if (since is None or item.created >= since) and (until is None or item.created < until)
    ]
    after = request.args.get("after")
    if after:
        bound = _decode_cursor(after)
        if oldest_first:
            selected = [item for item in selected if item.key > bound]
        else:
            selected = [item for item in selected if item.key < bound]
    page = selected[:limit]
    payload: dict[str, Any] = {"data": [item.render(fields) for item in page]}
    if page:
        paging: dict[str, Any] = {
            "cursors": {
                "before": _encode_cursor(page[0].key),
                "after": _encode_cursor(page[-1].key),
            }
        }
        if len(selected) > limit:
            query = [(k, v) for k, v in request.args.items(multi=True) if k != "after"]
            query.append(("after", paging["cursors"]["after"]))
            paging["next"] = f"{request.base_url}?{urlencode(query)}"
        payload["paging"] = paging
    return payload


def summary_edge(request: FieldRequest, total: int, summary: dict[str, Any]) -> dict[str, Any]:
    """An edge expanded as a field: the (empty) data and, if asked, its summary."""
    edge: dict[str, Any] = {"data": []}
    if request.summary:
        edge["summary"] = {"total_count": total, **summary}
    return edge


# --- auth, budget, dispatch -------------------------------------------------------


def _authorize(world: World, request: Request, channel: str, credential: str) -> None:
    header = request.headers.get("Authorization", "")
    token = header[len("Bearer ") :] if header.startswith("Bearer ") else None
    token = token or request.args.get("access_token")
    if not token:
        raise GraphFault(400, 104, "An access token is required to request this resource.")
    if world.channel_state(channel).get("token_expired"):
        raise GraphFault(
            400,
            190,
            "Error validating access token: Session has expired on Saturday, 21-Nov-26 "
            "10:00:00 PST.",
            subcode=463,
        )
    if token != world.credentials.get(channel, {}).get(credential):
        raise GraphFault(400, 190, "Invalid OAuth access token - Cannot parse access token")


@dataclass(frozen=True, slots=True)
class Usage:
    headers: dict[str, str]
    exhausted: bool


def spend(world: World, channel: str, owner_id: str, usage_type: str) -> Usage:
    """Count one call against the channel's window budget and report the usage headers."""
    now = world.now()
    window = count_call(
        world,
        channel,
        now,
        default_budget=DEFAULT_BUDGET,
        default_window_seconds=DEFAULT_WINDOW_SECONDS,
    )
    calls, budget = window.calls, window.budget
    percent = 100 if budget <= 0 else min(100, calls * 100 // budget)
    ends = window.started + window.length
    regain = math.ceil((ends - now).total_seconds() / 60) if percent >= 100 else 0
    app = {"call_count": percent, "total_cputime": percent // 3, "total_time": percent // 2}
    business = {
        owner_id: [
            {
                "type": usage_type,
                "call_count": percent,
                "total_cputime": percent // 3,
                "total_time": percent // 2,
                "estimated_time_to_regain_access": regain,
            }
        ]
    }
    headers = {
        "X-App-Usage": json.dumps(app),
        "X-Business-Use-Case-Usage": json.dumps(business),
    }
    return Usage(headers, exhausted=calls > budget)


GraphHandler = Callable[..., dict[str, Any]]


@dataclass(frozen=True, slots=True)
class GraphApi:
    """The Graph conventions of one channel: who owns the quota and how it is throttled."""

    channel: str
    credential: str
    owner_id: str
    usage_type: str
    throttle_code: int
    throttle_message: str

    def rule(self, path: str, handler: GraphHandler, methods: Sequence[str] = ("GET",)) -> Rule:
        """A route under ``/<version>`` whose handler returns the payload or raises GraphFault."""

        def endpoint(world: World, request: Request, version: str, **values: str) -> Response:
            if not VERSION.match(version):
                return GraphFault(
                    400,
                    2500,
                    f"Unknown path components: /{version}",
                ).response()
            try:
                _authorize(world, request, self.channel, self.credential)
            except GraphFault as fault:
                return fault.response()
            usage = spend(world, self.channel, self.owner_id, self.usage_type)
            if usage.exhausted:
                return GraphFault(
                    400, self.throttle_code, self.throttle_message, transient=True
                ).response(usage.headers)
            try:
                payload = handler(world, request, **values)
            except GraphFault as fault:
                return fault.response(usage.headers)
            mangle = world.channel_state(self.channel).get("mangle")
            answer = mangle(request.path, payload) if mangle else payload
            return json_response(answer, headers=usage.headers)

        # Methods named: the publishing and scheduling fakes POST and DELETE on read paths.
        return Rule(f"/<version>{path}", endpoint=endpoint, methods=list(methods))
