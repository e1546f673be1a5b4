"""Reddit: brand search over all of Reddit and the new comments of configured subreddits.

Sources:
- ``search:<brand id>``: ``GET /search?q="kw1" OR "kw2"&sort=new&type=link`` (links only);
- ``comments:<subreddit>``: ``GET /r/<subreddit>/comments``, the subreddit's newest comments.
  That listing is not a search, so only comments naming a brand keyword (folded) are kept.

Both listings are newest first with ``after`` fullname paging and no "since" filter, so
each source walks one chain of `newest_first_pages` with positions taken from
``created_utc`` and stops client-side at the watermark. Reddit answers an ``after`` that
points at a removed thing with an empty page; that is taken as an expired token and the
chain resumes below its floor.

Auth is app-only OAuth (client credentials). The bearer token is cached per process,
keyed by the token endpoint and client id, renewed shortly before it expires and once
when an API call answers 401. Rate limits: ``X-Ratelimit-Remaining`` (a float) and
``X-Ratelimit-Reset`` (seconds until the window ends) on every API answer. When an answer
says the window's quota is used up, its page is still yielded and the next request of
any source of this invocation raises `RateLimited` without being sent.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from stormwatch.channels.base import (
    ChannelContext,
    Cursor,
    MentionSource,
    Page,
    required_credential,
)
from stormwatch.channels.chains import ChainItem, ChainPage, newest_first_pages, position_of_time
from stormwatch.channels.http import HttpResponse, json_body, retry_after
from stormwatch.config import Brand
from stormwatch.errors import (
    AuthFailed,
    ConfigError,
    ExpiredPageToken,
    MalformedResponse,
    RateLimited,
)
from stormwatch.model import Mention
from stormwatch.text import clean_text, fold

logger = logging.getLogger(__name__)

CHANNEL = "reddit"
# Permalinks are paths on the public site, whatever host the API is reached at.
PUBLIC_SITE = "https://www.reddit.com"
ACCESS_TOKEN_PATH = "/api/v1/access_token"  # noqa: S105 (a path, not a secret)
# Search results reach the index late; the comments listing is nearly immediate.
SEARCH_OVERLAP = timedelta(minutes=10)
COMMENTS_OVERLAP = timedelta(minutes=2)
TOKEN_RENEWAL_MARGIN = timedelta(minutes=5)
DEFAULT_BACKOFF = timedelta(seconds=60)
# A listing ends after about 1000 things; this bounds a resume walk on a server gone odd.
MAX_RESUME_PAGES = 20
MAX_QUERY_CHARS = 512

_FULLNAME = re.compile(r"^t[1-6]_[0-9a-z]{1,13}$")
_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")


# --- app-only OAuth token, cached per process -----------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: datetime


_TOKENS: dict[tuple[str, str], _Token] = {}
_TOKENS_LOCK = threading.Lock()


class _RedditApi:
    """What every Reddit source of one invocation shares: the token and the request quota."""

    def __init__(self, context: ChannelContext) -> None:
        self._context = context
        self._base_url = context.config.base_url
        self._auth_url = context.config.text("auth_url")
        self._user_agent = context.config.text("user_agent")
        self.page_size = context.config.page_size
        self._blocked_until: datetime | None = None

    def listing(self, path: str, params: Mapping[str, str]) -> tuple[list[Any], str | None]:
        """One page of a Listing: its children and the fullname to page on from, if any."""
        self._respect_quota()
        query = {**params, "limit": str(self.page_size), "raw_json": "1"}
        response = self._authorized_get(path, query)
        self._note_quota(response)
        return _listing_children(json_body(response, CHANNEL))

    def _respect_quota(self) -> None:
        if self._blocked_until is None:
            return
        if self._context.now() < self._blocked_until:
            raise RateLimited(CHANNEL, self._blocked_until, "(request quota of the window used up)")
        self._blocked_until = None

    def _note_quota(self, response: HttpResponse) -> None:
        remaining = _number_header(response, "x-ratelimit-remaining")
        if remaining is not None and remaining < 1:
            now = self._context.now()
            self._blocked_until = _window_reset(response, now) or now + DEFAULT_BACKOFF

    def _throttle(self, response: HttpResponse) -> datetime | None:
        if response.status != 429:
            return None
        now = self._context.now()
        until = _window_reset(response, now) or retry_after(response, now) or now + DEFAULT_BACKOFF
        self._blocked_until = until
        return until

    def _authorized_get(self, path: str, params: Mapping[str, str]) -> HttpResponse:
        url = self._base_url + path
        token = self._token()
        try:
            return self._send(url, params, token)
        except AuthFailed:
            # Tokens can be revoked before they expire; one fresh token is worth a try.
            self._forget(token)
        return self._send(url, params, self._token())

    def _send(self, url: str, params: Mapping[str, str], token: str) -> HttpResponse:
        return self._context.http.request(
            "GET",
            url,
            params=params,
            headers={"Authorization": f"bearer {token}", "User-Agent": self._user_agent},
            throttle=self._throttle,
        )

    def _cache_key(self) -> tuple[str, str]:
        credentials = self._context.credentials()
        return (self._auth_url, required_credential(credentials, CHANNEL, "client_id"))

    def _forget(self, token: str) -> None:
        key = self._cache_key()
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
            if cached is not None and cached.value == token:
                del _TOKENS[key]

    def _token(self) -> str:
        key = self._cache_key()
        now = self._context.now()
        with _TOKENS_LOCK:
            cached = _TOKENS.get(key)
        if cached is not None and now < cached.expires_at - TOKEN_RENEWAL_MARGIN:
            return cached.value
        token = self._request_token(now)
        with _TOKENS_LOCK:
            _TOKENS[key] = token
        return token.value

    def _request_token(self, now: datetime) -> _Token:
        credentials = self._context.credentials()
        client_id = required_credential(credentials, CHANNEL, "client_id")
        client_secret = required_credential(credentials, CHANNEL, "client_secret")
        response = self._context.http.request(
            "POST",
            self._auth_url + ACCESS_TOKEN_PATH,
            form={"grant_type": "client_credentials"},
            auth=(client_id, client_secret),
            headers={"User-Agent": self._user_agent},
            throttle=self._throttle,
        )
        # Parsed here rather than by json_body: its error message quotes the body, which
        # would put a token into an exception if the answer were cut off.
        try:
            payload = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedResponse(CHANNEL, "token endpoint did not answer JSON") from None
        if not isinstance(payload, dict):
            raise MalformedResponse(CHANNEL, "token endpoint answered an unexpected shape")
        error = payload.get("error")
        if error is not None:
            # Reddit reports a refused grant as 200 with {"error": "<code>"}.
            code = error if isinstance(error, str) and error.isidentifier() else "unknown"
            raise AuthFailed(CHANNEL, f"token endpoint refused the grant: {code}")
        value = payload.get("access_token")
        expires_in = payload.get("expires_in")
        if not isinstance(value, str) or not value or not _is_number(expires_in):
            raise MalformedResponse(CHANNEL, "token answer lacks access_token or expires_in")
        return _Token(value, now + timedelta(seconds=expires_in))


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number_header(response: HttpResponse, name: str) -> float | None:
    try:
        value = float(response.headers.get(name, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _window_reset(response: HttpResponse, now: datetime) -> datetime | None:
    seconds = _number_header(response, "x-ratelimit-reset")
    if seconds is None or seconds < 0:
        return None
    return now + timedelta(seconds=math.ceil(seconds))


def _listing_children(payload: Any) -> tuple[list[Any], str | None]:
    if not isinstance(payload, dict) or payload.get("kind") != "Listing":
        raise MalformedResponse(CHANNEL, "expected a Listing")
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise MalformedResponse(CHANNEL, "Listing without data.children")
    after = data.get("after")
    if after is not None and not (isinstance(after, str) and _FULLNAME.match(after)):
        raise MalformedResponse(CHANNEL, "Listing with an invalid 'after'")
    return data["children"], after


# --- things -> mentions ----------------------------------------------------------------


class _UnreadableThing(ValueError):
    """One listing child that cannot become a mention; the page stays good."""


@dataclass(frozen=True, slots=True)
class Thing:
    """A listing child with its chain position; `mention` is None when it was unreadable."""

    fullname: str
    created_at: datetime
    mention: Mention | None


def _field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _UnreadableThing(f"field {name!r} missing or not {getattr(kind, '__name__', kind)}")
    return value


def read_thing(child: Any, kind: str) -> Thing | None:
    """A listing child of `kind` (``t3``, ``t1``) with its time; None (logged) when not even
    its identity can be read, `Thing.mention` None when only the rest is unreadable."""
    data = child.get("data") if isinstance(child, dict) else None
    name = data.get("name") if isinstance(data, dict) else None
    label = name if isinstance(name, str) and _FULLNAME.match(name) else "?"
    try:
        if not isinstance(data, dict) or child.get("kind") != kind:
            raise _UnreadableThing(f"not a {kind} thing")
        if label == "?" or not label.startswith(f"{kind}_"):
            raise _UnreadableThing("no valid fullname")
        created_utc = _field(data, "created_utc", (int, float))
        if not math.isfinite(created_utc):
            raise _UnreadableThing("created_utc is not a time")
        created_at = datetime.fromtimestamp(created_utc, UTC)
    except (_UnreadableThing, OverflowError, OSError, ValueError) as problem:
        logger.warning("%s: skipped listing item %s: %s", CHANNEL, label, problem)
        return None
    try:
        mention = _mention(label, data, created_at)
    except _UnreadableThing as problem:
        logger.warning("%s: skipped listing item %s: %s", CHANNEL, label, problem)
        mention = None
    return Thing(label, created_at, mention)


def _mention(fullname: str, data: Mapping[str, Any], created_at: datetime) -> Mention:
    permalink = _field(data, "permalink", str)
    if not permalink.startswith("/"):
        raise _UnreadableThing("permalink is not a path")
    if fullname.startswith("t3_"):
        selftext = data.get("selftext") or ""
        if not isinstance(selftext, str):
            raise _UnreadableThing("field 'selftext' not str")
        raw_text = f"{_field(data, 'title', str)}\n\n{selftext}"
    else:
        raw_text = _field(data, "body", str)
    return Mention(
        channel=CHANNEL,
        id=fullname,
        url=PUBLIC_SITE + permalink,
        author=clean_text(_field(data, "author", str), limit=100),
        text=clean_text(raw_text),
        created_at=created_at,
        # A downvoted post's score goes below zero; that is no negative engagement.
        engagement=max(0, _field(data, "score", int)),
    )


# --- sources ---------------------------------------------------------------------------


@dataclass(slots=True)
class _ListingSource:
    """One newest-first listing walked as a chain; `wanted` filters what is handed on."""

    api: _RedditApi
    key: str
    path: str
    params: Mapping[str, str]
    thing_kind: str
    overlap: timedelta
    wanted: Callable[[Mention], bool]
    channel: str = CHANNEL

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        # Unreadable things still take their place in the chain, so that a page of
        # nothing but broken items neither ends the walk early nor blocks it for good.
        unreadable: set[str] = set()

        def fetch(lower: str | None, token: str | None, upper: str | None) -> ChainPage:
            del lower  # Reddit has no time filter; the chain stops at the watermark itself.
            page = self._page(token) if upper is None else self._page_below(upper)
            items = []
            for thing in page[0]:
                if thing.mention is None:
                    unreadable.add(thing.fullname)
                    mention = Mention(CHANNEL, thing.fullname, "", "", "", thing.created_at)
                else:
                    mention = thing.mention
                items.append(ChainItem(mention, position_of_time(thing.created_at)))
            return ChainPage(items, page[1])

        for page in newest_first_pages(
            cursor, position_of_time(start), fetch, overlap=self.overlap
        ):
            kept = [m for m in page.mentions if m.id not in unreadable and self.wanted(m)]
            yield Page(kept, page.cursor)

    def _page(self, token: str | None) -> tuple[list[Thing], str | None]:
        params = dict(self.params)
        if token is not None:
            params["after"] = token
        children, after = self.api.listing(self.path, params)
        if token is not None and not children:
            raise ExpiredPageToken(CHANNEL, f"{self.key}: nothing after {token}")
        things = [thing for child in children if (thing := read_thing(child, self.thing_kind))]
        if children and not things:
            raise MalformedResponse(CHANNEL, f"{self.key}: no readable item on the page")
        return things, after

    def _page_below(self, upper: str) -> tuple[list[Thing], str | None]:
        """From the top of the listing down to the first things older than `upper`."""
        token: str | None = None
        for _ in range(MAX_RESUME_PAGES):
            things, after = self._page(token)
            below = [t for t in things if position_of_time(t.created_at) < upper]
            if below or after is None:
                return below, after
            token = after
        raise MalformedResponse(CHANNEL, f"{self.key}: listing does not end")


def _search_query(brand: Brand, index: int) -> str:
    phrases: dict[str, str] = {}
    for keyword in brand.keywords:
        phrase = " ".join(keyword.replace('"', " ").split())
        if phrase:
            phrases.setdefault(fold(phrase), phrase)
    query = " OR ".join(f'"{phrase}"' for phrase in phrases.values())
    if len(query) > MAX_QUERY_CHARS:
        raise ConfigError(
            f"brands[{index}].keywords",
            f"the Reddit search query would exceed {MAX_QUERY_CHARS} characters",
        )
    return query


def _names_a_brand(brands: tuple[Brand, ...]) -> Callable[[Mention], bool]:
    needles = {
        fold(word)
        for brand in brands
        for word in (*brand.keywords, *brand.hashtags)
        if word.strip()
    }

    def wanted(mention: Mention) -> bool:
        text = fold(mention.text)
        return any(needle in text for needle in needles)

    return wanted


def _subreddit(configured: str, index: int) -> str:
    name = configured.strip().removeprefix("/").removeprefix("r/")
    if not _SUBREDDIT.match(name):
        raise ConfigError(
            f"channels.reddit.subreddits[{index}]",
            f"must be a subreddit name like 'de' or 'r/travel', got {configured!r}",
        )
    return name.lower()


def mention_sources(context: ChannelContext) -> list[MentionSource]:
    """``search:<brand id>`` for each brand, ``comments:<subreddit>`` for each subreddit."""
    api = _RedditApi(context)
    brands = tuple(context.brands)
    sources: list[MentionSource] = [
        _ListingSource(
            api,
            key=f"search:{brand.id}",
            path="/search",
            params={"q": _search_query(brand, index), "sort": "new", "type": "link"},
            thing_kind="t3",
            overlap=SEARCH_OVERLAP,
            wanted=lambda _mention: True,
        )
        for index, brand in enumerate(brands)
    ]
    names_a_brand = _names_a_brand(brands)
    seen: set[str] = set()
    for index, configured in enumerate(context.config.texts("subreddits")):
        name = _subreddit(configured, index)
        if name in seen:
            continue
        seen.add(name)
        sources.append(
            _ListingSource(
                api,
                key=f"comments:{name}",
                path=f"/r/{name}/comments",
                params={},
                thing_kind="t1",
                overlap=COMMENTS_OVERLAP,
                wanted=names_a_brand,
            )
        )
    return sources
