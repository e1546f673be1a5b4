"""Bluesky (AT Protocol): brand mentions from ``app.bsky.feed.searchPosts``.

Queries. Bluesky search has no OR, so every brand keyword is its own query (a phrase
when it is more than one word) and every brand hashtag is a ``tag`` query; a query
wanted twice, or covered by a broader keyword, is read once, because brand matching
happens downstream over all brands. Exclusions are not sent: the search syntax for
negation is unspecified, and the matcher applies them anyway.

Cursor rule. searchPosts has no ``since_id``: each source walks a newest-first chain
(`stormwatch.channels.chains`) over *time* positions, asking ``since`` = watermark
minus `OVERLAP`, because the search index is eventually consistent; what was already
read inside the overlap is recognised by uri.

Session. ``com.atproto.server.createSession`` is rate-limited per account (30 per
5 minutes, 300 a day on bsky.social), so a session is created at most once per
process and account, reused by every source and invocation that runs in it, renewed
with ``refreshSession`` when the access token expires, and created anew only when
the refresh token is refused too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from stormwatch.channels.base import (
    ChannelContext,
    Cursor,
    MentionSource,
    Page,
    required_credential,
)
from stormwatch.channels.chains import ChainItem, ChainPage, newest_first_pages, position_of_time
from stormwatch.channels.http import DEFAULT_BACKOFF, HttpResponse, Throttle, json_body, retry_after
from stormwatch.config import Brand
from stormwatch.errors import (
    AuthFailed,
    ChannelError,
    ExpiredPageToken,
    MalformedResponse,
    RateLimited,
)
from stormwatch.model import Mention, parse_iso
from stormwatch.text import clean_text

logger = logging.getLogger(__name__)

CHANNEL = "bluesky"
SEARCH_POSTS = "app.bsky.feed.searchPosts"
CREATE_SESSION = "com.atproto.server.createSession"
REFRESH_SESSION = "com.atproto.server.refreshSession"
POST_COLLECTION = "app.bsky.feed.post"

# Bluesky's search index usually trails the network by seconds; ten minutes also covers
# a slow indexer, and the cursor keeps the uris read inside it (capped by chains.MAX_RECENT).
OVERLAP = timedelta(minutes=10)

# A page can carry nothing new (every post repeated after a shift, or unreadable); so
# many such pages in a row means the paging itself is broken.
MAX_EMPTY_PAGES = 10

_INSTANT = timedelta(microseconds=1)

# Rate-limit budgets the service keeps apart: creating sessions, and everything else.
_SESSION_BUDGET = "session"
API_BUDGET = "api"


# --- queries and sources ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One searchPosts query; `key` names its cursor, so it must never change meaning."""

    key: str
    q: str
    tag: str | None = None


_PLAIN_WORD = re.compile(r"\w+")


def search_queries(brands: Sequence[Brand]) -> list[SearchQuery]:
    """The queries that together cover every keyword and hashtag of `brands`.

    A keyword whose words contain another keyword's words in a row ("Nordwind Air"
    and "Nordwind") finds nothing the shorter one does not, so it costs requests for
    nothing and is left out.
    """
    keywords: dict[tuple[str, ...], str] = {}
    tags: dict[str, str] = {}
    for brand in brands:
        for keyword in brand.keywords:
            # Double quotes would end the phrase early; they carry no searchable text.
            words = " ".join(keyword.replace('"', " ").split())
            terms = tuple(_PLAIN_WORD.findall(words.casefold()))
            if terms:
                keywords.setdefault(terms, words)
        for hashtag in brand.hashtags:
            tag = hashtag.strip().lstrip("#")
            if tag:
                tags.setdefault(tag.casefold(), tag)
    queries = []
    for terms, words in keywords.items():
        if any(other != terms and _within(other, terms) for other in keywords):
            continue
        # A lone word goes bare; anything else is quoted so that search operators
        # (-, :, +, AND) in a brand name are read as text.
        q = words if _PLAIN_WORD.fullmatch(words) else f'"{words}"'
        queries.append(SearchQuery(f"search:{words.casefold()}", q))
    for folded, tag in tags.items():
        # `q` is required; "#tag" in it is how the Bluesky app asks for a hashtag, and
        # the `tag` filter states the intent to any implementation. Hashtags are kept
        # even when a keyword has the same word: a post may carry them only as a facet
        # or in the record's `tags`, which no text query matches.
        queries.append(SearchQuery(f"tag:{folded}", f"#{tag}", tag))
    return queries


