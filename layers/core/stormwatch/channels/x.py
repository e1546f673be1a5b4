"""X (API v2): recent search per brand, and the brand account's mentions timeline.

Cursor rule. Both endpoints list newest first, so every source walks one chain at a time
(`stormwatch.channels.chains.newest_first_pages`) with post ids as positions: the watermark
goes out as `since_id`, the next page is asked for with the answer's `meta.next_token`, and a
chain whose token is no longer accepted resumes below its floor with `until_id`. Until the
first chain is complete there is no id to start from: the watermark is then ``"0"`` and the
lower bound is `start_time`. That start is kept in the cursor, so every page of the first
chain asks the same question even when the next run is given a different `start`.

Rate limits are per endpoint (`x-rate-limit-limit/-remaining/-reset`, reset in epoch
seconds). A 429 raises `RateLimited` at once; an answer that says the window's quota is used
up is still yielded, and the next request on that endpoint raises `RateLimited` instead of
being sent, so the cursor stays at the last yielded page.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stormwatch.channels.base import (
    ChannelContext,
    Cursor,
    MentionSource,
    Page,
    required_credential,
)
from stormwatch.channels.chains import ChainItem, ChainPage, newest_first_pages
from stormwatch.channels.http import HttpResponse
from stormwatch.config import Brand
from stormwatch.errors import (
    AuthFailed,
    ChannelError,
    ConfigError,
    ExpiredPageToken,
    MalformedResponse,
    RateLimited,
)
from stormwatch.model import Mention, parse_iso, parse_iso_or_none
from stormwatch.text import clean_text

logger = logging.getLogger(__name__)

CHANNEL = "x"

# The Basic and self-serve tiers accept queries up to 512 characters (Pro 1024): use the
# smallest, so a configuration that works here works on every tier.
MAX_QUERY_CHARS = 512

SEARCH_PATH = "/2/tweets/search/recent"
MENTIONS_ENDPOINT = "/2/users/:id/mentions"

NO_ID_YET = "0"
TWEET_FIELDS = "created_at,lang,author_id,public_metrics"
USER_FIELDS = "username,public_metrics"

# Recent search reaches seven days back and answers 400 for bounds older than that.
RECENT_SEARCH_REACH = timedelta(days=7)
_REACH_MARGIN = timedelta(minutes=1)
# X's windows are 15 minutes; used when an exhausted answer carries no reset time.
_DEFAULT_WINDOW = timedelta(minutes=15)

_X_EPOCH_MS = 1288834974657
_ID = re.compile(r"[0-9]{1,19}")
_PLAIN_TERM = re.compile(r"\w+")
_OPERATOR_WORDS = frozenset({"OR", "AND", "NOT"})
# "und" (undetermined), "zxx" (no text) and X's own q-codes (qme: media only, qht: hashtags
# only...) are not languages.
_NOT_LANGUAGES = frozenset({"und", "zxx"})


def mention_sources(context: ChannelContext) -> list[MentionSource]:
    """`search:<brand id>` for every brand and `mentions:<account id>` when configured."""
    api = XApi(context)
    exclude_retweets = context.config.flag("exclude_retweets")
    sources: list[MentionSource] = []
    for index, brand in enumerate(context.brands):
        query = search_query(brand, exclude_retweets=exclude_retweets, key=f"brands[{index}]")
        sources.append(
            _Timeline(
                key=f"search:{brand.id}",
                api=api,
                endpoint=SEARCH_PATH,
                path=SEARCH_PATH,
                fixed_params=(("query", query),),
                page_param="next_token",
                page_sizes=(10, 100),
                recent_only=True,
            )
        )
    account_id = context.config.optional_text("account_id")
    if account_id:
        sources.append(
            _Timeline(
                key=f"mentions:{account_id}",
                api=api,
                endpoint=MENTIONS_ENDPOINT,
                path=f"/2/users/{account_id}/mentions",
                fixed_params=(),
                page_param="pagination_token",
                page_sizes=(5, 100),
                recent_only=False,
            )
        )
    return sources


def search_query(brand: Brand, *, exclude_retweets: bool, key: str = "brand") -> str:
    """The recent-search query for a brand: its keywords and hashtags OR-ed together.

    Keywords that are not a single plain word are quoted, so that configured text is always
    searched for as text and never read as an operator. `key` names the brand in errors.
    """
    terms: list[str] = []
    for index, keyword in enumerate(brand.keywords):
        if '"' in keyword:
            raise ConfigError(
                f"{key}.keywords[{index}]", "X search cannot look for text containing '\"'"
            )
        plain = _PLAIN_TERM.fullmatch(keyword) and keyword.upper() not in _OPERATOR_WORDS
        terms.append(keyword if plain else f'"{keyword}"')
    for index, tag in enumerate(brand.hashtags):
        if not _PLAIN_TERM.fullmatch(tag):
            raise ConfigError(
                f"{key}.hashtags[{index}]", f"not a hashtag X can search for: {tag!r}"
            )
        terms.append(f"#{tag}")
    unique = list(dict.fromkeys(terms))
    query = " OR ".join(unique)
    if exclude_retweets:
        query = f"({query}) -is:retweet" if len(unique) > 1 else f"{query} -is:retweet"
    if len(query) > MAX_QUERY_CHARS:
        raise ConfigError(
            f"{key}.keywords",
            f"the X search query for brand {brand.id!r} has {len(query)} characters; X accepts "
            f"at most {MAX_QUERY_CHARS}: use fewer or shorter keywords and hashtags",
        )
    return query


class XApi:
    """Requests to X with the bearer token and the per-endpoint quota, shared by the sources."""

    def __init__(self, context: ChannelContext) -> None:
        self._context = context
        self._auth: dict[str, str] | None = None
        self._exhausted: dict[str, datetime] = {}

    @property
    def page_size(self) -> int:
        return self._context.config.page_size

    def now(self) -> datetime:
        return self._context.now()

    def get(self, endpoint: str, path: str, params: Sequence[tuple[str, str]]) -> Any:
        until = self._exhausted.get(endpoint)
        if until is not None and until > self.now():
            raise RateLimited(CHANNEL, until, f"(quota of {endpoint} used up)")
        body, response = self._context.http.get_json(
            self._context.config.base_url + path,
            params=list(params),
            headers=self._headers(),
            throttle=_read_signals,
        )
        self._note_quota(endpoint, response)
        return body

    def _headers(self) -> dict[str, str]:
        if self._auth is None:
            token = required_credential(self._context.credentials(), CHANNEL, "bearer_token")
            self._auth = {"Authorization": f"Bearer {token}"}
        return self._auth

    def _note_quota(self, endpoint: str, response: HttpResponse) -> None:
        remaining = _int_header(response.headers, "x-rate-limit-remaining")
        if remaining is None or remaining > 0:
            self._exhausted.pop(endpoint, None)
            return
        reset = _reset_time(response.headers) or self.now() + _DEFAULT_WINDOW
        self._exhausted[endpoint] = reset


@dataclass(frozen=True, slots=True)
class _Timeline:
    """One newest-first X listing (recent search for a query, or a user's mentions)."""

    key: str
    api: XApi
    endpoint: str
    path: str
    fixed_params: tuple[tuple[str, str], ...]
    page_param: str
    page_sizes: tuple[int, int]
    recent_only: bool
    channel: str = CHANNEL

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        first_start = _saved_start(cursor) or start

        def fetch(lower: str | None, token: str | None, upper: str | None) -> ChainPage:
            return self._fetch(self._params(lower, token, upper, first_start))

        for page in newest_first_pages(cursor, NO_ID_YET, fetch):
            if page.cursor.get("watermark") == NO_ID_YET:
                yield Page(page.mentions, {**page.cursor, "start": _x_time(first_start)})
            else:
                yield page

    def _params(
        self, lower: str | None, token: str | None, upper: str | None, first_start: datetime
    ) -> list[tuple[str, str]]:
        low, high = self.page_sizes
        params = [
            *self.fixed_params,
            ("max_results", str(min(high, max(low, self.api.page_size)))),
            ("tweet.fields", TWEET_FIELDS),
            ("expansions", "author_id"),
            ("user.fields", USER_FIELDS),
            self._lower_bound(lower, first_start),
        ]
        if token:
            params.append((self.page_param, token))
        elif upper:
            params.append(("until_id", upper))
        return params

    def _lower_bound(self, lower: str | None, first_start: datetime) -> tuple[str, str]:
        oldest = self.api.now() - RECENT_SEARCH_REACH + _REACH_MARGIN if self.recent_only else None
        if lower is None or lower == NO_ID_YET:
            if oldest is not None and first_start < oldest:
                logger.warning("x: %s: start lies beyond recent search's 7 days", self.key)
                return ("start_time", _x_time(oldest))
            return ("start_time", _x_time(first_start))
        if oldest is not None and _time_of_id(lower) < oldest:
            # A cursor older than the search reaches (a long outage): read what is still there.
            logger.warning("x: %s: cursor lies beyond recent search's 7 days", self.key)
            return ("start_time", _x_time(oldest))
        return ("since_id", lower)

    def _fetch(self, params: list[tuple[str, str]]) -> ChainPage:
        while True:
            page, dropped = _chain_page(self.api.get(self.endpoint, self.path, params))
            if page.items or not dropped or page.next_token is None:
                return page
            # Every post on this page was unreadable. An empty page would end the chain and
            # skip the pages below it, so read on to the next one.
            params = [(name, value) for name, value in params if name != self.page_param]
            params.append((self.page_param, page.next_token))


def _chain_page(body: Any) -> tuple[ChainPage, int]:
    """The chain page of one answer and how many of its posts were unreadable."""
    if not isinstance(body, dict):
        raise MalformedResponse(CHANNEL, f"expected a JSON object, got {type(body).__name__}")
    errors = body.get("errors")
    _log_partial_errors(errors)
    meta = body.get("meta")
    if not isinstance(meta, dict):
        if isinstance(errors, list) and errors and "data" not in body:
            raise ChannelError(CHANNEL, f"request refused: {_problem_summary(errors[0])}")
        raise MalformedResponse(CHANNEL, "the answer has no 'meta' object")
    data = body.get("data", [])
    if not isinstance(data, list):
        raise MalformedResponse(CHANNEL, f"'data' must be a list, got {type(data).__name__}")
    next_token = meta.get("next_token")
    if next_token is not None and not (isinstance(next_token, str) and next_token):
        raise MalformedResponse(CHANNEL, "'meta.next_token' is not a non-empty string")
    users = _users_by_id(body.get("includes"))
    items: list[ChainItem] = []
    for raw in data:
        mention = _mention(raw, users)
        if mention is not None:
            items.append(ChainItem(mention, mention.id))
    return ChainPage(items, next_token), len(data) - len(items)


def _mention(raw: Any, users: Mapping[str, Mapping[str, Any]]) -> Mention | None:
    if not isinstance(raw, dict):
        logger.warning("x: skipped a post that is not a JSON object")
        return None
    post_id = raw.get("id")
    if not isinstance(post_id, str) or not _ID.fullmatch(post_id):
        logger.warning("x: skipped a post without a valid id")
        return None
    text, created = raw.get("text"), raw.get("created_at")
    if not isinstance(text, str) or not isinstance(created, str):
        logger.warning("x: skipped post %s: no text or created_at", post_id)
        return None
    try:
        created_at = parse_iso(created)
    except ValueError:
        logger.warning("x: skipped post %s: created_at is not a time", post_id)
        return None
    author_id = raw.get("author_id")
    user = users.get(author_id) if isinstance(author_id, str) else None
    username = user.get("username") if user else None
    handle = username if isinstance(username, str) and username else None
    user_metrics = user.get("public_metrics") if user else None
    followers = _count(user_metrics.get("followers_count")) if isinstance(user_metrics, dict) else 0
    return Mention(
        channel=CHANNEL,
        id=post_id,
        url=f"https://x.com/{handle}/status/{post_id}"
        if handle
        else f"https://x.com/i/web/status/{post_id}",
        author=handle or (author_id if isinstance(author_id, str) else ""),
        # X escapes &, < and > in post text even though the text is not HTML.
        text=clean_text(html.unescape(text)),
        created_at=created_at,
        language=_language(raw.get("lang")),
        reach=followers,
        engagement=_engagement(raw.get("public_metrics")),
    )


def _engagement(metrics: Any) -> int:
    if not isinstance(metrics, dict):
        return 0
    # The published spec renames retweet_count to repost_count; the live API says retweet.
    reposts = metrics.get("retweet_count", metrics.get("repost_count"))
    return sum(
        _count(value)
        for value in (
            metrics.get("like_count"),
            reposts,
            metrics.get("reply_count"),
            metrics.get("quote_count"),
        )
    )


def _language(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value in _NOT_LANGUAGES:
        return None
    if len(value) == 3 and value.startswith("q"):
        return None
    return value


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _users_by_id(includes: Any) -> dict[str, Mapping[str, Any]]:
    users = includes.get("users") if isinstance(includes, dict) else None
    if not isinstance(users, list):
        return {}
    return {
        user["id"]: user
        for user in users
        if isinstance(user, dict) and isinstance(user.get("id"), str)
    }


def _log_partial_errors(errors: Any) -> None:
    if not isinstance(errors, list):
        return
    for problem in errors[:20]:
        logger.warning("x: partial error in an answer: %s", _problem_summary(problem))


def _problem_summary(problem: Any) -> str:
    if not isinstance(problem, dict):
        return "unreadable problem"
    parts = [problem.get("title"), problem.get("type"), problem.get("resource_id")]
    return " ".join(str(part) for part in parts if isinstance(part, str | int)) or "problem"


def _read_signals(response: HttpResponse) -> datetime | None:
    """The rate-limit reset of a 429; also the X errors HttpClient cannot tell apart.

    HttpClient turns every 4xx into a plain ChannelError, so the answers that mean something
    specific here are recognised before that: a 400 about the page token (the chain resumes
    by position) and a 403 (the app lacks access: an operator must act).
    """
    if response.status == 429:
        return _reset_time(response.headers)
    if response.status == 403:
        raise AuthFailed(CHANNEL, f"access refused (403): {_body_summary(response)}")
    if response.status == 400 and _rejects_page_token(response):
        raise ExpiredPageToken(CHANNEL, "the pagination token is no longer accepted")
    return None


_PAGE_TOKENS = frozenset({"next_token", "pagination_token"})


def _rejects_page_token(response: HttpResponse) -> bool:
    """X refuses a page token in two shapes: ``errors[].parameters`` naming it, or the
    invalid-request problem alone, with ``parameter`` (and ``value``) and no ``errors``."""
    body = _json_or_none(response)
    if not isinstance(body, dict):
        return False
    if body.get("parameter") in _PAGE_TOKENS:
        return True
    errors = body.get("errors")
    if not isinstance(errors, list):
        return False
    for error in errors:
        parameters = error.get("parameters") if isinstance(error, dict) else None
        if isinstance(parameters, dict) and _PAGE_TOKENS & set(parameters):
            return True
    return False


def _body_summary(response: HttpResponse) -> str:
    body = _json_or_none(response)
    if isinstance(body, dict) and isinstance(body.get("title"), str):
        detail = body.get("detail")
        return f"{body['title']}: {detail}" if isinstance(detail, str) else str(body["title"])
    return response.excerpt(120)


def _json_or_none(response: HttpResponse) -> Any:
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        return None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name, "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _reset_time(headers: Mapping[str, str]) -> datetime | None:
    epoch = _int_header(headers, "x-rate-limit-reset")
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch is not None else None


def _saved_start(cursor: Cursor | None) -> datetime | None:
    return parse_iso_or_none(cursor.get("start") if cursor else None)


def _x_time(moment: datetime) -> str:
    """X's time parameters: RFC 3339 at whole seconds (a second's fraction is dropped, so the
    bound only ever moves earlier)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time_of_id(post_id: str) -> datetime:
    """When an X snowflake id was made: its top bits are milliseconds since X's epoch."""
    return datetime.fromtimestamp(((int(post_id) >> 22) + _X_EPOCH_MS) / 1000, tz=UTC)
