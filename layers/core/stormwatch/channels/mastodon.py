"""Mastodon: the brand account's mention notifications, hashtag timelines, and status search.

Sources and their cursor rules:
- ``notifications`` (GET /api/v1/notifications, ``types[]=mention``) and ``tag:<hashtag>``
  (GET /api/v1/timelines/tag/{hashtag}) poll forward with ``min_id``: each answer holds the
  items just above ``min_id`` (newest first within the page), and the next page is the one
  the ``Link`` header calls ``prev``, whose ``min_id`` is the newest id read. The cursor is
  that id, so a run cut short after any page loses nothing. With no cursor yet, tag timelines
  start from a synthetic status id for `start` (status ids are ``unix ms << 16`` plus a
  sequence). Notification ids are a plain database sequence, not time-based, so the first
  run of ``notifications`` walks down (``max_id``) to the newest notification older than
  `start` and starts from there.
  A mention's id is always the *status* id, so the same status found by several sources
  (a notification and a search hit) dedupes in the store.
- ``search:<brand id>`` (GET /api/v2/search, ``type=statuses``): Mastodon turns ``min_id``
  and ``max_id`` into ``after:``/``before:`` date filters at whole-second precision, sorts
  by id newest first, sends no ``Link`` header and pages by ``offset``. So search is a
  newest-first chain over time positions (stormwatch.channels.chains with an overlap): the
  lower bound goes out as a ``min_id`` one second early, and the pages of a chain are
  ``offset`` steps below a ``max_id`` pinned when the chain starts, so that statuses
  arriving meanwhile cannot shift the offsets.

Rate limits are per account across all endpoints (``X-RateLimit-Limit/Remaining``, and
``X-RateLimit-Reset`` as an ISO-8601 time). A 429 raises `RateLimited`; an answer that says
the quota is used up is still yielded, and the next request raises `RateLimited` instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from stormwatch.channels.base import (
    ChannelContext,
    Cursor,
    MentionSource,
    Page,
    required_credential,
)
from stormwatch.channels.chains import (
    ChainItem,
    ChainPage,
    newest_first_pages,
    position_of_time,
    time_of_position,
)
from stormwatch.channels.http import HttpResponse
from stormwatch.config import Brand
from stormwatch.errors import (
    AuthFailed,
    ChannelError,
    ConfigError,
    MalformedResponse,
    RateLimited,
)
from stormwatch.model import Mention, parse_iso, parse_iso_or_none
from stormwatch.text import clean_text, strip_markup

logger = logging.getLogger(__name__)

CHANNEL = "mastodon"

NOTIFICATIONS_PATH = "/api/v1/notifications"
TAG_PATH = "/api/v1/timelines/tag/"
SEARCH_PATH = "/api/v2/search"

# The most each endpoint returns per page (Mastodon 4.1+); an instance may return fewer.
NOTIFICATIONS_LIMIT = 80
TAG_LIMIT = 40
SEARCH_LIMIT = 40

# No Mastodon listing's default page is smaller than this, so a server that returns fewer
# entries than this has nothing more above min_id (it may cap `limit` lower than asked).
_SURELY_LAST_PAGE = 20
# Search filters are whole seconds and its index refreshes about every second; statuses read
# inside this window at the end of the previous chain are recognised and not returned twice.
SEARCH_OVERLAP = timedelta(minutes=2)
# Mastodon's windows are 5 minutes; used when an exhausted answer carries no reset time.
_DEFAULT_WINDOW = timedelta(minutes=5)

_ID = re.compile(r"[0-9]{1,20}")
_PLAIN_TERM = re.compile(r"\w+")
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([^";,]+)"?')
# Mastodon wraps mention and hashtag names in inline tags (``@<span>name</span>``) and splits
# long links into spans; text.strip_markup turns every tag into a space, which would tear
# those words apart, so inline tags go first without leaving a space.
_INLINE_TAG = re.compile(
    r"</?(?:a|span|abbr|b|bdi|strong|i|em|u|s|del|ins|code|mark|small|sub|sup)"
    r"(?:\s[^>]{0,2000})?/?>",
    re.IGNORECASE,
)


def mention_sources(context: ChannelContext) -> list[MentionSource]:
    """``notifications``, ``tag:<hashtag>`` per hashtag, ``search:<brand id>`` per brand, as
    the channel's ``notifications``/``hashtags``/``search`` options allow."""
    api = MastodonApi(context)
    config = context.config
    sources: list[MentionSource] = []
    if config.flag("notifications"):
        sources.append(_Notifications(api))
    if config.flag("hashtags"):
        seen: set[str] = set()
        for brand_index, brand in enumerate(context.brands):
            for tag_index, tag in enumerate(brand.hashtags):
                if not _PLAIN_TERM.fullmatch(tag):
                    raise ConfigError(
                        f"brands[{brand_index}].hashtags[{tag_index}]",
                        f"not a hashtag Mastodon can follow: {tag!r}",
                    )
                if tag.casefold() not in seen:
                    seen.add(tag.casefold())
                    sources.append(_TagTimeline(api, tag))
    if config.flag("search"):
        for index, brand in enumerate(context.brands):
            sources.append(_Search(api, brand.id, search_query(brand, key=f"brands[{index}]")))
    return sources