def _within(part: tuple[str, ...], whole: tuple[str, ...]) -> bool:
    width = len(part)
    return any(whole[i : i + width] == part for i in range(len(whole) - width + 1))


def mention_sources(context: ChannelContext) -> list[MentionSource]:
    """One source per query; they share one client, hence one session."""
    client = BlueskyClient(context)
    return [SearchSource(client, query) for query in search_queries(context.brands)]


@dataclass(frozen=True, slots=True)
class SearchSource:
    client: BlueskyClient
    query: SearchQuery
    channel: str = CHANNEL

    @property
    def key(self) -> str:
        return self.query.key

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        return newest_first_pages(cursor, position_of_time(start), self._fetch, overlap=OVERLAP)

    def _fetch(self, lower: str | None, token: str | None, upper: str | None) -> ChainPage:
        """One page of the chain, in the form `newest_first_pages` expects.

        searchPosts' cursor is an offset into the result list, so posts arriving at
        the top between two pages would shift the list down and repeat posts already
        read. Hence every page of a chain repeats the first page's parameters,
        including an ``until`` pinned when the chain began. Only a post indexed late
        *below* ``until`` can still shift the list; the uris of the previous page
        travel in the token and such repeats are dropped.
        """
        if token is not None:
            state = _PageToken.decode(token)
        else:
            # `until` is exclusive: a microsecond past now keeps a post made this instant.
            bound = _parse_position(upper) if upper else self.client.now() + _INSTANT
            state = _PageToken(cursor=None, until=_param_time(bound, round_up=True), seen=())
        params = self._params(lower, state.until)
        seen = set(state.seen)
        server_cursor = state.cursor
        for _ in range(MAX_EMPTY_PAGES):
            try:
                body = self.client.search(
                    params + ([("cursor", server_cursor)] if server_cursor else [])
                )
            except RequestRefused as refused:
                if server_cursor is None:
                    raise
                raise ExpiredPageToken(
                    CHANNEL, f"the saved search cursor was refused: {refused}"
                ) from None
            posts, next_cursor = _read_search_answer(body)
            page_seen = tuple(_digest(mention.id) for mention, _ in posts)
            items = [
                ChainItem(mention, position_of_time(sort_at))
                for (mention, sort_at), digest in zip(posts, page_seen, strict=True)
                if digest not in seen
            ]
            if next_cursor is None:
                return ChainPage(items, None)
            if items:
                return ChainPage(items, _PageToken(next_cursor, state.until, page_seen).encode())
            # Nothing new here, but an empty page would end the chain: read on.
            seen, server_cursor = set(page_seen), next_cursor
        raise MalformedResponse(
            CHANNEL, f"{MAX_EMPTY_PAGES} search pages in a row brought nothing readable"
        )

    def _params(self, lower: str | None, until: str) -> list[tuple[str, str]]:
        params = [("q", self.query.q), ("sort", "latest")]
        if lower is not None:
            params.append(("since", _param_time(_parse_position(lower), round_up=False)))
        params += [("until", until), ("limit", str(self.client.page_size))]
        if self.query.tag is not None:
            params.append(("tag", self.query.tag))
        return params


@dataclass(frozen=True, slots=True)
class _PageToken:
    """The chain's page token: the service's cursor, the pinned `until`, the last page."""

    cursor: str | None
    until: str
    seen: tuple[str, ...]

    def encode(self) -> str:
        return json.dumps(
            {"c": self.cursor, "u": self.until, "s": self.seen}, separators=(",", ":")
        )

    @classmethod
    def decode(cls, token: str) -> _PageToken:
        try:
            data = json.loads(token)
            cursor, until, seen = data["c"], data["u"], data["s"]
        except (ValueError, TypeError, KeyError):
            raise ExpiredPageToken(CHANNEL, "saved page token is unreadable") from None
        if not (
            (cursor is None or isinstance(cursor, str))
            and isinstance(until, str)
            and isinstance(seen, list)
            and all(isinstance(item, str) for item in seen)
        ):
            raise ExpiredPageToken(CHANNEL, "saved page token is unreadable")
        return cls(cursor, until, tuple(seen))


