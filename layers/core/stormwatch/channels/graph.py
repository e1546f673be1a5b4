"""Meta Graph API plumbing shared by the Facebook Pages and Instagram adapters.

Both channels are the same API (``graph.facebook.com/<version>``), so auth, throttling,
error mapping and paging live here once.

Auth: the token travels only in ``Authorization: Bearer``. Graph also accepts an
``access_token`` query parameter, and echoes it into ``paging.next``, but URLs end up
in logs; for the same reason the adapters never follow ``paging.next`` verbatim and
page with ``after=<paging.cursors.after>`` instead (the documented cursor).

Throttling (https://developers.facebook.com/docs/graph-api/overview/rate-limiting):
- error codes 4 (app), 17 (user), 32 (page), 341 (application limit), 613 (calls
  within one hour) and the business-use-case codes 80000-80014 (80001 pages, 80002
  Instagram, ...) in the JSON error body, whatever the HTTP status;
- the usage headers on *successful* answers: ``X-App-Usage`` (percentages of the
  app's hourly call count, CPU time and total time) and
  ``X-Business-Use-Case-Usage`` (per business object: the same percentages and
  ``estimated_time_to_regain_access`` in minutes). Meta throttles at 100 %, so at
  95 % the adapter stops *after* handing over the page it just read: the answer is
  good, and the next request would only push the page or app into a block that
  lasts longer than a polite pause.
Back off until ``estimated_time_to_regain_access`` when Meta gives one, else for
`DEFAULT_BACKOFF`: app usage is a rolling one-hour window, so five minutes lets it
drain a little without leaving a storm unwatched for long.

Errors other than throttling: code 190 (invalid or expired token), 102 and 104
(session / missing token) and the permission codes 10 and 200-299 mean an operator
has to fix the secret -> `AuthFailed`, whether Graph says so with 400, 401 or 403.
Codes 1 and 2 or ``is_transient: true`` -> `ChannelUnavailable`. Code 100 on a
request that carried an ``after`` cursor -> `ExpiredPageToken`, so the chain resumes
by time instead of failing on the same stale cursor forever.

Paging: Graph documents that "a page may be empty but contain a 'next' paging link.
Stop paging when the 'next' link no longer appears", so `listing` reads on past pages
that hold nothing to keep rather than ending the chain early.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from stormwatch.channels.base import ChannelContext, parse_each, required_credential
from stormwatch.channels.chains import ChainItem, ChainPage, Fetch, time_of_position
from stormwatch.channels.http import HttpResponse
from stormwatch.errors import (
    AuthFailed,
    ChannelUnavailable,
    ExpiredPageToken,
    MalformedResponse,
    RateLimited,
)
from stormwatch.model import Mention, parse_iso

logger = logging.getLogger(__name__)

THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
AUTH_CODES = frozenset({102, 104, 190, 10, *range(200, 300)})
TRANSIENT_CODES = frozenset({1, 2})
INVALID_PARAMETER = 100

USAGE_LIMIT_PERCENT = 95
DEFAULT_BACKOFF = timedelta(minutes=5)
_MAX_LOGGED_ID = 80


@dataclass(frozen=True, slots=True)
class GraphError:
    code: int
    subcode: int | None
    kind: str
    message: str
    transient: bool


def graph_error(response: HttpResponse) -> GraphError | None:
    """The ``{"error": {...}}`` body of a failed call, or None when it is not one."""
    try:
        body = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), int):
        return None
    subcode = error.get("error_subcode")
    return GraphError(
        code=error["code"],
        subcode=subcode if isinstance(subcode, int) else None,
        kind=str(error.get("type", "")),
        message=str(error.get("message", ""))[:200],
        transient=error.get("is_transient") is True,
    )


def _json_header(headers: Mapping[str, str], name: str) -> Any:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        logger.warning("graph: unreadable %s header ignored", name)
        return None


def _percent(values: Mapping[str, Any]) -> float:
    numbers = [
        float(values[key])
        for key in ("call_count", "total_cputime", "total_time")
        if isinstance(values.get(key), int | float) and not isinstance(values.get(key), bool)
    ]
    return max(numbers, default=0.0)


def usage_backoff(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """When to call again if the usage headers say the quota is (nearly) used up."""
    percent = 0.0
    regain_minutes = 0.0
    app = _json_header(headers, "X-App-Usage")
    if isinstance(app, dict):
        percent = _percent(app)
    business = _json_header(headers, "X-Business-Use-Case-Usage")
    if isinstance(business, dict):
        for entries in business.values():
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, dict):
                    continue
                percent = max(percent, _percent(entry))
                regain = entry.get("estimated_time_to_regain_access")
                if isinstance(regain, int | float) and not isinstance(regain, bool):
                    regain_minutes = max(regain_minutes, float(regain))
    if regain_minutes > 0:
        return now + timedelta(minutes=regain_minutes)
    if percent >= USAGE_LIMIT_PERCENT:
        return now + DEFAULT_BACKOFF
    return None


class GraphClient:
    """GET requests to one Graph API version for one channel, sharing the channel's quota.

    All sources of a channel share one client: the app and business-use-case quotas
    are per app and per page/account, not per query.
    """

    def __init__(self, context: ChannelContext, *, credential: str) -> None:
        self.channel = context.config.name
        self._context = context
        self._root = f"{context.config.base_url}/{context.config.text('api_version')}"
        self._credential_name = credential
        self._token: str | None = None
        self._blocked_until: datetime | None = None

    def get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """The JSON object Graph answers for ``GET /<version>/<path>``."""
        self._wait_for_quota()
        paged = "after" in params
        payload, response = self._context.http.get_json(
            f"{self._root}/{quote(path, safe='/_')}",
            params=dict(params),
            headers={"Authorization": f"Bearer {self._bearer()}"},
            throttle=lambda answer: self._read_error(answer, paged=paged),
        )
        until = usage_backoff(response.headers, self._context.now())
        if until is not None:
            self._blocked_until = until
        if not isinstance(payload, dict):
            raise MalformedResponse(self.channel, f"{path}: expected a JSON object")
        return payload

    def _bearer(self) -> str:
        if self._token is None:
            self._token = required_credential(
                self._context.credentials(), self.channel, self._credential_name
            )
        return self._token

    def _wait_for_quota(self) -> None:
        if self._blocked_until is None:
            return
        if self._context.now() < self._blocked_until:
            raise RateLimited(self.channel, self._blocked_until, "(usage at the limit)")
        self._blocked_until = None

    def _read_error(self, response: HttpResponse, *, paged: bool) -> datetime | None:
        """The retry time of a throttled call; raises for the other errors Graph explains."""
        if response.status < 400:
            return None
        error = graph_error(response)
        if error is None:
            return None
        now = self._context.now()
        if error.code in THROTTLE_CODES:
            until = usage_backoff(response.headers, now)
            return until if until is not None and until > now else now + DEFAULT_BACKOFF
        detail = f"Graph error {error.code}"
        if error.subcode is not None:
            detail += f"/{error.subcode}"
        message = self._scrub(error.message)
        if error.code in AUTH_CODES:
            raise AuthFailed(self.channel, f"token refused ({detail} {error.kind}): {message}")
        if error.code in TRANSIENT_CODES or error.transient:
            raise ChannelUnavailable(self.channel, f"{detail}: {message}")
        if error.code == INVALID_PARAMETER and paged:
            raise ExpiredPageToken(self.channel, f"page cursor refused ({detail}): {message}")
        return None

    def _scrub(self, message: str) -> str:
        # Graph does not echo tokens, but an error message must never be the one that does.
        if self._token:
            message = message.replace(self._token, "***")
        return message


def graph_time(value: object) -> datetime:
    """A Graph timestamp (``2026-11-22T03:12:45+0000``) as aware UTC; ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("timestamp is not a string")
    return parse_iso(value)