def search_query(brand: Brand, *, key: str = "brand") -> str:
    """The brand's keywords (phrases quoted) and hashtags; Mastodon matches any of them."""
    terms: list[str] = []
    for index, keyword in enumerate(brand.keywords):
        if '"' in keyword:
            raise ConfigError(
                f"{key}.keywords[{index}]", "Mastodon search cannot look for text containing '\"'"
            )
        terms.append(keyword if _PLAIN_TERM.fullmatch(keyword) else f'"{keyword}"')
    terms.extend(f"#{tag}" for tag in brand.hashtags if _PLAIN_TERM.fullmatch(tag))
    return " ".join(dict.fromkeys(terms))


Links = dict[str, dict[str, str]]


class MastodonApi:
    """Requests to the instance with the account's token and its quota, shared by the sources."""

    def __init__(self, context: ChannelContext) -> None:
        self._context = context
        self._auth: dict[str, str] | None = None
        self._exhausted_until: datetime | None = None

    @property
    def page_size(self) -> int:
        return self._context.config.page_size

    @property
    def max_pages(self) -> int:
        return self._context.config.max_pages_per_run

    def now(self) -> datetime:
        return self._context.now()

    def get(
        self, path: str, params: Sequence[tuple[str, str]], *, absent_is_empty: bool = False
    ) -> tuple[Any, Links]:
        """The decoded answer and its links. `absent_is_empty`: a 404 means a listing that
        does not exist yet (a tag timeline before any status used the tag) and reads as an
        empty one."""
        until = self._exhausted_until
        if until is not None and until > self.now():
            raise RateLimited(CHANNEL, until, "(quota used up)")
        try:
            body, response = self._context.http.get_json(
                self._context.config.base_url + path,
                params=list(params),
                headers=self._headers(),
                throttle=read_signals,
            )
        except ChannelError as error:
            if absent_is_empty and error.status == 404 and type(error) is ChannelError:
                return [], {}
            raise
        self._note_quota(response)
        return body, parse_links(response.headers.get("link", ""))

    def _headers(self) -> dict[str, str]:
        if self._auth is None:
            token = required_credential(self._context.credentials(), CHANNEL, "access_token")
            self._auth = {"Authorization": f"Bearer {token}"}
        return self._auth

    def _note_quota(self, response: HttpResponse) -> None:
        remaining = response.headers.get("x-ratelimit-remaining", "").strip()
        if not (remaining.isascii() and remaining.isdigit()) or int(remaining) > 0:
            self._exhausted_until = None
            return
        self._exhausted_until = _reset_time(response.headers) or self.now() + _DEFAULT_WINDOW


# --- min_id sources --------------------------------------------------------------------------

Reader = Callable[[Any], tuple[list[Mention], list[int]]]


def _forward_pages(
    api: MastodonApi,
    path: str,
    params: Sequence[tuple[str, str]],
    min_id: str,
    read: Reader,
    *,
    announce: bool,
    absent_is_empty: bool = False,
) -> Iterator[Page]:
    """Pages above `min_id`, oldest page first, until the listing has nothing newer.

    `announce`: the start was not in the cursor, so even an empty first answer yields a
    page, to commit where this source starts. Stopping after a short page is safe here
    (the cursor is the newest id read, so the next run goes on from there); it saves the
    request that would only confirm there is nothing more.
    """
    limit = int(dict(params).get("limit", _SURELY_LAST_PAGE))
    while True:
        body, links = api.get(path, [*params, ("min_id", min_id)], absent_is_empty=absent_is_empty)
        mentions, ids = read(body)
        if not body:
            if announce:
                yield Page([], {"min_id": min_id})
            return
        newest = links.get("prev", {}).get("min_id") or (str(max(ids)) if ids else "")
        if not _ID.fullmatch(newest) or int(newest) <= int(min_id):
            raise MalformedResponse(
                CHANNEL, f"{path}: the page above {min_id} ends at {newest!r}, not above it"
            )
        yield Page(mentions, {"min_id": newest})
        if len(body) < min(limit, _SURELY_LAST_PAGE):
            return
        min_id, announce = newest, False


