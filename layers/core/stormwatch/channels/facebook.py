"""Facebook Pages: what people post on, tag and comment about the brand's Page.

Three sources per configured Page (Graph API, ``<base_url>/<api_version>``, a Page
access token in the secret's ``page_access_token``):

``feed:<page_id>``
    ``GET /{page-id}/feed``: the Page's own posts and visitors' posts, newest first.
    The Page's own posts are not mentions and are skipped (they still count as read
    positions, so a page of them does not end the chain).
``tagged:<page_id>``
    ``GET /{page-id}/tagged``: posts by others that tag the Page.
``comments:<page_id>`` (unless ``comments: false``)
    Comments on the Page's own posts: Graph has no "all comments of a Page" edge, so
    the source lists the Page's posts of the last `COMMENT_WINDOW`
    (``GET /{page-id}/posts``) and reads ``GET /{post-id}/comments`` with
    ``filter=stream`` (replies too), ``order=reverse_chronological`` and ``since``.

Cursor rule: Graph's ``since``/``until`` filter by time, so every listing is a
newest-first chain (`stormwatch.channels.chains`) over time positions with an
`OVERLAP` for posts that become visible late; what was read inside the overlap is
recognised by the chain's digests. The comments source keeps one such chain per
Page post in a map ``{"start", "posts": {post_id: {"read", "checked", "comments"}}}``:
a post's comments are read again only when its ``updated_time`` (which Graph bumps
when someone comments) passed the last full read, when its chain was cut short, or
at least every `RECHECK` as a safety net for changes ``updated_time`` may not show.
The map holds only posts still inside the window, at most `MAX_TRACKED_POSTS`, so
the cursor stays small however long the Page has existed.

Mentions: id as Graph shapes it (``<page_id>_<post>`` on the Page's feed,
``<author_id>_<post>`` for tagged posts, which live on the tagger's timeline,
``<post>_<comment>`` for comments); engagement = reactions + comments (posts) or
``like_count + comment_count`` (comments); Graph reports no reach for others' posts
and no language. Posts without text (photo only) are kept with empty text: they are
still mentions, and whether they count for a brand is the matcher's call.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stormwatch.channels.base import ChannelContext, Cursor, MentionSource, Page, text_field
from stormwatch.channels.chains import Fetch, newest_first_pages, position_of_time
from stormwatch.channels.graph import (
    GraphClient,
    Listed,
    count,
    graph_time,
    listing,
    parse_items,
    read_page,
    summary_count,
)
from stormwatch.model import Mention
from stormwatch.text import clean_text

CHANNEL = "facebook"
CREDENTIAL = "page_access_token"

OVERLAP = timedelta(minutes=10)
COMMENT_WINDOW = timedelta(days=7)
RECHECK = timedelta(hours=2)
MAX_TRACKED_POSTS = 50
GRAPH_MAX_LIMIT = 100

POST_FIELDS = ",".join(
    (
        "id",
        "message",
        "created_time",
        "from",
        "permalink_url",
        "reactions.summary(true).limit(0)",
        "comments.summary(true).limit(0)",
    )
)
PAGE_POST_FIELDS = "id,created_time,updated_time"
COMMENT_FIELDS = "id,message,created_time,from,permalink_url,like_count,comment_count"


def mention_sources(context: ChannelContext) -> list[MentionSource]:
    config = context.config
    page_id = config.text("page_id")
    client = GraphClient(context, credential=CREDENTIAL)
    sources: list[MentionSource] = [
        PagePostsSource(client, page_id, "feed", config.page_size, skip_page_posts=True),
        PagePostsSource(client, page_id, "tagged", config.page_size, skip_page_posts=False),
    ]
    if config.flag("comments"):
        sources.append(PageCommentsSource(client, context, page_id))
    return sources


def _author(item: Mapping[str, Any]) -> tuple[str, str]:
    """(name, id) of ``from``; Graph omits it where privacy hides the author."""
    author = item.get("from")
    if author is None:
        return "", ""
    if not isinstance(author, dict):
        raise TypeError("from is not an object")
    return text_field(author, "name"), text_field(author, "id")


def _id(item: Mapping[str, Any]) -> str:
    value = item["id"]
    if not isinstance(value, str) or not value:
        raise TypeError("id is not a string")
    return value


def _mention(item: Mapping[str, Any], author: str, engagement: int) -> Mention:
    created = graph_time(item["created_time"])
    return Mention(
        channel=CHANNEL,
        id=_id(item),
        url=text_field(item, "permalink_url"),
        author=author,
        text=clean_text(text_field(item, "message")),
        created_at=created,
        language=None,
        reach=0,
        engagement=engagement,
    )


class PagePostsSource:
    """The Page's feed (visitors' posts) or the posts that tag it."""

    def __init__(
        self,
        client: GraphClient,
        page_id: str,
        edge: str,
        page_size: int,
        *,
        skip_page_posts: bool,
    ) -> None:
        self.channel = CHANNEL
        self.key = f"{edge}:{page_id}"
        self._client = client
        self._page_id = page_id
        self._edge = edge
        self._params = {"fields": POST_FIELDS, "limit": str(min(page_size, GRAPH_MAX_LIMIT))}
        self._skip_page_posts = skip_page_posts

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        fetch = listing(
            self._client,
            f"{self._page_id}/{self._edge}",
            self._params,
            self._parse,
            time_filter=True,
        )
        return newest_first_pages(cursor, position_of_time(start), fetch, overlap=OVERLAP)

    def _parse(self, item: Mapping[str, Any]) -> Listed:
        name, author_id = _author(item)
        mention = _mention(
            item, name, summary_count(item, "reactions") + summary_count(item, "comments")
        )
        position = position_of_time(mention.created_at)
        if self._skip_page_posts and author_id == self._page_id:
            return Listed(position, None)
        return Listed(position, mention)


@dataclass(frozen=True, slots=True)
class PagePost:
    id: str
    created: datetime
    updated: datetime


class PageCommentsSource:
    """Comments (and replies) on the Page's own recent posts, one chain per post."""

    def __init__(self, client: GraphClient, context: ChannelContext, page_id: str) -> None:
        self.channel = CHANNEL
        self.key = f"comments:{page_id}"
        self._client = client
        self._now = context.now
        self._page_id = page_id
        self._limit = str(min(context.config.page_size, GRAPH_MAX_LIMIT))

    def pages(self, cursor: Cursor | None, start: datetime) -> Iterator[Page]:
        now = self._now()
        state: dict[str, Any] = copy.deepcopy(cursor) if cursor else {}
        state.setdefault("start", position_of_time(start))
        posts = self._recent_posts(now)
        known: dict[str, Any] = state.get("posts", {})
        tracked = {
            post.id: known.get(post.id) or self._new_entry(state, post, now) for post in posts
        }
        state["posts"] = tracked
        yielded = False
        for post in sorted(posts, key=lambda p: (tracked[p.id]["checked"], p.id)):
            entry = tracked[post.id]
            if not self._due(entry, post, now):
                continue
            chain = newest_first_pages(
                entry["comments"], entry["read"], self._comments_of(post.id), overlap=OVERLAP
            )
            for page in chain:
                entry["comments"] = page.cursor
                if "chain" not in page.cursor:
                    entry["read"] = max(entry["read"], position_of_time(post.updated))
                    entry["checked"] = position_of_time(now)
                yielded = True
                yield Page(page.mentions, copy.deepcopy(state))
        if not yielded and state != cursor:
            yield Page([], copy.deepcopy(state))

    @staticmethod
    def _new_entry(state: Mapping[str, Any], post: PagePost, now: datetime) -> dict[str, Any]:
        # Comments from before the first poll are not wanted; none predate their post.
        return {
            "read": max(state["start"], position_of_time(post.created)),
            "checked": position_of_time(now),
            "comments": None,
        }

    @staticmethod
    def _due(entry: Mapping[str, Any], post: PagePost, now: datetime) -> bool:
        in_progress = bool(entry["comments"]) and "chain" in entry["comments"]
        updated = position_of_time(post.updated) > entry["read"]
        stale = position_of_time(now - RECHECK) >= entry["checked"]
        return in_progress or updated or stale

    def _recent_posts(self, now: datetime) -> list[PagePost]:
        """The Page's posts of the comment window, newest first, at most MAX_TRACKED_POSTS."""
        path = f"{self._page_id}/posts"
        query = {
            "fields": PAGE_POST_FIELDS,
            "since": str(int((now - COMMENT_WINDOW).timestamp())),
            "limit": str(GRAPH_MAX_LIMIT),
        }
        posts: list[PagePost] = []
        while len(posts) < MAX_TRACKED_POSTS:
            raw, after = read_page(self._client.get(path, query), CHANNEL, path)
            posts.extend(parse_items(raw, _parse_page_post, CHANNEL, path))
            if after is None:
                break
            query["after"] = after
        return posts[:MAX_TRACKED_POSTS]

    def _comments_of(self, post_id: str) -> Fetch:
        params = {
            "fields": COMMENT_FIELDS,
            "filter": "stream",
            "order": "reverse_chronological",
            "limit": self._limit,
        }
        return listing(
            self._client, f"{post_id}/comments", params, _parse_comment, time_filter=True
        )


def _parse_page_post(item: Mapping[str, Any]) -> PagePost:
    created = graph_time(item["created_time"])
    updated = graph_time(item["updated_time"]) if "updated_time" in item else created
    return PagePost(_id(item), created, max(created, updated))


def _parse_comment(item: Mapping[str, Any]) -> Listed:
    name, _author_id = _author(item)
    mention = _mention(item, name, count(item, "like_count") + count(item, "comment_count"))
    return Listed(position_of_time(mention.created_at), mention)
