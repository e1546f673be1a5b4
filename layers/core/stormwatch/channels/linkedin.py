"""LinkedIn (Community Management API): the organization page's comments and mentions.

What LinkedIn lets an organization read about itself, and so all this adapter can do:
- comments on the organization's own posts;
- posts that @-mention the organization, through its social-action notifications.
What it does not allow, as far as its API and terms go, so stormwatch cannot see it:
- no search: posts that name the brand without @-mentioning it are invisible, and
  there is no hashtag feed to read;
- a mention reaches the organization only as a ``SHARE_MENTION`` notification, which
  follows the author's visibility settings: posts shown only to the author's
  connections or inside groups are not reported, nor are @-mentions in comments
  under other people's posts (those are not shares);
- notifications are kept for a limited time only, and a mentioning post that was
  deleted or is no longer visible cannot be read (it is logged and skipped);
- the authors are URNs: reading a member's name needs member permissions an
  organization's token does not have;
- no reach, no language, and reactions or reshares only with further calls per post
  (the scenario's ground truth accordingly has none for LinkedIn).

Sources (``https://api.linkedin.com/rest``, ``LinkedIn-Version: <api_version>``,
``X-Restli-Protocol-Version: 2.0.0``, ``Authorization: Bearer``):

``mentions:<organization id>``
    ``GET /rest/organizationalEntityNotifications?q=criteria&organizationalEntity=
    <org urn>&actions=List(SHARE_MENTION)&timeRange=(start:<ms>,end:<ms>)`` and, for
    each page of notifications, one Rest.li batch get of the mentioning posts
    (``GET /rest/posts?ids=List(<urn>,...)``). A newest-first chain over the
    notifications' ``lastModifiedAt`` with an `OVERLAP`; its page token is
    ``<start offset>:<end ms>``: ``start``/``count`` paging over a list that grows
    at the top would shift under a chain cut short, so the chain keeps the
    ``timeRange`` end it began with until it is finished.
``comments:<organization id>``
    The organization's posts, most recently modified first
    (``GET /rest/posts?q=author&author=<org urn>&sortBy=LAST_MODIFIED``), those of the
    last `POST_WINDOW`, at most `MAX_TRACKED_POSTS`; for each,
    ``GET /rest/socialActions/<post urn>/comments``. LinkedIn documents no order and
    no time filter for comments, so the cursor keeps per post which comments were
    read (short digests with their times, the oldest beyond `MAX_SEEN_PER_POST`
    folded into a time floor) and ``paging.total`` of the last full read: when the
    first page reports the same total, the rest is not read again, except every
    `RECHECK` (a deleted and a new comment leave the total unchanged).
    Nothing tells which posts got new comments without asking each, so posts younger
    than `HOT_POST_AGE` (where comments concentrate, and where a crisis statement
    will be) are asked every run and older ones every `RECHECK`: a few requests per
    poll instead of one per post of the week. (Batch-reading comment counts with
    ``/rest/socialMetadata`` would make that one request; it is the next step.)

Rest.li 2.0 query encoding matters: ``List(...)`` and ``(key:value)`` delimiters
travel literally and only the leaves are percent-encoded (``urn%3Ali%3A...``); a
percent-encoded ``List%28`` is a plain string to LinkedIn and the call fails. So the
query strings are built here, not by `requests`' ``params``.

Throttling: LinkedIn answers 429 and nothing else - no usage headers, no reset time.
Its quotas are per day (reset at midnight UTC) plus short bursts, so without a
``Retry-After`` the adapter backs off for `DEFAULT_BACKOFF`: long enough not to hammer
a daily quota, short enough that a burst limit does not leave a storm unwatched.

Post text is LinkedIn's "little text" format: reserved characters are escaped with
a backslash, mentions are ``@[Name](urn:li:...)`` and hashtags
``{hashtag|\\#|tag}``; `little_text` turns that back into what the author wrote
(``@Name``, ``#tag``). Comment text is plain.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from stormwatch.channels.base import (
    ChannelContext,
    Cursor,
    MentionSource,
    Page,
    parse_each,
    required_credential,
    text_field,
)
from stormwatch.channels.chains import (
    ChainItem,
    ChainPage,
    newest_first_pages,
    position_of_time,
    time_of_position,
)
from stormwatch.channels.http import HttpResponse, retry_after
from stormwatch.errors import AuthFailed, ChannelError, MalformedResponse
from stormwatch.model import Mention
from stormwatch.text import clean_text

logger = logging.getLogger(__name__)

CHANNEL = "linkedin"
CREDENTIAL = "access_token"
RESTLI_PROTOCOL = "2.0.0"
MAX_COUNT = 100
BATCH_GET_LIMIT = 50

OVERLAP = timedelta(minutes=10)
POST_WINDOW = timedelta(days=7)
HOT_POST_AGE = timedelta(hours=48)
RECHECK = timedelta(hours=1)
MAX_TRACKED_POSTS = 30
MAX_SEEN_PER_POST = 500
DEFAULT_BACKOFF = timedelta(minutes=15)


def mention_sources(context: ChannelContext) -> list[MentionSource]:
    organization = f"urn:li:organization:{context.config.text('organization_id')}"
    client = LinkedInClient(context)
    count = min(context.config.page_size, MAX_COUNT)
    return [
        MentionsSource(client, context, organization, count),
        CommentsSource(client, context, organization, count),
    ]


# --- Rest.li 2.0 query encoding ---------------------------------------------------


def restli_leaf(value: str) -> str:
    """A leaf value: everything but unreserved characters percent-encoded."""
    return quote(value, safe="")


def restli_list(values: Iterable[str]) -> str:
    return "List(" + ",".join(restli_leaf(value) for value in values) + ")"


def restli_record(fields: Iterable[tuple[str, str]]) -> str:
    return "(" + ",".join(f"{key}:{restli_leaf(value)}" for key, value in fields) + ")"


def restli_query(params: Sequence[tuple[str, str]]) -> str:
    """``k=v&...`` from values already in Rest.li form (leaves encoded, delimiters literal)."""
    return "&".join(f"{quote(key, safe='')}={value}" for key, value in params)


# --- little text ------------------------------------------------------------------

_LITTLE_TEXT = re.compile(
    r"\\(.)"  # an escaped reserved character
    r"|@\[((?:\\.|[^\]\\])*)\]\((urn:[^()\s]*)\)"  # @[Name](urn:li:...)
    r"|\{hashtag\|\\#\|((?:\\.|[^}\\])*)\}",  # {hashtag|\#|tag}
    re.DOTALL,
)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


_LITTLE_TEXT_RESERVED: Final = str.maketrans({char: "\\" + char for char in "\\|{}@[]()<>#*_~"})


def escape_little_text(text: str) -> str:
    """`text` as little-text commentary that shows exactly `text` (`little_text`'s inverse
    for plain text): ``\\ | { } @ [ ] ( ) < > # * _ ~`` are markup there (mentions,
    hashtags, formatting), and LinkedIn drops or misreads them unescaped."""
    return text.translate(_LITTLE_TEXT_RESERVED)


def little_text(raw: str) -> str:
    """Plain text from LinkedIn's little-text commentary."""

    def plain(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        if match.group(2) is not None:
            return "@" + _ESCAPED.sub(r"\1", match.group(2))
        return "#" + _ESCAPED.sub(r"\1", match.group(4))

    return _LITTLE_TEXT.sub(plain, raw)


# --- client -----------------------------------------------------------------------


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_millis(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("time is not epoch milliseconds")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _error_summary(response: HttpResponse) -> str:
    """LinkedIn's ``code``/``message`` of an error answer, for the operator."""
    try:
        body = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        return response.excerpt(120)
    if not isinstance(body, dict):
        return response.excerpt(120)
    code = body.get("code") or body.get("serviceErrorCode") or ""
    return f"{code} {str(body.get('message', ''))[:160]}".strip()


class LinkedInClient:
    """GET requests to LinkedIn's versioned REST API with Rest.li 2.0 query strings."""

    def __init__(self, context: ChannelContext) -> None:
        self.channel = CHANNEL
        self._context = context
        self._root = f"{context.config.base_url}/rest"
        self._version = context.config.text("api_version")
        self._token: str | None = None

    def get(self, resource: str, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
        query = restli_query(params)
        payload, _response = self._context.http.get_json(
            f"{self._root}/{resource}" + (f"?{query}" if query else ""),
            headers={
                "Authorization": f"Bearer {self._bearer()}",
                "LinkedIn-Version": self._version,
                "X-Restli-Protocol-Version": RESTLI_PROTOCOL,
            },
            throttle=self._read_error,
        )
        if not isinstance(payload, dict):
            raise MalformedResponse(CHANNEL, f"{resource.split('/', 1)[0]}: expected an object")
        return payload

    def _bearer(self) -> str:
        if self._token is None:
            self._token = required_credential(self._context.credentials(), CHANNEL, CREDENTIAL)
        return self._token

    def _read_error(self, response: HttpResponse) -> datetime | None:
        now = self._context.now()
        if response.status == 429:
            return retry_after(response, now) or now + DEFAULT_BACKOFF
        if response.status in (401, 403):
            # 403 is a missing permission (scope or organization role): also an operator's fix.
            raise AuthFailed(CHANNEL, f"{response.status}: {self._scrub(_error_summary(response))}")
        if response.status == 426:
            raise ChannelError(
                CHANNEL,
                f"LinkedIn-Version {self._version} is no longer served "
                f"({_error_summary(response)}): update channels.linkedin.api_version",
            )
        return None

    def _scrub(self, message: str) -> str:
        return message.replace(self._token, "***") if self._token else message


@dataclass(frozen=True, slots=True)
class Collection:
    elements: list[Any]
    total: int | None
    has_more: bool


def read_collection(payload: Mapping[str, Any], start: int, what: str) -> Collection:
    """A Rest.li collection: ``elements`` and ``paging`` (``start``, ``count``, ``total``)."""
    elements = payload.get("elements")
    paging = payload.get("paging", {})
    if not isinstance(elements, list) or not isinstance(paging, dict):
        raise MalformedResponse(CHANNEL, f"{what}: answer is not a Rest.li collection")
    total = paging.get("total")
    if isinstance(total, bool) or not isinstance(total, int | None):
        raise MalformedResponse(CHANNEL, f"{what}: 'paging.total' is not a number")
    if total is not None:
        has_more = bool(elements) and start + len(elements) < total
    else:
        links = paging.get("links") or []
        has_more = any(isinstance(link, dict) and link.get("rel") == "next" for link in links)
    return Collection(elements, total, has_more)


def _label(item: object) -> str:
    """An element's id for a log line: ids only, mention text is data, not log content."""
    value = (item.get("$URN") or item.get("id")) if isinstance(item, dict) else None
    return value[:120] if isinstance(value, str) else "<no id>"


def parse_elements[T](
    elements: list[Any], parse: Callable[[Mapping[str, Any]], T], what: str
) -> list[T]:
    """Parsed elements; a malformed one is logged with its id and skipped, not fatal."""
    return parse_each(
        elements, parse, logger=logger, channel=CHANNEL, what=what, noun="element", label=_label
    )


def _urn(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.startswith("urn:li:"):
        raise TypeError(f"{what} is not a URN")
    return value


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _post_mention(urn: str, post: Mapping[str, Any]) -> Mention:
    return Mention(
        channel=CHANNEL,
        id=_urn(post.get("id", urn), "id"),
        url=post_url(urn),
        author=_urn(post["author"], "author"),
        text=clean_text(little_text(text_field(post, "commentary"))),
        created_at=_from_millis(post["createdAt"]),
        language=None,
        reach=0,
        engagement=0,
    )


# --- mentions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    position: str
    post: str | None  # the mentioning post; None for a notification of another action


def _parse_notification(item: Mapping[str, Any]) -> Notification:
    position = position_of_time(_from_millis(item["lastModifiedAt"]))
    if item.get("action") != "SHARE_MENTION":
        return Notification(position, None)
    activity = item.get("generatedActivity") or item.get("sourcePost")
    return Notification(position, _urn(activity, "generatedActivity"))


class MentionsSource:
    """Posts that @-mention the organization, as its notifications report them."""

    def __init__(
        self, client: LinkedInClient, context: ChannelContext, organization: str, count: int
    ) -> None:
        self.channel = CHANNEL
        self.key = f"mentions:{organization.rsplit(':', 1)[1]}"
        self._client = client
        self._now = context.now
        self._organization = organization
        self._count = count

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        return newest_first_pages(cursor, position_of_time(start), self._fetch, overlap=OVERLAP)

    def _fetch(self, lower: str | None, token: str | None, upper: str | None) -> ChainPage:
        if token is not None:
            offset_text, _, end_text = token.partition(":")
            offset, end = int(offset_text), int(end_text)
        else:
            offset = 0
            end = _millis(time_of_position(upper) if upper else self._now())
        begin = 0 if lower is None else _millis(time_of_position(lower))
        while True:
            params = [
                ("q", "criteria"),
                ("organizationalEntity", restli_leaf(self._organization)),
                ("actions", restli_list(["SHARE_MENTION"])),
                ("timeRange", restli_record([("start", str(begin)), ("end", str(end))])),
                ("start", str(offset)),
                ("count", str(self._count)),
            ]
            answer = read_collection(
                self._client.get("organizationalEntityNotifications", params),
                offset,
                "organizationalEntityNotifications",
            )
            notes = parse_elements(answer.elements, _parse_notification, "notification")
            items = self._mentions(notes)
            offset += len(answer.elements)
            next_token = f"{offset}:{end}" if answer.has_more else None
            # A page of unreadable posts must not end the chain while more pages follow.
            if items or next_token is None:
                return ChainPage(items, next_token)

    def _mentions(self, notes: list[Notification]) -> list[ChainItem]:
        wanted = list(dict.fromkeys(note.post for note in notes if note.post is not None))
        posts: dict[str, Mention] = {}
        for first in range(0, len(wanted), BATCH_GET_LIMIT):
            posts.update(self._batch_get(wanted[first : first + BATCH_GET_LIMIT]))
        items, taken = [], set()
        for note in notes:
            if note.post is None or note.post in taken:
                continue
            mention = posts.get(note.post)
            if mention is None:
                continue
            taken.add(note.post)
            items.append(ChainItem(mention, note.position))
        return items

    def _batch_get(self, urns: list[str]) -> dict[str, Mention]:
        payload = self._client.get("posts", [("ids", restli_list(urns))])
        results = payload.get("results")
        if not isinstance(results, dict):
            raise MalformedResponse(CHANNEL, "posts batch get: answer has no 'results' object")
        found: dict[str, Mention] = {}
        for urn in urns:
            post = results.get(urn)
            try:
                if not isinstance(post, dict):
                    raise TypeError("post is missing from the batch answer")
                found[urn] = _post_mention(urn, post)
            except (KeyError, TypeError, ValueError) as error:
                # Deleted or no longer visible to the organization; nothing to read.
                logger.warning(
                    "%s: skipped mentioning post %s (%s)",
                    CHANNEL,
                    urn[:80],
                    error.__class__.__name__,
                )
        return found


# --- comments ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrgPost:
    urn: str
    created: datetime
    modified: datetime


def _parse_org_post(item: Mapping[str, Any]) -> OrgPost:
    created = _from_millis(item["createdAt"])
    modified = _from_millis(item.get("lastModifiedAt", item["createdAt"]))
    return OrgPost(_urn(item["id"], "id"), created, max(created, modified))


def _digest(comment_id: str) -> str:
    return hashlib.blake2b(comment_id.encode(), digest_size=6).hexdigest()


def _parse_comment(post_urn: str) -> Callable[[Mapping[str, Any]], Mention]:
    def parse(item: Mapping[str, Any]) -> Mention:
        urn = item.get("$URN") or item.get("commentUrn")
        if urn is None:
            urn = f"urn:li:comment:({_urn(item['object'], 'object')},{item['id']})"
        urn = _urn(urn, "$URN")
        created = item["created"]
        message = item.get("message", {})
        if not isinstance(created, dict) or not isinstance(message, dict):
            raise TypeError("created or message is not an object")
        return Mention(
            channel=CHANNEL,
            id=urn,
            url=f"{post_url(post_urn)}?commentUrn={quote(urn, safe='')}",
            author=_urn(item.get("actor", created.get("actor")), "actor"),
            text=clean_text(text_field(message, "text")),
            created_at=_from_millis(created["time"]),
            language=None,
            reach=0,
            engagement=0,
        )

    return parse


class CommentsSource:
    """Comments on the organization's recent posts."""

    def __init__(
        self, client: LinkedInClient, context: ChannelContext, organization: str, count: int
    ) -> None:
        self.channel = CHANNEL
        self.key = f"comments:{organization.rsplit(':', 1)[1]}"
        self._client = client
        self._now = context.now
        self._organization = organization
        self._count = count

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        now = self._now()
        state: dict[str, Any] = copy.deepcopy(cursor) if cursor else {}
        state.setdefault("start", _millis(start))
        posts = self._recent_posts(now)
        known: dict[str, Any] = state.get("posts", {})
        tracked = {
            post.urn: known.get(post.urn) or self._new_entry(state["start"], post) for post in posts
        }
        state["posts"] = tracked
        yielded = False
        for post in sorted(posts, key=lambda p: (tracked[p.urn]["checked"], p.urn)):
            if not _due(post, tracked[post.urn], now):
                continue
            for mentions in self._read_post(post, tracked[post.urn], now):
                yielded = True
                yield Page(mentions, copy.deepcopy(state))
        if not yielded and state != cursor:
            yield Page([], copy.deepcopy(state))

    @staticmethod
    def _new_entry(start: int, post: OrgPost) -> dict[str, Any]:
        return {"floor": max(start, _millis(post.created)), "seen": [], "total": None, "checked": 0}

    def _read_post(
        self, post: OrgPost, entry: dict[str, Any], now: datetime
    ) -> Iterator[list[Mention]]:
        """Pages of fresh comments of one post; `entry` is updated before each is handed out."""
        stale = _millis(now - RECHECK) >= entry["checked"]
        seen = {digest: millis for digest, millis in entry["seen"]}
        offset = 0
        resource = f"socialActions/{restli_leaf(post.urn)}/comments"
        while True:
            params = [("start", str(offset)), ("count", str(self._count))]
            answer = read_collection(self._client.get(resource, params), offset, "comments")
            fresh = []
            for mention in parse_elements(answer.elements, _parse_comment(post.urn), "comment"):
                millis = _millis(mention.created_at)
                digest = _digest(mention.id)
                if millis < entry["floor"] or digest in seen:
                    continue
                seen[digest] = millis
                fresh.append(mention)
            entry["floor"], entry["seen"] = _bounded(entry["floor"], seen)
            if offset == 0 and answer.total == entry["total"] and not stale:
                # Same count as at the last full read: the rest is not worth a request, and
                # a page that changed nothing is not worth a cursor write either.
                if fresh:
                    yield fresh
                return
            offset += len(answer.elements)
            if not answer.has_more:
                entry["total"] = answer.total
                entry["checked"] = _millis(now)
                yield fresh
                return
            yield fresh

    def _recent_posts(self, now: datetime) -> list[OrgPost]:
        """The organization's posts modified within the window, most recent first."""
        cutoff = now - POST_WINDOW
        posts: list[OrgPost] = []
        offset = 0
        while len(posts) < MAX_TRACKED_POSTS:
            params = [
                ("q", "author"),
                ("author", restli_leaf(self._organization)),
                ("sortBy", "LAST_MODIFIED"),
                ("start", str(offset)),
                ("count", str(self._count)),
            ]
            answer = read_collection(self._client.get("posts", params), offset, "posts")
            page = parse_elements(answer.elements, _parse_org_post, "post")
            recent = [post for post in page if post.modified >= cutoff]
            posts.extend(recent)
            offset += len(answer.elements)
            if not answer.has_more or len(recent) < len(page):
                break
        return posts[:MAX_TRACKED_POSTS]


def _due(post: OrgPost, entry: Mapping[str, Any], now: datetime) -> bool:
    """Whether to look at a post's comments in this run (one request when nothing changed)."""
    never_read = entry["total"] is None
    hot = post.created >= now - HOT_POST_AGE
    stale = _millis(now - RECHECK) >= entry["checked"]
    return never_read or hot or stale


def _bounded(floor: int, seen: Mapping[str, int]) -> tuple[int, list[list[Any]]]:
    """Keep the newest MAX_SEEN_PER_POST digests; older ones become a time floor."""
    newest = sorted(seen.items(), key=lambda pair: (pair[1], pair[0]), reverse=True)
    kept, dropped = newest[:MAX_SEEN_PER_POST], newest[MAX_SEEN_PER_POST:]
    if dropped:
        floor = max(floor, dropped[0][1] + 1)
    return floor, sorted([digest, millis] for digest, millis in kept)