@dataclass(frozen=True, slots=True)
class _Notifications:
    api: MastodonApi
    key: str = "notifications"
    channel: str = CHANNEL

    @property
    def params(self) -> list[tuple[str, str]]:
        return [
            ("types[]", "mention"),
            ("limit", str(min(self.api.page_size, NOTIFICATIONS_LIMIT))),
        ]

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        min_id = _saved_id(cursor)
        if min_id is None:
            yield from _forward_pages(
                self.api,
                NOTIFICATIONS_PATH,
                self.params,
                self._start_id(start),
                _notifications,
                announce=True,
            )
        else:
            yield from _forward_pages(
                self.api, NOTIFICATIONS_PATH, self.params, min_id, _notifications, announce=False
            )

    def _start_id(self, start: datetime) -> str:
        """The id of the newest mention notification older than `start` ("0": none is)."""
        max_id: str | None = None
        for _ in range(self.api.max_pages):
            params = self.params + ([("max_id", max_id)] if max_id else [])
            body, links = self.api.get(NOTIFICATIONS_PATH, params)
            if not isinstance(body, list):
                raise MalformedResponse(CHANNEL, "notifications: expected a JSON array")
            for raw in body:
                notification_id, created_at = _id_and_time(raw)
                if notification_id is not None and created_at is not None and created_at < start:
                    return notification_id
            max_id = links.get("next", {}).get("max_id")
            if not body or not max_id or not _ID.fullmatch(max_id):
                return "0"
        logger.warning(
            "mastodon: notifications: more than %d pages of mentions since %s; the oldest are "
            "not read",
            self.api.max_pages,
            start.isoformat(),
        )
        return str(int(max_id) - 1) if max_id else "0"


@dataclass(frozen=True, slots=True)
class _TagTimeline:
    api: MastodonApi
    tag: str
    channel: str = CHANNEL

    @property
    def key(self) -> str:
        return f"tag:{self.tag.casefold()}"

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        path = TAG_PATH + quote(self.tag, safe="")
        params = [("limit", str(min(self.api.page_size, TAG_LIMIT)))]
        min_id = _saved_id(cursor)
        announce = min_id is None
        first = str(_status_id_at(start) - 1) if min_id is None else min_id
        # Mastodon answers 404 for a tag until a status uses it: a new brand's campaign tag
        # is quiet, not failing (and must not set off "monitoring blind").
        yield from _forward_pages(
            self.api, path, params, first, _statuses, announce=announce, absent_is_empty=True
        )


# --- search ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Search:
    api: MastodonApi
    brand_id: str
    query: str
    channel: str = CHANNEL

    @property
    def key(self) -> str:
        return f"search:{self.brand_id}"

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        def fetch(lower: str | None, token: str | None, upper: str | None) -> ChainPage:
            if token:
                pin, _, offset = token.partition(":")
            elif upper:
                pin, offset = str(_status_id_at(time_of_position(upper))), "0"
            else:
                # Only what exists before this second: what arrives later is the next chain's.
                now = self.api.now().replace(microsecond=0)
                pin, offset = str(_status_id_at(now)), "0"
            if not (_ID.fullmatch(pin) and offset.isascii() and offset.isdigit()):
                raise MalformedResponse(CHANNEL, f"{self.key}: unreadable page token {token!r}")
            return self._fetch(lower, pin, int(offset))

        yield from newest_first_pages(
            cursor, position_of_time(start), fetch, overlap=SEARCH_OVERLAP
        )

    def _fetch(self, lower: str | None, pin: str, offset: int) -> ChainPage:
        limit = min(self.api.page_size, SEARCH_LIMIT)
        base = [("q", self.query), ("type", "statuses"), ("limit", str(limit)), ("max_id", pin)]
        if lower is not None:
            # `min_id` becomes "after <its second>", exclusive: ask from one second earlier.
            after = time_of_position(lower).replace(microsecond=0) - timedelta(seconds=1)
            base.append(("min_id", str(_status_id_at(after))))
        while True:
            body, _links = self.api.get(SEARCH_PATH, [*base, ("offset", str(offset))])
            statuses = body.get("statuses") if isinstance(body, dict) else None
            if not isinstance(statuses, list):
                raise MalformedResponse(CHANNEL, "search: the answer has no 'statuses' array")
            mentions, _ids = _statuses(statuses)
            offset += len(statuses)
            next_token = f"{pin}:{offset}" if statuses else None
            if mentions or not statuses:
                items = [ChainItem(m, position_of_time(m.created_at)) for m in mentions]
                return ChainPage(items, next_token)
            # Every status here was unreadable; an empty page would end the chain early.