def unix_seconds(position: str) -> str:
    return str(int(time_of_position(position).timestamp()))


def read_page(payload: Mapping[str, Any], channel: str, what: str) -> tuple[list[Any], str | None]:
    """The items of one Graph list answer and the ``after`` cursor of the next page."""
    data = payload.get("data")
    if not isinstance(data, list):
        raise MalformedResponse(channel, f"{what}: answer has no 'data' list")
    paging = payload.get("paging", {})
    if not isinstance(paging, dict):
        raise MalformedResponse(channel, f"{what}: 'paging' is not an object")
    if not paging.get("next"):
        return data, None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    if not isinstance(after, str) or not after:
        raise MalformedResponse(channel, f"{what}: 'paging.next' without 'paging.cursors.after'")
    return data, after


@dataclass(frozen=True, slots=True)
class Listed:
    """One item of a listing: its chain position and, if it is one, the mention it is.

    Items that are not mentions (the page's own posts in its feed) still have a
    position: a listing must know how far down it has read.
    """

    position: str
    mention: Mention | None


ParseItem = Callable[[Mapping[str, Any]], Listed]


def item_label(item: object) -> str:
    """An item's id for a log line (ids only: mention text is data, not log content)."""
    value = item.get("id") if isinstance(item, dict) else None
    return value[:_MAX_LOGGED_ID] if isinstance(value, str) else "<no id>"


def parse_items[T](
    raw: list[Any], parse: Callable[[Mapping[str, Any]], T], channel: str, what: str
) -> list[T]:
    """Parsed items; a malformed one is logged with its id and skipped, not fatal."""
    return parse_each(
        raw, parse, logger=logger, channel=channel, what=what, noun="item", label=item_label
    )


def listing(
    client: GraphClient,
    path: str,
    params: Mapping[str, str],
    parse: ParseItem,
    *,
    time_filter: bool,
) -> Fetch:
    """A `newest_first_pages` fetch over a newest-first Graph edge.

    With `time_filter` the edge takes ``since``/``until`` (unix seconds); without it the
    chain stops client-side once items fall below the lower bound.
    """

    def fetch(lower: str | None, token: str | None, upper: str | None) -> ChainPage:
        query = dict(params)
        if time_filter and lower is not None:
            query["since"] = unix_seconds(lower)
        if time_filter and upper is not None:
            query["until"] = unix_seconds(upper)
        if token is not None:
            query["after"] = token
        while True:
            raw, after = read_page(client.get(path, query), client.channel, path)
            listed = parse_items(raw, parse, client.channel, path)
            kept = [
                ChainItem(item.mention, item.position)
                for item in listed
                if item.mention is not None and (upper is None or item.position < upper)
            ]
            if kept or after is None:
                return ChainPage(kept, after)
            below_lower = lower is not None and any(item.position < lower for item in listed)
            if below_lower:
                return ChainPage([], None)
            query["after"] = after

    return fetch


def summary_count(item: Mapping[str, Any], edge: str) -> int:
    """``<edge>.summary.total_count`` of a field expanded with ``.summary(true)``; 0 if absent."""
    expanded = item.get(edge)
    if expanded is None:
        return 0
    if not isinstance(expanded, dict):
        raise TypeError(f"{edge} is not an object")
    summary = expanded.get("summary")
    if not isinstance(summary, dict):
        raise TypeError(f"{edge}.summary is not an object")
    return count(summary, "total_count")


def count(item: Mapping[str, Any], key: str) -> int:
    """A non-negative integer field; 0 when Graph leaves it out (hidden like counts)."""
    value = item.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{key} is not a count")
    return value