def _digest(uri: str) -> str:
    return hashlib.blake2b(uri.encode(), digest_size=6).hexdigest()


def _parse_position(position: str) -> datetime:
    return datetime.strptime(position, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _param_time(moment: datetime, *, round_up: bool) -> str:
    """Millisecond precision, as Bluesky stores times, rounded so the bound only widens:
    down for the inclusive ``since``, up for the exclusive ``until``."""
    moment = moment.astimezone(UTC)
    millis, rest = divmod(moment.microsecond, 1000)
    base = moment.replace(microsecond=millis * 1000)
    if round_up and rest:
        base += timedelta(milliseconds=1)
    return base.strftime("%Y-%m-%dT%H:%M:%S.") + f"{base.microsecond // 1000:03d}Z"


# --- reading answers ----------------------------------------------------------------------


class _BadPost(ValueError):
    """One post of a page that cannot be read; the reason never quotes the post's text."""


def _read_search_answer(body: Any) -> tuple[list[tuple[Mention, datetime]], str | None]:
    if not isinstance(body, dict):
        raise MalformedResponse(CHANNEL, f"{SEARCH_POSTS}: answer is not an object")
    posts = body.get("posts")
    if not isinstance(posts, list):
        raise MalformedResponse(CHANNEL, f"{SEARCH_POSTS}: answer has no 'posts' list")
    cursor = body.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise MalformedResponse(CHANNEL, f"{SEARCH_POSTS}: 'cursor' is not a string")
    read = []
    for post in posts:
        try:
            read.append(post_mention(post))
        except _BadPost as problem:
            logger.warning("%s: skipped a malformed post %s: %s", CHANNEL, _uri_of(post), problem)
    return read, cursor or None


def _uri_of(post: object) -> str:
    uri = post.get("uri") if isinstance(post, dict) else None
    return repr(uri[:300]) if isinstance(uri, str) else "(no uri)"


def post_mention(post: object) -> tuple[Mention, datetime]:
    """A postView as a `Mention`, with the post's ``sortAt``: its position in search.

    The position is ``sortAt`` because that is what searchPosts sorts by and what
    ``since``/``until`` filter on (see the lexicon); positions that disagreed with the
    service's own would make the chain stop early or page past posts. postView does
    not carry it, but the AppView defines it as the earlier of the record's
    ``createdAt`` (client-declared, may be in the future) and ``indexedAt``. The same
    time is the mention's `created_at`: a client clock set ahead cannot move a
    mention into a future bucket.
    """
    if not isinstance(post, dict):
        raise _BadPost("not an object")
    uri = _text_field(post, "uri")
    authority, collection, rkey = _split_at_uri(uri)
    if collection != POST_COLLECTION:
        raise _BadPost(f"uri names collection {collection[:60]!r}, not a post")
    author = post.get("author")
    if not isinstance(author, dict):
        raise _BadPost("no author")
    handle = _text_field(author, "handle")
    record = post.get("record")
    if not isinstance(record, dict):
        raise _BadPost("no record")
    text = record.get("text")
    if not isinstance(text, str):
        raise _BadPost("record has no text")
    sort_at = min(_time_field(record, "createdAt"), _time_field(post, "indexedAt"))
    # An account whose handle no longer resolves shows as handle.invalid; its DID still links.
    profile = authority if handle == "handle.invalid" else handle
    return (
        Mention(
            channel=CHANNEL,
            id=uri,
            url=f"https://bsky.app/profile/{quote(profile, safe=':')}/post/{quote(rkey, safe='')}",
            author=handle,
            text=clean_text(text),
            created_at=sort_at,
            language=_first_language(record.get("langs")),
            reach=0,  # profileViewBasic has no follower count
            engagement=sum(
                _count(post, name)
                for name in ("likeCount", "repostCount", "replyCount", "quoteCount")
            ),
        ),
        sort_at,
    )


_ENGAGEMENT_COUNTS = ("likeCount", "repostCount", "replyCount", "quoteCount")


def _text_field(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _BadPost(f"no {name}")
    return value


def _time_field(data: dict[str, Any], name: str) -> datetime:
    value = data.get(name)
    if not isinstance(value, str):
        raise _BadPost(f"no {name}")
    try:
        return parse_iso(value)
    except ValueError:
        raise _BadPost(f"{name} is not a datetime") from None


def _split_at_uri(uri: str) -> tuple[str, str, str]:
    parts = uri.removeprefix("at://").split("/") if uri.startswith("at://") else []
    if len(parts) != 3 or not all(parts):
        raise _BadPost("uri is not at://<did>/<collection>/<rkey>")
    return parts[0], parts[1], parts[2]


def _first_language(langs: object) -> str | None:
    if isinstance(langs, list) and langs and isinstance(langs[0], str) and langs[0].strip():
        return langs[0].strip()
    return None


def _count(post: dict[str, Any], name: str) -> int:
    value = post.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _BadPost(f"{name} is not a count")
    return value


# --- sessions, rate limits and XRPC errors --------------------------------------------------


@dataclass(slots=True)
class BlueskySession:
    access_jwt: str = field(repr=False)
    refresh_jwt: str = field(repr=False)


@dataclass(slots=True)
class BlueskyAccount:
    """What this process knows about one account on one service: its session and budgets."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    session: BlueskySession | None = None
    blocked_until: dict[str, datetime] = field(default_factory=dict)


# Kept for the life of the process (a warm Lambda reuses it across invocations), keyed by
# (base URL, identifier); the tokens are never logged or put in a message.
_ACCOUNTS: dict[tuple[str, str], BlueskyAccount] = {}
_ACCOUNTS_LOCK = threading.Lock()


class RequestRefused(ChannelError):
    """An XRPC error answer other than the ones with a typed meaning below."""

    def __init__(self, message: str, error: str | None) -> None:
        super().__init__(CHANNEL, message)
        self.error = error


class TokenExpired(ChannelError):
    """``ExpiredToken``: renew the session and try again."""


class TokenRefused(AuthFailed):
    """The token (or the password) was not accepted at all."""


class BlueskyClient:
    """XRPC calls for one invocation, on the process-wide session of the account."""

    def __init__(self, context: ChannelContext) -> None:
        self.context = context
        self.base_url = context.config.base_url.rstrip("/")
        self.page_size = context.config.page_size
        self._account: BlueskyAccount | None = None

    def now(self) -> datetime:
        return self.context.now()

    def search(self, params: list[tuple[str, str]]) -> Any:
        account = self.account()
        session = self._session(account)
        try:
            return self._get(account, SEARCH_POSTS, params, session)
        except TokenExpired:
            session = self._renew(account, session, refresh=True)
        except TokenRefused:
            # Revoked, or issued by a server that forgot it: only a new session helps.
            session = self._renew(account, session, refresh=False)
        return self._get(account, SEARCH_POSTS, params, session)

    def account(self) -> BlueskyAccount:
        """The account's process-wide state; reads the credentials on first use only."""
        if self._account is None:
            identifier = required_credential(self.context.credentials(), CHANNEL, "identifier")
            with _ACCOUNTS_LOCK:
                self._account = _ACCOUNTS.setdefault(
                    (self.base_url, identifier.casefold()), BlueskyAccount()
                )
        return self._account

    def _session(self, account: BlueskyAccount) -> BlueskySession:
        with account.lock:
            if account.session is None:
                account.session = self._create_session(account)
            return account.session

    def _renew(
        self, account: BlueskyAccount, stale: BlueskySession, *, refresh: bool
    ) -> BlueskySession:
        with account.lock:
            if account.session is not None and account.session is not stale:
                return account.session  # another source renewed it meanwhile
            if refresh:
                # A refresh that fails for another reason (rate limit, outage) keeps the
                # stale session, so the next run refreshes instead of logging in again.
                try:
                    account.session = self._refresh_session(account, stale)
                    return account.session
                except (TokenExpired, TokenRefused, RequestRefused):
                    logger.info("%s: refresh token refused; creating a new session", CHANNEL)
            account.session = None
            account.session = self._create_session(account)
            return account.session

    def _create_session(self, account: BlueskyAccount) -> BlueskySession:
        self._check_budget(account, _SESSION_BUDGET)
        self._check_budget(account, API_BUDGET)
        credentials = self.context.credentials()
        payload = {
            "identifier": required_credential(credentials, CHANNEL, "identifier"),
            "password": required_credential(credentials, CHANNEL, "app_password"),
        }
        response = self.context.http.request(
            "POST",
            self._url(CREATE_SESSION),
            json_payload=payload,
            throttle=self._signals(account, _SESSION_BUDGET, CREATE_SESSION),
        )
        logger.info("%s: created a session", CHANNEL)
        return _session_from(json_body(response, CHANNEL), CREATE_SESSION)

    def _refresh_session(self, account: BlueskyAccount, stale: BlueskySession) -> BlueskySession:
        self._check_budget(account, API_BUDGET)
        response = self.context.http.request(
            "POST",
            self._url(REFRESH_SESSION),
            headers={"Authorization": f"Bearer {stale.refresh_jwt}"},
            throttle=self._signals(account, API_BUDGET, REFRESH_SESSION),
        )
        return _session_from(json_body(response, CHANNEL), REFRESH_SESSION)

    def _get(
        self,
        account: BlueskyAccount,
        method: str,
        params: list[tuple[str, str]],
        session: BlueskySession,
    ) -> Any:
        self._check_budget(account, API_BUDGET)
        body, _ = self.context.http.get_json(
            self._url(method),
            params=params,
            headers={"Authorization": f"Bearer {session.access_jwt}"},
            throttle=self._signals(account, API_BUDGET, method),
        )
        return body

    def _url(self, method: str) -> str:
        return f"{self.base_url}/xrpc/{method}"

    def _check_budget(self, account: BlueskyAccount, budget: str) -> None:
        """Refuse to send what the service already said it would refuse (remaining 0)."""
        until = account.blocked_until.get(budget)
        if until is not None and until > self.now():
            raise RateLimited(CHANNEL, until, f"(ratelimit-remaining was 0 for {budget} calls)")

    def _signals(self, account: BlueskyAccount, budget: str, method: str) -> Throttle:
        """Bluesky's signals in an answer: rate limits, and XRPC errors by name.

        HttpClient reads a 4xx only as a status, but here the error name decides what
        to do (``ExpiredToken`` means refresh, ``InvalidToken`` a new session), so the
        errors are raised from this hook, which sees every answer below 500.
        """

        def read(response: HttpResponse) -> datetime | None:
            reset = _reset_time(response)
            if response.status == 429:
                now = self.now()
                until = reset if reset and reset > now else retry_after(response, now)
                until = until or now + DEFAULT_BACKOFF
                account.blocked_until[budget] = until
                return until
            if response.status < 300 and _remaining(response) == 0 and reset is not None:
                # This answer is still good; the next call would not be.
                account.blocked_until[budget] = reset
            if response.status >= 400:
                raise _xrpc_error(response, method)
            return None

        return read


def _reset_time(response: HttpResponse) -> datetime | None:
    value = response.headers.get("ratelimit-reset", "").strip()
    if not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def _remaining(response: HttpResponse) -> int | None:
    value = response.headers.get("ratelimit-remaining", "").strip()
    return int(value) if value.isdigit() else None


def _xrpc_error(response: HttpResponse, method: str) -> ChannelError:
    error: str | None = None
    detail = response.excerpt(160)
    try:
        body = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error = body["error"]
        message = body.get("message")
        detail = " ".join(message.split())[:160] if isinstance(message, str) else ""
    text = f"{method} -> {response.status} {error or '(no XRPC error name)'}: {detail}".rstrip()
    if error == "ExpiredToken":
        return TokenExpired(CHANNEL, text)
    if response.status == 401 or error in ("InvalidToken", "AuthenticationRequired"):
        return TokenRefused(CHANNEL, text)
    if response.status == 403 or error in ("AccountTakedown", "AuthFactorTokenRequired"):
        return AuthFailed(CHANNEL, text)
    return RequestRefused(text, error)


def _session_from(body: Any, method: str) -> BlueskySession:
    if not isinstance(body, dict):
        raise MalformedResponse(CHANNEL, f"{method}: answer is not an object")
    access, refresh = body.get("accessJwt"), body.get("refreshJwt")
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise MalformedResponse(CHANNEL, f"{method}: answer has no accessJwt/refreshJwt")
    return BlueskySession(access, refresh)