# --- normalising ---------------------------------------------------------------------------------


def _notifications(body: Any) -> tuple[list[Mention], list[int]]:
    if not isinstance(body, list):
        raise MalformedResponse(CHANNEL, f"notifications: expected a JSON array, got {_kind(body)}")
    mentions: list[Mention] = []
    ids: list[int] = []
    for raw in body:
        notification_id, _created = _id_and_time(raw)
        if notification_id is None:
            logger.warning("mastodon: skipped a notification without a valid id")
            continue
        ids.append(int(notification_id))
        if raw.get("type") != "mention":
            continue
        mention = _mention(raw.get("status"), f"notification {notification_id}")
        if mention is not None:
            mentions.append(mention)
    return mentions, ids


def _statuses(body: Any) -> tuple[list[Mention], list[int]]:
    if not isinstance(body, list):
        raise MalformedResponse(CHANNEL, f"expected a JSON array of statuses, got {_kind(body)}")
    mentions: list[Mention] = []
    ids: list[int] = []
    for raw in body:
        status_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(status_id, str) and _ID.fullmatch(status_id):
            ids.append(int(status_id))
        mention = _mention(raw, "status")
        if mention is not None:
            mentions.append(mention)
    return mentions, ids


def _mention(raw: Any, where: str) -> Mention | None:
    if not isinstance(raw, dict):
        logger.warning("mastodon: skipped %s: no status object", where)
        return None
    status_id = raw.get("id")
    if not isinstance(status_id, str) or not _ID.fullmatch(status_id):
        logger.warning("mastodon: skipped a status without a valid id (%s)", where)
        return None
    content, created, account = raw.get("content"), raw.get("created_at"), raw.get("account")
    if (
        not isinstance(content, str)
        or not isinstance(created, str)
        or not isinstance(account, dict)
    ):
        logger.warning("mastodon: skipped status %s: no content, created_at or account", status_id)
        return None
    acct = account.get("acct")
    if not isinstance(acct, str) or not acct:
        logger.warning("mastodon: skipped status %s: the account has no acct", status_id)
        return None
    try:
        created_at = parse_iso(created)
    except ValueError:
        logger.warning("mastodon: skipped status %s: created_at is not a time", status_id)
        return None
    url = raw.get("url") if isinstance(raw.get("url"), str) else raw.get("uri")
    spoiler = raw.get("spoiler_text")
    # A content warning is part of what people read, and often says what the post is about.
    html_text = f"{spoiler}<br>{content}" if isinstance(spoiler, str) and spoiler else content
    language = raw.get("language")
    return Mention(
        channel=CHANNEL,
        id=status_id,
        url=url if isinstance(url, str) else "",
        author=acct,
        text=clean_text(strip_markup(_INLINE_TAG.sub("", html_text))),
        created_at=created_at,
        language=language if isinstance(language, str) and language else None,
        reach=_count(account.get("followers_count")),
        engagement=sum(
            _count(raw.get(name))
            for name in ("favourites_count", "reblogs_count", "replies_count", "quotes_count")
        ),
    )


def _id_and_time(raw: Any) -> tuple[str | None, datetime | None]:
    if not isinstance(raw, dict):
        return None, None
    identifier = raw.get("id")
    valid_id = identifier if isinstance(identifier, str) and _ID.fullmatch(identifier) else None
    return valid_id, parse_iso_or_none(raw.get("created_at"))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _kind(value: Any) -> str:
    return "an object" if isinstance(value, dict) else type(value).__name__


# --- headers and ids ---------------------------------------------------------------------------


def read_signals(response: HttpResponse) -> datetime | None:
    """The reset time of a 429; a 403 (token lacks a scope) is an operator's problem too,
    which HttpClient would report as a plain ChannelError."""
    if response.status == 429:
        return _reset_time(response.headers)
    if response.status == 403:
        raise AuthFailed(CHANNEL, f"access refused (403): {response.excerpt(120)}")
    return None


def _reset_time(headers: Mapping[str, str]) -> datetime | None:
    return parse_iso_or_none(headers.get("x-ratelimit-reset"))


def parse_links(header: str) -> Links:
    """``Link`` relations -> the query parameters of their URLs (``next``/``prev``)."""
    return {
        relation: dict(parse_qsl(urlsplit(url).query)) for url, relation in _LINK.findall(header)
    }


def _saved_id(cursor: Cursor | None) -> str | None:
    value = cursor.get("min_id") if cursor else None
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def _status_id_at(moment: datetime) -> int:
    """The smallest status id Mastodon could give a status created at `moment`."""
    millis = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    return millis << 16
